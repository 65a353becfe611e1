"""Azure Route Server and ExpressRoute (control/bgp.py, bgp_validate.py; docs/bgp.md).

Sources: Microsoft Learn "About Azure Route Server" (https://learn.microsoft.com/azure/
route-server/overview), "Azure Route Server support for ExpressRoute and Azure VPN"
(https://learn.microsoft.com/azure/route-server/expressroute-vpn-support), "Virtual network
traffic routing" (udr-overview, "Custom routes"), "Configure ExpressRoute and Site-to-Site
coexisting connections" ("Limits and limitations")."""

from __future__ import annotations

from dataclasses import replace

from bgp_topo import RG, Arm, peering

from dataplane.control.routes import effective_routes, lookup
from dataplane.control.validate import validate
from dataplane.model import BgpAdvertisement
from dataplane.net import parse_ip, parse_prefix

NVAS = {"nva1": ("10.0.2.4", 65001), "nva2": ("10.0.2.5", 65001)}


def rs_hub(branch_to_branch: bool = False) -> Arm:
    arm = Arm().vnet("hub", "10.0.0.0/16", {"s": "10.0.1.0/24", "nva": "10.0.2.0/24",
                                           "RouteServerSubnet": "10.0.3.0/27",
                                           "GatewaySubnet": "10.0.255.0/27"},
                     [peering("hub", "spoke", allowGatewayTransit=True)])
    arm.vnet("spoke", "10.1.0.0/16", {"s": "10.1.1.0/24"},
             [peering("spoke", "hub", useRemoteGateways=True)])
    return arm.route_server("rs", "hub", NVAS, branch_to_branch=branch_to_branch)


def with_routes(topo, *advs: BgpAdvertisement):
    return replace(topo, bgp_advertisements=advs)


def anycast(peer: str) -> BgpAdvertisement:
    return BgpAdvertisement(peer, (parse_prefix("192.0.2.0/24"),))


def rows(topo, vnet: str, prefix: str) -> list[tuple]:
    return [(r.source, r.state, r.next_hop_type, [str(i) for i in r.next_hop_ip])
            for r in effective_routes(topo, topo.vnet(vnet).subnet("s"))
            if str(r.address_prefix) == prefix]


def codes(topo) -> set[str]:
    return {f.code for f in validate(topo)}


def test_nva_routes_programmed_in_vnet_and_spokes_with_ecmp():
    """Route Server overview: routes from NVAs go to the VNet's VMs and, through gateway
    transit, to spokes; two NVAs announcing one prefix give two rows (real dump, evidence E5:
    "VirtualNetworkGateway ... 172.16.1.4" and "... 172.16.1.5")."""
    topo = with_routes(rs_hub().build(), anycast("nva1"), anycast("10.0.2.5"))
    expected = [("VirtualNetworkGateway", "Active", "VirtualNetworkGateway", ["10.0.2.4"]),
                ("VirtualNetworkGateway", "Active", "VirtualNetworkGateway", ["10.0.2.5"])]
    assert rows(topo, "hub", "192.0.2.0/24") == expected
    assert rows(topo, "spoke", "192.0.2.0/24") == expected
    assert "RemoteVnetHasNoGateways" not in codes(topo)  # a Route Server is a remote gateway


def test_nva_next_hop_override_and_shorter_as_path_wins():
    topo = with_routes(rs_hub().build(), anycast("nva1"),
                       BgpAdvertisement("nva2", (parse_prefix("192.0.2.0/24"),),
                                        (65001, 65001)),
                       BgpAdvertisement("nva2", (parse_prefix("198.51.100.0/24"),),
                                        next_hop=parse_ip("10.0.2.100")))
    assert rows(topo, "hub", "192.0.2.0/24") == [
        ("VirtualNetworkGateway", "Active", "VirtualNetworkGateway", ["10.0.2.4"])]
    assert rows(topo, "hub", "198.51.100.0/24")[0][3] == ["10.0.2.100"]


def branch_site(arm: Arm) -> Arm:
    """The hub's VPN gateway (active-active, ASN 65515 as Route Server interop requires)
    with an on-premises BGP peer."""
    arm.gateway("gw", "hub", 65515, active_active=True)
    return arm.site("branch", "gw", [], asn=65050, bgp_ip="172.31.0.1")


def test_branch_to_branch_exchanges_routes_with_the_vpn_gateway():
    """expressroute-vpn-support: with branch-to-branch the Route Server and the gateway
    exchange routes; without it the NVAs' prefixes stay inside Azure."""
    onprem = BgpAdvertisement("branch", (parse_prefix("172.20.0.0/16"),), (65050,))
    for b2b in (False, True):
        topo = with_routes(branch_site(rs_hub(b2b)).build(), anycast("nva1"), onprem)
        gw = topo.virtual_network_gateways[0]
        from dataplane.control import bgp

        learned = bgp.speaker_rib(topo, gw)
        assert (parse_prefix("192.0.2.0/24") in learned) is b2b
        # the VNet's rows: the NVA route from the Route Server, on-premises from the gateway
        assert rows(topo, "hub", "192.0.2.0/24")[0][3] == ["10.0.2.4"]
        assert rows(topo, "hub", "172.20.0.0/16")[0][3] == ["10.0.255.4"]
        assert len(rows(topo, "hub", "172.20.0.0/16")) == 2  # active-active instances
    assert "RouteServerVpnGatewayNotSupported" not in codes(topo)


