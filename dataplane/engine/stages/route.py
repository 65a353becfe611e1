"""Stage: route lookup in the current subnet -- reference and batch forms side by side.

Contract. Takes the subnet a packet is in (the source NIC's, then each appliance's) and its
destination; returns the Active effective route that longest-prefix matches it (control/
routes.py; "Virtual network traffic routing", https://learn.microsoft.com/azure/
virtual-network/virtual-networks-udr-overview, "How Azure selects a route"), as the engine's
global route id (compile.py), or none (NO_ROUTE, "no route").
Dual-stack: a packet is matched against the routes of its own family only (an IPv4
destination never matches an IPv6 prefix; "IPv6 for Azure Virtual Network", https://
learn.microsoft.com/azure/virtual-network/ip-services/ipv6-overview: user-defined routes and
system routes exist per family).
Reference form `decide`: the route record and its hop dict (as `az network watcher
show-next-hop` names the fields) for explain. Batch form `decide_np`: IPv4 rows by one
searchsorted over the interval keys (subnet << 32 | first address) compile.py built; IPv6
rows by the subnet's IPv6 LPM table (kernels/lpm.py Lpm6Table, compiled kernel with its
plain-Python twin; `Network.route6`); -1 where none.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dataplane.control.routes import lookup
from dataplane.model import id_key
from dataplane.net import IPAddress

NO_ROUTE_LABEL = "no route"


def subnet_name(net: Any, subnet: int) -> str:
    sid = net.program.subnet_ids[subnet]
    parts = sid.split("/")
    return f"{parts[-3]}/{parts[-1]}" if len(parts) >= 3 else sid


# -- reference form --------------------------------------------------------------------------
def decide(net: Any, subnet: int, at_node: int, dst: int, family: int = 4
           ) -> tuple[int, Any, dict[str, Any]]:
    """(global route id or -1, the EffectiveRoute or None, hop); `dst` an IPv4 or IPv6
    address integer as `family` says."""
    sid = id_key(net.program.subnet_ids[subnet])
    rows = net.routes_by_subnet[sid]
    route = lookup(rows, IPAddress(family, dst))
    hop: dict[str, Any] = {"step": "route", "at": subnet_name(net, subnet),
                           "node": net.node_names[at_node]}
    if route is None:
        hop.update(route=None, nextHopType="None", addressPrefix=None)
        return -1, None, hop
    rid = net.route_index[(sid, rows.index(route))]
    hop.update(route=net.route_labels[rid], addressPrefix=str(route.address_prefix),
               source=route.source, nextHopType=route.next_hop_type,
               nextHopIpAddress=str(route.next_hop_ip[0]) if route.next_hop_ip else None,
               routeTableId=route.route_table_id if route.source == "User" else "System Route",
               routeName=route.route_name or None)
    return rid, route, hop


# -- batch form ------------------------------------------------------------------------------
def decide_np(net: Any, subnet: np.ndarray, dst: np.ndarray,
              six: np.ndarray | None = None, hi: np.ndarray | None = None,
              lo: np.ndarray | None = None) -> np.ndarray:
    """Global route ids (int32, -1: no route) of rows in `subnet` (int64) to `dst` (IPv4);
    rows in the mask `six` are IPv6 and go to (`hi`, `lo`) (uint64 halves) instead."""
    at = np.searchsorted(net.route_keys, (subnet << 32) | dst, side="right") - 1
    out = net.route_ids[at]
    if six is None or not six.any():
        return out
    out = out.copy()
    rows = np.flatnonzero(six)
    out[rows] = -1
    sub = subnet[rows]
    for s in np.unique(sub).tolist():
        table = net.route6.get(int(s))
        if table is not None:
            r = rows[sub == s]
            out[r] = table.lookup_batch(hi[r], lo[r])
    return out


__all__ = ["NO_ROUTE_LABEL", "decide", "decide_np", "subnet_name"]
