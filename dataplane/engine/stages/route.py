"""Stage: route lookup in the current subnet -- reference and batch forms side by side.

Contract. Takes the subnet a packet is in (the source NIC's, then each appliance's) and its
destination; returns the Active effective route that longest-prefix matches it (control/
routes.py; "Virtual network traffic routing", https://learn.microsoft.com/azure/
virtual-network/virtual-networks-udr-overview, "How Azure selects a route"), as the engine's
global route id (compile.py), or none (NO_ROUTE, "no route").
Reference form `decide`: the route record and its hop dict (as `az network watcher
show-next-hop` names the fields) for explain. Batch form `decide_np`: one searchsorted over
the interval keys (subnet << 32 | first address) compile.py built; -1 where none.
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
def decide(net: Any, subnet: int, at_node: int, dst: int
           ) -> tuple[int, Any, dict[str, Any]]:
    """(global route id or -1, the EffectiveRoute or None, hop)."""
    sid = id_key(net.program.subnet_ids[subnet])
    rows = net.routes_by_subnet[sid]
    route = lookup(rows, IPAddress(4, dst))
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
def decide_np(net: Any, subnet: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Global route ids (int32, -1: no route) of rows in `subnet` (int64) to `dst`."""
    at = np.searchsorted(net.route_keys, (subnet << 32) | dst, side="right") - 1
    return net.route_ids[at]


__all__ = ["NO_ROUTE_LABEL", "decide", "decide_np", "subnet_name"]
