"""End-to-end replay: a generated 1M-packet hub-and-spoke capture through the demo topology,
compiled pipeline vs a scapy-per-packet peer doing the same work on a smaller sample.

Run (about a minute):
    pytest bench/test_pipeline.py -p no:cacheprovider --benchmark-json /tmp/pipe.json -s

Dual-stack variant (`test_replay_compiled_dual_stack`, issue 17): the demo made dual-stack
(`dual_stack_demo`) and a 1M-packet capture with DUAL_SHARE of its TCP/UDP flows as IPv6,
replayed alternately with the IPv4-only capture through the same topology in one run; prints
the IPv6 packet share and the ratio (target >= 0.8).
Firewall-hub variant (`test_replay_compiled_firewall_hub`): the same capture through the demo
with its hub NVA replaced by an Azure Firewall (classic network rules, stateful sessions).
Ours: `Emulator(demo).replay(capture, auto_map=False)` -- read + scan (pcapscan), header
extraction, flow state, every pipeline stage, timing (shaper + latency), result columns.
Peer: scapy `rdpcap` of the first PEER_PACKETS records of the same capture, then per packet:
layer access for the 5-tuple and length, source NIC lookup, `ReferencePipeline.walk` (the
per-packet oracle, stateful), and per-leg timing in plain Python (egress clock + latency).
Both report packets/s (ours: wall and process CPU time; every round starts from a reset
emulator, so the flow state and decision cache start cold); the peer test prints the ratio
measured in the same run.
The capture (~140 MB) is generated into a temp dir by captures/gen_hub_spoke.py (numpy).
"""

from __future__ import annotations

import importlib.util
import ipaddress
import itertools
import math
import platform
import time
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

import dataplane
from dataplane.dispositions import Disposition as D
from dataplane.engine import Emulator
from dataplane.engine.reference import Packet, ReferencePipeline

PACKETS = 1_000_000
PEER_PACKETS = 3_000
RATES: dict[str, float] = {}

_spec = importlib.util.spec_from_file_location(
    "gen_hub_spoke", Path(__file__).resolve().parents[1] / "captures" / "gen_hub_spoke.py")
gen = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(gen)  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def topology():
    return dataplane.load(str(resources.files("dataplane.data").joinpath("demo.yaml")))


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> Path:
    return gen.generate(tmp_path_factory.mktemp("pipe") / "hub_spoke_1m.pcap", PACKETS)


@pytest.fixture(scope="module")
def sample(tmp_path_factory, capture) -> Path:
    """The first PEER_PACKETS records of the same capture."""
    from dataplane.io.capture import read_batches
    rb = next(read_batches(capture, batch=PEER_PACKETS))
    data = bytearray(capture.read_bytes()[:24])
    for k in range(len(rb)):
        o, n = int(rb.offsets[k]), int(rb.caplens[k])
        t = int(rb.time_ns[k])
        data += np.array([t // 10**9, t % 10**9 // 1000, n, int(rb.origlens[k])],
                         dtype="<u4").tobytes() + bytes(rb.buf[o:o + n])
    p = tmp_path_factory.mktemp("pipe") / "sample.pcap"
    p.write_bytes(bytes(data))
    return p


def _machine() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    def v(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:  # Cython is a build dependency, not always installed
            return "-"

    return {"python": platform.python_version(), "numpy": np.__version__,
            "cython": v("Cython"), "scapy": v("scapy"),
            "cpu": platform.processor() or platform.machine()}


def test_replay_compiled(benchmark, topology, capture) -> None:
    em = Emulator(topology)
    cpu: list[float] = []

    def run():
        em.reset()  # cold flow state and decision cache every round
        t0 = time.process_time()
        r = em.replay(capture, auto_map=False, progress=False)
        cpu.append(time.process_time() - t0)
        return r

    result = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=0)
    assert result.read == PACKETS and result.check_accounting()
    benchmark.extra_info.update(ops=PACKETS, unit="packet", counts=result.counts(),
                                cpu_seconds=cpu, **_machine())
    RATES["ours"] = PACKETS / benchmark.stats.stats.mean
    print(f"\ncompiled replay: {RATES['ours']:,.0f} packets/s wall (mean of 3), best "
          f"{PACKETS / benchmark.stats.stats.min:,.0f}; CPU time: mean "
          f"{PACKETS * len(cpu) / sum(cpu):,.0f}, best {PACKETS / min(cpu):,.0f} packets/s")


FIREWALL_HUB = """
firewalls:
  hub-fw:
    subnet: hub/nva
    ip: 10.0.1.4
    collections:
      - {name: east-west, priority: 100, action: Allow, rules: [
          {name: sql-web, protocols: [TCP], source: [10.1.0.0/16, 10.2.0.0/16],
           destination: [10.0.0.0/8], ports: ["1433", "80", "443"]}]}
      - {name: egress, priority: 200, action: Allow, rules: [
          {name: https-out, protocols: [TCP], source: [10.1.0.0/16], destination: ["*"],
           ports: ["443"]},
          {name: branch, protocols: [UDP], source: [10.1.0.0/16],
           destination: [192.168.0.0/16], ports: ["*"]}]}
"""


@pytest.fixture(scope="module")
def firewall_topology(tmp_path_factory):
    """The demo with its hub NVA (nva1, 10.0.1.4) replaced by an Azure Firewall at the same
    address: every spoke flow crosses a stateful firewall with classic network rules."""
    text = resources.files("dataplane.data").joinpath("demo.yaml").read_text()
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("nva1:")]
    path = tmp_path_factory.mktemp("fw") / "demo-fw.yaml"
    path.write_text("\n".join(lines) + "\n" + FIREWALL_HUB)
    return dataplane.load(str(path))


