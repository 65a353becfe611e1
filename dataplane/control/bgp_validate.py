"""Findings for gateways, connections, BGP settings, Route Servers and ExpressRoute.

Takes: a Topology. Emits: `Finding`s (control/validate.py merges them): errors where Azure
rejects a configuration (codes marked in control/codes.py: Azure's where seen, ours where
Microsoft documents the rule but not the code), warnings where Azure accepts it but a route or
connection carries no traffic, with the reason. Sources, Microsoft Learn:
* "VPN Gateway FAQ", "BGP and routing" (https://learn.microsoft.com/azure/vpn-gateway/
  vpn-gateway-vpn-faq#bgp): BGP on route-based gateways, not Basic; reserved ASNs; distinct
  ASNs; a VNet-to-VNet tunnel is two connection resources;
* "Virtual network traffic routing" (https://learn.microsoft.com/azure/virtual-network/
  virtual-networks-udr-overview), "Custom routes": "You can't specify a virtual network
  gateway created as type ExpressRoute in a user-defined route";
* "Configure ExpressRoute and Site-to-Site coexisting connections" (https://learn.microsoft.com/
  azure/expressroute/expressroute-howto-coexist-resource-manager), "Limits and limitations":
  route-based VPN gateway only, not Basic; GatewaySubnet /27 or larger; one VPN and one
  ExpressRoute gateway per VNet (limits: "1 VPN gateway and 1 ExpressRoute gateway per VNet",
  docs/azure-behaviour.md §4.5);
* "Azure Route Server support for ExpressRoute and Azure VPN" (https://learn.microsoft.com/
  azure/route-server/expressroute-vpn-support): the VPN gateway must be active-active with ASN
  65515.
"""

from __future__ import annotations

from dataplane.control.bgp import is_route_server, speaks_bgp, vnet2vnet_pairs
from dataplane.control.reach import reachable_gateways
from dataplane.errors import Finding
from dataplane.model import (
    AZURE_DEFAULT_ASN,
    LocalNetworkGateway,
    RouteTable,
    Topology,
    VirtualNetworkGateway,
    id_key,
)

# VPN FAQ: "Reserved by Azure: Public ASNs: 8074, 8075, 12076; Private ASNs: 65515, 65517,
# 65518, 65519, 65520"; "Reserved by IANA: 23456, 64496-64511, 65535-65551".
RESERVED_ASNS = frozenset({8074, 8075, 12076, 65515, 65517, 65518, 65519, 65520, 23456,
                           *range(64496, 64512), *range(65535, 65552)})


def bgp_findings(topology: Topology) -> list[Finding]:
    return [*_gateway_findings(topology), *_connection_findings(topology),
            *_route_server_findings(topology), *_user_route_findings(topology),
            *_sidecar_findings(topology)]


def _gateway_findings(topology: Topology) -> list[Finding]:
    out: list[Finding] = []
    by_vnet: dict[str, list[VirtualNetworkGateway]] = {}
    for gw in topology.virtual_network_gateways:
        by_vnet.setdefault(id_key(gw.virtual_network), []).append(gw)
        if gw.enable_bgp and gw.gateway_type.lower() == "vpn" and not speaks_bgp(gw):
            out.append(Finding("BgpNotSupportedOnGateway",
                               f"Gateway '{gw.name}' ({gw.sku}, {gw.vpn_type}): BGP is "
                               "supported on route-based VPN gateways except Basic; enableBgp "
                               "has no effect and its connections carry static routes only.",
                               gw.id, "warning"))
    for gateways in by_vnet.values():
        kinds = [g.gateway_type.lower() for g in gateways]
        for kind in set(kinds):
            if kinds.count(kind) > 1:
                out.append(Finding("GatewayLimitPerVnetExceeded",
                                   f"A virtual network holds one VPN and one ExpressRoute "
                                   f"gateway at most; it has {kinds.count(kind)} of type "
                                   f"{kind}.", gateways[-1].id))
        if {"vpn", "expressroute"} <= set(kinds):
            vpn = next(g for g in gateways if g.gateway_type.lower() == "vpn")
            if vpn.sku.lower() == "basic" or vpn.vpn_type.lower() != "routebased":
                out.append(Finding("CoexistenceRequiresRouteBasedVpn",
                                   f"ExpressRoute and VPN gateways coexist only with a "
                                   f"route-based VPN gateway other than Basic ('{vpn.name}' is "
                                   f"{vpn.sku}, {vpn.vpn_type}).", vpn.id))
            vnet = topology.get(vpn.virtual_network)
            subnet = vnet.subnet("GatewaySubnet") if vnet is not None else None
            if subnet is not None and subnet.address_prefixes and \
                    subnet.address_prefixes[0].length > 27:
                out.append(Finding("CoexistenceGatewaySubnetTooSmall",
                                   "Coexisting ExpressRoute and VPN gateways need a "
                                   "GatewaySubnet of /27 or larger.", subnet.id))
    return out