def test_vpn_gateway_beside_route_server_must_be_active_active_65515():
    arm = rs_hub().gateway("gw", "hub", 65010)
    assert "RouteServerVpnGatewayNotSupported" in codes(arm.build())


def test_virtual_wan_hub_is_reported_not_modelled():
    """A virtualHubs resource with virtualWan is a Virtual WAN hub: never silently ignored."""
    arm = Arm().vnet("v", "10.0.0.0/16", {"s": "10.0.1.0/24"})
    arm.route_server("vwanhub", "v", {}, virtual_wan=f"{RG}/virtualWans/wan")
    topo = arm.build()
    found = [f for f in validate(topo) if f.code == "VirtualHubNotModelled"]
    assert found and "routes it would program are missing" in found[0].message
    assert not any(f.code == "UnknownResourceType" for f in validate(topo))


def er_hub() -> Arm:
    arm = Arm().vnet("hub", "10.0.0.0/16", {"s": "10.0.1.0/24",
                                           "GatewaySubnet": "10.0.255.0/27"})
    arm.gateway("ergw", "hub", gateway_type="ExpressRoute", sku="Standard")
    return arm.add("connections", "er-conn", {
        "connectionType": "ExpressRoute",
        "virtualNetworkGateway1": {"id": f"{RG}/virtualNetworkGateways/ergw"},
        "peer": {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/"
                       "expressRouteCircuits/circuit1"}})


def test_expressroute_routes_from_the_sidecar_with_edge_next_hops():
    """ExpressRoute routes come from the circuit (sidecar, named by the circuit); the next hop
    is the Microsoft edge's address and both ports give two rows (evidence E8)."""
    topo = er_hub().build()
    assert "ExpressRouteRoutesNotDescribed" in codes(topo)
    topo = with_routes(topo, *(BgpAdvertisement("circuit1", (parse_prefix("172.16.0.0/16"),),
                                                (12076, 65100), parse_ip(ip))
                               for ip in ("10.3.129.92", "10.3.129.93")))
    assert "ExpressRouteRoutesNotDescribed" not in codes(topo)
    assert [r[3] for r in rows(topo, "hub", "172.16.0.0/16")] == [["10.3.129.92"],
                                                                  ["10.3.129.93"]]


def test_ipsec_connection_on_an_expressroute_gateway_is_an_error():
    arm = er_hub().site("branch", "ergw", ["192.168.0.0/16"])
    found = [f for f in validate(arm.build()) if f.code == "ConnectionTypeNotSupportedByGateway"]
    assert found and found[0].severity == "error"
    # and it carries nothing
    topo = arm.build()
    assert lookup(effective_routes(topo, topo.vnet("hub").subnet("s")),
                  parse_ip("192.168.1.1")).next_hop_type == "None"


def test_user_route_to_an_expressroute_gateway_carries_no_traffic():
    """udr-overview: "You can't specify a virtual network gateway created as type
    ExpressRoute in a user-defined route"."""
    arm = er_hub()
    arm.add("routeTables", "rt", {"routes": [{"name": "to-gw", "properties": {
        "addressPrefix": "192.168.0.0/16", "nextHopType": "VirtualNetworkGateway"}}]})
    hub = next(r for r in arm.resources if r["name"] == "hub")
    hub["properties"]["subnets"][0]["properties"]["routeTable"] = {"id": f"{RG}/routeTables/rt"}
    topo = arm.build()
    assert "UserRouteToGatewayWithoutVpnGateway" in codes(topo)
    route = lookup(effective_routes(topo, topo.vnet("hub").subnet("s")),
                   parse_ip("192.168.1.1"))
    assert route.source == "User" and route.gateway is None


def test_coexistence_rules():
    arm = er_hub().gateway("vpngw", "hub", 65010, sku="Basic")
    assert "CoexistenceRequiresRouteBasedVpn" in codes(arm.build())
    arm = er_hub().gateway("vpngw", "hub", 65010).gateway("vpngw2", "hub", 65011)
    assert "GatewayLimitPerVnetExceeded" in codes(arm.build())
    small = er_hub().gateway("vpngw", "hub", 65010)
    hub = next(r for r in small.resources if r["name"] == "hub")
    hub["properties"]["subnets"][1]["properties"]["addressPrefix"] = "10.0.255.0/28"
    assert "CoexistenceGatewaySubnetTooSmall" in codes(small.build())
    assert "CoexistenceGatewaySubnetTooSmall" not in codes(er_hub().gateway(
        "vpngw", "hub", 65010).build())
