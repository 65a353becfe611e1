"""Effective routes: Azure's documented examples (docs/azure-behaviour.md §3) and peering semantics (4)."""

from __future__ import annotations

import json

from topo_factory import Builder

from dataplane.control.routes import effective_routes, lookup
from dataplane.net import parse_ip


def rows(topology, vnet: str, subnet: str) -> list[tuple]:
    subnet_obj = topology.vnet(vnet).subnet(subnet)
    return [(r.source, r.state, str(r.address_prefix), r.next_hop_type,
             [str(i) for i in r.next_hop_ip])
            for r in effective_routes(topology, subnet_obj)]


def hop(topology, vnet: str, subnet: str, dest: str) -> str | None:
    found = lookup(effective_routes(topology, topology.vnet(vnet).subnet(subnet)), parse_ip(dest))
    return found.next_hop_type if found else None


def test_rest_api_example_exact(real_dir):
    """NetworkInterfaceEffectiveRouteTableList example: a VNet 172.20.2.0/24 keeps all four
    None routes (the space lies inside 172.16.0.0/12, which is not the adjustment case)."""
    example = json.loads((real_dir / "arm" /
                          "restapispec_2023-09-01_NetworkInterfaceEffectiveRouteTableList.json")
                         .read_text())["responses"]["200"]["body"]["value"]
    topo = Builder().vnet("v", "172.20.2.0/24", subnets={"s": "172.20.2.0/24"}).build()
    ours = [r.as_dict() for r in effective_routes(topo, topo.vnet("v").subnet("s"))]
    for row in ours:
        assert row.pop("disableBgpRoutePropagation") is False
    assert ours == example


def test_adjustment_rule_equal_and_including_spaces():
    topo = (Builder().vnet("a", ["10.0.0.0/8"], subnets={"s": "10.1.0.0/24"})
            .vnet("b", ["172.0.0.0/8"], subnets={"s": "172.16.0.0/24"}).build())
    a = rows(topo, "a", "s")
    assert ("Default", "Active", "10.0.0.0/8", "VnetLocal", []) in a
    assert not any(r[2] == "10.0.0.0/8" and r[3] == "None" for r in a)  # None -> VnetLocal
    b = rows(topo, "b", "s")
    assert not any(r[2] == "172.16.0.0/12" for r in b)  # removed: space includes it
    assert hop(topo, "b", "s", "172.17.0.1") == "VnetLocal"


def udr_overview_example():
    """The UDR overview's routing example: Virtual-network-1 (10.0.0.0/16) peered with
    Virtual-network-2 (10.1.0.0/16 and 10.2.0.0/16), a VPN gateway to on-premises 10.10.0.0/16,
    an NVA at 10.0.100.4, Subnet1 with a route table and a service endpoint, Subnet2 without."""
    return (Builder()
            .vnet("vnet1", "10.0.0.0/16", subnets={
                "Subnet1": {"prefix": "10.0.0.0/24", "route_table": "Subnet1-rt",
                            "service_endpoints": ["Microsoft.Storage"]},
                "Subnet2": "10.0.1.0/24", "DMZ": "10.0.100.0/24",
                "GatewaySubnet": "10.0.255.0/27"})
            .vnet("vnet2", ["10.1.0.0/16", "10.2.0.0/16"], subnets={"s": "10.1.0.0/24"})
            .peer("vnet1", "vnet2")
            .gateway("vnet1").onprem("onprem", ["10.10.0.0/16"], connect_to="vnet1")
            .route_table("Subnet1-rt", [
                ("Within-VNet1", "10.0.0.0/16", "VirtualAppliance", "10.0.100.4"),
                ("Within-Subnet1", "10.0.0.0/24", "VnetLocal"),
                ("ToVNet2-1-Drop", "10.1.0.0/16", "None"),
                ("ToVNet2-2-Drop", "10.2.0.0/16", "None"),
                ("To-On-Prem", "10.10.0.0/16", "VirtualAppliance", "10.0.100.4"),
                ("Default-NVA", "0.0.0.0/0", "VirtualAppliance", "10.0.100.4")])
            .vm("nva", "vnet1/DMZ", "10.0.100.4", ip_forwarding=True)
            .build())


