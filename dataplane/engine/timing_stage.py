"""Timing stage: node paths -> departure at each sender's shaper and arrival times, integer ns.

Takes: the Network, a Shaper (dataplane.kernels.shaper: one clock per VM, cap from the VM
size, docs/azure-behaviour.md §5), the node path matrix (n x H, -1 padded), time_in, frame length.
Emits: time_out (arrival at the last node reached; time_in for packets that never left their
source; -1 for shaper drops) and a shaper-drop mask. For each leg sender -> receiver:
depart = shaper(sender VM, t) (`max(t, last_depart) + bits / cap`; firewalls and gateways are
unshaped), arrive = depart + one-way latency(sender region, receiver region) + receiver cost
(NVA / firewall / gateway, TimingParams). Exits (Internet) use the sender's region.
Legs are shaped in leg order (all first legs, then all second legs, ...), each sorted by its
send time: an NVA's forwarded packets queue behind each other, not behind its own traffic
sent later in the same batch (documented simplification).
Cost: per leg, only the packets still travelling are touched (each path's last column is
found once, on the transposed path matrix); latency + receiver cost come from one node x node table built once per Network (small
networks; larger ones compute it per leg); the stable sort is skipped when the send times are
already in order (the first leg of a replay).
"""

from __future__ import annotations

import weakref

import numpy as np

from dataplane.engine.compile import Network
from dataplane.errors import InputError
from dataplane.timing.latency import rtt_table

_LEG_TABLE_MAX_NODES = 2048
_leg_tables: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _leg_cost(net: Network, send: np.ndarray, recv: np.ndarray) -> np.ndarray:
    """One-way latency (sender region -> receiver region, the sender's for exits) plus the
    receiver's processing cost, per leg; InputError when a pair has no published latency."""
    nn = int(net.node_region.size)
    table = _leg_tables.get(net) if nn <= _LEG_TABLE_MAX_NODES else None
    if table is None and nn <= _LEG_TABLE_MAX_NODES:
        rs = np.repeat(net.node_region.astype(np.int64), nn)
        rr = np.tile(net.node_region.astype(np.int64), nn)
        rr = np.where(rr < 0, rs, rr)
        lat = net.latency_ns[rs, rr].astype(np.int64)
        cost = np.where(lat < 0, -1, lat + np.tile(net.node_cost_ns.astype(np.int64), nn))
        table = _leg_tables[net] = (cost.reshape(nn, nn), bool((lat < 0).any()))
    if table is not None:
        cost_tab, has_bad = table
        out = cost_tab[send, recv]
        if not has_bad or not (out < 0).any():
            return out
    rs = net.node_region[send]
    rr = net.node_region[recv]
    rr = np.where(rr < 0, rs, rr)
    lat = net.latency_ns[rs, rr]
    if (lat < 0).any():
        bad = int(np.flatnonzero(lat < 0)[0])
        a, b = int(send[bad]), int(recv[bad])
        # blame the end whose region the table lacks (the receiver when both are known)
        known = {x for pair in rtt_table() for x in pair}
        culprit = a if net.regions[rs[bad]] not in known else b
        raise InputError(f"no published latency from {net.node_names[a]} (region "
                         f"'{net.regions[rs[bad]]}') to {net.node_names[b]} (region "
                         f"'{net.regions[rr[bad]]}') in azure-latency.csv",
                         file=", ".join(net.topology.sources) or None,
                         resource=net.node_names[culprit], property="location")
    return lat + net.node_cost_ns[recv]


def apply_timing(net: Network, shaper: object, nodes: np.ndarray, time_in: np.ndarray,
                 length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n, width = nodes.shape
    t = time_in.astype(np.int64)  # a copy
    dropped = np.zeros(n, dtype=bool)
    cols = np.ascontiguousarray(nodes.T)  # one row per path position: cheap 1-d gathers
    pos = np.arange(width, dtype=np.int8 if width < 128 else np.int32)[:, None]
    last = ((cols >= 0).view(np.int8) * pos).max(axis=0)  # last node's column (0: none)
    cand = np.flatnonzero(last >= 1)  # rows that may still have a leg k (superset)
    for k in range(width - 1):
        if k:
            cand = cand[(last[cand] >= k + 1) & ~dropped[cand]]
        recv = cols[k + 1][cand]
        sel = recv >= 0
        idx, recv = cand[sel], recv[sel]
        if idx.size == 0:
            break
        send = cols[k][idx]
        vm = net.node_vm[send]
        shaped = vm >= 0
        if shaped.any():
            sidx = idx[shaped]
            svm = vm[shaped]
            ts = t[sidx]
            if ts.size > 1 and not (ts[1:] >= ts[:-1]).all():
                order = np.argsort(ts, kind="stable")
                sidx, svm, ts = sidx[order], svm[order], ts[order]
            depart, drop = shaper.shape(svm.astype(np.int32), ts,  # type: ignore[attr-defined]
                                        length[sidx].astype(np.int32))
            t[sidx] = depart
            if drop.any():
                dropped[sidx[drop]] = True
                keep = ~dropped[idx]
                idx, send, recv = idx[keep], send[keep], recv[keep]
        t[idx] += _leg_cost(net, send, recv)
    t[dropped] = -1
    return t, dropped