def _connection_findings(topology: Topology) -> list[Finding]:
    out: list[Finding] = []
    allowed = {"ipsec": "vpn", "vnet2vnet": "vpn", "expressroute": "expressroute"}
    for conn in topology.connections:
        gw = topology.get(conn.virtual_network_gateway1)
        kind = conn.connection_type.lower()
        if isinstance(gw, VirtualNetworkGateway) and kind in allowed and \
                gw.gateway_type.lower() != allowed[kind]:
            out.append(Finding("ConnectionTypeNotSupportedByGateway",
                               f"Connection '{conn.name}' of type {conn.connection_type} needs "
                               f"a {allowed[kind]} gateway; '{gw.name}' is of type "
                               f"{gw.gateway_type}.", conn.id))
        site = topology.get(conn.local_network_gateway2)
        if isinstance(site, LocalNetworkGateway) and site.bgp_settings and conn.enable_bgp:
            if site.bgp_settings.asn in RESERVED_ASNS:
                out.append(Finding("BgpAsnReserved",
                                   f"Local network gateway '{site.name}' uses ASN "
                                   f"{site.bgp_settings.asn}, reserved by Azure or IANA.",
                                   site.id))
            if isinstance(gw, VirtualNetworkGateway) and gw.bgp_settings and \
                    gw.bgp_settings.asn == site.bgp_settings.asn:
                out.append(Finding("BgpSameAsn",
                                   f"Connection '{conn.name}': both ends use ASN "
                                   f"{site.bgp_settings.asn}; BGP needs distinct ASNs, so no "
                                   "BGP routes are learned.", conn.id, "warning"))
        if kind == "expressroute" and not any(
                a.peer.lower() in {conn.name.lower(), id_key(conn.id), id_key(conn.peer or "")}
                or (conn.peer and a.peer.lower() == conn.peer.rstrip("/").rsplit("/", 1)[-1]
                    .lower()) for a in topology.bgp_advertisements):
            out.append(Finding("ExpressRouteRoutesNotDescribed",
                               f"ExpressRoute connection '{conn.name}': the circuit's "
                               "on-premises prefixes are not in the input (BGP sidecar, "
                               "docs/bgp-sidecar.md), so no routes are learned through it.",
                               conn.id, "warning"))
    for pair, conns in vnet2vnet_pairs(topology).items():
        present = [g for g in pair if topology.get(g) is not None]
        ends = {id_key(c.virtual_network_gateway1) for c in conns}
        if len(present) == 2 and ends != set(pair):
            out.append(Finding("VnetToVnetConnectionIncomplete",
                               f"Connection '{conns[0].name}' has no counterpart in the other "
                               "direction; a VNet-to-VNet tunnel needs both connection "
                               "resources, so it carries no traffic.", conns[0].id, "warning"))
        gws = [topology.get(g) for g in present]
        if len(gws) == 2 and ends == set(pair) and all(c.enable_bgp for c in conns) and all(
                isinstance(g, VirtualNetworkGateway) and speaks_bgp(g) for g in gws):
            asns = {g.bgp_settings.asn if g.bgp_settings else AZURE_DEFAULT_ASN for g in gws}
            if len(asns) == 1:
                out.append(Finding("BgpSameAsn",
                                   f"Connection '{conns[0].name}': both gateways use ASN "
                                   f"{asns.pop()}; BGP needs distinct ASNs, so the tunnel "
                                   "carries no routes.", conns[0].id, "warning"))
    return out


