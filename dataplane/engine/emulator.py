"""`Emulator(topology, seed=0, **timing)`: scapy packets and captures in, dispositions out.

Takes: a Topology (dataplane.load), timing overrides (TimingParams fields, ns). Emits `Result`
(results.py). `send(packets, source=None)` takes one scapy packet or a list (Ether or IP
layer first); the ingress NIC is `source` (VM name) or the NIC owning the source address;
packets are sent back to back unless `times_ns` (capture timestamps, ns) is given.
One capture clock per Emulator (assumption engine-clock), kept across send and replay calls
until reset(): its origin is the first timestamp it sees (a `times_ns` entry or a capture
record), every later timestamp is placed at its distance from that origin (clamped to no
earlier than the latest packet so far), and an untimed packet (send without `times_ns`, a
replay with timing "asap") is placed at the latest time so far (t=0 on a fresh emulator): so
flow state ages across calls (conntrack.py conntrack-idle, pending.py) exactly as within one
call. `replay(paths, ...)`
streams captures in batches (bounded memory: one batch of frames at a time; several captures
merged by timestamp), maps capture endpoints (io/mapping.py), and runs the batch pipeline.
Parse failures become UNPARSED (the parse status is kept), frames that are not IP UNSUPPORTED
with their EtherType named (engine/link_layer.py); IPv6 packets go through the stages
like IPv4 ones (issue 17, assumption engine-ipv6, engine/stages/ipv6.py), their ingress NIC the
one holding their IPv6 source, the address map mapping IPv6 endpoints too (io/mapping.py
apply_dual); IP fragments follow their chains (engine/fragments.py: the edge step before the
batch pipeline, its answers written after each run, the commit step with the flows).
Time order: every leg is shaped in the order packets reach its sender (timing_stage.py); in a
capture-time replay a batch is shaped up to its last timestamp, and its rows still travelling
then keep their decisions and carry their remaining legs into the next batch, where those legs
are shaped in time order with the new packets' legs; the rows are handed out (in row order)
once finished. So answers, shaper clocks and flows do not depend on the batch size
(tests/engine/test_time_order.py). Each row keeps its pre-shaper `decision` and the leg a
shaper dropped it at (`shaper_drop_leg`, results.py): explain_row rebuilds the flow table
from them as the replay built it (assumption shaper-no-state, conntrack.py).
Server names (application rules, engine/payload.py): a packet carries the name its flow has
NAME_WAIT_NS of capture time or NAME_WAIT_PACKETS packets after it, whichever comes first; a
replay holds a packet whose flow's name may still come, and every packet after it, undecided
(`_Rows`, `_decide_ready`) until the capture read passes that point or ends, so a flow's
handshake in one batch and its ClientHello in the next get the same verdict, whatever the
batch size (tests/engine/test_app_rules_batches.py). Memory: at most NAME_WAIT_PACKETS rows
are held for names (plus the shaper's).
Deterministic: no randomness is used (the seed is kept for future sampling and reported).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from dataplane.control.assumptions import texts
from dataplane.control.peering import access_assumption
from dataplane.control.public_addresses import public_address, public_address_assumptions
from dataplane.control.shared_addresses import shared_private_addresses
from dataplane.control.spoken import spoken_ranges
from dataplane.dispositions import Disposition as D
from dataplane.engine.batch import UNDECIDED, BatchPipeline, Columns
from dataplane.engine.compile import MAX_HOPS, Network, build_network
from dataplane.engine.conntrack import CONNTRACK_ASSUMPTIONS, FragmentChains
from dataplane.engine.conntrack import flow_key as _conn_key
from dataplane.engine.fragments import (
    FRAGMENT_DROPS,
    FRAGMENT_EXPLAINED,
    EdgePlan,
    commit_np,
    edge_np,
    follow_np,
    fragment_assumptions,
)
from dataplane.engine.link_layer import NON_IP_ASSUMPTION, decide_np
from dataplane.engine.path_caveats import path_caveats
from dataplane.engine.payload import NAME_WAIT_NS, NAME_WAIT_PACKETS, PAYLOAD_ASSUMPTIONS
from dataplane.engine.pending import DROPS, PENDING_ASSUMPTION
from dataplane.engine.reference import Packet, ReferencePipeline, flow_key, reverse_key
from dataplane.engine.results import NOT_SHAPER_DROPPED, Result, opened_flows, row_caveats
from dataplane.engine.stages import public_edge6
from dataplane.engine.stages.appliance import APPLIANCE_ASSUMPTIONS
from dataplane.engine.stages.firewall import FIREWALL_ASSUMPTIONS, application_ports
from dataplane.engine.stages.firewall_nat import FIREWALL_NAT_ASSUMPTIONS
from dataplane.engine.stages.gateway import (
    EXPIRED_AT_FIREWALL,
    EXPIRED_AT_VM,
    EXPRESSROUTE_IPV6,
    GATEWAY_ASSUMPTIONS,
    INGRESS_ASSUMPTIONS,
)
from dataplane.engine.stages.ipv6 import ENGINE_IPV6_ASSUMPTION
from dataplane.engine.stages.loadbalancer import LB_ASSUMPTIONS
from dataplane.engine.stages.platform import PLATFORM_ASSUMPTIONS
from dataplane.engine.stages.public_edge6 import FIREWALL_IPV6_INTERNET, IPV6_EGRESS
from dataplane.engine.timing_stage import INTERNET_EDGE_LATENCY, leg_tables
from dataplane.errors import InputError
from dataplane.io.capture import CaptureStats, RecordBatch, read_batches
from dataplane.io.mapping import AddressMap
from dataplane.kernels.headers import ParseStatus, extract
from dataplane.kernels.pipeline import KeyIndex
from dataplane.kernels.pipeline_py import mix64
from dataplane.kernels.records import copy_runs
from dataplane.kernels.shaper import Shaper
from dataplane.kernels.shaper_py import NO_LEG
from dataplane.model import Topology
from dataplane.timing.firewall_capacity import firewall_cap_caveats
from dataplane.timing.params import TimingParams

ENGINE_ASSUMPTIONS = (
    "engine-intra-region: one-way latency inside a region (and across regional peering) is "
    "TimingParams.intra_region_ns (default 100 µs); Azure publishes none (docs/azure-behaviour.md §9).",
    "engine-global: across regions one way = directed P50 RTT / 2 from azure-latency.csv (1).",
    "engine-stateful: a flow is opened in the connection-tracking table (engine/conntrack.py) "
    "by its first packet that is delivered or leaves the network (or is dropped by a "
    "forwarding NVA's shaper after leaving its source) and is not dropped by its source VM's "
    "shaper; "
    "its replies (the reverse of its translated 5-tuple) skip every NSG (2.1). ICMP ignores "
    "type/code.",
    ENGINE_IPV6_ASSUMPTION,
    "engine-time: capture timestamps going backwards are clamped to the previous packet's.",
    "engine-clock: one capture clock per emulator run (send and replay calls until reset): its "
    "origin is the first timestamp seen, later calls continue it (a timestamp before the "
    "latest packet is clamped to it) and untimed packets are placed at the latest time; so "
    "flows idle out across calls as within one.",
    "engine-order: every leg of every packet is shaped in the order packets reach the sender "
    "(time, then packet order), whatever the batch size; with --timing asap every packet "
    "starts at t = 0 and each batch is timed as one burst after the previous batches.",
)


LOW64 = (1 << 64) - 1


def _keys6(hi: np.ndarray, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hash, exact key words) of IPv6 addresses for the key-interning kernel."""
    k = np.empty((hi.size, 2), dtype=np.uint64)
    k[:, 0] = hi
    k[:, 1] = lo
    return mix64(k[:, 0], k[:, 1]), k


