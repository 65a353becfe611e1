"""Timing stage: node paths -> departure at each sender's shaper and arrival times, integer ns.

Takes: the Network, a Shaper (dataplane.kernels.shaper: one clock per VM, cap from the VM
size, azure-semantics.md 5), the node path matrix (n x H, -1 padded), time_in, frame length.
Emits: time_out (arrival at the last node reached; time_in for packets that never left their
source; -1 for shaper drops) and a shaper-drop mask. For each leg sender -> receiver:
depart = shaper(sender VM, t) (`max(t, last_depart) + bits / cap`; firewalls and gateways are
unshaped), arrive = depart + one-way latency(sender region, receiver region) + receiver cost
(NVA / firewall / gateway, TimingParams). Exits (Internet) use the sender's region.
Legs are shaped in leg order (all first legs, then all second legs, ...), each sorted by its
send time: an NVA's forwarded packets queue behind each other, not behind its own traffic
sent later in the same batch (documented simplification).
"""

from __future__ import annotations

import numpy as np

from dataplane.engine.compile import Network
from dataplane.errors import InputError


def apply_timing(net: Network, shaper: object, nodes: np.ndarray, time_in: np.ndarray,
                 length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n, width = nodes.shape
    t = time_in.astype(np.int64).copy()
    alive = np.ones(n, dtype=bool)
    dropped = np.zeros(n, dtype=bool)
    for k in range(width - 1):
        idx = np.flatnonzero(alive & (nodes[:, k + 1] >= 0))
        if idx.size == 0:
            break
        send = nodes[idx, k]
        recv = nodes[idx, k + 1]
        vm = net.node_vm[send]
        shaped = vm >= 0
        if shaped.any():
            sidx = idx[shaped]
            order = np.argsort(t[sidx], kind="stable")
            sidx = sidx[order]
            depart, drop = shaper.shape(vm[shaped][order].astype(np.int32), t[sidx],  # type: ignore[attr-defined]
                                        length[sidx].astype(np.int32))
            t[sidx] = depart
            dropped[sidx[drop]] = True
            alive[sidx[drop]] = False
        keep = alive[idx]
        idx, send, recv = idx[keep], send[keep], recv[keep]
        rs = net.node_region[send]
        rr = net.node_region[recv]
        rr = np.where(rr < 0, rs, rr)
        lat = net.latency_ns[rs, rr]
        if (lat < 0).any():
            bad = int(np.flatnonzero(lat < 0)[0])
            raise InputError(f"no published latency from {net.regions[rs[bad]]} to "
                             f"{net.regions[rr[bad]]} (azure-latency.csv)")
        t[idx] = t[idx] + lat + net.node_cost_ns[recv]
    t[dropped] = -1
    return t, dropped