def test_udr_overview_subnet1():
    topo = udr_overview_example()
    got = {(r[0], r[2], r[3]): r[1] for r in rows(topo, "vnet1", "Subnet1")}
    expected = {  # IDs 1-12 of the documented Subnet1 table (service endpoint rows aside)
        ("Default", "10.0.0.0/16", "VnetLocal"): "Invalid",
        ("User", "10.0.0.0/16", "VirtualAppliance"): "Active",
        ("User", "10.0.0.0/24", "VnetLocal"): "Active",
        ("Default", "10.1.0.0/16", "VNetPeering"): "Invalid",
        ("Default", "10.2.0.0/16", "VNetPeering"): "Invalid",
        ("User", "10.1.0.0/16", "None"): "Active",
        ("User", "10.2.0.0/16", "None"): "Active",
        ("VirtualNetworkGateway", "10.10.0.0/16", "VirtualNetworkGateway"): "Invalid",
        ("User", "10.10.0.0/16", "VirtualAppliance"): "Active",
        ("Default", "0.0.0.0/0", "Internet"): "Invalid",
        ("User", "0.0.0.0/0", "VirtualAppliance"): "Active",
    }
    for key, state in expected.items():
        assert got.pop(key) == state, key
    # What remains: the service endpoint rows, Active; no None routes (0/0 to an NVA).
    assert got and all(k[2] == "VirtualNetworkServiceEndpoint" and v == "Active"
                       for k, v in got.items())
    assert hop(topo, "vnet1", "Subnet1", "10.0.0.9") == "VnetLocal"
    assert hop(topo, "vnet1", "Subnet1", "10.0.1.9") == "VirtualAppliance"
    assert hop(topo, "vnet1", "Subnet1", "10.2.3.4") == "None"
    assert hop(topo, "vnet1", "Subnet1", "20.60.1.1") == "VirtualNetworkServiceEndpoint"
    assert hop(topo, "vnet1", "Subnet1", "8.8.8.8") == "VirtualAppliance"


def test_udr_overview_subnet2():
    topo = udr_overview_example()
    assert rows(topo, "vnet1", "Subnet2") == [
        ("Default", "Active", "10.0.0.0/16", "VnetLocal", []),
        ("Default", "Active", "10.1.0.0/16", "VNetPeering", []),
        ("Default", "Active", "10.2.0.0/16", "VNetPeering", []),
        ("Default", "Active", "0.0.0.0/0", "Internet", []),
        ("Default", "Active", "10.0.0.0/8", "None", []),
        ("Default", "Active", "100.64.0.0/10", "None", []),
        ("Default", "Active", "172.16.0.0/12", "None", []),
        ("Default", "Active", "192.168.0.0/16", "None", []),
        # next hop: the gateway's BGP address, the last usable GatewaySubnet address
        # (assumptions gateway-instance-addresses, gateway-next-hop-ip; docs/bgp.md)
        ("VirtualNetworkGateway", "Active", "10.10.0.0/16", "VirtualNetworkGateway",
         ["10.0.255.30"]),
    ]
    assert hop(topo, "vnet1", "Subnet2", "10.10.1.1") == "VirtualNetworkGateway"
    assert hop(topo, "vnet1", "Subnet2", "10.3.0.1") == "None"


def test_longest_prefix_example():
    """3.4: routes 10.0.0.0/24 and 10.0.0.0/16: 10.0.0.5 uses the /24, 10.0.1.5 the /16."""
    topo = (Builder().vnet("v", "10.0.0.0/16", subnets={"s": {"prefix": "10.0.0.0/24",
                                                              "route_table": "rt"}})
            .route_table("rt", [("r24", "10.0.0.0/24", "VirtualAppliance", "10.0.0.4")]).build())
    assert hop(topo, "v", "s", "10.0.0.5") == "VirtualAppliance"
    assert hop(topo, "v", "s", "10.0.1.5") == "VnetLocal"


