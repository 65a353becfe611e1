"""BGP through Azure's VPN gateways (control/bgp.py, routes.py; docs/bgp.md).

Sources: Microsoft Learn "VPN Gateway FAQ", section "BGP and routing"
(https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-vpn-faq#bgp); "About BGP and VPN
Gateway" (https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-bgp-overview), "Support
transit routing"; the transitive-BGP quickstart template (azure-quickstart-templates,
quickstarts/microsoft.network/vnet-transitive-bgp)."""

from __future__ import annotations

from bgp_topo import RG, Arm, peering, three_vnets

from dataplane.control import bgp
from dataplane.control.program import compile_program
from dataplane.control.routes import effective_routes, lookup
from dataplane.load import load
from dataplane.net import IPAddress, parse_ip


def gw_rows(topology, vnet: str, subnet: str = "s") -> list[tuple]:
    return [(str(r.address_prefix), r.state, [str(i) for i in r.next_hop_ip])
            for r in effective_routes(topology, topology.vnet(vnet).subnet(subnet))
            if r.source == "VirtualNetworkGateway"]


def hop(topology, vnet: str, dest: str, subnet: str = "s"):
    return lookup(effective_routes(topology, topology.vnet(vnet).subnet(subnet)), parse_ip(dest))


def test_smallest_input_c_reaches_a_through_b():
    """The issue's smallest input: A sees C's space with next hop VirtualNetworkGateway."""
    topo = three_vnets().build()
    route = hop(topo, "A", "10.2.1.4")
    assert route is not None and route.next_hop_type == "VirtualNetworkGateway"
    assert route.as_path == (65020, 65030)  # learned through B
    assert route.dest_vnet.endswith("/virtualNetworks/C")
    assert [v.rsplit("/", 1)[-1] for v in route.via] == ["gwb", "gwc"]
    assert hop(topo, "C", "10.0.1.4").as_path == (65020, 65010)


def test_transit_needs_bgp_on_every_intermediate_connection():
    """FAQ: "you must enable BGP on all intermediate connections between virtual networks";
    without BGP a VNet-to-VNet connection carries the other VNet's space only."""
    topo = three_vnets(bgp=False).build()
    assert hop(topo, "A", "10.1.1.4").next_hop_type == "VirtualNetworkGateway"
    assert hop(topo, "A", "10.2.1.4").next_hop_type == "None"  # 10/8 None: no transit


def test_as_path_loop_prevention_and_shortest_path():
    """A triangle A-B-C: A keeps the direct path to C (AS path of one) and never re-learns
    its own space (its ASN in the path)."""
    topo = three_vnets().vnet2vnet("gwA", "gwC").build()
    assert hop(topo, "A", "10.2.1.4").as_path == (65030,)
    rib = bgp.speaker_rib(topo, topo.virtual_network_gateways[0])
    assert all(65010 not in p.as_path for paths in rib.values() for p in paths)
    assert not any(str(p) == "10.0.0.0/16" for p in rib)


def test_same_asn_on_both_ends_learns_nothing():
    topo = three_vnets(asns=(65010, 65010, 65030)).build()
    assert hop(topo, "A", "10.1.1.4").next_hop_type == "None"
    assert hop(topo, "B", "10.2.1.4").next_hop_type == "VirtualNetworkGateway"


def test_one_connection_resource_is_no_tunnel():
    """FAQ: a VNet-to-VNet tunnel "consists of two connection resources ... one for each
    direction"."""
    arm = three_vnets()
    arm.resources = [r for r in arm.resources if r["name"] != "gwB-to-gwA"]
    topo = arm.build()
    assert hop(topo, "A", "10.1.1.4").next_hop_type == "None"
    assert hop(topo, "B", "10.2.1.4").next_hop_type == "VirtualNetworkGateway"


def test_transitive_bgp_quickstart(real_dir):
    """vnet-transitive-bgp: vNet1 learns vNet3's prefix 10.0.4.0/23 through vNet2's gateway,
    and the compiled Program names vNet3 as the destination, through both remote gateways."""
    arm = real_dir / "arm"
    topo = load(arm / "aqt_vnet-transitive-bgp.azuredeploy.json",
                arm / "aqt_vnet-transitive-bgp.azuredeploy.parameters.json")
    v1 = next(v for v in topo.virtual_networks if v.name.startswith("vNet1"))
    v3 = next(v for v in topo.virtual_networks if v.name.startswith("vNet3"))
    route = lookup(effective_routes(topo, v1.subnet("subnet1")), parse_ip("10.0.4.10"))
    assert route.next_hop_type == "VirtualNetworkGateway" and str(route.address_prefix) == \
        "10.0.4.0/23"
    program = compile_program(topo)
    nh = int(program.lookup(program.subnet_index(v1.subnet("subnet1").id),
                            [parse_ip("10.0.4.10").value])[0])
    assert program.vnet_ids[program.nh_vnet[nh]] == v3.id
    via = program.nh_via[program.nh_via_off[nh]:program.nh_via_off[nh + 1]]
    assert [program.speaker_ids[i].rsplit("/", 1)[-1] for i in via] == \
        ["vnet2-gateway", "vnet3-gateway"]