# assumption key prefixes -> the resources without which no answer can use them
_NEEDS: tuple[tuple[tuple[str, ...], Callable[[Topology], bool]], ...] = (
    (("lb-", "fragment-inbound-nat", "fragment-lb-next-hop"), lambda t: bool(t.load_balancers)),
    (("firewall-", "payload-", "pending-idle", "expired-reply-at-firewall"),
     lambda t: bool(t.azure_firewalls)),
    (("expressroute-",), lambda t: any(g.gateway_type.lower() == "expressroute"
                                       for g in t.virtual_network_gateways)),
    (("ingress-onprem", "vnet-to-vnet-entry", "gateway-"),
     lambda t: bool(t.virtual_network_gateways)),
    (("remote-route-server-", "route-server-"), lambda t: bool(t.virtual_hubs)),
    (("engine-global",), lambda t: len({v.location.lower() for v in t.virtual_networks}) > 1),
    (("snat-port",), lambda t: bool(t.nat_gateways or t.load_balancers
                                    or t.public_ip_addresses)),
)


def _relevant(assumption: str, topology: Topology) -> bool:
    """False when `assumption`'s key names a kind of resource `topology` has none of."""
    key = assumption.partition(":")[0]
    return all(needs(topology) for prefixes, needs in _NEEDS if key.startswith(prefixes))