def star():
    return (Builder()
            .vnet("hub", "10.0.0.0/16", subnets={"GatewaySubnet": "10.0.255.0/27",
                                                 "nva": "10.0.1.0/24"})
            .vnet("spoke1", "10.1.0.0/16", subnets={"web": "10.1.1.0/24"})
            .vnet("spoke2", "10.2.0.0/16", region="northeurope", subnets={"app": "10.2.1.0/24"}))


def test_peering_regional_global_and_not_transitive():
    topo = star().peer("hub", "spoke1").peer("hub", "spoke2").build()
    assert hop(topo, "spoke1", "web", "10.0.1.4") == "VNetPeering"
    assert hop(topo, "spoke2", "app", "10.0.1.4") == "VNetGlobalPeering"
    assert hop(topo, "hub", "nva", "10.2.1.4") == "VNetGlobalPeering"
    assert hop(topo, "spoke1", "web", "10.2.1.4") == "None"  # not transitive


def test_initiated_link_carries_no_route():
    topo = star().link("spoke1", "hub", state="Initiated").build()
    assert not any(r[3] == "VNetPeering" for r in rows(topo, "spoke1", "web"))
    assert hop(topo, "spoke1", "web", "10.0.1.4") == "None"


def test_unsynced_prefixes_absent():
    topo = (star().vnet("hub", ["10.0.0.0/16", "10.50.0.0/16"], subnets={"nva": "10.0.1.0/24"})
            .link("spoke1", "hub", remote_space=["10.0.0.0/16"]).link("hub", "spoke1").build())
    prefixes = [r[2] for r in rows(topo, "spoke1", "web") if r[3] == "VNetPeering"]
    assert prefixes == ["10.0.0.0/16"]
    assert hop(topo, "spoke1", "web", "10.50.0.1") == "None"


def transit(*, use_remote: bool, allow_transit: bool, sku: str = "VpnGw1"):
    return (star().gateway("hub", sku=sku).onprem("branch", ["192.168.0.0/16"], connect_to="hub")
            .link("spoke1", "hub", use_remote_gateways=use_remote)
            .link("hub", "spoke1", allow_gateway_transit=allow_transit))


def test_gateway_transit_on_and_off():
    on = transit(use_remote=True, allow_transit=True).build()
    assert ("VirtualNetworkGateway", "Active", "192.168.0.0/16", "VirtualNetworkGateway",
            ["10.0.255.30"]) in rows(on, "spoke1", "web")
    assert ("Default", "Invalid", "192.168.0.0/16", "None", []) in rows(on, "spoke1", "web")
    assert hop(on, "spoke1", "web", "192.168.1.1") == "VirtualNetworkGateway"
    assert hop(on, "hub", "nva", "192.168.1.1") == "VirtualNetworkGateway"
    for b in (transit(use_remote=True, allow_transit=False), transit(use_remote=False,
              allow_transit=True), transit(use_remote=True, allow_transit=True, sku="Basic")):
        assert hop(b.build(), "spoke1", "web", "192.168.1.1") == "None"


def test_disable_bgp_route_propagation_drops_gateway_routes():
    b = transit(use_remote=True, allow_transit=True)
    b.vnets["spoke1"]["subnets"]["web"] = {"prefix": "10.1.1.0/24", "route_table": "rt"}
    topo = b.route_table("rt", [], disable_bgp=True).build()
    assert hop(topo, "spoke1", "web", "192.168.1.1") == "None"


def test_vnet_and_peering_routes_beat_more_specific_gateway_routes():
    topo = (star().gateway("hub").onprem("overlap", ["10.1.5.0/24", "10.0.7.0/24"],
                                         connect_to="hub").peer("hub", "spoke1").build())
    states = {(r[2], r[3]): r[1] for r in rows(topo, "hub", "nva")}
    assert states[("10.1.5.0/24", "VirtualNetworkGateway")] == "Invalid"
    assert states[("10.0.7.0/24", "VirtualNetworkGateway")] == "Invalid"
    assert hop(topo, "hub", "nva", "10.1.5.9") == "VNetPeering"
    assert hop(topo, "hub", "nva", "10.0.7.9") == "VnetLocal"