def site_topology(**site):
    arm = Arm().vnet("hub", "10.0.0.0/16", {"s": "10.0.1.0/24",
                                           "GatewaySubnet": "10.0.255.0/27"})
    arm.gateway("gw", "hub", 65010)
    return arm.site("branch", "gw", **site)


def test_static_site_prefixes_and_bgp_peer_host_route():
    """FAQ: the gateway "adds a host route internally to the on-premises BGP peer IP over the
    IPsec tunnel"; address-space prefixes are "added as static routes ... in addition to the
    routes learned via BGP"."""
    topo = site_topology(prefixes=["192.168.0.0/16"], asn=65050, bgp_ip="172.31.0.1").build()
    prefixes = {r[0] for r in gw_rows(topo, "hub")}
    assert prefixes == {"192.168.0.0/16", "172.31.0.1/32"}
    off = site_topology(prefixes=["192.168.0.0/16"], asn=65050, bgp_ip="172.31.0.1",
                        enable_bgp=False).build()
    assert {r[0] for r in gw_rows(off, "hub")} == {"192.168.0.0/16"}


def test_bgp_prefixes_from_sidecar_and_default_route_not_readvertised():
    """Routes an on-premises peer advertises (the BGP sidecar): learned by the hub gateway
    and passed on over VNet-to-VNet BGP, except the default route (FAQ: "VPN gateways don't
    advertise default routes to other BGP peers")."""
    from dataclasses import replace

    from dataplane.model import BgpAdvertisement
    from dataplane.net import parse_prefix

    arm = three_vnets()
    arm.site("branch", "gwC", [], asn=65050, bgp_ip="172.31.0.1")
    topo = arm.build()
    adv = BgpAdvertisement("branch", (parse_prefix("192.168.10.0/24"),
                                      parse_prefix("0.0.0.0/0")), (65050,))
    topo = replace(topo, bgp_advertisements=(adv,))
    assert hop(topo, "C", "8.8.8.8").next_hop_type == "VirtualNetworkGateway"
    assert hop(topo, "A", "8.8.8.8").next_hop_type == "Internet"
    route = hop(topo, "A", "192.168.10.1")
    assert route.as_path == (65020, 65030, 65050)
    assert route.egress.endswith("/connections/gwC-to-branch")


def test_spokes_using_remote_gateways_are_advertised():
    """Gateway transit: B's spoke (useRemoteGateways) is advertised by B's gateway, so A
    learns it; the spoke learns A's space from the hub's gateway."""
    arm = three_vnets()
    arm.vnet("spoke", "10.9.0.0/16", {"s": "10.9.1.0/24"},
             [peering("spoke", "B", useRemoteGateways=True)])
    b = next(r for r in arm.resources if r["name"] == "B")
    b["properties"]["virtualNetworkPeerings"] = [peering("B", "spoke",
                                                         allowGatewayTransit=True)]
    topo = arm.build()
    assert hop(topo, "A", "10.9.1.4").dest_vnet.endswith("/virtualNetworks/spoke")
    assert hop(topo, "spoke", "10.0.1.4").next_hop_type == "VirtualNetworkGateway"
    assert hop(topo, "B", "10.9.1.4").next_hop_type == "VNetPeering"


def test_active_active_gives_two_rows_one_per_instance():
    """FAQ: "two IP addresses for active-active VPN gateways"; real dumps list one row per
    instance (docs/bgp.md, evidence E3). Program: one next hop, both addresses in its ECMP
    group."""
    arm = Arm()
    for i, name in enumerate("AB"):
        arm.vnet(name, f"10.{i}.0.0/16", {"s": f"10.{i}.1.0/24",
                                          "GatewaySubnet": f"10.{i}.255.0/27"})
    arm.gateway("gwA", "A", 65010, active_active=True).gateway("gwB", "B", 65020)
    topo = arm.vnet2vnet("gwA", "gwB").build()
    rows = [r for r in gw_rows(topo, "A") if r[0] == "10.1.0.0/16"]
    assert rows == [("10.1.0.0/16", "Active", ["10.0.255.4"]),
                    ("10.1.0.0/16", "Active", ["10.0.255.5"])]
    # B learns A's two BGP addresses as /32 routes (real dumps, evidence E4)
    assert {r[0] for r in gw_rows(topo, "B")} >= {"10.0.255.4/32", "10.0.255.5/32"}
    program = compile_program(topo)
    nh = int(program.lookup(program.subnet_index(topo.vnet("A").subnet("s").id),
                            [parse_ip("10.1.1.1").value])[0])
    group = program.nh_ecmp_ip[program.nh_ecmp_off[nh]:program.nh_ecmp_off[nh + 1]]
    assert [str(IPAddress(4, int(v))) for v in group] == ["10.0.255.4", "10.0.255.5"]