class Emulator:
    def __init__(self, topology: Topology, seed: int = 0, fragments_out_of_order: str = "drop",
                 **timing: int) -> None:
        """`fragments_out_of_order`: "drop" (Azure's default) or "forward" (the lenient mode,
        engine/fragments.py FORWARD_ASSUMPTION); ValueError otherwise."""
        self.topology = topology
        self.seed = seed
        self.params = TimingParams.from_kwargs(**timing)
        self.net: Network = build_network(topology, self.params)
        self.batch = BatchPipeline(self.net)
        self.batch.fragments = FragmentChains(out_of_order=fragments_out_of_order)
        self._app_ports = application_ports(self.net.firewall_rules)  # where names are read
        self.shaper = Shaper(self.net.vm_cap_bps, self.params.queue_bytes)
        keys = sorted(self.net.ip_nic)
        six = list(self.net.ip6_nic.items())  # IPv6 private address -> NIC (first owner)
        self._ip6_index = KeyIndex(2, max(2 * len(six), 16))
        self._ip6_vals = np.array([nic for _, nic in six], dtype=np.int32)
        if six:
            self._ip6_index.index(*_keys6(np.array([a >> 64 for a, _ in six], np.uint64),
                                          np.array([a & LOW64 for a, _ in six], np.uint64)))
        self._ip_keys = np.array(keys, dtype=np.int64)
        self._ip_vals = np.array([self.net.ip_nic[k] for k in keys], dtype=np.int32)
        self._shared_ips = np.array(sorted(s.address for s in shared_private_addresses(
            topology)), dtype=np.int64)  # ambiguous sources (control/shared_addresses.py)
        self._held: _Held | None = None  # rows whose timing waits for the next batch
        self._amap: AddressMap | None = None
        self._frag_plan = EdgePlan.empty()  # the fragment edge step of the batch being decided
        self._non_ip = (np.zeros(0, np.int64), np.zeros(0, np.int32))  # its non-IP rows, labels
        self._waiting: _Rows | None = None  # rows whose server name waits (engine/payload.py)
        self.name_wait_ns, self.name_wait_packets = NAME_WAIT_NS, NAME_WAIT_PACKETS
        self._heard_ns = np.iinfo(np.int64).min  # the capture clock (names: payload.py)
        self._read = 0  # packets read so far (their positions, names: payload.py)
        self._clock: dict[str, int] = {}  # capture clock: "t0" origin, "last" latest (ns)

    @property
    def replay_map(self) -> AddressMap | None:
        """The address map of the replay running (or last run); None before any replay.
        io/writers.py asks it `moves_no_ipv4_address()`."""
        return self._amap

    def reset(self) -> None:
        """Forget flow state and shaper clocks (a fresh run)."""
        self.batch.reset_state()
        self.shaper = Shaper(self.net.vm_cap_bps, self.params.queue_bytes)
        self._held = None
        self._waiting = None
        self._heard_ns = np.iinfo(np.int64).min
        self._read = 0
        self._clock = {}

    def assumptions(self) -> list[str]:
        """The engine's assumptions ("key: text") that can touch an answer for this topology:
        those about a kind of resource it does not hold are left out (`_relevant`)."""
        return [a for a in self._all_assumptions() if _relevant(a, self.topology)]

    def _all_assumptions(self) -> list[str]:
        return [*ENGINE_ASSUMPTIONS, *texts("forwarded-traffic", access_assumption(),
                                            "platform-routes"),
                *LB_ASSUMPTIONS, *INGRESS_ASSUMPTIONS, *GATEWAY_ASSUMPTIONS,
                IPV6_EGRESS, FIREWALL_IPV6_INTERNET, EXPRESSROUTE_IPV6,  # issue 17: stages/public_edge6.py, gateway.py
                *CONNTRACK_ASSUMPTIONS, *PLATFORM_ASSUMPTIONS, *APPLIANCE_ASSUMPTIONS,
                *FIREWALL_ASSUMPTIONS, *FIREWALL_NAT_ASSUMPTIONS, *PAYLOAD_ASSUMPTIONS,
                PENDING_ASSUMPTION, EXPIRED_AT_VM,  # inet: engine/pending.py, stages/gateway.py
                EXPIRED_AT_FIREWALL,  # issue 11 (d): stages/gateway.py
                *fragment_assumptions(self.batch.fragments.out_of_order), NON_IP_ASSUMPTION,
                *(f"{a.key}: {a.text}" for a in public_address_assumptions(self.topology)),
                INTERNET_EDGE_LATENCY,  # issue 17 leftover 5 (v6fix)
                *firewall_cap_caveats(self.topology)]

    row_caveats = staticmethod(row_caveats)  # per row: engine/results.py (io/writers.py)
    def path_caveats(self) -> tuple[Any, ...]:
        """The named caveats a replay's packets can carry, each with the nodes that bring it
        (engine/path_caveats.py; io/writers.py counts them into summary.json)."""
        return path_caveats(self.net)

    # -- address helpers --
    def address_of(self, name_or_ip: str) -> int:
        try:
            return int(ipaddress.IPv4Address(name_or_ip))
        except ValueError:
            return self.net.nic_ip(self.net.nic_by_vm(name_or_ip))

    def nic_of(self, src: np.ndarray) -> np.ndarray:
        if self._ip_keys.size == 0:
            return np.full(src.size, -1, dtype=np.int32)
        at = np.searchsorted(self._ip_keys, src)
        atc = np.minimum(at, self._ip_keys.size - 1)
        return np.where(self._ip_keys[atc] == src, self._ip_vals[atc], -1).astype(np.int32)

    def nic_of6(self, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        """The NIC holding each IPv6 source (uint64 halves), -1 where none."""
        if hi.size == 0 or self._ip6_vals.size == 0:
            return np.full(hi.size, -1, dtype=np.int32)
        ids = self._ip6_index.lookup(*_keys6(hi, lo))  # the key-interning kernel
        return np.where(ids >= 0, self._ip6_vals[np.maximum(ids, 0)], -1).astype(np.int32)

    # -- running --
    def send(self, packets: Any, source: str | Sequence[str | None] | None = None,
             times_ns: Sequence[int] | None = None) -> Result:
        from scapy.layers.l2 import Ether

        pkts = packets if isinstance(packets, (list, tuple)) else [packets]
        frames, links = [], []
        for p in pkts:
            frames.append(bytes(p))
            links.append(1 if isinstance(p, Ether) else 101)
        rb = _record_batch(frames, links, times_ns)
        sources = source if isinstance(source, (list, tuple)) else [source] * len(pkts)
        nic_override = np.array([self.net.nic_by_vm(s) if s else -2 for s in sources],
                                dtype=np.int32)
        result = Result(self, conntrack_mark=self.batch.mark(),
                        conntrack_times=self.batch.entry_times(),
                        pending_records=self.batch.pending_records())
        self._held = self._waiting = None
        self._process(rb, 0, result, nic_override=nic_override, asap=times_ns is None)
        return result

    def replay(self, capture_paths: str | Path | Sequence[str | Path],
               mapping: dict[str, str] | None = None,
               subnet_mapping: dict[str, str] | None = None, auto_map: bool = True,
               timing: str = "capture", speed: float = 1.0, batch: int = 65536,
               keep: bool = True, progress: bool | None = None,
               sink: Callable[[dict[str, np.ndarray], np.ndarray, RecordBatch], None] | None
               = None) -> Result:
        paths = [capture_paths] if isinstance(capture_paths, (str, Path)) else list(
            capture_paths)
        if timing not in ("capture", "asap"):
            raise InputError(f"--timing must be 'capture' or 'asap', not '{timing}'")
        if speed <= 0:
            raise InputError("--speed must be positive")
        amap = self.address_map(mapping, subnet_mapping, auto_map)
        result = Result(self, conntrack_mark=self.batch.mark(),
                        conntrack_times=self.batch.entry_times(),
                        pending_records=self.batch.pending_records())
        stats = [CaptureStats(str(p)) for p in paths]
        result.captures = stats
        self._amap = amap
        total = sum(Path(p).stat().st_size for p in paths)
        bar = _bar(total, progress)
        self._held = self._waiting = None
        for ci, rb in _merged(paths, stats, batch):
            self._process(rb, ci, result, amap=amap, asap=timing == "asap", speed=speed,
                          keep=keep, sink=sink, more=timing == "capture", wait=True)
            if bar is not None:
                bar.update(int(rb.caplens.sum()) + 16 * len(rb))
        self._decide_ready(result, keep, sink, None, None)  # rows still waiting for names
        self._finish(result, keep, sink, None)  # the rows held for the next batch
        if bar is not None:
            bar.close()
        result.mapping = amap.printable()
        return result

    def address_map(self, mapping: dict[str, str] | None, subnet_mapping: dict[str, str] | None,
                    auto: bool) -> AddressMap:
        names = []
        for i, nic in enumerate(self.net.nics):
            ip = nic.primary_ip
            if ip is not None and ip.version == 4:
                names.append((self.net.node_names[i], ip.value))
        names6 = [(self.net.node_names[i], c.private_ip_address.value)
                  for i, nic in enumerate(self.net.nics) for c in nic.ip_configurations
                  if c.private_ip_address is not None and c.private_ip_address.version == 6]
        public6 = [(self.net.node_names[nic], public, private)  # --map IPV6=VM:public (v6fix)
                   for public, (private, nic, _closed, _name) in
                   public_edge6.tables(self.net).dnat.items()]
        public4 = [(pip.name, a.value) for pip in self.topology.public_ip_addresses
                   if (a := public_address(self.topology, pip)) is not None and a.version == 4]
        amap = AddressMap(names, auto=auto, spoken=spoken_ranges(self.topology),
                          nic_ips6=names6, spoken6=spoken_ranges(self.topology, 6),
                          public_ips6=public6, public_ips=public4)
        for cap, vm in (mapping or {}).items():
            amap.add_host(cap, vm)
        for cidr, target in (subnet_mapping or {}).items():
            vnet_name, _, sub_name = target.partition("/")
            vnet = self.topology.vnet(vnet_name)
            sub = vnet.subnet(sub_name) if vnet else None
            if sub is None or not sub.address_prefixes:
                raise InputError(f"--map-subnet {cidr}={target}: no subnet {target}")
            six = ":" in cidr  # an IPv6 capture prefix maps onto the subnet's IPv6 prefix
            pre = next((p for p in sub.address_prefixes if p.version == (6 if six else 4)),
                       None)
            if pre is None:
                raise InputError(f"--map-subnet {cidr}={target}: subnet {target} has no "
                                 f"IPv{6 if six else 4} prefix")
            amap.add_subnet(cidr, pre.first, pre.size, target, pre.version)
        return amap

    def _mapped_senders(self, amap: AddressMap | None, captured_src: np.ndarray) -> np.ndarray:
        """Per row (captured IPv4 source, int64) the NIC an explicit `--map ADDR=VM` names as
        its sender, -1 elsewhere: the packet enters at that VM's NIC even when another NIC
        (of another VNet) holds the same address (control/shared_addresses.py)."""
        out = np.full(captured_src.size, -1, dtype=np.int32)
        if amap is None:
            return out
        picked = {cap: self.net.nic_by_vm(amap.names[cap]) for version, cap in amap.explicit
                  if version == 4 and cap in amap.names and cap not in amap.to_public}
        for cap, nic in picked.items():
            out[captured_src == cap] = nic
        return out

    def _process(self, rb: RecordBatch, capture: int | np.ndarray, result: Result,
                 amap: AddressMap | None = None, nic_override: np.ndarray | None = None,
                 asap: bool = True, speed: float = 1.0, keep: bool = True,
                 sink: Callable | None = None, more: bool = False, wait: bool = False) -> None:
        """Decide and time one batch of records. With `wait` (a replay: more batches may
        follow), a packet whose flow's server name may still come (FlowNames.waiting) is held
        undecided with every packet after it, and decided with a later batch (`_Rows`,
        `_decide_ready`): names, hence verdicts, do not depend on where batches split
        (engine/payload.py, NAME_WAIT_NS). With `more` (a replay in capture time:
        later batches start no earlier than this one's last packet), legs are shaped only up
        to this batch's last timestamp: from the first row still travelling then, the rows
        are held with their decisions and the legs they have still to go (`_Held`), and the
        next batch shapes those legs in time order with its own (`_finish`); held rows are
        never decided again, so the answers do not depend on where batches split. Without
        `more` every leg is shaped to the end and the batch is final."""
        n = len(rb)
        hc = _extract(rb)
        status = hc.status.astype(np.uint8)
        preset = np.full(n, UNDECIDED, dtype=np.uint8)
        ok = status == ParseStatus.OK
        later_frag = status == ParseStatus.NON_FIRST_FRAGMENT  # engine/fragments.py decides
        v6 = hc.ip_version == 6
        preset[~ok & ~later_frag] = D.UNPARSED
        preset[status == ParseStatus.NOT_IP] = D.UNSUPPORTED  # engine/link_layer.py
        src = hc.src4.astype(np.int64)
        captured_src = src.copy()  # before the address map: --map ADDR=VM names the sender
        dst = hc.dst4.astype(np.int64)
        src_hi, src_lo, dst_hi, dst_lo = hc.src_hi, hc.src_lo, hc.dst_hi, hc.dst_lo
        go = preset == UNDECIDED
        v4, s6 = go & ~v6, go & v6
        if amap is not None and (amap.auto or amap.hosts6 or amap.nets6):  # io/mapping.py:
            src_hi, src_lo, dst_hi, dst_lo = (a.copy() for a in (src_hi, src_lo, dst_hi, dst_lo))
            ms, md, shi, slo, dhi, dlo = amap.apply_dual(  # both families, one auto-map rule
                src[v4], dst[v4], src_hi[s6], src_lo[s6], dst_hi[s6], dst_lo[s6])
            src[v4], dst[v4] = ms, md
            src_hi[s6], src_lo[s6], dst_hi[s6], dst_lo[s6] = shi, slo, dhi, dlo
        elif amap is not None and not amap.moves_no_ipv4_address():  # the IPv4 map alone
            src[v4], dst[v4] = amap.apply(src[v4], dst[v4])
        else:  # nothing maps an address: the low halves already hold the IPv4 addresses
            amap = None
        nic = self.nic_of(src)
        nic[hc.ip_version != 4] = -1
        nic[s6] = self.nic_of6(src_hi[s6], src_lo[s6])  # an IPv6 packet by its IPv6 source
        chosen = self._mapped_senders(amap, captured_src)  # -1: the map named no sender
        chosen[~v4] = -1
        if nic_override is not None:  # send(source=VM) wins
            chosen = np.where(nic_override >= 0, nic_override, chosen).astype(np.int32)
        nic = np.where(chosen >= 0, chosen, nic).astype(np.int32)
        ambiguous = v4 & (chosen < 0) & np.isin(src, self._shared_ips)  # AMBIGUOUS_SOURCE
        last = self._clock.get("last", 0)  # one capture clock (the module contract)
        if asap:
            t = np.full(n, last, dtype=np.int64)
        else:
            t0 = self._clock.setdefault("t0", int(rb.time_ns[0]) if n else 0)
            rel = ((rb.time_ns - t0) / speed).astype(np.int64) if speed != 1 else \
                rb.time_ns - t0
            t = np.maximum.accumulate(np.maximum(rel, last)) if n else rel
            if n:
                self._clock["last"] = int(t[-1])
        heard = np.maximum.accumulate(np.maximum(rb.time_ns, self._heard_ns)) if n else \
            rb.time_ns
        position = np.arange(self._read, self._read + n, dtype=np.int64)
        if n:
            self._heard_ns = int(heard[-1])
            self._read += n
        cols = Columns(nic=nic, src=src, dst=dst, proto=hc.proto.astype(np.int16),
                       sport=hc.sport.astype(np.int32), dport=hc.dport.astype(np.int32),
                       length=rb.origlens.astype(np.int32), time_ns=t, preset=preset,
                       family=hc.ip_version, src_hi=src_hi, src_lo=src_lo,
                       dst_hi=dst_hi, dst_lo=dst_lo)
        if amap is not None:  # mapped IPv4 addresses: the low halves follow
            cols.src_lo = np.where(hc.ip_version == 4, src.astype(np.uint64), src_lo)
            cols.dst_lo = np.where(hc.ip_version == 4, dst.astype(np.uint64), dst_lo)
        cap = np.full(n, capture, dtype=np.int32) if np.isscalar(capture) else capture
        given = {"capture": cap, "record": rb.record, "time_in": t, "src": src, "dst": dst,
                 "proto": cols.proto, "sport": cols.sport, "dport": cols.dport,
                 "length": cols.length, "nic": nic, "status": _STATUS_NAMES[status],
                 "family": cols.family, "src_hi": cols.src_hi, "src_lo": cols.src_lo,
                 "dst_hi": cols.dst_hi, "dst_lo": cols.dst_lo, "server_name": cols.server_name,
                 "ambiguous_source": ambiguous}
        flows = self.batch.flow_names.observe_batch(
            rb, hc, cols.family, cols.src_hi, cols.src_lo, cols.dst_hi, cols.dst_lo,
            self._app_ports, heard, position)
        rows = _Rows(cols, given, rb, flows, heard + self.name_wait_ns,
                     position + self.name_wait_packets,
                     {k: getattr(hc, k) for k in _EDGE_COLUMNS})
        if self._waiting is not None:
            rows = self._waiting.then(rows)
            self._waiting = None
        self._decide_ready(result, keep, sink, rows, self._heard_ns if wait else None, more)

    def _decide_ready(self, result: Result, keep: bool, sink: Callable | None,
                      rows: _Rows | None, heard_ns: int | None, more: bool = False) -> None:
        """Give `rows` (None: the rows still waiting, at the end of a replay) their server
        names and decide and time them (`_finish`), up to the first row that must wait for
        its name while the capture read so far ends at the clock `heard_ns` (None: none
        waits); that row and the rest wait in `self._waiting`. The rows decided are shaped up
        to the last one's time when `more` (the same as a batch ending there)."""
        if rows is None:
            rows, self._waiting = self._waiting, None
            if rows is None:
                return
        names = self.batch.flow_names
        n = len(rows.flows)
        ready = n
        named = np.flatnonzero(rows.flows >= 0)  # rows of flows whose name is read
        if heard_ns is not None and named.size:
            late = named[names.waiting(rows.flows[named], rows.deadline_ns[named],
                                       rows.deadline_position[named], heard_ns, self._read)]
            ready = int(late[0]) if late.size else n
        if ready < n:
            self._waiting = rows.take(slice(ready, None), compact=True)
            rows = rows.take(slice(0, ready))
        if ready == 0:
            return
        named = named[named < ready]  # names_at gives the others 0 (no name read)
        rows.cols.server_name[:] = 0
        if named.size:
            rows.cols.server_name[named] = names.names_at(
                rows.flows[named], rows.deadline_ns[named], rows.deadline_position[named])
        # The fragment edge step runs on the rows decided now, in capture order (rows that
        # wait for names are stepped when they are decided: engine/fragments.py)
        self._frag_plan = edge_np(self.batch.fragments, self.batch.labels, rows.cols,
                                  SimpleNamespace(**rows.fragment), rows.records.time_ns,
                                  UNDECIDED)
        self.batch.final6_written = self._frag_plan.follow_rows.size > 0  # follow_np writes
        self._non_ip = decide_np(rows.fragment["status"], rows.fragment["ethertype"],
                                 self.batch.labels)  # labelled with their EtherType
        horizon = int(rows.given["time_in"][-1]) if more else None
        self._finish(result, keep, sink, horizon, rows.cols, rows.given, rows.records)

    def _finish(self, result: Result, keep: bool, sink: Callable | None, horizon: int | None,
                cols: Columns | None = None, given: dict[str, np.ndarray] | None = None,
                rb: RecordBatch | None = None) -> None:
        """Decide new rows (none: only finish the held ones), shape every leg of the held
        packets still travelling and of the new ones in event order up to `horizon` (None:
        to the end), then hand the finished rows to `result` and `sink` in row order and hold
        the rest (from the first row still travelling) for the next batch. Records (frames)
        are carried only for a sink: nothing else reads them."""
        if cols is None:  # the end: finish the held rows
            if self._held is None:
                return
            cols = self._held.no_rows
            given = {k: self._held.out[k][:0] for k in self._held.given_keys}
            rb = None if self._held.records is None else _take_records(self._held.records,
                                                                       slice(0, 0))
        assert given is not None
        if sink is None:
            rb = None
        held = self._held
        self._held = None
        out, nodes, ways = self._decide_and_time(cols, given, held, horizon)
        if held is not None and rb is None and held.ways.done.all():
            # every held row is finished: handed out as they are, the new rows after them
            # (results join the parts in row order; no copy of the new rows' columns)
            result.add(held.out, held.nodes, keep=keep)
            held = None
        waiting = np.flatnonzero(~ways.done)
        if held is not None:
            ways = held.ways.then(ways)
            waiting = np.flatnonzero(~ways.done)
            out = {k: np.concatenate([held.out[k], v]) for k, v in out.items()}
            nodes = np.concatenate([held.nodes, nodes])
            if rb is not None:
                rb = _joined_records(held.records, rb)
        ready = int(waiting[0]) if waiting.size else len(out["disposition"])
        if ready < len(out["disposition"]):
            rest = slice(ready, None)
            self._held = _Held({k: v[rest] for k, v in out.items()}, nodes[rest],
                               None if rb is None else _compact_records(rb, rest),
                               ways.take(rest), cols.take(np.zeros(0, np.int64)), tuple(given))
            out = {k: v[:ready] for k, v in out.items()}
            nodes = nodes[:ready]
            rb = None if rb is None else _take_records(rb, slice(0, ready))
        if ready == 0:
            return
        result.add(out, nodes, keep=keep)
        if sink is not None and rb is not None:
            sink(out, nodes, rb)

    def _decide_and_time(self, cols: Columns, given: dict[str, np.ndarray],
                         held: _Held | None, horizon: int | None
                         ) -> tuple[dict[str, np.ndarray], np.ndarray, _Ways]:
        """Decide the new rows, then shape in event order (timing_stage.py) the held packets
        still travelling and the new ones, up to `horizon`. Returns the new rows' output
        columns, their node paths, and the new rows' travel state (the held rows' output
        columns and travel state are updated in place). A flow is opened unless its opener
        is dropped by its source VM's shaper (its first leg, shaped at its own time, so
        always within its batch; conntrack.py, assumption shaper-no-state): such an opener
        is withdrawn, and when later rows of the batch read its state, the batch is decided
        again without it (those rows are then new flows) and re-shaped from the state before
        the batch; at most 4 rounds."""
        t = given["time_in"]
        before = (self.shaper.last_depart_ns.copy(), self.shaper.drops.copy())
        excluded = np.zeros(len(cols), bool)
        old = held.ways.moving() if held is not None else _Ways.empty()
        n = len(cols)
        for round_ in range(4):
            if n:
                disp, dec, nodes = self.batch.run(cols, excluded=excluded, commit=False)
                frag_drop = follow_np(self._frag_plan, self.net, self.batch.labels, disp, dec,
                                      nodes, self.batch.final, self.batch.final6)
                dec[self._non_ip[0]] = self._non_ip[1]
            else:
                disp, dec = np.zeros(0, np.uint8), np.zeros(0, np.int32)
                nodes = np.zeros((0, MAX_LEGS + 1), np.int32)
            new = _Ways.start(self.net, nodes, t, cols.length)
            ways = old.then(new)
            ways.advance(self.shaper, horizon)
            if n == 0:
                break
            first_drop = (ways.dropped & (ways.leg == 0))[old.size:]
            first_drop[frag_drop] = True  # a dropped first fragment opens no flow either
            state_rows = np.union1d(self.batch.openers, self.batch.recorders)  # flows, pending
            lost = state_rows[first_drop[state_rows]]
            if round_ == 3 or lost.size == 0 or not np.isin(lost, self.batch.depended_on).any():
                self.batch.drop_openers(lost)  # no later row read their state: no re-run
                break
            excluded[lost] = True
            self.shaper.last_depart_ns[:] = before[0]
            self.shaper.drops[:] = before[1]
        if n:
            self.batch.commit()
            fsrc, fdst, fsport, fdport = self.batch.final
            final6 = self.batch.final6  # IPv6 halves (an ILB's IPv6 DNAT), batch.py
            commit_np(self._frag_plan, disp, dec, nodes, self.batch.final, final6)
        else:
            fsrc, fdst = np.zeros(0, np.int64), np.zeros(0, np.int64)
            fsport, fdport = np.zeros(0, np.int32), np.zeros(0, np.int32)
            final6 = tuple(np.zeros(0, np.uint64) for _ in range(4))
        out = {**given, "disposition": disp.copy(), "deciding": dec, "time_out": t.copy(),
               "final_src": fsrc, "final_dst": fdst, "final_sport": fsport,
               "final_dport": fdport, "decision": disp,
               **dict(zip(("final_src_hi", "final_src_lo", "final_dst_hi", "final_dst_lo"),
                          (np.asarray(a, np.uint64) for a in final6), strict=True)),
               "shaper_drop_leg": np.full(n, NOT_SHAPER_DROPPED, np.int8),
               "snat_pool": self.batch.snat_pool_rows if n else np.zeros(0, np.int64),
               "reopened": self.batch.reopened if n else np.zeros(0, bool)}  # engine/reopen.py
        if held is not None:  # the held rows that were travelling
            rows = np.flatnonzero(~held.ways.done)
            finished = ways.done[:old.size]
            held.out["time_out"][rows] = ways.time_ns[:old.size]
            lost = finished & ways.dropped[:old.size]
            held.out["disposition"][rows[lost]] = D.SHAPER_DROP
            held.out["shaper_drop_leg"][rows[lost]] = ways.leg[:old.size][lost]
            held.ways.update(rows, ways.take(slice(0, old.size)))
        mine = ways.take(slice(old.size, None))
        out["time_out"][:] = mine.time_ns
        lost = mine.done & mine.dropped
        out["disposition"][lost] = D.SHAPER_DROP
        out["shaper_drop_leg"][lost] = mine.leg[lost]
        return out, nodes, mine

    # -- explanations --
    def reference(self) -> ReferencePipeline:
        return ReferencePipeline(self.net)

    def explain_row(self, result: Result, i: int) -> dict[str, Any]:
        """Row `i` of `result` hop by hop: `result.row(i)` plus `hops` (the reference walk,
        engine/reference.py, over the flow table as it stood before row i: the entries the
        run started with, then every earlier row that opened a flow, results.opened_flows),
        `decision` (the walk's disposition: what the stages decide before the shaper),
        `shaper_drop` ({"leg": k, "at": sender node name} for a SHAPER_DROP, else None) and
        `legs` (propagation and processing ns per leg). InputError when the emulator's flow
        state was reset after the result was made."""
        c = result.columns
        d = D(int(c["disposition"][i]))
        row = result.row(i)
        if d in (D.UNPARSED, D.UNSUPPORTED, D.UNMAPPED):
            return {**row, "hops": [], "reason": d.reason}
        if d in FRAGMENT_DROPS or c["status"][i] == ParseStatus.NON_FIRST_FRAGMENT.name:
            return {**row, "hops": [], "reason": d.reason, "fragment": FRAGMENT_EXPLAINED}
        ref = ReferencePipeline(self.net, self.batch.ct.capacity, self.batch.ct.idle_timeout_ns)
        for original, translated, firewalls, last_ns, pool in self.batch.timed_entries(
                result.conntrack_mark, result.conntrack_times):
            ref.conntrack.restore(original, translated, firewalls, last_ns, pool)
        self._flows_before(ref, result, i)
        p = self._packet(c, i)
        self._pending_before(ref, result, i, p)
        ref.server_names[flow_key(p)] = self.batch.flow_names.table.names[
            int(c["server_name"][i])]
        walk = ref.walk(p)
        path = [int(x) for x in result.nodes[i] if x >= 0]
        leg = int(c["shaper_drop_leg"][i])
        return {**row, "reason": d.reason, "hops": walk.hops,
                "decision": walk.disposition.name,
                "shaper_drop": None if leg < 0 else {"leg": leg,
                                                     "at": self.net.node_names[path[leg]]},
                "legs": self.legs(path)}

    def _flows_before(self, ref: ReferencePipeline, result: Result, i: int) -> None:
        """Into `ref.conntrack`: the flow table as it stood before row i -- every earlier
        row the stages decided, in order, touches the live entry it answers at its time
        (conntrack.py conntrack-idle), and one that opened or kept its flow (opened_flows:
        passing, not dropped by its source VM's shaper) commits it at its time with the SNAT
        port pool it drew from, so expiry and port exhaustion read what the run read."""
        c = result.columns
        fws = self.net.node_kind
        committed = np.zeros(i, bool)
        committed[opened_flows(c, i)] = True
        walked = ~np.isin(c["disposition"][:i], _NOT_WALKED) \
            & (c["status"][:i] != ParseStatus.NON_FIRST_FRAGMENT.name)
        for j in np.flatnonzero(walked).tolist():
            p = self._packet(c, j)
            ref.conntrack.reply_of(flow_key(p), p.time_ns)  # a live entry's reply touches it
            if not committed[j]:
                continue
            final = flow_key(p._replace(
                src=int(c["final_src_hi"][j]) << 64 | int(c["final_src_lo"][j]),
                dst=int(c["final_dst_hi"][j]) << 64 | int(c["final_dst_lo"][j]),
                sport=int(c["final_sport"][j]), dport=int(c["final_dport"][j]))) \
                if p.family == 6 else _conn_key(
                int(c["final_src"][j]), int(c["final_dst"][j]), p.proto,
                int(c["final_sport"][j]), int(c["final_dport"][j]))
            ref.conntrack.commit(flow_key(p), final, frozenset(
                int(x) for x in result.nodes[j] if x >= 0 and fws[x] == "firewall"),
                p.time_ns, self.batch.pool_key(int(c["snat_pool"][j])))

    def _pending_before(self, ref: ReferencePipeline, result: Result, i: int,
                        p: Packet) -> None:
        """Into `ref`: the pending application-rule session (engine/pending.py) row i may
        answer, as it stood before row i -- recorded by the latest earlier row of the reverse
        5-tuple (re-walked: whether a row records depends on its own verdict; one kept by its
        source VM's shaper), else by a run before this one: the record as the run found it
        (`result.pending_records`, taken when the result was made), so a record a later row
        or a later run wrote over is not seen (issues 11/12, inet item 3)."""
        c = result.columns
        reply = reverse_key(p)  # the key of the client packets that record
        public = p.family == 4 and p.dst in ref.fw_public  # to a firewall's public address:
        # recorded by a client packet whose pending.public_reply_key it is
        same = ((c["family"] == p.family) & (c["proto"] == p.proto) & (c["dport"] == p.sport)
                & (c["dst_hi"] == c["src_hi"][i]) & (c["dst_lo"] == c["src_lo"][i])
                & np.isin(c["decision"], DROPS) & (c["shaper_drop_leg"] != 0))
        if not public:
            same &= ((c["sport"] == p.dport) & (c["src_hi"] == c["dst_hi"][i])
                     & (c["src_lo"] == c["dst_lo"][i]))
        same[i] = False
        found = result.pending_records
        if found is None:  # a result made without the snapshot: the table unless overwritten
            found = self.batch.pending_records() if not same[i:].any() else []
        for key, verdict, recorded_ns in found:
            if key == flow_key(p):
                ref.pending_sessions.record(key, verdict, recorded_ns)
        names = self.batch.flow_names.table.names
        for j in np.flatnonzero(same[:i])[::-1].tolist():
            q = self._packet(c, j)
            if not public and flow_key(q) != reply:
                continue
            ref.server_names[flow_key(q)] = names[int(c["server_name"][j])]
            w = ref.walk(q)
            if w.pending is not None and (not public or w.pending_public == flow_key(p)):
                ref.pending_sessions.record(flow_key(p), w.pending, q.time_ns)
                return

    def legs(self, path: list[int]) -> list[dict[str, Any]]:
        net = self.net
        out = []
        for a, b in zip(path, path[1:], strict=False):
            ra, rb_ = int(net.node_region[a]), int(net.node_region[b])
            # a leg to or from the Internet / on-premises takes its Azure end's region (as
            # the timing stage times it: never global)
            rb_ = ra if rb_ < 0 else rb_
            ra = rb_ if ra < 0 else ra
            out.append({"from": net.node_names[a], "to": net.node_names[b],
                        "propagation_ns": net.latency(ra, rb_),
                        "processing_ns": int(net.node_cost_ns[b]),
                        "global": ra != rb_})
        return out

    @staticmethod
    def _packet(c: dict[str, np.ndarray], j: int) -> Packet:
        """Row j as a reference Packet (IPv6 rows: addresses from their halves; an IPv6 row
        is never translated, so its final addresses are these)."""
        family = int(c["family"][j])
        src, dst = (int(c["src"][j]), int(c["dst"][j])) if family != 6 else (
            int(c["src_hi"][j]) << 64 | int(c["src_lo"][j]),
            int(c["dst_hi"][j]) << 64 | int(c["dst_lo"][j]))
        return Packet(int(c["nic"][j]), src, dst, int(c["proto"][j]), int(c["sport"][j]),
                      int(c["dport"][j]), int(c["length"][j]), int(c["time_in"][j]),
                      family=6 if family == 6 else 4)


class _Ways:
    """Where packets are on their paths: per row its legs (sender VM, cost; timing_stage
    leg_tables), frame length, next leg and the time it reaches it (for a finished row: its
    arrival, -1 when dropped, and the leg it was dropped at), done and dropped flags."""

    def __init__(self, leg_vm: np.ndarray, leg_cost: np.ndarray, length: np.ndarray,
                 leg: np.ndarray, time_ns: np.ndarray, done: np.ndarray,
                 dropped: np.ndarray) -> None:
        self.leg_vm, self.leg_cost, self.length = leg_vm, leg_cost, length
        self.leg, self.time_ns, self.done, self.dropped = leg, time_ns, done, dropped

    _FIELDS = ("leg_vm", "leg_cost", "length", "leg", "time_ns", "done", "dropped")

    @property
    def size(self) -> int:
        return int(self.leg.size)

    @classmethod
    def empty(cls) -> _Ways:
        return cls(np.zeros((0, 0), np.int32), np.zeros((0, 0), np.int64),
                   np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.int64),
                   np.zeros(0, bool), np.zeros(0, bool))

    @classmethod
    def start(cls, net: Network, nodes: np.ndarray, time_in: np.ndarray, length: np.ndarray
              ) -> _Ways:
        leg_vm, leg_cost = leg_tables(net, nodes)
        n = time_in.size
        return cls(leg_vm, leg_cost, length.astype(np.int32), np.zeros(n, np.int32),
                   time_in.astype(np.int64), np.zeros(n, bool), np.zeros(n, bool))

    def take(self, rows: Any) -> _Ways:
        return _Ways(*(getattr(self, f)[rows] for f in self._FIELDS))

    def then(self, other: _Ways) -> _Ways:
        """self's rows, then other's; leg tables padded with no-leg columns to the wider."""
        width = max(self.leg_vm.shape[1], other.leg_vm.shape[1])
        legs = [np.concatenate([_pad(getattr(a, f), width, fill) for a in (self, other)])
                for f, fill in (("leg_vm", NO_LEG), ("leg_cost", 0))]
        return _Ways(*legs, *(np.concatenate([getattr(self, f), getattr(other, f)])
                              for f in self._FIELDS[2:]))

    def moving(self) -> _Ways:
        return self.take(np.flatnonzero(~self.done))

    def update(self, rows: np.ndarray, other: _Ways) -> None:
        """Travel state of `rows` from `other` (the same packets: their legs are the same)."""
        for f in self._FIELDS[3:]:
            getattr(self, f)[rows] = getattr(other, f)

    def advance(self, shaper: Any, horizon: int | None) -> None:
        """Shape the rows not done, in event order, up to `horizon` (kernels/shaper.py)."""
        out, leg, done, dropped = shaper.advance(self.leg_vm, self.leg_cost, self.time_ns,
                                                 self.length, self.leg, self.time_ns,
                                                 horizon)
        self.time_ns, self.leg, self.done, self.dropped = out, leg, done, dropped