def test_replay_compiled_firewall_hub(benchmark, firewall_topology, capture) -> None:
    em = Emulator(firewall_topology)

    def run():
        em.reset()
        return em.replay(capture, auto_map=False, progress=False)

    result = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=0)
    assert result.read == PACKETS and result.check_accounting()
    benchmark.extra_info.update(ops=PACKETS, unit="packet", counts=result.counts(),
                                **_machine())
    print(f"\ncompiled replay, firewall hub: {PACKETS / benchmark.stats.stats.mean:,.0f} "
          f"packets/s wall (mean of 3); {result.counts()}")


# -- dual-stack variant (issue 17) --------------------------------------------------------
def _prefix6(text: str) -> str:
    """An IPv4 prefix as the dual-stack capture's map writes its addresses (gen.map6): a
    private /L becomes a /(40 + L) (/24 -> /64), 0.0.0.0/0 becomes ::/0."""
    net = ipaddress.IPv4Network(text)
    if net.prefixlen == 0:
        return "::/0"
    return f"{ipaddress.IPv6Address(gen.map6(int(net.network_address)))}/{40 + net.prefixlen}"


def dual_stack_demo(text: str) -> str:
    """The demo topology made dual-stack with gen.map6: every subnet gets the IPv6 /64 of its
    /24, every VNet the /56 of its /16, every VM its mapped IPv6 address, every user route an
    IPv6 twin (mapped prefix and next hop)."""
    import yaml

    doc = yaml.safe_load(text)
    for vnet in doc["vnets"].values():
        vnet["address_space"] += [_prefix6(p) for p in vnet["address_space"]]
        for name, sub in list(vnet["subnets"].items()):
            spec = sub if isinstance(sub, dict) else {"prefix": sub}
            if ipaddress.IPv4Network(spec["prefix"]).prefixlen == 24:
                spec["prefix6"] = _prefix6(spec["prefix"])
            vnet["subnets"][name] = spec
    for table in doc["route_tables"].values():
        table["routes"] += [{**r, "name": r["name"] + "-v6", "prefix": _prefix6(r["prefix"]),
                             **({"next_hop_ip": str(ipaddress.IPv6Address(gen.map6(int(
                                 ipaddress.IPv4Address(r["next_hop_ip"])))))}
                                if r.get("next_hop_ip") else {})} for r in table["routes"]]
    for vm in doc["vms"].values():
        vm["ip6"] = str(ipaddress.IPv6Address(gen.map6(int(ipaddress.IPv4Address(vm["ip"])))))
    return yaml.safe_dump(doc, sort_keys=False)


@pytest.fixture(scope="module")
def dual_topology(tmp_path_factory):
    text = resources.files("dataplane.data").joinpath("demo.yaml").read_text()
    path = tmp_path_factory.mktemp("dual") / "demo-dual.yaml"
    path.write_text(dual_stack_demo(text))
    return dataplane.load(str(path))


@pytest.fixture(scope="module")
def dual_capture(tmp_path_factory) -> Path:
    return gen.generate(tmp_path_factory.mktemp("pipe") / "dual_1m.pcap", PACKETS,
                        ipv6_share=DUAL_SHARE)


DUAL_SHARE = 0.5  # of the TCP/UDP flows; about half of the packets (printed)


