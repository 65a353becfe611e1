"""Timing stage: node paths -> departure at each sender's shaper and arrival times, integer ns.

Takes: the Network, a Shaper (dataplane.kernels.shaper: one clock per shaper slot -- the
VMs, cap from the VM size, docs/azure-behaviour.md §5, then the Azure Firewalls), the node path matrix (n x H, -1 padded: a path is its
nodes up to the first -1), time_in, frame length.
Emits (`apply_timing`): time_out (arrival at the last node reached; time_in for packets that
never left their source; -1 for shaper drops) and a shaper-drop mask; `leg_tables` gives the
per-leg sender VM and cost the shaper's `advance` takes (the emulator carries packets still
travelling at a batch's end into the next batch with it). For each leg sender -> receiver:
depart = shaper(sender's slot, t) (`max(t, last_depart) + bits / cap`; a VM at its size's cap,
an Azure Firewall at its SKU's throughput, timing/firewall_capacity.py; virtual network
gateways and the Internet edge are unshaped: depart = t), arrive = depart + one-way
latency(sender region, receiver region) + receiver cost (NVA / firewall / gateway,
TimingParams). The Internet node takes the region of the other end of its leg: an exit the
sender's, a leg from the Internet (to a firewall's public address) the receiver's.
Microsoft publishes no latency for the Internet itself (INTERNET_EDGE_LATENCY). A packet a shaper drops stops there:
its time_out is -1 and the leg is kept (the emulator's `shaper_drop_leg`, 0 = its source VM).
Order: exact per packet. Every leg of every packet is shaped in event order, keyed by (the
time the packet reaches the sender, row, leg) -- the kernel keeps a heap of each packet's next
leg (kernels/shaper.py shape_paths) -- so an NVA's forwarded packet queues only behind packets
that reached the NVA before it, never behind the NVA's own later traffic. The emulator makes
the answer independent of batch boundaries: it shapes events up to the batch's last
timestamp and carries the legs still to come into the next batch (emulator.py).
Cost: latency + receiver cost come from one node x node table built once per Network (small
networks; larger ones compute it per leg); one heap operation per leg.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from dataplane.engine.compile import Network
from dataplane.errors import InputError
from dataplane.kernels import legs as legs_kernel
from dataplane.kernels.shaper_py import NO_LEG, UNSHAPED
from dataplane.timing.latency import rtt_table

_LEG_TABLE_MAX_NODES = 2048
INTERNET_EDGE_LATENCY = (
    "internet-edge-latency: Microsoft publishes no latency for the Internet leg (Azure network "
    "round-trip latency statistics cover region pairs only). A packet leaving for the Internet "
    "is timed to its region's edge (the intra-region one-way latency, timing/params.py); a "
    "packet arriving from the Internet is timed from its capture timestamp, taken as its "
    "arrival at the region's edge: straight to a VM's public IP (IPv4 or IPv6) it has no leg "
    "before the VM, latencyNs 0; through a firewall's public address the edge -> firewall leg "
    "counts (the intra-region latency) and the legs after it")
_leg_tables: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _leg_table(net: Network) -> tuple[np.ndarray, bool] | None:
    """(node x node leg cost int64, -1 where no latency is published; whether any pair
    lacks one), built once per Network; None above _LEG_TABLE_MAX_NODES nodes."""
    nn = int(net.node_region.size)
    if nn > _LEG_TABLE_MAX_NODES:
        return None
    table = _leg_tables.get(net)
    if table is None and net.latency_ns.size == 0:  # no region at all (no VNet): no leg
        table = _leg_tables[net] = (np.full((nn, nn), -1, np.int64), True)
    if table is None:
        rs = np.repeat(net.node_region.astype(np.int64), nn)
        rr = np.tile(net.node_region.astype(np.int64), nn)
        rs, rr = np.where(rs < 0, rr, rs), np.where(rr < 0, rs, rr)  # the Internet node
        lat = net.latency_ns[rs, rr].astype(np.int64)
        cost = np.where(lat < 0, -1, lat + np.tile(net.node_cost_ns.astype(np.int64), nn))
        table = _leg_tables[net] = (cost.reshape(nn, nn), bool((lat < 0).any()))
    return table  # type: ignore[no-any-return]


def _leg_cost(net: Network, send: np.ndarray, recv: np.ndarray) -> np.ndarray:
    """One-way latency (sender region -> receiver region, the sender's for exits) plus the
    receiver's processing cost, per leg; InputError when a pair has no published latency."""
    table = _leg_table(net)
    if table is not None:
        cost_tab, has_bad = table
        out = cost_tab[send, recv]
        if not has_bad or not (out < 0).any():
            return out
    rs = net.node_region[send]
    rr = net.node_region[recv]
    rs, rr = np.where(rs < 0, rr, rs), np.where(rr < 0, rs, rr)  # the Internet node
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


def leg_tables(net: Network, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(leg_vm int32[n, L], leg_cost_ns int64[n, L]) of node paths (n x H): leg k is node k ->
    node k+1; its sender's shaper slot (a VM or an Azure Firewall; -1 unshaped: gateway,
    Internet edge; -2 no leg: the path ended) and its one-way latency plus the receiver's
    cost. L is the number of legs of the longest path (at most H-1): columns past it would
    hold no leg. InputError when a leg has no published latency. Compiled (kernels/legs.py)
    when the network's node x node cost table is complete."""
    table = _leg_table(net)
    if table is not None and not table[1]:
        return legs_kernel.leg_tables(nodes, net.node_vm, table[0])
    n = nodes.shape[0]
    used = int(np.count_nonzero((nodes >= 0).any(axis=0)))  # paths are short: look at those
    legs = max(used - 1, 0)
    leg_vm = np.full((n, legs), NO_LEG, dtype=np.int32)
    leg_cost = np.zeros(leg_vm.shape, dtype=np.int64)
    if legs == 0:
        return leg_vm, leg_cost
    part = nodes[:, :used]
    leg = np.logical_and.accumulate(part >= 0, axis=1)[:, 1:]
    send, recv = part[:, :-1][leg], part[:, 1:][leg]
    leg_vm[leg] = np.maximum(net.node_vm[send], UNSHAPED)
    leg_cost[leg] = _leg_cost(net, send, recv)
    return leg_vm, leg_cost


def apply_timing(net: Network, shaper: Any, nodes: np.ndarray, time_in: np.ndarray,
                 length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shape and time every path (n x H node matrix) in event order, to the end: (time_out_ns
    int64[n], -1 when dropped; dropped bool[n]); updates the shaper's clocks and drops."""
    return shaper.shape_paths(*leg_tables(net, nodes), time_in, length)  # type: ignore[no-any-return]