def _pad(legs: np.ndarray, width: int, fill: int) -> np.ndarray:
    """A leg table widened to `width` columns with `fill` (no leg)."""
    if legs.shape[1] == width:
        return legs
    out = np.full((legs.shape[0], width), fill, dtype=legs.dtype)
    out[:, :legs.shape[1]] = legs
    return out


_EDGE_COLUMNS = ("frag", "frag_id", "frag_offset", "frag_more", "frag_len", "status",
                 "ethertype")


class _Rows:
    """Rows not decided yet: their engine columns (`cols`; `given`, whose "server_name" is
    `cols.server_name` itself), records, flow ids in the name state (payload.FlowNames; -1:
    not read), the capture clock and position up to which each waits for its name, and the
    header kernel's fragment and link columns (`fragment`: _EDGE_COLUMNS, for
    engine/fragments.py and engine/link_layer.py)."""

    def __init__(self, cols: Columns, given: dict[str, np.ndarray], records: RecordBatch,
                 flows: np.ndarray, deadline_ns: np.ndarray, deadline_position: np.ndarray,
                 fragment: dict[str, np.ndarray]) -> None:
        self.cols, self.given, self.records = cols, given, records
        self.flows, self.deadline_ns, self.deadline_position = flows, deadline_ns, \
            deadline_position
        self.fragment = fragment

    def take(self, rows: slice, compact: bool = False) -> _Rows:
        """`rows`; with `compact` their frames copied into a buffer of their own."""
        cols = self.cols.take(np.arange(len(self.cols))[rows])
        given = {**{k: v[rows] for k, v in self.given.items()}, "server_name": cols.server_name}
        records = (_compact_records if compact else _take_records)(self.records, rows)
        return _Rows(cols, given, records, self.flows[rows], self.deadline_ns[rows],
                     self.deadline_position[rows],
                     {k: v[rows] for k, v in self.fragment.items()})

    def then(self, other: _Rows) -> _Rows:
        cols = Columns(*(np.concatenate([getattr(self.cols, f), getattr(other.cols, f)])
                         for f in self.cols.__dataclass_fields__))
        given = {**{k: np.concatenate([self.given[k], v]) for k, v in other.given.items()},
                 "server_name": cols.server_name}
        return _Rows(cols, given, _joined_records(self.records, other.records),
                     *(np.concatenate([getattr(self, k), getattr(other, k)])
                       for k in ("flows", "deadline_ns", "deadline_position")),
                     {k: np.concatenate([v, other.fragment[k]])
                      for k, v in self.fragment.items()})


