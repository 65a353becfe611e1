"""Gateway paths in the engine (engine/stages/gateway.py): a user route with next hop
VirtualNetworkGateway follows what the gateway learned, and the path-width and path-length
guards end over-long gateway paths with LOOP ("hop limit") in both pipelines.

Sources: "Virtual network traffic routing", "User-defined" / next hop "Virtual network gateway"
(https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview#user-defined):
"Specify when you want traffic destined for specific address prefixes routed to a virtual
network gateway"; the gateway then forwards by the routes it has (static VNet-to-VNet and
BGP-learned: "About BGP and VPN Gateway", https://learn.microsoft.com/azure/vpn-gateway/
vpn-gateway-bgp-overview, "transit routing")."""

from __future__ import annotations

from dataclasses import replace

from batch_harness import assert_batch_matches_reference
from gateway_topo import RG, Arm, deny_inbound_from, nic, three_vnets
from scapy.layers.inet import IP, TCP

from dataplane.engine import Emulator
from dataplane.engine.compile import MAX_HOPS, build_network
from dataplane.model import BgpAdvertisement
from dataplane.net import parse_ip, parse_prefix


def tcp(src: str, dst: str):
    return IP(src=src, dst=dst) / TCP(sport=50000, dport=22)


def one(em: Emulator, pkt, source: str) -> tuple[str, str, str]:
    row = em.send(pkt, source=source).row(0)
    return row["disposition"], row["deciding"], row["hops"]


def with_user_route(arm: Arm, vnet: str, prefix: str) -> Arm:
    """A route table on `vnet`'s subnet 's' sending `prefix` to the VirtualNetworkGateway."""
    arm.add("routeTables", f"rt-{vnet}", {"routes": [{"name": "to-gw", "properties": {
        "addressPrefix": prefix, "nextHopType": "VirtualNetworkGateway"}}]})
    res = next(r for r in arm.resources if r["name"] == vnet)
    sub = next(s for s in res["properties"]["subnets"] if s["name"] == "s")
    sub["properties"]["routeTable"] = {"id": f"{RG}/routeTables/rt-{vnet}"}
    return arm


def abc(arm: Arm) -> Arm:
    for i, name in enumerate("abc"):
        nic(arm, name, name.upper(), "s", f"10.{i}.1.4")
    return arm


def test_user_route_to_the_gateway_follows_the_learned_path_into_the_remote_vnet():
    em = Emulator(abc(with_user_route(three_vnets(), "A", "10.2.1.0/24")).build())
    assert one(em, tcp("10.0.1.4", "10.2.1.4"), "a")[::2] == (
        "DELIVERED", "a > gateway gwA > gateway gwB > gateway gwC > c")
    explained = em.explain_row(em.send(tcp("10.0.1.4", "10.2.1.4"), source="a"), 0)
    route, hop = [h for h in explained["hops"] if h["step"] in ("route", "gateway")][:2]
    assert (route["source"], route["route"]) == ("User", "route rt-A/to-gw")
    assert (hop["result"], hop["toVnet"], hop["via"]) == (
        "VnetToVnet", "C", ["gateway gwB", "gateway gwC"])


def test_user_route_to_the_gateway_over_a_static_vnet_to_vnet_connection():
    """Without BGP A learns B's space statically; the user route for it crosses into B."""
    em = Emulator(abc(with_user_route(three_vnets(bgp=False), "A", "10.1.0.0/16")).build())
    assert one(em, tcp("10.0.1.4", "10.1.1.4"), "a")[::2] == (
        "DELIVERED", "a > gateway gwA > gateway gwB > b")
    # a destination the gateway never learned still leaves to on-premises at the local gateway
    em = Emulator(abc(with_user_route(three_vnets(bgp=False), "A", "10.2.0.0/16")).build())
    assert one(em, tcp("10.0.1.4", "10.2.1.4"), "a")[::2] == ("EXITS_ON_PREMISES", "a > gateway gwA")


def chain(n: int) -> Arm:
    """VNets V0..V(n-1) in a line of BGP VNet-to-VNet connections (distinct ASNs), one NIC each."""
    arm = Arm()
    for i in range(n):
        arm.vnet(f"V{i}", f"10.{i}.0.0/16", {"s": f"10.{i}.1.0/24",
                                             "GatewaySubnet": f"10.{i}.255.0/27"})
        arm.gateway(f"gw{i}", f"V{i}", 65001 + i)
        nic(arm, f"n{i}", f"V{i}", "s", f"10.{i}.1.4")
    for i in range(n - 1):
        arm.vnet2vnet(f"gw{i}", f"gw{i + 1}")
    return arm


def _end_to_end(n: int) -> tuple[str, str, str]:
    return one(Emulator(chain(n).build()), tcp("10.0.1.4", f"10.{n - 1}.1.4"), "n0")


