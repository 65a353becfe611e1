"""Which address family a virtual network gateway carries, and what route answers must say.

Contract. Takes a Topology and a VirtualNetworkGateway (or effective route rows). Emits:
* `ipv4_only_reason(topology, gateway)` -> why the gateway carries no IPv6 ('' when it does);
  the engine ends IPv6 at such a gateway GATEWAY_IPV4_ONLY (engine/stages/gateway.py).
* `ipv6_gateway_caveats(topology, routes)` -> one caveat text per IPv4-only gateway that Active
  IPv6 rows of `routes` send traffic to (a local network gateway's IPv6 prefix, a BGP-learned
  IPv6 prefix, an IPv6 user route to VirtualNetworkGateway): the control plane lists such rows
  as Azure would, with az's keys unchanged, and the answer's "caveats" say the traffic they
  carry is dropped at the gateway (`routes`, `next-hop`: watcher.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from dataplane.model import Topology, VirtualNetworkGateway, id_key

if TYPE_CHECKING:
    from dataplane.control.routes import EffectiveRoute

IPV6_OVERVIEW = ('"What is IPv6 for Azure Virtual Network?", https://learn.microsoft.com/azure/'
                 'virtual-network/ip-services/ipv6-overview, "Limitations": "VPN gateways '
                 'currently support IPv4 traffic only"')
# Rows listed per caveat before "and N more" (a BGP RIB can hold hundreds of IPv6 prefixes).
_PREFIXES_SHOWN = 4


def ipv4_only_reason(topology: Topology, gw: VirtualNetworkGateway) -> str:
    """Why a virtual network gateway carries no IPv6 ('' when it does), Microsoft's pages:
    * a VPN gateway: "VPN gateways currently support IPv4 traffic only" ("What is IPv6 for
      Azure Virtual Network?", https://learn.microsoft.com/azure/virtual-network/ip-services/
      ipv6-overview, "Limitations"; "Add IPv6 support for private peering using the Azure
      portal", https://learn.microsoft.com/azure/expressroute/expressroute-howto-add-ipv6-portal,
      "Limitations": coexistence "VPN Gateway only supports IPv4 traffic");
    * an ExpressRoute gateway whose GatewaySubnet has no IPv6 prefix: the same ExpressRoute page
      adds "IPv6 address space to your existing virtual network and GatewaySubnet" before the
      gateway is created (or updated) for dual-stack connections.
    What the ExpressRoute page also requires and a topology cannot show (IPv6 enabled on the
    circuit's private peering, a gateway created or updated after the GatewaySubnet got its
    IPv6 prefix, a Standard static public IP) is assumed (assumption `expressroute-ipv6`)."""
    if gw.gateway_type != "ExpressRoute":
        return "VPN gateways carry IPv4 traffic only"
    vnet = topology.get(gw.virtual_network)
    subnet = next((sub for sub in getattr(vnet, "subnets", ())
                   if sub.name.lower() == "gatewaysubnet"), None)
    if subnet is None or not any(p.version == 6 for p in subnet.address_prefixes):
        return "its GatewaySubnet has no IPv6 prefix (IPv4-only ExpressRoute gateway)"
    return ""


def ipv6_gateway_caveats(topology: Topology, routes: Iterable[EffectiveRoute]) -> list[str]:
    """One text per IPv4-only gateway named by an Active IPv6 row of `routes` (key
    `gateway-ipv4-only`), listing the row prefixes (the first few, then a count). Rows whose
    gateway carries IPv6 (an ExpressRoute gateway with an IPv6 GatewaySubnet prefix) and rows
    naming no gateway add nothing."""
    prefixes: dict[str, list[str]] = {}
    for row in routes:
        if row.active and row.gateway and row.address_prefix.version == 6:
            found = prefixes.setdefault(id_key(row.gateway), [])
            if str(row.address_prefix) not in found:
                found.append(str(row.address_prefix))
    out = []
    for gw in topology.virtual_network_gateways:
        listed = prefixes.get(id_key(gw.id))
        why = ipv4_only_reason(topology, gw) if listed else ""
        if not why:
            continue
        more = len(listed) - _PREFIXES_SHOWN
        shown = ", ".join(listed[:_PREFIXES_SHOWN]) + (f" and {more} more" if more > 0 else "")
        out.append(f"gateway-ipv4-only: IPv6 routes to gateway {gw.name} ({shown}) are listed "
                   f"as Azure programs them, but {why}: IPv6 traffic they carry is dropped at "
                   f"the gateway (GATEWAY_IPV4_ONLY; {IPV6_OVERVIEW}).")
    return out