def test_replay_compiled_dual_stack(benchmark, dual_topology, dual_capture, capture) -> None:
    """The dual-stack capture and the IPv4-only one through the same dual-stack topology,
    alternated round by round in one run (ratio target >= 0.8)."""
    em = Emulator(dual_topology)
    times: dict[str, list[float]] = {"dual": [], "ipv4": []}

    def one(kind: str, path: Path):
        em.reset()
        t0 = time.perf_counter()
        r = em.replay(path, auto_map=False, progress=False)
        times[kind].append(time.perf_counter() - t0)
        return r

    def run():
        one("ipv4", capture)
        return one("dual", dual_capture)

    result = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=0)
    assert result.read == PACKETS and result.check_accounting()
    family = np.concatenate([b for b in [result.columns["family"]]])
    share = float(np.mean(family == 6))
    ratio = min(times["ipv4"]) / min(times["dual"])
    benchmark.extra_info.update(ops=PACKETS, unit="packet", counts=result.counts(),
                                ipv6_packet_share=share, ipv4_seconds=times["ipv4"],
                                dual_seconds=times["dual"], ratio_best=ratio, **_machine())
    print(f"\ndual-stack replay ({share:.0%} IPv6 packets): best "
          f"{PACKETS / min(times['dual']):,.0f} packets/s vs IPv4-only "
          f"{PACKETS / min(times['ipv4']):,.0f} on the same topology: ratio {ratio:.2f} "
          f"(best of 3 alternated rounds); {result.counts()}")


def scapy_peer(em: Emulator, path: Path) -> dict[str, int]:
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.l2 import Ether  # noqa: F401  (registers link type 1)
    from scapy.utils import rdpcap

    net = em.net
    ref = ReferencePipeline(net)
    last_depart: dict[int, int] = {}
    counts: dict[str, int] = {}
    t0 = None
    clock = 0
    for pkt in rdpcap(str(path)):
        t_cap = int(pkt.time * 10**9)
        t0 = t_cap if t0 is None else t0
        clock = max(clock, t_cap - t0)
        ip = pkt.getlayer(IP)
        if ip is None:
            d = D.UNSUPPORTED if pkt.haslayer("IPv6") else D.UNPARSED
            counts[d.name] = counts.get(d.name, 0) + 1
            continue
        l4 = pkt.getlayer(TCP) or pkt.getlayer(UDP)
        if l4 is not None:
            sport, dport = int(l4.sport), int(l4.dport)
        elif pkt.haslayer(ICMP):
            sport, dport = int(pkt[ICMP].type), int(pkt[ICMP].code)
        else:
            sport = dport = 0
        src, dst = int.from_bytes(bytes(map(int, ip.src.split("."))), "big"), \
            int.from_bytes(bytes(map(int, ip.dst.split("."))), "big")
        length = int(pkt.wirelen or len(pkt))
        p = Packet(net.ip_nic.get(src, -1), src, dst, int(ip.proto), sport, dport, length,
                   clock)
        w = ref.run([p])[0]
        d = w.disposition
        t = clock
        for a, b in itertools.pairwise(w.nodes):  # per-leg timing, plain Python
            vm = int(net.node_vm[a])
            if vm >= 0 and net.vm_cap_bps[vm] > 0:
                start = max(t, last_depart.get(vm, 0))
                t = last_depart[vm] = start + math.ceil(length * 8 * 10**9 /
                                                        int(net.vm_cap_bps[vm]))
            ra, rb_ = int(net.node_region[a]), int(net.node_region[b])
            t += int(net.latency_ns[ra, ra if rb_ < 0 else rb_]) + int(net.node_cost_ns[b])
        counts[d.name] = counts.get(d.name, 0) + 1
    return counts


def test_replay_scapy_peer(benchmark, topology, sample) -> None:
    em = Emulator(topology)
    counts = benchmark.pedantic(scapy_peer, args=(em, sample), rounds=1, iterations=1)
    assert sum(counts.values()) == PEER_PACKETS
    peer = PEER_PACKETS / benchmark.stats.stats.mean
    RATES["peer"] = peer
    benchmark.extra_info.update(ops=PEER_PACKETS, unit="packet", counts=counts)
    if "ours" in RATES:
        ratio = RATES["ours"] / peer
        benchmark.extra_info["ratio_ours_over_peer"] = ratio
        print(f"\nscapy-per-packet peer: {peer:,.0f} packets/s on {PEER_PACKETS:,} packets; "
              f"ratio {ratio:,.0f}x (same run)")