def test_gateway_paths_up_to_max_hops_nodes_are_delivered():
    # n0 + gw0..gw6 = 8 nodes before the route lookup in V6: not more than MAX_HOPS
    assert MAX_HOPS == 8
    disposition, _, hops = _end_to_end(7)
    assert disposition == "DELIVERED"
    assert hops.split(" > ")[-1] == "n6" and hops.count("gateway") == 7


def test_path_length_cut_off_after_the_crossing():
    """n0 + gw0..gw7 = 9 nodes fit the path width, but exceed MAX_HOPS before the route lookup
    in V7: the walk ends LOOP ("hop limit")."""
    assert _end_to_end(8)[:2] == ("LOOP", "hop limit")


def test_path_width_guard_refuses_a_crossing_that_would_overflow():
    """n0 + gw0..gw8 = 10 nodes would overflow the engine's path width (MAX_HOPS + 2): the
    gateway step itself ends LOOP, and no gateway is appended."""
    em = Emulator(chain(9).build())
    out = em.send(tcp("10.0.1.4", "10.8.1.4"), source="n0")
    assert (out.row(0)["disposition"], out.row(0)["deciding"], out.row(0)["hops"]) == (
        "LOOP", "hop limit", "n0")
    hop = next(h for h in em.explain_row(out, 0)["hops"] if h["step"] == "gateway")
    assert hop["result"] == "HopLimitExceeded"


def test_long_gateway_paths_and_user_routes_batch_equals_reference():
    for n in (7, 8, 9):
        arm = with_user_route(chain(n), "V0", f"10.{n - 1}.1.0/24")
        net = build_network(arm.build())
        pkts = [(parse_ip("10.0.1.4").value, parse_ip(f"10.{d}.1.4").value, 6, 50000 + d, 22, 0)
                for d in range(n)] + [(parse_ip(f"10.{n - 1}.1.4").value,
                                       parse_ip("10.0.1.4").value, 6, 22, 50000, 0)]
        for split in (1, 3, len(pkts)):
            assert_batch_matches_reference(net, pkts, split)


def remote_route_server(*, forwarding: bool = True, nva_nsg: bool = False) -> Emulator:
    """A <-> C over BGP VNet-to-VNet; C's Route Server (allowBranchToBranchTraffic, gateway
    active-active AS 65515: "Azure Route Server support for ExpressRoute and Azure VPN",
    https://learn.microsoft.com/azure/route-server/expressroute-vpn-support) learns
    192.0.2.0/24 from NVAs nva1/nva2 and passes it to C's gateway, which advertises it to A."""
    arm = Arm().vnet("A", "10.0.0.0/16", {"s": "10.0.1.0/24", "GatewaySubnet": "10.0.255.0/27"})
    arm.vnet("C", "10.2.0.0/16", {"nva": "10.2.2.0/24", "RouteServerSubnet": "10.2.3.0/27",
                                  "GatewaySubnet": "10.2.255.0/27"})
    arm.gateway("gwA", "A", 65010).gateway("gwC", "C", 65515, active_active=True)
    arm.vnet2vnet("gwA", "gwC")
    arm.route_server("rs", "C", {"nva1": ("10.2.2.4", 65001), "nva2": ("10.2.2.5", 65001)},
                     branch_to_branch=True)
    if nva_nsg:
        deny_inbound_from(arm, "nva-nsg", "10.0.0.0/16")
    nic(arm, "a", "A", "s", "10.0.1.4")
    for k in (1, 2):
        nic(arm, f"nva{k}", "C", "nva", f"10.2.2.{3 + k}", forwarding=forwarding,
            nsg="nva-nsg" if nva_nsg else None)
    anycast = (parse_prefix("192.0.2.0/24"),)
    return Emulator(replace(arm.build(), bgp_advertisements=(
        BgpAdvertisement("nva1", anycast), BgpAdvertisement("nva2", anycast))))


def test_a_remote_route_server_prefix_is_reached_through_the_remote_nva():
    em = remote_route_server()
    disposition, _, hops = one(em, tcp("10.0.1.4", "192.0.2.9"), "a")
    assert disposition == "EXITS_ON_PREMISES"
    assert hops in ("a > gateway gwA > gateway gwC > nva1", "a > gateway gwA > gateway gwC > nva2")


def test_the_remote_nvas_nsg_and_ip_forwarding_apply():
    assert one(remote_route_server(nva_nsg=True), tcp("10.0.1.4", "192.0.2.9"), "a")[0] == (
        "DENIED_IN")
    assert one(remote_route_server(forwarding=False), tcp("10.0.1.4", "192.0.2.9"), "a")[0] == (
        "IP_FORWARDING_DISABLED")


def test_remote_route_server_batch_equals_reference():
    for kw in ({}, {"nva_nsg": True}, {"forwarding": False}):
        net = remote_route_server(**kw).net
        pkts = [(parse_ip("10.0.1.4").value, parse_ip("192.0.2.9").value, 6, 40000 + k, 443, 0)
                for k in range(8)]
        for split in (1, 8):
            assert_batch_matches_reference(net, pkts, split)
