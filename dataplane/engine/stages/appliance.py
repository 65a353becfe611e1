"""Stage: network virtual appliances (VirtualAppliance next hops) -- reference and batch forms.

Contract. A route with next hop type VirtualAppliance hands the packet, unchanged, to the NIC
or Azure Firewall holding the next-hop IP address ("Virtual network traffic routing",
https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview, "Custom
routes": "Virtual appliance ... the next hop IP address"); the appliance then forwards it with
the routes of its own subnet. This stage decides what is the appliance's own:
* no NIC or firewall holds the next-hop address -> NEXT_HOP_UNREACHABLE (the route's label).
  Microsoft does not document what happens to traffic routed to an address nothing holds;
  we drop it there (assumption `nva-unreachable`, APPLIANCE_ASSUMPTIONS, printed with
  results);
* an appliance already on this packet's path -> LOOP (the route's label; the dispatcher's hop
  limit catches longer cycles);
* a NIC appliance forwards a packet not addressed to itself only with IP forwarding enabled
  ("Create, change, or delete a network interface",
  https://learn.microsoft.com/azure/virtual-network/virtual-network-network-interface,
  "Enable or disable IP forwarding") -> IP_FORWARDING_DISABLED, "ip-forwarding NODE";
* the packet continues in the appliance's subnet; an appliance without one (a gateway or the
  Internet node) -> NEXT_HOP_UNREACHABLE.
The dispatcher sequences the rest around it: the peering stage into the appliance's VNet,
then for an Azure Firewall the firewall stage (stateful, stages/firewall.py), for a NIC its
inbound NSG, this stage's IP-forwarding check and its outbound NSG (stages/nsg.py; skipped
for packets of a tracked flow).
Reference forms: `unreachable_hop`, `enter` (hop dict, loop check), `forwards`,
`next_subnet`. Batch forms: `firewall_nodes` (built once), `loop_np`, `forwards_np`,
`next_subnet_np`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dataplane.dispositions import Disposition as D

APPLIANCE_ASSUMPTIONS = (
    "nva-unreachable: a VirtualAppliance route whose next-hop address no NIC, Azure Firewall "
    "or internal load balancer frontend holds drops the packet (NEXT_HOP_UNREACHABLE); "
    "Microsoft does not document this case.",
)


def label_forwarding(net: Any, app: int) -> str:
    return f"ip-forwarding {net.node_names[app]}"


def is_firewall(net: Any, app: int) -> bool:
    return net.node_kind[app] == "firewall"


# -- reference form --------------------------------------------------------------------------
def unreachable_hop(ip: str | None) -> dict[str, Any]:
    """The hop of a next-hop address no appliance holds (NEXT_HOP_UNREACHABLE)."""
    return {"step": "appliance", "ip": ip, "at": None, "result": "NextHopUnreachable"}


def enter(net: Any, app: int, ip: str | None, visited: set[int]
          ) -> tuple[D | None, dict[str, Any]]:
    """(LOOP or None, the appliance hop without its result) for a packet reaching `app`;
    `visited` holds the appliances already on the path (the caller adds `app`)."""
    hop = {"step": "appliance", "ip": ip, "at": net.node_names[app],
           "kind": "AzureFirewall" if is_firewall(net, app) else "NetworkInterface"}
    if app in visited:
        return D.LOOP, {**hop, "result": "RoutingLoop"}
    return None, hop


def forwards(net: Any, app: int) -> bool:
    """Whether NIC appliance `app` forwards (IP forwarding enabled)."""
    return bool(net.nics[app].enable_ip_forwarding)


def next_subnet(net: Any, app: int) -> int:
    """The subnet whose routes the forwarded packet takes (-1: NEXT_HOP_UNREACHABLE)."""
    return int(net.node_subnet[app])


# -- batch form ------------------------------------------------------------------------------
def firewall_nodes(net: Any) -> np.ndarray:
    """bool per node id: an Azure Firewall (built once per Network)."""
    return np.array([is_firewall(net, a) for a in range(len(net.node_kind))], dtype=bool)


def loop_np(nodes: np.ndarray, pos: np.ndarray, idx: np.ndarray, app: np.ndarray
            ) -> np.ndarray:
    """Mask (over idx) of rows whose path already holds appliance `app` (aligned) after its
    first node."""
    cols = np.arange(nodes.shape[1])[None, :]
    return ((nodes[idx] == app[:, None]) & (cols >= 1) & (cols < pos[idx][:, None])).any(1)


def forwards_np(forwarding: np.ndarray, app: np.ndarray) -> np.ndarray:
    """Per row, NIC appliance `app` forwards; `forwarding` bool per NIC (+ a False spare)."""
    return forwarding[np.maximum(app, 0)] & (app >= 0)


def next_subnet_np(net: Any, app: np.ndarray) -> np.ndarray:
    return net.node_subnet[app]


__all__ = ["APPLIANCE_ASSUMPTIONS", "enter", "firewall_nodes", "forwards", "forwards_np", "is_firewall",
           "label_forwarding", "loop_np", "next_subnet", "next_subnet_np", "unreachable_hop"]
