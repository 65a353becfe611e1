"""The gateway stage (engine/stages/gateway.py): packets over VNet-to-VNet connections with BGP,
on-premises prefixes learned over BGP, active-active instances, Route Server routes to NVAs.

Sources (Microsoft's documented examples):
* "Create three vNets to demonstrate transitive BGP connections" (Azure quickstart template,
  https://azure.microsoft.com/resources/templates/vnet-transitive-bgp/): connections 1<->2 and
  2<->3 only; "connect to the VM in vNet 1 and try to connect (ping/SSH) to the internal IP of
  the VM in vNet 3";
* "About BGP and VPN Gateway" (https://learn.microsoft.com/azure/vpn-gateway/
  vpn-gateway-bgp-overview, "Transit routing") and the VPN Gateway FAQ, "BGP and routing"
  (https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-vpn-faq#bgp): BGP needed on every
  intermediate connection; distinct ASNs; prefixes learned over BGP from on-premises;
* "About active-active mode VPN gateways" (https://learn.microsoft.com/azure/vpn-gateway/
  about-active-active-gateways, "Active-active mode design");
* "Quickstart: Create and configure Route Server" (https://learn.microsoft.com/azure/
  route-server/quickstart-configure-route-server-portal): Route Server "will learn routes from
  the NVA and program them on the virtual machines in the virtual network".
"""

from __future__ import annotations

from dataclasses import replace

from gateway_topo import RG, Arm, deny_inbound_from, nic, peering, three_vnets, vm
from scapy.layers.inet import IP, TCP

from dataplane import watcher
from dataplane.control.explain import describe
from dataplane.engine import Disposition as D
from dataplane.engine import Emulator
from dataplane.engine.reference import Packet, ReferencePipeline
from dataplane.engine.stages import gateway
from dataplane.model import BgpAdvertisement
from dataplane.net import parse_prefix


def tcp(src: str, dst: str, dport: int = 22, sport: int = 50000):
    return IP(src=src, dst=dst) / TCP(sport=sport, dport=dport)


def one(em: Emulator, pkt, source: str | None) -> tuple[str, str, str]:
    row = em.send(pkt, source=source).row(0)
    return row["disposition"], row["deciding"], row["hops"]


def smallest(arm: Arm | None = None, *, c_nsg: bool = False) -> Arm:
    """The issue's smallest input (A, B, C; connections A<->B, B<->C) with one NIC per VNet."""
    arm = arm or three_vnets()
    if c_nsg:
        deny_inbound_from(arm, "c-nsg", "10.0.0.0/16")
    for i, name in enumerate("abc"):
        nic(arm, name, name.upper(), "s", f"10.{i}.1.4", nsg="c-nsg" if c_nsg and name == "c"
            else None)
    return arm


# -- VNet-to-VNet with transitive BGP ---------------------------------------------------------

def test_a_reaches_c_through_b_and_c_answers_back():
    em = Emulator(smallest().build())
    assert one(em, tcp("10.0.1.4", "10.2.1.4"), "a") == (
        "DELIVERED", "route System 10.2.0.0/16 VnetLocal",
        "a > gateway gwA > gateway gwB > gateway gwC > c")
    assert one(em, tcp("10.2.1.4", "10.0.1.4", 50000, 22), "c")[::2] == (
        "DELIVERED", "c > gateway gwC > gateway gwB > gateway gwA > a")
    # B is one connection away from both
    assert one(em, tcp("10.0.1.4", "10.1.1.4"), "a")[::2] == (
        "DELIVERED", "a > gateway gwA > gateway gwB > b")


def test_each_gateway_crossed_charges_its_cost():
    em = Emulator(smallest().build())
    to_b = em.send(tcp("10.0.1.4", "10.1.1.4"), source="a").row(0)["latency_ns"]
    to_c = em.send(tcp("10.0.1.4", "10.2.1.4"), source="a").row(0)["latency_ns"]
    gateway_ns = em.net.params.gateway_ns
    assert to_b >= 2 * gateway_ns  # gwA and gwB
    assert to_c >= 3 * gateway_ns  # one more gateway: gwC
    assert to_c > to_b


def test_destination_nsg_applies_after_the_remote_gateway():
    em = Emulator(smallest(c_nsg=True).build())
    disposition, deciding, hops = one(em, tcp("10.0.1.4", "10.2.1.4"), "a")
    assert (disposition, hops) == ("DENIED_IN", "a > gateway gwA > gateway gwB > gateway gwC > c")
    assert deciding.endswith("deny-from")
    assert one(em, tcp("10.1.1.4", "10.2.1.4"), "b")[0] == "DELIVERED"  # B is not 10.0.0.0/16