class _Held:
    """Rows decided but not yet handed out (from the first row still travelling on): their
    output columns, node paths, records (None without a sink) and travel state."""

    def __init__(self, out: dict[str, np.ndarray], nodes: np.ndarray,
                 records: RecordBatch | None, ways: _Ways, no_rows: Columns,
                 given_keys: tuple[str, ...]) -> None:
        self.out, self.nodes, self.records, self.ways = out, nodes, records, ways
        self.no_rows, self.given_keys = no_rows, given_keys  # (empty columns: their types)


def _take_records(rb: RecordBatch, rows: slice) -> RecordBatch:
    return RecordBatch(rb.buf, rb.offsets[rows], rb.caplens[rows], rb.origlens[rows],
                       rb.linktypes[rows], rb.time_ns[rows], rb.record[rows])


def _compact_records(rb: RecordBatch, rows: slice) -> RecordBatch:
    """`rows` with their frames copied into a buffer of their own (held rows must not keep
    the whole batch's buffer alive, nor make the next join copy it)."""
    part = _take_records(rb, rows)
    lengths = part.caplens.astype(np.int64)
    starts = np.zeros(lengths.size, dtype=np.int64)
    if lengths.size > 1:
        np.cumsum(lengths[:-1], out=starts[1:])
    buf = np.empty(int(lengths.sum()), dtype=np.uint8)
    copy_runs(rb.buf, part.offsets, lengths, buf, starts)
    return RecordBatch(buf, starts, part.caplens, part.origlens, part.linktypes,
                       part.time_ns, part.record)


