"""The batch pipeline: packet columns through vectorised stages, a dispatcher over hops.

Takes: a `Network` (compile.py; NSG tables from the control plane's Program) and `Columns`
(numpy: ingress NIC, IPv4 src/dst, proto, ports, length, time_in ns; preset dispositions for
packets the edge already decided: UNPARSED, UNSUPPORTED, UNMAPPED).
Emits: disposition (uint8), deciding label index (int32 into `Labels`), node paths (n x H).
Stages and drop reasons are those of reference.py (the oracle; same order, same labels):
source/anti-spoofing, outbound NSG, then per hop: route (interval LPM by searchsorted over
subnet << 32 | dst), peering matrices, appliance (NVA NSGs, IP forwarding, firewall rules),
gateway/Internet exits, inbound NSG, delivery. Python loops over stages, hops, NICs and rules;
numpy (and the kernels) loop over packets. Stateful NSGs: a packet whose reverse 5-tuple was
delivered/left earlier (this batch or a previous one) skips NSG evaluation; within a batch this
is solved by iterating to the least fixed point, which equals the sequential (reference) order.
Flow state: 5-tuples get ids from the key-interning kernel (kernels/pipeline.py KeyIndex, kept
across batches) with one established flag per id; at most `flow_capacity` flows are stored
(a full table refuses new flows, as the FlowTable kernel does); past `flow_limit` ids the index
is compacted to the established flows.
Decision cache: decide() reads only (nic, src, dst, proto, sport, dport, preset, est) of a row,
so its answer is stored per distinct such key (a second KeyIndex over flow id, raw ports, nic,
preset, est; cleared past `cache_limit` keys, on compaction and by reset_state); only unseen
keys are decided.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dataplane.control.nsg import ANY_PROTOCOL, protocol_number
from dataplane.dispositions import Disposition as D
from dataplane.engine import ingress as _ingress_stage  # semantics stage, see decide()
from dataplane.engine import loadbalancer as _lb_stage  # semantics stage, see decide()
from dataplane.engine.compile import (
    MAX_HOPS,
    NH_APPLIANCE,
    NH_GATEWAY,
    NH_INTERNET,
    NH_NONE,
    NH_PEERING,
    NH_SERVICE,
    NH_VNETLOCAL,
    Network,
)
from dataplane.engine.reference import _in
from dataplane.kernels.pipeline import KeyIndex, flow_keys
from dataplane.kernels.pipeline_py import mix64  # the one 64-bit column mix

WIDTH = MAX_HOPS + 2
UNDECIDED = 255


@dataclass
class Columns:
    nic: np.ndarray      # int32, -1 = unmapped
    src: np.ndarray      # int64 IPv4
    dst: np.ndarray      # int64
    proto: np.ndarray    # int16
    sport: np.ndarray    # int32
    dport: np.ndarray    # int32
    length: np.ndarray   # int32 bytes on the wire
    time_ns: np.ndarray  # int64
    preset: np.ndarray   # uint8 disposition decided at the edge, UNDECIDED otherwise

    def __len__(self) -> int:
        return int(self.src.size)

    def take(self, rows: np.ndarray) -> Columns:
        return Columns(*(getattr(self, f)[rows] for f in self.__dataclass_fields__))


class Labels:
    """Interned deciding-rule/route strings; columns carry indices."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.index: dict[str, int] = {}

    def __call__(self, name: str) -> int:
        i = self.index.get(name)
        if i is None:
            i = self.index[name] = len(self.names)
            self.names.append(name)
        return i