def test_without_bgp_on_the_connections_c_is_not_learned_at_a():
    """Transit needs BGP on every intermediate connection: A learns B's space (static VNet-to-VNet
    routes) but not C's; 10.2.1.4 falls to the system 10.0.0.0/8 None route."""
    em = Emulator(smallest(three_vnets(bgp=False)).build())
    assert one(em, tcp("10.0.1.4", "10.2.1.4"), "a") == (
        "NULL_ROUTED", "route System 10.0.0.0/8 None", "a")
    assert one(em, tcp("10.0.1.4", "10.1.1.4"), "a")[::2] == (
        "DELIVERED", "a > gateway gwA > gateway gwB > b")


def test_as_path_loop_prevention_keeps_c_from_a_when_they_share_an_asn():
    """A and C both AS 65010: C's prefix reaches A with AS path (65020, 65010), which holds A's
    own ASN, and is dropped; B (65020) still reaches C."""
    em = Emulator(smallest(three_vnets(asns=(65010, 65020, 65010))).build())
    assert one(em, tcp("10.0.1.4", "10.2.1.4"), "a")[0] == "NULL_ROUTED"
    assert one(em, tcp("10.1.1.4", "10.2.1.4"), "b")[::2] == (
        "DELIVERED", "b > gateway gwB > gateway gwC > c")


def test_explain_names_the_gateways_crossed_within_100_columns():
    answer = watcher.explain(vm(smallest(), "vm-a", "a").build(), "vm-a", "10.2.1.4:22")
    lines = [describe(h) for h in answer["hops"]]
    assert lines[1:] == [
        "route at A/s: 10.2.0.0/16 -> VirtualNetworkGateway 10.0.255.30 [System Route]",
        "gateway gwA (instance 10.0.255.30) > gateway gwB > gateway gwC: VnetToVnet "
        "into C",
        "route at C/GatewaySubnet: 10.2.0.0/16 -> VnetLocal [System Route]",
        "NSG inbound at c: Allow (subnet (no NSG): Allow; networkInterface (no NSG): Allow)",
        "delivered to c"]
    assert (answer["disposition"], answer["reason"]) == ("Delivered", "delivered to c")
    assert any(a.startswith("vnet-to-vnet-entry") for a in answer["assumptions"])
    assert all(len(line) <= 96 for line in lines)  # printed after "  N. "


def _with_spoke(transit: bool) -> Emulator:
    """The smallest input plus spoke D peered with C, using C's gateway when `transit`."""
    arm = three_vnets()
    arm.resources = [r for r in arm.resources if r["name"] != "C"]
    arm.vnet("C", "10.2.0.0/16", {"s": "10.2.1.0/24", "GatewaySubnet": "10.2.255.0/27"},
             [peering("C", "D", allowGatewayTransit=True)])
    arm.vnet("D", "10.3.0.0/16", {"s": "10.3.1.0/24"},
             [peering("D", "C", useRemoteGateways=transit)])
    smallest(arm)
    nic(arm, "d", "D", "s", "10.3.1.4")
    return Emulator(arm.build())


def test_a_reaches_a_spoke_that_uses_c_gateway_through_transit():
    """Gateway transit: "Connectivity available on the VPN gateway, including S2S, P2S, and
    VNet-to-VNet connections, applies to all three virtual networks" (About VPN gateway transit
    for virtual network peering): C's gateway advertises spoke D over BGP; the packet crosses
    the gateways, enters C and takes the peering into D (gateway transit, no forwarding flag)."""
    em = _with_spoke(transit=True)
    assert one(em, tcp("10.0.1.4", "10.3.1.4"), "a") == (
        "DELIVERED", "route System 10.3.0.0/16 VNetPeering",
        "a > gateway gwA > gateway gwB > gateway gwC > d")
    assert one(em, tcp("10.3.1.4", "10.0.1.4", 50000, 22), "d")[::2] == (
        "DELIVERED", "d > gateway gwC > gateway gwB > gateway gwA > a")
    # without transit the spoke is not advertised: A has no route to it
    assert one(_with_spoke(transit=False), tcp("10.0.1.4", "10.3.1.4"), "a")[0] == "NULL_ROUTED"


# -- the transitive-BGP quickstart (real template) --------------------------------------------