def _joined_records(a: RecordBatch, b: RecordBatch) -> RecordBatch:
    """The records of a, then b."""
    sid = np.repeat(np.array([0, 1], dtype=np.int64), [len(a), len(b)])
    row = np.concatenate([np.arange(len(a)), np.arange(len(b))]).astype(np.int64)
    return _gather({0: a, 1: b}, sid, row, sid)[1]


def _record_batch(frames: list[bytes], links: list[int], times: Sequence[int] | None
                  ) -> RecordBatch:
    caplens = np.array([len(f) for f in frames], dtype=np.int32)
    offsets = np.zeros(len(frames), dtype=np.int64)
    if len(frames) > 1:
        np.cumsum(caplens[:-1], out=offsets[1:])
    return RecordBatch(np.frombuffer(b"".join(frames), dtype=np.uint8).copy(), offsets,
                       caplens, caplens.copy(), np.array(links, dtype=np.int32),
                       np.array(times if times is not None else [0] * len(frames),
                                dtype=np.int64), np.arange(len(frames), dtype=np.int64))


_NOT_WALKED = np.array([D.UNPARSED, D.UNSUPPORTED, D.UNMAPPED, *FRAGMENT_DROPS], np.uint8)
MAX_LEGS = MAX_HOPS + 1  # node paths are MAX_HOPS + 2 wide (batch.WIDTH)
_STATUS_NAMES = np.array([s.name for s in ParseStatus], dtype=object)