class BatchPipeline:
    def __init__(self, net: Network, flow_capacity: int = 1 << 20,
                 cache_limit: int = 1 << 20) -> None:
        self.net = net
        self.labels = Labels()
        self.flow_capacity = flow_capacity
        self.cache = KeyIndex(4, 1 << 16)  # decision key -> row of the stores below
        self.cache_limit = cache_limit
        self._clear_cache()
        self.flow_index = KeyIndex(5, 1 << 16)  # 5-tuple -> flow id, kept across batches
        self.flow_limit = 2 * flow_capacity + (1 << 16)
        self._clear_flows()
        p = net.program
        self.route_label = np.array([self.labels(s) for s in net.route_labels], dtype=np.int32)
        rs = np.searchsorted(p.ruleset_offsets, np.arange(p.rule_priority.size), side="right") - 1
        self.rule_label = np.array(
            [self.labels(f"nsg {p.ruleset_nsg[s].rsplit('/', 1)[-1]}/{p.rule_names[p.rule_name[r]]}")
             for r, s in enumerate(rs.tolist())], dtype=np.int32)
        nv = len(net.vnet_names)
        self.peer_label = np.array([[self.labels(f"peering {net.vnet_names[a]}->{net.vnet_names[b]}")
                                     for b in range(nv)] for a in range(nv)],
                                   dtype=np.int32).reshape(nv, nv)
        self.spoof_label = np.array([self.labels(f"anti-spoofing {net.node_names[i]}")
                                     for i in range(len(net.nics))] + [0], dtype=np.int32)
        self.fwd_label = np.array([self.labels(f"ip-forwarding {net.node_names[i]}")
                                   for i in range(len(net.nics))] + [0], dtype=np.int32)
        self.l_unmapped = self.labels("source address is not an emulated NIC")
        self.l_noroute = self.labels("no route")
        self.l_hoplimit = self.labels("hop limit")
        self.l_edge = {d: self.labels(d.reason) for d in (D.UNPARSED, D.UNSUPPORTED)}
        nic_keys = sorted((i << 32) | c.private_ip_address.value
                          for i, nic in enumerate(net.nics) for c in nic.ip_configurations
                          if c.private_ip_address is not None
                          and c.private_ip_address.version == 4)
        self.nic_ip_keys = np.array(nic_keys, dtype=np.int64)
        self.forwarding = np.array([nic.enable_ip_forwarding for nic in net.nics] + [False])

    # -- public --
    def run(self, c: Columns) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = len(c)
        if n == 0:
            return self.decide(c, np.zeros(0, dtype=bool))
        if self.cache.size > self.cache_limit:  # bounded memory; decisions are recomputed
            self._clear_cache()
        if self.flow_index.size > self.flow_limit:
            self._compact_flows()
        fid, rid = self._flow_ids(c)
        rows = np.arange(n, dtype=np.int64)
        known = self._established[rid]  # the reverse flow passed in an earlier batch
        est = known.copy()
        dkeys, dhash = self._decision_keys(c, fid)
        ids = self._decisions(c, est, rows, dkeys, dhash)
        first = self._first
        while True:
            passing = self._pass[ids]
            first[fid] = n
            first[rid] = n
            np.minimum.at(first, fid[passing], rows[passing])
            new = known | (first[rid] < rows)
            changed = np.flatnonzero(new != est)
            if changed.size == 0:
                break
            est = new
            # decide() is row-independent: re-deciding only the rows whose state changed gives
            # the same arrays as deciding the whole batch again (the least fixed point).
            ids[changed] = self._decisions(c, est, changed, dkeys[changed], dhash[changed])
        # store each passing flow once, in order of its first passing row; a full table
        # refuses new flows (FlowTable semantics, Azure's per-VM flow limit)
        g = fid[np.flatnonzero(passing & (first[fid] == rows))]
        g = g[~self._established[g]]
        room = self.flow_capacity - self._n_established
        if g.size > room:
            g = g[:max(room, 0)]
        self._established[g] = True
        self._n_established += int(g.size)
        return self._disp[ids], self._dec[ids], self._nodes[ids]

    # -- the decision cache --
    @staticmethod
    def _decision_keys(c: Columns, fid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Everything decide() reads of a row, as exact uint64 words (flow id: the exact
        5-tuple with ports 0 unless TCP/UDP; the raw ports; nic << 9 | preset << 1, the est bit
        or-ed in later) and a 64-bit hash. Flow ids are kept with the cache (see
        _compact_flows)."""
        n = len(c)
        k = np.empty((n, 4), dtype=np.int64)
        k[:, 0] = fid
        k[:, 1] = c.sport
        k[:, 2] = c.dport
        k[:, 3] = (c.nic.astype(np.int64) << 9) | (c.preset.astype(np.int64) << 1)
        u = k.view(np.uint64)
        return u, mix64(u[:, 0], (u[:, 1] << np.uint64(40)) ^ (u[:, 2] << np.uint64(20)) ^ u[:, 3])

    def _decisions(self, c: Columns, est: np.ndarray, rows: np.ndarray, dkeys: np.ndarray,
                   dhash: np.ndarray) -> np.ndarray:
        """Decision ids of `rows` (dkeys/dhash already restricted to them): rows with the same
        key share one decide() (within this batch and across batches), since decide reads
        nothing else; new keys are decided once, by their first row."""
        e = est[rows].astype(np.uint64)
        keys = dkeys.copy()
        keys[:, 3] |= e
        ids, new = self.cache.index(dhash ^ (e * np.uint64(0x9E3779B97F4A7C15)), keys)
        if new.any():
            reps = rows[new]
            self._store(*self.decide(c.take(reps), est[reps]))
        return ids

    def _store(self, disp: np.ndarray, dec: np.ndarray, nodes: np.ndarray) -> None:
        lo, k = self._stored, disp.size
        if lo + k > self._disp.size:
            cap = max(2 * self._disp.size, lo + k)
            self._disp = np.resize(self._disp, cap)
            self._dec = np.resize(self._dec, cap)
            self._pass = np.resize(self._pass, cap)
            self._nodes = np.resize(self._nodes, (cap, WIDTH))
        self._disp[lo:lo + k], self._dec[lo:lo + k], self._nodes[lo:lo + k] = disp, dec, nodes
        self._pass[lo:lo + k] = (disp == D.DELIVERED) | (disp == D.EXITS_INTERNET) | (
            disp == D.EXITS_ON_PREMISES)
        self._stored = lo + k

    def _clear_cache(self) -> None:
        self.cache.clear()
        self._stored = 0
        self._disp = np.empty(1024, dtype=np.uint8)
        self._dec = np.empty(1024, dtype=np.int32)
        self._pass = np.empty(1024, dtype=bool)
        self._nodes = np.empty((1024, WIDTH), dtype=np.int32)

    def reset_state(self) -> None:
        self._clear_flows()
        self._clear_cache()

    # -- stateful helpers --
    def _flow_ids(self, c: Columns) -> tuple[np.ndarray, np.ndarray]:
        """Flow ids of each packet's 5-tuple (ports 0 unless TCP/UDP) and of its reverse, from
        the key-interning kernel (exact keys and their 64-bit hashes from `flow_keys`; the hash
        picks the slot, so a collision costs time only). Ids are kept across batches, with one
        `_established` flag per id (the stateful flow table). Only forward tuples get ids; a
        reverse tuple never seen forward gets the sentinel id (the arrays' last slot: never
        established, never passing)."""
        n = len(c)
        u, h = flow_keys(c.src, c.dst, c.proto, c.sport, c.dport)  # forward rows, then reverse
        fid, _ = self.flow_index.index(h[:n], u[:n])
        rid = self.flow_index.lookup(h[n:], u[n:])
        m = self.flow_index.size
        if m + 1 > self._established.size:
            cap = max(2 * self._established.size, m + 1)
            grown = np.zeros(cap, dtype=bool)
            grown[:self._established.size] = self._established
            self._established = grown
            self._first = np.empty(cap, dtype=np.int64)
        rid[rid < 0] = self._established.size - 1
        return fid, rid

    def _clear_flows(self) -> None:
        self.flow_index.clear()
        self._established = np.zeros(1 << 16, dtype=bool)
        self._first = np.empty(1 << 16, dtype=np.int64)  # scratch, reset where used
        self._n_established = 0

    def _compact_flows(self) -> None:
        """Bounded memory: keep only the established flows' ids (renumbered; the decision
        cache, keyed by flow id, is cleared)."""
        h, k = self.flow_index.export()
        keep = self._established[:h.size]
        kept = int(keep.sum())
        self.flow_index.clear()
        self.flow_index.index(h[keep], k[keep])
        self._established = np.zeros(max(1 << 16, 2 * kept + 1), dtype=bool)
        self._established[:kept] = True
        self._first = np.empty(self._established.size, dtype=np.int64)
        self._clear_cache()

    # -- the stages --
    def decide(self, c: Columns, est: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        net = self.net
        n = len(c)
        disp = c.preset.copy()
        dec = np.full(n, -1, dtype=np.int32)
        nodes = np.full((n, WIDTH), -1, dtype=np.int32)
        for d, lab in self.l_edge.items():
            dec[disp == d] = lab
        unmapped = (disp == UNDECIDED) & (c.nic < 0)
        disp[unmapped] = D.UNMAPPED
        dec[unmapped] = self.l_unmapped
        active = disp == UNDECIDED
        nodes[active, 0] = c.nic[active]

        def end(mask_idx: np.ndarray, d: D, label: np.ndarray | int) -> None:
            disp[mask_idx] = d
            dec[mask_idx] = label
            active[mask_idx] = False

        # 1 source / anti-spoofing
        idx = np.flatnonzero(active)
        nic = c.nic[idx].astype(np.int64)
        k = (nic << 32) | c.src[idx]
        at = np.searchsorted(self.nic_ip_keys, k)
        owns = (at < self.nic_ip_keys.size) & (
            self.nic_ip_keys[np.minimum(at, self.nic_ip_keys.size - 1)] == k)
        bad = ~owns & ~self.forwarding[nic]
        end(idx[bad], D.SPOOFED, self.spoof_label[nic[bad]])
        # 2 outbound NSG at the source NIC
        self._nsg(c, est, active, c.nic, "Outbound", D.DENIED_OUT, dec, disp)
        subnet = np.where(active, net.node_subnet[np.maximum(c.nic, 0)], -1)
        pos = np.ones(n, dtype=np.int64)
        # >>> semantics stage owned by engine/ingress.py (on-premises/probe/Internet ingress)
        _ingress_stage.enter_stage(self, c, est, disp, dec, nodes, pos, active, subnet)
        for _ in range(MAX_HOPS):
            idx = np.flatnonzero(active)
            if idx.size == 0:
                break
            sub = subnet[idx].astype(np.int64)
            at = np.searchsorted(net.route_keys, (sub << 32) | c.dst[idx], side="right") - 1
            rid = net.route_ids[at]
            none = rid < 0
            end(idx[none], D.NO_ROUTE, self.l_noroute)
            idx, rid, sub = idx[~none], rid[~none], sub[~none]
            dec[idx] = self.route_label[rid]
            nh = net.route_nh[rid]
            vnet = net.program.subnet_vnet[sub]
            # >>> semantics stage owned by engine/loadbalancer.py (ILB, Internet edge, transit)
            idx, rid, sub, nh, vnet = _lb_stage.hop_stage(self, c, est, idx, rid, sub, nh, vnet,
                                                          nodes, pos, disp, dec, active)
            end(idx[nh == NH_NONE], D.NULL_ROUTED, self.route_label[rid[nh == NH_NONE]])
            m = (nh == NH_INTERNET) | (nh == NH_SERVICE)
            nodes[idx[m], pos[idx[m]]] = net.internet_node
            end(idx[m], D.EXITS_INTERNET, self.route_label[rid[m]])
            m = nh == NH_GATEWAY
            gw = net.route_gateway[rid]
            g_ok = m & (gw >= 0)
            end(idx[m & (gw < 0)], D.NO_ROUTE, self.route_label[rid[m & (gw < 0)]])
            nodes[idx[g_ok], pos[idx[g_ok]]] = gw[g_ok]
            end(idx[g_ok], D.EXITS_ON_PREMISES, self.route_label[rid[g_ok]])
            # VnetLocal / peering
            m = (nh == NH_VNETLOCAL) | (nh == NH_PEERING)
            if m.any():
                self._direct(c, est, idx[m], rid[m], vnet[m], nodes, pos, disp, dec, active)
            # appliances
            m = nh == NH_APPLIANCE
            if m.any():
                self._appliance(c, est, idx[m], rid[m], vnet[m], nodes, pos, subnet, disp,
                                dec, active)
        left = np.flatnonzero(active)
        end(left, D.LOOP, self.l_hoplimit)
        return disp, dec, nodes

    def _cross(self, c: Columns, idx: np.ndarray, a: np.ndarray, b: np.ndarray,
               disp: np.ndarray, dec: np.ndarray, active: np.ndarray) -> np.ndarray:
        """Peering checks; returns the mask (over idx) of packets that may cross."""
        net = self.net
        diff = a != b
        ok = ~diff | net.connected[a, b]
        blocked = idx[~ok]
        disp[blocked] = D.PEERING_BLOCKED
        dec[blocked] = self.peer_label[a[~ok], b[~ok]]
        active[blocked] = False
        originated = np.zeros(idx.size, dtype=bool)
        src = c.src[idx]
        for v in np.unique(a[diff & ok]).tolist():
            sel = a == v
            lo, hi = net.vnet_lo[v], net.vnet_hi[v]
            inside = ((src[sel, None] >= lo[None, :]) & (src[sel, None] <= hi[None, :])).any(1)
            originated[sel] = inside
        fwd_bad = diff & ok & ~originated & ~net.forward_ok[a, b]
        disp[idx[fwd_bad]] = D.FORWARDING_BLOCKED
        dec[idx[fwd_bad]] = self.peer_label[a[fwd_bad], b[fwd_bad]]
        active[idx[fwd_bad]] = False
        return ok & ~fwd_bad

    def _owner(self, vnet: np.ndarray, dst: np.ndarray) -> np.ndarray:
        p = self.net.program
        k = (vnet.astype(np.int64) << 32) | dst
        at = np.searchsorted(p.addr_keys, k)
        atc = np.minimum(at, max(p.addr_keys.size - 1, 0))
        hit = (at < p.addr_keys.size) & (p.addr_keys[atc] == k) if p.addr_keys.size else \
            np.zeros(k.size, bool)
        return np.where(hit, p.addr_nic[atc] if p.addr_keys.size else -1, -1)

    def _direct(self, c, est, idx, rid, vnet, nodes, pos, disp, dec, active) -> None:
        net = self.net
        tv = net.route_vnet[rid]
        target = self._owner(tv, c.dst[idx])
        miss = target < 0
        disp[idx[miss]] = D.NO_DESTINATION
        active[idx[miss]] = False
        idx, tv, vnet, target = idx[~miss], tv[~miss], vnet[~miss], target[~miss]
        ok = self._cross(c, idx, vnet, tv, disp, dec, active)
        idx, target = idx[ok], target[ok]
        nodes[idx, pos[idx]] = target
        tgt = np.full(len(c), -1, dtype=np.int32)
        tgt[idx] = target
        mask = np.zeros(len(c), bool)
        mask[idx] = True
        self._nsg(c, est, mask, tgt, "Inbound", D.DENIED_IN, dec, disp)
        ok_idx = idx[mask[idx]]
        disp[ok_idx] = D.DELIVERED
        active[idx] = False

    def _appliance(self, c, est, idx, rid, vnet, nodes, pos, subnet, disp, dec, active) -> None:
        net = self.net
        app = net.route_appliance[rid]
        miss = app < 0
        disp[idx[miss]] = D.NEXT_HOP_UNREACHABLE
        active[idx[miss]] = False
        idx, app, vnet = idx[~miss], app[~miss], vnet[~miss]
        ok = self._cross(c, idx, vnet, net.node_vnet[app], disp, dec, active)
        idx, app = idx[ok], app[ok]
        cols = np.arange(WIDTH)[None, :]
        seen = ((nodes[idx] == app[:, None]) & (cols >= 1) & (cols < pos[idx][:, None])).any(1)
        disp[idx[seen]] = D.LOOP
        active[idx[seen]] = False
        idx, app = idx[~seen], app[~seen]
        nodes[idx, pos[idx]] = app
        pos[idx] += 1
        is_fw = np.array([net.node_kind[a] == "firewall" for a in range(len(net.node_kind))])[app]
        for f in np.unique(app[is_fw]).tolist():
            sel = idx[app == f]
            allow, label = self._firewall(c, sel, net.firewalls[f - len(net.nics)])
            disp[sel[~allow]] = D.FIREWALL_DENIED
            dec[sel[~allow]] = label[~allow]
            active[sel[~allow]] = False
        nic_idx = idx[~is_fw]
        if nic_idx.size:
            a = np.full(len(c), -1, dtype=np.int32)
            a[nic_idx] = app[~is_fw]
            mask = np.zeros(len(c), bool)
            mask[nic_idx] = True
            self._nsg(c, est, mask, a, "Inbound", D.DENIED_IN, dec, disp)
            fwd_off = mask & (a >= 0) & ~self.forwarding[np.maximum(a, 0)] & (
                disp == UNDECIDED)
            disp[fwd_off] = D.IP_FORWARDING_DISABLED
            dec[fwd_off] = self.fwd_label[a[fwd_off]]
            mask &= ~fwd_off
            self._nsg(c, est, mask, a, "Outbound", D.DENIED_OUT, dec, disp)
            active[nic_idx] &= disp[nic_idx] == UNDECIDED
        idx = idx[active[idx]]
        subnet[idx] = net.node_subnet[nodes[idx, pos[idx] - 1]]
        bad = subnet[idx] < 0
        disp[idx[bad]] = D.NEXT_HOP_UNREACHABLE
        active[idx[bad]] = False

    def _firewall(self, c: Columns, sel: np.ndarray, fw) -> tuple[np.ndarray, np.ndarray]:
        n = sel.size
        allow = np.zeros(n, bool)
        label = np.full(n, self.labels(f"firewall {fw.name}/default-deny"), dtype=np.int32)
        open_ = np.ones(n, bool)
        proto, src, dst, dport = c.proto[sel], c.src[sel], c.dst[sel], c.dport[sel]
        for coll in sorted(fw.network_rule_collections, key=lambda x: x.priority):
            for rule in coll.rules:
                protos = {ANY_PROTOCOL if x.lower() == "any" else protocol_number(x)
                          for x in rule.protocols}
                m = open_.copy()
                if ANY_PROTOCOL not in protos:
                    m &= np.isin(proto, list(protos))
                m &= _match(rule.source_addresses, src) & _match(rule.destination_addresses, dst)
                ported = (proto == 6) | (proto == 17)
                pm = np.zeros(n, bool)
                for r in rule.destination_ports:
                    pm |= (dport >= r.low) & (dport <= r.high)
                m &= ~ported | pm
                allow[m] = coll.action == "Allow"
                label[m] = self.labels(f"firewall {fw.name}/{coll.name}/{rule.name}")
                open_ &= ~m
        return allow, label

    def _nsg(self, c: Columns, est: np.ndarray, mask: np.ndarray, at_nic: np.ndarray,
             direction: str, deny: D, dec: np.ndarray, disp: np.ndarray) -> None:
        """Evaluate the NSGs of `at_nic` for packets in `mask` not established; deny -> drop.
        Denied packets are removed from `mask` (in place)."""
        p = self.net.program
        todo = np.flatnonzero(mask & ~est)
        if todo.size == 0:
            return
        nics = at_nic[todo]
        for nic in np.unique(nics).tolist():
            sel = todo[nics == nic]
            allow, rule = p.evaluate(nic, direction, c.proto[sel], c.src[sel], c.sport[sel],
                                     c.dst[sel], c.dport[sel])
            denied = sel[~allow]
            disp[denied] = deny
            dec[denied] = self.rule_label[np.maximum(rule[~allow], 0)]
            mask[denied] = False


def _match(matches: tuple, values: np.ndarray) -> np.ndarray:
    out = np.zeros(values.size, bool)
    for m in matches:
        if m == "*":
            return np.ones(values.size, bool)
        if hasattr(m, "first") and m.version == 4:
            out |= (values >= m.first) & (values <= m.last)
    return out


__all__ = ["Columns", "BatchPipeline", "Labels", "UNDECIDED", "_in"]