def test_transitive_bgp_quickstart_vm_in_vnet1_reaches_vm_in_vnet3(real_dir):
    """The template's own test: from the VM in vNet 1 to the internal IP of the VM in vNet 3.
    The template deploys no VMs; one NIC is added to subnet1 of vNet1 and of vNet3."""
    from dataplane.load.arm.template import evaluate_template
    from dataplane.load.resources import resources_to_topology

    stem = real_dir / "arm" / "aqt_vnet-transitive-bgp.azuredeploy"
    result = evaluate_template(f"{stem}.json", f"{stem}.parameters.json")
    arm = Arm()
    arm.resources = [dict(r) for r in result.resources]
    subnet1 = {r["name"]: next(s["properties"]["addressPrefix"]
                               for s in r["properties"]["subnets"] if s["name"] == "subnet1")
               for r in result.resources if r["type"] == "Microsoft.Network/virtualNetworks"}
    ips = {}
    vnet_ids = {r["name"]: r["id"] for r in result.resources
                if r["type"] == "Microsoft.Network/virtualNetworks"}
    for vnet in ("vNet1-westeurope", "vNet3-westeurope"):
        first = parse_prefix(subnet1[vnet]).first + 4
        ips[vnet] = ".".join(str((first >> s) & 255) for s in (24, 16, 8, 0))
        nic(arm, f"vm-{vnet[:5]}", vnet, "subnet1", ips[vnet],
            subnet_id=f"{vnet_ids[vnet]}/subnets/subnet1")
    em = Emulator(resources_to_topology(arm.resources, "transitive"))
    one_way = one(em, tcp(ips["vNet1-westeurope"], ips["vNet3-westeurope"]), "vm-vNet1")
    assert one_way[0] == "DELIVERED"
    assert one_way[2] == ("vm-vNet1 > gateway vNet1-Gateway > gateway vNet2-Gateway > "
                          "gateway vNet3-Gateway > vm-vNet3")
    back = one(em, tcp(ips["vNet3-westeurope"], ips["vNet1-westeurope"], 50000, 22), "vm-vNet3")
    assert back[0] == "DELIVERED"


# -- on-premises prefixes learned over BGP ----------------------------------------------------

def _branch(advertised: tuple[str, ...]) -> Emulator:
    """VNet A with a BGP gateway, an IPsec connection with BGP to 'branch' (static
    192.168.0.0/16, BGP peer 192.168.255.1, AS 65050) announcing `advertised` (sidecar)."""
    arm = Arm().vnet("A", "10.0.0.0/16", {"s": "10.0.1.0/24", "GatewaySubnet": "10.0.255.0/27"})
    arm.gateway("gwA", "A", 65010)
    arm.site("branch", "gwA", ["192.168.0.0/16"], asn=65050, bgp_ip="192.168.255.1")
    nic(arm, "a", "A", "s", "10.0.1.4")
    topo = arm.build()
    return Emulator(replace(topo, bgp_advertisements=(BgpAdvertisement(
        "branch", tuple(parse_prefix(p) for p in advertised)),)))


def test_onprem_prefix_learned_over_bgp_leaves_by_its_connection_and_enters_back():
    em = _branch(("172.20.0.0/16",))
    out = em.send(tcp("10.0.1.4", "172.20.1.1"), source="a")
    assert (out.row(0)["disposition"], out.row(0)["hops"]) == ("EXITS_ON_PREMISES",
                                                               "a > gateway gwA")
    explained = em.explain_row(out, 0)
    gateway_hop = next(h for h in explained["hops"] if h["step"] == "gateway")
    assert (gateway_hop["connection"], gateway_hop["localNetworkGateway"]) == (
        "gwA-to-branch", "branch")
    # the reverse direction: a source in the learned prefix enters at the gateway
    assert one(em, tcp("172.20.1.1", "10.0.1.4"), None)[::2] == ("DELIVERED", "gateway gwA > a")


def test_a_prefix_nobody_advertised_neither_leaves_nor_enters():
    em = _branch(("172.20.0.0/16",))
    assert one(em, tcp("10.0.1.4", "172.21.1.1"), "a")[:2] == (
        "NULL_ROUTED", "route System 172.16.0.0/12 None")
    assert one(em, tcp("172.21.1.1", "10.0.1.4"), None)[0] == "UNMAPPED"


# -- equal-cost rows: active-active instances and Route Server NVAs ---------------------------