def _route_server_findings(topology: Topology) -> list[Finding]:
    out: list[Finding] = []
    for hub in topology.virtual_hubs:
        if not is_route_server(hub):
            reason = ("a Virtual WAN hub" if hub.virtual_wan else
                      "not in a RouteServerSubnet")
            out.append(Finding("VirtualHubNotModelled",
                               f"Virtual hub '{hub.name}' is {reason}: it is not modelled, so "
                               "routes it would program are missing from every answer "
                               "touching the VNets connected to it.", hub.id, "warning"))
            continue
        for gw in topology.gateways_of(hub.virtual_network or ""):
            if gw.gateway_type.lower() != "vpn":
                continue
            asn = gw.bgp_settings.asn if gw.bgp_settings else AZURE_DEFAULT_ASN
            if not gw.active_active or asn != AZURE_DEFAULT_ASN:
                out.append(Finding("RouteServerVpnGatewayNotSupported",
                                   f"VPN gateway '{gw.name}' beside Route Server '{hub.name}' "
                                   "must be active-active with ASN 65515 to exchange routes "
                                   "with it; routes are modelled as if it were.", gw.id,
                                   "warning"))
    return out


def _user_route_findings(topology: Topology) -> list[Finding]:
    out: list[Finding] = []
    for vnet in topology.virtual_networks:
        reach = reachable_gateways(topology, vnet)
        if any(r.gateway.gateway_type.lower() == "vpn" for r in reach):
            continue
        for subnet in vnet.subnets:
            table = topology.get(subnet.route_table) if subnet.route_table else None
            if not isinstance(table, RouteTable):
                continue
            for route in table.routes:
                if route.next_hop_type == "VirtualNetworkGateway":
                    kind = "an ExpressRoute gateway only" if reach else "no gateway"
                    out.append(Finding("UserRouteToGatewayWithoutVpnGateway",
                                       f"Route {route.name} of '{table.name}' on subnet "
                                       f"'{subnet.name}' names next hop VirtualNetworkGateway "
                                       f"but the VNet has {kind}; a user route can only use a "
                                       "VPN gateway, so its packets are dropped.",
                                       f"{table.id}/routes/{route.name}", "warning"))
    return out


def _sidecar_findings(topology: Topology) -> list[Finding]:
    names: set[str] = set()
    for hub in topology.virtual_hubs:
        for peer in hub.bgp_connections:
            names.update({peer.name.lower(), id_key(peer.id), str(peer.peer_ip)})
    for site in topology.local_network_gateways:
        names.update({site.name.lower(), id_key(site.id)})
        if site.bgp_settings:
            names.update(str(a) for a in site.bgp_settings.bgp_peering_address)
    for conn in topology.connections:
        names.update({conn.name.lower(), id_key(conn.id)})
        if conn.peer:
            names.update({id_key(conn.peer), conn.peer.rstrip("/").rsplit("/", 1)[-1].lower()})
    return [Finding("BgpPeerNotFound",
                    f"BGP routes for peer '{a.peer}' ({a.source or 'sidecar'}) name no Route "
                    "Server connection, local network gateway or connection of the input; "
                    "they are ignored.", a.peer, "warning")
            for a in topology.bgp_advertisements if a.peer.lower() not in names]