def test_instance_addresses_from_a_dump_win():
    """bgpSettings as an az dump prints it: the addresses Azure allocated, and the public
    tunnel address, which is what an active-standby gateway's rows show (evidence E1)."""
    settings = {"asn": 65010, "bgpPeeringAddress": "10.0.255.14", "bgpPeeringAddresses": [
        {"ipconfigurationId": "x", "defaultBgpIpAddresses": ["10.0.255.14"],
         "customBgpIpAddresses": ["169.254.21.1"], "tunnelIpAddresses": ["20.13.72.192"]}]}
    arm = Arm()
    for i, name in enumerate("AB"):
        arm.vnet(name, f"10.{i}.0.0/16", {"s": f"10.{i}.1.0/24",
                                          "GatewaySubnet": f"10.{i}.255.0/27"})
    arm.gateway("gwA", "A", bgp_settings=settings).gateway("gwB", "B", 65020)
    topo = arm.vnet2vnet("gwA", "gwB").build()
    (instance,) = bgp.instances(topo, topo.virtual_network_gateways[0])
    assert str(instance.bgp_ip) == "10.0.255.14"
    assert [str(a) for a in instance.custom_bgp_ips] == ["169.254.21.1"]
    assert ("10.1.0.0/16", "Active", ["20.13.72.192"]) in gw_rows(topo, "A")
    assert "10.0.255.14/32" in {r[0] for r in gw_rows(topo, "B")}


def test_bgp_never_beats_vnet_or_peering_routes():
    """udr-overview 3.4: VNet and peering routes are preferred "even if BGP routes are more
    specific": a more specific on-premises route inside the VNet's space stays Invalid."""
    from dataclasses import replace

    from dataplane.model import BgpAdvertisement
    from dataplane.net import parse_prefix

    topo = site_topology(prefixes=[], asn=65050, bgp_ip="172.31.0.1").build()
    topo = replace(topo, bgp_advertisements=(BgpAdvertisement(
        "branch", (parse_prefix("10.0.1.0/25"), parse_prefix("10.0.0.0/8"))),))
    rows = gw_rows(topo, "hub")
    assert ("10.0.1.0/25", "Invalid", ["10.0.255.30"]) in rows
    assert ("10.0.0.0/8", "Active", ["10.0.255.30"]) in rows  # wider: legitimate
    assert hop(topo, "hub", "10.0.1.9").next_hop_type == "VnetLocal"
    assert hop(topo, "hub", "10.7.0.1").next_hop_type == "VirtualNetworkGateway"


def test_learned_prefixes_join_the_virtualnetwork_tag():
    """service-tags-overview: VirtualNetwork holds "all connected on-premises address spaces"
    and "virtual networks connected to a virtual network gateway": C's space (learned through
    B) is in A's tag, through the one tag builder (control/tags.py)."""
    from dataplane.control.tags import TagResolver

    topo = three_vnets().build()
    tag = TagResolver(topo).resolve(topo.vnet("A"), "VirtualNetwork")
    assert any(p.contains_address(parse_ip("10.2.1.4")) for p in tag)
    off = three_vnets(bgp=False).build()
    tag = TagResolver(off).resolve(off.vnet("A"), "VirtualNetwork")
    assert not any(p.contains_address(parse_ip("10.2.1.4")) for p in tag)


def test_expressroute_preferred_over_vpn_for_one_prefix():
    """Assumption bgp-best-path: ExpressRoute, then VPN, then Route Server routes for one
    prefix (Route Server's default routing preference "ExpressRoute")."""
    from dataclasses import replace

    from dataplane.model import BgpAdvertisement
    from dataplane.net import parse_prefix

    arm = Arm().vnet("hub", "10.0.0.0/16", {"s": "10.0.1.0/24",
                                           "GatewaySubnet": "10.0.255.0/27"})
    arm.gateway("vpn", "hub", 65010).site("branch", "vpn", [], asn=65050, bgp_ip="172.31.0.1")
    arm.gateway("er", "hub", gateway_type="ExpressRoute", sku="Standard")
    arm.add("connections", "er-conn", {"connectionType": "ExpressRoute",
                                        "virtualNetworkGateway1": {"id": f"{RG}/"
                                                                   "virtualNetworkGateways/er"},
                                        "peer": {"id": "circuit1"}})
    prefix = (parse_prefix("172.20.0.0/16"),)
    topo = replace(arm.build(), bgp_advertisements=(
        BgpAdvertisement("branch", prefix, (65050,)),
        BgpAdvertisement("circuit1", prefix, (12076, 65050, 65051), parse_ip("10.3.129.92"))))
    route = hop(topo, "hub", "172.20.1.1")
    assert route.speaker.endswith("/virtualNetworkGateways/er")
    assert [str(i) for i in route.next_hop_ip] == ["10.3.129.92"]