def _flows(n: int, src: str, dst: str) -> list:
    return [tcp(src, dst, 443, 40000 + k) for k in range(n)]


def test_active_active_gateway_spreads_flows_over_both_instances_symmetrically():
    arm = Arm()
    for i, (name, asn) in enumerate(zip("AB", (65010, 65020), strict=True)):
        arm.vnet(name, f"10.{i}.0.0/16", {"s": f"10.{i}.1.0/24",
                                          "GatewaySubnet": f"10.{i}.255.0/27"})
        arm.gateway(f"gw{name}", name, asn, active_active=name == "A")
    arm.vnet2vnet("gwA", "gwB")
    nic(arm, "a", "A", "s", "10.0.1.4")
    nic(arm, "b", "B", "s", "10.1.1.4")
    em = Emulator(arm.build())
    out = em.send(_flows(24, "10.0.1.4", "10.1.1.4"), source=["a"] * 24)
    assert set(out.dispositions()) == {D.DELIVERED}
    instances = [next(h for h in em.explain_row(out, i)["hops"] if h["step"] == "gateway")[
        "instance"] for i in range(24)]
    assert set(instances) == {"10.0.255.4", "10.0.255.5"}  # both carry traffic
    # the choice is the symmetric flow hash: a flow and its reverse pick the same row
    ref = ReferencePipeline(em.net)
    subnet = int(em.net.node_subnet[0])
    for k in range(24):
        fwd = Packet(0, 0x0A000104, 0x0A010104, 6, 40000 + k, 443)
        rev = Packet(0, 0x0A010104, 0x0A000104, 6, 443, 40000 + k)
        picks = []
        for p in (fwd, rev):
            rid, route, hop = gateway_route(ref, subnet, 0x0A010104)
            picks.append(gateway.ecmp(em.net, rid, route, hop, 0, p)[0])
        assert picks[0] == picks[1]


def gateway_route(ref: ReferencePipeline, subnet: int, dst: int):
    from dataplane.engine.stages import route as routing

    return routing.decide(ref.net, subnet, 0, dst)


def _route_server(forwarding: bool = True) -> Emulator:
    arm = Arm().vnet("hub", "10.0.0.0/16", {"s": "10.0.1.0/24", "nva": "10.0.2.0/24",
                                           "RouteServerSubnet": "10.0.3.0/27"},
                     [peering("hub", "spoke", allowGatewayTransit=True)])
    arm.vnet("spoke", "10.1.0.0/16", {"s": "10.1.1.0/24"},
             [peering("spoke", "hub", useRemoteGateways=True)])
    arm.route_server("rs", "hub", {"nva1": ("10.0.2.4", 65001), "nva2": ("10.0.2.5", 65001)})
    nic(arm, "vm", "hub", "s", "10.0.1.10")
    nic(arm, "spokevm", "spoke", "s", "10.1.1.4")
    nic(arm, "nva1", "hub", "nva", "10.0.2.4", forwarding=forwarding)
    nic(arm, "nva2", "hub", "nva", "10.0.2.5", forwarding=forwarding)
    topo = arm.build()
    anycast = (parse_prefix("192.0.2.0/24"),)
    return Emulator(replace(topo, bgp_advertisements=(
        BgpAdvertisement("nva1", anycast), BgpAdvertisement("10.0.2.5", anycast))))


def test_route_server_routes_send_packets_to_the_nvas_which_carry_them_out():
    em = _route_server()
    out = em.send(_flows(24, "10.0.1.10", "192.0.2.9"), source=["vm"] * 24)
    rows = [out.row(i) for i in range(24)]
    assert {r["disposition"] for r in rows} == {"EXITS_ON_PREMISES"}
    assert {r["hops"] for r in rows} == {"vm > nva1", "vm > nva2"}  # ECMP over the NVAs
    assert rows[0]["latency_ns"] >= em.net.params.nva_ns  # the NVA's cost is charged
    # from a spoke that uses the hub's Route Server: over the peering to the NVA
    spoke = one(em, tcp("10.1.1.4", "192.0.2.9"), "spokevm")
    assert spoke[0] == "EXITS_ON_PREMISES" and spoke[2] in ("spokevm > nva1", "spokevm > nva2")
    # a prefix no NVA announced is not drawn to them
    assert one(em, tcp("10.0.1.10", "198.51.100.9"), "vm")[::2] == (
        "EXITS_INTERNET", "vm > internet")