def _extract(rb: RecordBatch) -> Any:
    lt = rb.linktypes
    if lt.size == 0 or (lt == lt[0]).all():
        return extract(rb.buf, rb.offsets, rb.caplens, int(lt[0]) if lt.size else 1)
    links = np.unique(lt)
    from dataplane.kernels.headers_py import HeaderColumns
    out = HeaderColumns.empty(len(rb))
    for lt in links.tolist():
        sel = np.flatnonzero(rb.linktypes == lt)
        part = extract(rb.buf, rb.offsets[sel], rb.caplens[sel], lt)
        for name, col in zip(out._fields, part, strict=True):
            getattr(out, name)[sel] = col
    return out


def _merged(paths: list[str | Path], stats: list[CaptureStats], batch: int
            ) -> Iterator[tuple[int | np.ndarray, RecordBatch]]:
    """Records of several captures merged by (timestamp, capture), in batches of `batch`.

    The order is exactly heapq.merge's over the per-capture streams keyed by (time, capture),
    which for timestamps that go backwards equals a stable sort by (running maximum of the
    capture's timestamps, capture, position). Computed on columns: a capture's records are
    released once no other capture can still produce a smaller key; frames stay in the
    readers' buffers (a merged batch's buffer joins the buffers it draws from)."""
    if len(paths) == 1:
        for rb in read_batches(paths[0], stats[0], batch):
            yield 0, rb
        return
    its = [read_batches(p, s, batch) for p, s in zip(paths, stats, strict=True)]
    k = len(paths)
    pend: list[tuple[RecordBatch, np.ndarray, int] | None] = [None] * k  # rb, eff keys, start
    runmax = [np.iinfo(np.int64).min] * k
    done = [False] * k
    store: dict[int, RecordBatch] = {}
    serial = 0
    empty = np.zeros(0, dtype=np.int64)
    carry: list[np.ndarray] = [empty, empty, empty]  # store id, row, capture (merged order)
    while True:
        for ci in range(k):
            while not done[ci] and pend[ci] is None:
                rb = next(its[ci], None)
                if rb is None:
                    done[ci] = True
                elif len(rb):
                    eff = np.maximum.accumulate(np.maximum(rb.time_ns, runmax[ci]))
                    runmax[ci] = int(eff[-1])
                    pend[ci] = (rb, eff, 0)
        live = [(int(p[1][-1]), ci) for ci, p in enumerate(pend) if p is not None
                and not done[ci]]
        finished = all(done) and all(p is None for p in pend)
        h_t, h_ci = min(live) if live else (np.iinfo(np.int64).max, k)
        parts: list[list[np.ndarray]] = [[], [], [], []]
        for ci, p in enumerate(pend):
            if p is None:
                continue
            rb, eff, start = p
            stop = int(np.searchsorted(eff, h_t, side="right" if ci <= h_ci else "left"))
            if stop <= start:
                continue
            store[serial] = rb
            for lst, x in zip(parts, (np.full(stop - start, serial, dtype=np.int64),
                                      np.arange(start, stop, dtype=np.int64),
                                      np.full(stop - start, ci, dtype=np.int64),
                                      eff[start:stop]), strict=True):
                lst.append(x)
            serial += 1
            pend[ci] = None if stop == eff.size else (rb, eff, stop)
        if parts[0]:
            sid, row, cis, key = (np.concatenate(x) for x in parts)
            order = np.lexsort((np.arange(sid.size), cis, key))
            carry = [np.concatenate([c, x[order]]) for c, x in zip(carry, (sid, row, cis),
                                                                    strict=True)]
        while carry[0].size >= batch or (finished and carry[0].size):
            take = min(batch, carry[0].size)
            yield _gather(store, *(x[:take] for x in carry))
            carry = [x[take:] for x in carry]
            keep = set(np.unique(carry[0]).tolist()) | {
                sid_ for sid_, rb in store.items() if any(p is not None and p[0] is rb
                                                          for p in pend)}
            store = {sid_: rb for sid_, rb in store.items() if sid_ in keep}
        if finished:
            break


