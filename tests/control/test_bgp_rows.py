"""Which gateway rows Azure shows, hides or marks Invalid: one test per rule of docs/bgp.md."""

from __future__ import annotations

from dataclasses import replace

from bgp_topo import Arm, peering

from dataplane.control.routes import effective_routes
from dataplane.model import BgpAdvertisement
from dataplane.net import parse_prefix


def hub_and_spoke(transit: bool) -> Arm:
    arm = Arm().vnet("hub", "10.0.0.0/16", {"s": "10.0.1.0/24",
                                           "GatewaySubnet": "10.0.255.0/27"},
                     [peering("hub", "spoke", allowGatewayTransit=transit)])
    arm.vnet("spoke", "10.1.0.0/16", {"s": "10.1.1.0/24"},
             [peering("spoke", "hub", useRemoteGateways=transit)])
    arm.gateway("gw", "hub", 65010)
    return arm.site("branch", "gw", [], asn=65050, bgp_ip="172.31.0.1")


def advertise(arm: Arm, *prefixes: str):
    topo = arm.build()
    return replace(topo, bgp_advertisements=(BgpAdvertisement(
        "branch", tuple(parse_prefix(p) for p in prefixes)),))


def listed(topo, vnet: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in effective_routes(topo, topo.vnet(vnet).subnet("s")):
        out.setdefault(str(r.address_prefix), []).append(f"{r.source}:{r.state}")
    return out


def test_r1_route_equal_to_the_vnet_space_is_hidden():
    """VPN FAQ: advertising the VNet's exact prefix "will be blocked or filtered"."""
    rows = listed(advertise(hub_and_spoke(True), "10.0.0.0/16"), "hub")
    assert rows["10.0.0.0/16"] == ["Default:Active"]


def test_r2_route_equal_to_a_peer_space_is_hidden_with_gateway_transit():
    """VPN FAQ "advertise-exact-prefixes": with gateway transit Azure blocks prefixes that
    match peered VNets' prefixes; both the hub and the spoke show only the peering row."""
    topo = advertise(hub_and_spoke(True), "10.1.0.0/16", "10.0.0.0/16")
    assert listed(topo, "hub")["10.1.0.0/16"] == ["Default:Active"]
    assert listed(topo, "spoke")["10.0.0.0/16"] == ["Default:Active"]


def test_r3_peer_space_without_transit_and_more_specific_routes_are_invalid():
    """Without transit "the gateway does not learn peered virtual network prefixes" filter:
    the exact peer prefix is learned and listed Invalid (peering routes are preferred even
    over more specific BGP routes, udr-overview 3.4), as is a more specific route."""
    topo = advertise(hub_and_spoke(False), "10.1.0.0/16", "10.0.1.0/25")
    rows = listed(topo, "hub")
    assert rows["10.1.0.0/16"] == ["Default:Active", "VirtualNetworkGateway:Invalid"]
    assert rows["10.0.1.0/25"] == ["VirtualNetworkGateway:Invalid"]


def test_r4_bgp_default_route_wins_over_internet():
    """A BGP 0.0.0.0/0 (FAQ: "Can I advertise the default route ... Yes"): the system
    Internet route turns Invalid (real dumps, evidence E5)."""
    rows = listed(advertise(hub_and_spoke(True), "0.0.0.0/0"), "hub")
    assert rows["0.0.0.0/0"] == ["Default:Invalid", "VirtualNetworkGateway:Active"]


def test_r5_the_172_16_none_route_stays():
    """udr-overview and the REST example list 172.16.0.0/12 None; kept (assumption
    none-route-172-16) also with gateways and BGP."""
    rows = listed(advertise(hub_and_spoke(True), "192.168.0.0/16"), "hub")
    assert rows["172.16.0.0/12"] == ["Default:Active"]
    assert rows["192.168.0.0/16"] == ["Default:Invalid", "VirtualNetworkGateway:Active"]


def test_r6_spokes_do_not_learn_each_other_from_the_hub_gateway():
    """The hub gateway originates its spokes' space; a spoke's rows hold only what the gateway
    learned (gateway transit: spokes reach on-premises, not one another)."""
    arm = hub_and_spoke(True)
    arm.vnet("spoke2", "10.2.0.0/16", {"s": "10.2.1.0/24"},
             [peering("spoke2", "hub", useRemoteGateways=True)])
    hub = next(r for r in arm.resources if r["name"] == "hub")
    hub["properties"]["virtualNetworkPeerings"].append(
        peering("hub", "spoke2", allowGatewayTransit=True))
    rows = listed(advertise(arm, "192.168.0.0/16"), "spoke")
    assert "10.2.0.0/16" not in rows
    assert rows["192.168.0.0/16"] == ["Default:Invalid", "VirtualNetworkGateway:Active"]