def test_route_server_next_hop_is_an_appliance_hop_with_its_checks():
    em = _route_server(forwarding=False)
    assert one(em, tcp("10.0.1.10", "192.0.2.9"), "vm")[0] == "IP_FORWARDING_DISABLED"



def test_expressroute_prefixes_from_the_sidecar_leave_and_enter_by_the_circuit_connection():
    """ExpressRoute: the circuit's prefixes (sidecar, docs/bgp-sidecar.md) are learned by the
    ExpressRoute gateway; packets to them leave by the ExpressRoute connection, packets from
    them enter at that gateway."""
    arm = Arm().vnet("A", "10.0.0.0/16", {"s": "10.0.1.0/24", "GatewaySubnet": "10.0.255.0/27"})
    arm.gateway("er", "A", gateway_type="ExpressRoute", sku="Standard")
    arm.add("connections", "er-conn", {
        "connectionType": "ExpressRoute",
        "virtualNetworkGateway1": {"id": f"{RG}/virtualNetworkGateways/er"},
        "peer": {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/"
                       "expressRouteCircuits/circuit1"}})
    nic(arm, "a", "A", "s", "10.0.1.4")
    em = Emulator(replace(arm.build(), bgp_advertisements=(
        BgpAdvertisement("er-conn", (parse_prefix("10.50.0.0/16"),)),)))
    out = em.send(tcp("10.0.1.4", "10.50.1.1"), source="a")
    assert (out.row(0)["disposition"], out.row(0)["hops"]) == ("EXITS_ON_PREMISES", "a > gateway er")
    hop = next(h for h in em.explain_row(out, 0)["hops"] if h["step"] == "gateway")
    assert (hop["connection"], hop["expressRouteCircuit"]) == ("er-conn", "circuit1")
    assert "localNetworkGateway" not in hop
    assert one(em, tcp("10.50.1.1", "10.0.1.4"), None)[::2] == ("DELIVERED", "gateway er > a")
    assert one(em, tcp("10.0.1.4", "10.51.1.1"), "a")[0] == "NULL_ROUTED"  # not announced


def test_route_server_branch_to_branch_on_premises_reaches_an_nva_prefix():
    """"Azure Route Server support for ExpressRoute and Azure VPN"
    (https://learn.microsoft.com/azure/route-server/expressroute-vpn-support): with
    allowBranchToBranchTraffic the VPN gateway (active-active, AS 65515) and the Route Server
    exchange routes. A packet from the branch to a prefix the NVAs announce enters at the
    gateway, is routed from the GatewaySubnet to an NVA (the Route Server's row) and leaves
    through it; the NVA reaches the branch through the gateway's connection."""
    arm = Arm().vnet("hub", "10.0.0.0/16", {"s": "10.0.1.0/24", "nva": "10.0.2.0/24",
                                           "RouteServerSubnet": "10.0.3.0/27",
                                           "GatewaySubnet": "10.0.255.0/27"})
    arm.route_server("rs", "hub", {"nva1": ("10.0.2.4", 65001), "nva2": ("10.0.2.5", 65001)},
                     branch_to_branch=True)
    arm.gateway("gw", "hub", 65515, active_active=True)
    arm.site("branch", "gw", ["192.168.0.0/16"], asn=65050, bgp_ip="192.168.255.1")
    nic(arm, "nva1", "hub", "nva", "10.0.2.4", forwarding=True)
    nic(arm, "nva2", "hub", "nva", "10.0.2.5", forwarding=True)
    anycast = (parse_prefix("192.0.2.0/24"),)
    em = Emulator(replace(arm.build(), bgp_advertisements=(
        BgpAdvertisement("nva1", anycast), BgpAdvertisement("nva2", anycast))))
    disposition, _, hops = one(em, tcp("192.168.1.10", "192.0.2.9"), None)
    assert disposition == "EXITS_ON_PREMISES"
    assert hops in ("gateway gw > nva1", "gateway gw > nva2")
    out = em.send(tcp("10.0.2.4", "192.168.1.10"), source="nva1")
    assert (out.row(0)["disposition"], out.row(0)["hops"]) == ("EXITS_ON_PREMISES",
                                                               "nva1 > gateway gw")
    hop = next(h for h in em.explain_row(out, 0)["hops"] if h["step"] == "gateway")
    assert (hop["connection"], hop["localNetworkGateway"]) == ("gw-to-branch", "branch")
    assert hop["instance"] in ("10.0.255.4", "10.0.255.5")  # active-active: either instance