def _gather(store: dict[int, RecordBatch], sid: np.ndarray, row: np.ndarray, ci: np.ndarray
            ) -> tuple[np.ndarray, RecordBatch]:
    """A RecordBatch of rows (store id, row) in the given order; frames are not copied one by
    one: the batch's buffer joins the source buffers and offsets are shifted."""
    used = np.unique(sid).tolist()
    base, bufs, at = {}, [], 0
    for u in used:
        base[u] = at
        bufs.append(store[u].buf)
        at += store[u].buf.size
    buf = np.concatenate(bufs) if len(bufs) > 1 else bufs[0]
    n = sid.size
    cols = {f: np.empty(n, dtype=t) for f, t in (
        ("offsets", np.int64), ("caplens", np.int32), ("origlens", np.int32),
        ("linktypes", np.int32), ("time_ns", np.int64), ("record", np.int64))}
    for u in used:
        m = sid == u
        rb, r = store[u], row[m]
        cols["offsets"][m] = rb.offsets[r] + base[u]
        for f in ("caplens", "origlens", "linktypes", "time_ns", "record"):
            cols[f][m] = getattr(rb, f)[r]
    return ci.astype(np.int32), RecordBatch(buf, **cols)


def _bar(total: int, progress: bool | None) -> Any:
    if progress is False or (progress is None and total < 64 << 20):
        return None
    from tqdm import tqdm
    return tqdm(total=total, unit="B", unit_scale=True, desc="replay")
