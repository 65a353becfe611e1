"""IPv6 through virtual network gateways, both forms (issue 17, v6edge): the reference walk is
the oracle, every case also runs through the batch pipeline (ipv6_harness.compare).

Microsoft's pages behind the expectations:
* "Add IPv6 support for private peering using the Azure portal",
  https://learn.microsoft.com/azure/expressroute/expressroute-howto-add-ipv6-portal: IPv6 over
  ExpressRoute private peering to a VNet whose address space and GatewaySubnet carry IPv6
  prefixes; "Limitations": "VPN Gateway only supports IPv4 traffic";
* "What is IPv6 for Azure Virtual Network?", https://learn.microsoft.com/azure/virtual-network/
  ip-services/ipv6-overview, "Limitations": "VPN gateways currently support IPv4 traffic only";
* "About VPN gateway transit for virtual network peering", https://learn.microsoft.com/azure/
  vpn-gateway/vpn-gateway-peering-gateway-transit: a spoke using the hub's gateway
  (useRemoteGateways / allowGatewayTransit) is reached from on-premises.
On-premises IPv6 prefixes come in as the ExpressRoute connection's BGP advertisements
(docs/bgp-sidecar.md), as IPv4 ones do.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from gateway_topo import RG, Arm, peering, vm
from hypothesis import given, settings
from hypothesis import strategies as st
from ipv6_harness import compare

from dataplane.dispositions import Disposition as D
from dataplane.engine.compile import build_network
from dataplane.engine.reference import Packet
from dataplane.engine.stages.gateway import label_ipv4_only
from dataplane.model import BgpAdvertisement
from dataplane.net import parse_prefix

TCP = 6
ONPREM6 = "2001:db8:50::/48"
CIRCUIT = ("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/"
           "expressRouteCircuits/circuit1")


def v6(text: str) -> int:
    return int(ipaddress.IPv6Address(text))


def v4(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def _subnet(vnet: str, name: str, prefixes: list[str], **props) -> dict:
    return {"name": name, "id": f"{RG}/virtualNetworks/{vnet}/subnets/{name}",
            "properties": {"addressPrefixes": prefixes, **props}}


def _nic(arm: Arm, name: str, vnet: str, ip4: str, ip6: str) -> None:
    subnet = {"id": f"{RG}/virtualNetworks/{vnet}/subnets/s"}
    arm.add("networkInterfaces", name, {"enableIPForwarding": False, "ipConfigurations": [
        {"name": "v4", "properties": {"privateIPAddress": ip4, "primary": True,
                                      "privateIPAllocationMethod": "Static", "subnet": subnet}},
        {"name": "v6", "properties": {"privateIPAddress": ip6, "primary": False,
                                      "privateIPAddressVersion": "IPv6",
                                      "privateIPAllocationMethod": "Static",
                                      "subnet": subnet}}]})


def hub_and_spoke(**options):
    """The engine's Network of `hub_and_spoke_topology(**options)`."""
    return build_network(hub_and_spoke_topology(**options))


def hub_and_spoke_topology(*, gateway_type: str = "ExpressRoute", gateway_subnet6: bool = True,
                           transit: bool = True, udr: bool = False, active_active: bool = False,
                           vms: bool = False):
    """Hub A (dual-stack, gateway `er` in its GatewaySubnet, NIC a; subnet s's NSG denies
    SSH from on-premises IPv6) peered with spoke B (NIC b), B using A's gateway when `transit`.
    The circuit connection advertises 10.50.0.0/16 and 2001:db8:50::/48 (a VPN gateway's
    local network gateway lists them). `udr`: s's route
    table sends ::/0 to the gateway (a user route: the gateway forwards by what it learned).
    `active_active`: two gateway instances (equal-cost rows per prefix for a VPN gateway).
    `vms`: VMs vm-a and vm-b hold the NICs (watcher queries start from a VM)."""
    arm = Arm()
    arm.add("networkSecurityGroups", "s-nsg", {"securityRules": [{
        "name": "deny-ssh-onprem6", "properties": {
            "priority": 100, "direction": "Inbound", "access": "Deny", "protocol": "Tcp",
            "sourceAddressPrefix": ONPREM6, "sourcePortRange": "*",
            "destinationAddressPrefix": "*", "destinationPortRange": "22"}}]})
    if udr:
        arm.add("routeTables", "to-gw", {"routes": [{"name": "default6", "properties": {
            "addressPrefix": "::/0", "nextHopType": "VirtualNetworkGateway"}}]})
    s_props = {"networkSecurityGroup": {"id": f"{RG}/networkSecurityGroups/s-nsg"},
               **({"routeTable": {"id": f"{RG}/routeTables/to-gw"}} if udr else {})}
    arm.add("virtualNetworks", "A", {
        "addressSpace": {"addressPrefixes": ["10.0.0.0/16", "fd00:a::/48"]},
        "subnets": [_subnet("A", "s", ["10.0.1.0/24", "fd00:a:0:1::/64"], **s_props),
                    _subnet("A", "GatewaySubnet", ["10.0.255.0/27"]
                            + (["fd00:a:0:ff::/64"] if gateway_subnet6 else []))],
        "virtualNetworkPeerings": [peering("A", "B", allowGatewayTransit=transit)]})
    arm.add("virtualNetworks", "B", {
        "addressSpace": {"addressPrefixes": ["10.1.0.0/16", "fd00:b::/48"]},
        "subnets": [_subnet("B", "s", ["10.1.1.0/24", "fd00:b:0:1::/64"])],
        "virtualNetworkPeerings": [peering("B", "A", useRemoteGateways=transit)]})
    arm.gateway("er", "A", gateway_type=gateway_type, sku="Standard",
                active_active=active_active)
    if gateway_type == "ExpressRoute":
        arm.add("connections", "er-conn", {
            "connectionType": "ExpressRoute",
            "virtualNetworkGateway1": {"id": f"{RG}/virtualNetworkGateways/er"},
            "peer": {"id": CIRCUIT}})
    else:  # a site-to-site connection whose local network gateway lists both families
        arm.site("onprem", "er", ["10.50.0.0/16", ONPREM6], enable_bgp=False)
    _nic(arm, "a", "A", "10.0.1.4", "fd00:a:0:1::4")
    _nic(arm, "b", "B", "10.1.1.4", "fd00:b:0:1::4")
    if vms:
        vm(arm, "vm-a", "a")
        vm(arm, "vm-b", "b")
    return replace(arm.build(), bgp_advertisements=(BgpAdvertisement(
        "er-conn", (parse_prefix("10.50.0.0/16"), parse_prefix(ONPREM6))),))


A6, B6, ONPREM_HOST = v6("fd00:a:0:1::4"), v6("fd00:b:0:1::4"), v6("2001:db8:50::9")
AN, BN = 0, 1


def _gw(net) -> int:
    return net.node_names.index("gateway er")


def test_vnet_to_on_premises_over_expressroute_ipv6() -> None:
    net = hub_and_spoke()
    (w,) = compare(net, [Packet(AN, A6, ONPREM_HOST, TCP, 50000, 443, family=6)])
    assert (w.disposition, w.deciding, w.nodes) == (
        D.EXITS_ON_PREMISES, f"route System {ONPREM6} VirtualNetworkGateway", [AN, _gw(net)])
    hop = next(h for h in w.hops if h["step"] == "gateway")
    assert (hop["connection"], hop["expressRouteCircuit"]) == ("er-conn", "circuit1")


def test_on_premises_ipv6_enters_at_the_gateway_and_meets_the_nsg() -> None:
    net = hub_and_spoke()
    https, ssh = compare(net, [Packet(-1, ONPREM_HOST, A6, TCP, 40000, 443, family=6),
                               Packet(-1, ONPREM_HOST, A6, TCP, 40000, 22, family=6)])
    assert (https.disposition, https.nodes) == (D.DELIVERED, [_gw(net), AN])
    assert https.hops[0]["kind"] == "on-premises" and https.hops[0]["prefix"] == ONPREM6
    assert (ssh.disposition, ssh.deciding) == (
        D.DENIED_IN, "nsg s-nsg/securityRules/deny-ssh-onprem6")


def test_reply_from_on_premises_skips_the_nsg() -> None:
    net = hub_and_spoke()
    _, back = compare(net, [Packet(AN, A6, ONPREM_HOST, TCP, 22, 40001, family=6),
                            Packet(-1, ONPREM_HOST, A6, TCP, 40001, 22, family=6)])
    assert (back.disposition, back.nodes) == (D.DELIVERED, [_gw(net), AN])  # a tracked reply


def test_gateway_transit_carries_ipv6_into_the_spoke() -> None:
    net = hub_and_spoke()
    into, out = compare(net, [Packet(-1, ONPREM_HOST, B6, TCP, 40002, 443, family=6),
                              Packet(BN, B6, ONPREM_HOST, TCP, 50002, 443, family=6)])
    assert (into.disposition, into.nodes) == (D.DELIVERED, [_gw(net), BN])
    assert (out.disposition, out.nodes) == (D.EXITS_ON_PREMISES, [BN, _gw(net)])
    blocked = hub_and_spoke(transit=False)
    (w,) = compare(blocked, [Packet(-1, ONPREM_HOST, B6, TCP, 40002, 443, family=6)])
    assert w.disposition == D.TRANSIT_BLOCKED


def test_user_route_to_the_gateway_for_ipv6() -> None:
    # "You can't specify a virtual network gateway created as type ExpressRoute in a
    # user-defined route" (Virtual network traffic routing, "Custom routes"): no gateway
    er = hub_and_spoke(udr=True)
    google = v6("2001:4860:4860::8888")
    (w,) = compare(er, [Packet(AN, A6, google, TCP, 50003, 443, family=6)])
    assert (w.disposition, w.deciding) == (D.NO_ROUTE, "route to-gw/default6")
    # ... and a VPN gateway it can name carries no IPv6
    vpn = hub_and_spoke(gateway_type="Vpn", udr=True)
    (w,) = compare(vpn, [Packet(AN, A6, google, TCP, 50003, 443, family=6)])
    assert (w.disposition, w.nodes) == (D.GATEWAY_IPV4_ONLY, [AN, _gw(vpn)])


def test_expressroute_gateway_without_ipv6_gateway_subnet_carries_ipv4_only() -> None:
    net = hub_and_spoke(gateway_subnet6=False)
    label = label_ipv4_only(
        "er", "its GatewaySubnet has no IPv6 prefix (IPv4-only ExpressRoute gateway)")
    out, into, four = compare(net, [
        Packet(AN, A6, ONPREM_HOST, TCP, 50004, 443, family=6),
        Packet(-1, ONPREM_HOST, A6, TCP, 40004, 443, family=6),
        Packet(AN, v4("10.0.1.4"), v4("10.50.1.1"), TCP, 50004, 443)])
    assert (out.disposition, out.deciding, out.nodes) == (
        D.GATEWAY_IPV4_ONLY, label, [AN, _gw(net)])
    assert (into.disposition, into.deciding, into.nodes) == (
        D.GATEWAY_IPV4_ONLY, label, [_gw(net)])
    assert four.disposition == D.EXITS_ON_PREMISES  # IPv4 is unaffected


def test_vpn_gateway_carries_ipv4_only() -> None:
    net = hub_and_spoke(gateway_type="Vpn")
    label = label_ipv4_only("er", "VPN gateways carry IPv4 traffic only")
    out, into = compare(net, [Packet(AN, A6, ONPREM_HOST, TCP, 50005, 443, family=6),
                              Packet(-1, ONPREM_HOST, A6, TCP, 40005, 443, family=6)])
    assert (out.disposition, out.deciding) == (D.GATEWAY_IPV4_ONLY, label)
    # from the local network gateway's IPv6 prefix: in at that gateway, which carries no IPv6
    assert (into.disposition, into.deciding, into.nodes) == (
        D.GATEWAY_IPV4_ONLY, label, [_gw(net)])


def test_ipv6_rows_of_an_active_active_gateway_pick_an_instance_by_the_folded_hash() -> None:
    # equal-cost rows (one per instance, "About active-active mode VPN gateways"): an IPv6 flow
    # picks one by the symmetric hash over its addresses folded to 32 bits (lb-hash-ipv6) in
    # both forms, then the VPN gateway carries no IPv6
    net = hub_and_spoke(gateway_type="Vpn", active_active=True)
    walks = compare(net, [Packet(AN, A6, ONPREM_HOST + i, TCP, 50100 + i, 443, family=6)
                          for i in range(8)])
    picked = {h["ecmp"] for w in walks for h in w.hops if h.get("ecmp")}
    assert picked == {"1 of 2", "2 of 2"}
    assert {w.disposition for w in walks} == {D.GATEWAY_IPV4_ONLY}


def test_many_flows_both_ways_in_split_batches() -> None:
    net = hub_and_spoke()
    packets = []
    for i in range(4):
        packets += [Packet(AN, A6, ONPREM_HOST + i, TCP, 51000 + i, 443, family=6),
                    Packet(-1, ONPREM_HOST + i, A6, TCP, 443, 51000 + i, family=6),
                    Packet(-1, ONPREM_HOST + i, B6, TCP, 41000 + i, 22, family=6)]
    walks = compare(net, packets, split=5)
    assert [w.disposition for w in walks] == [D.EXITS_ON_PREMISES, D.DELIVERED,
                                              D.DELIVERED] * 4


HOSTS6 = [A6, B6, ONPREM_HOST, ONPREM_HOST + 1, v6("2001:4860:4860::8888"),
          v6("fd00:a:0:1::99")]
HOSTS4 = [v4("10.0.1.4"), v4("10.1.1.4"), v4("10.50.1.1")]
packet6 = st.builds(lambda n, s, d, sp, dp: Packet(n, s, d, TCP, sp, dp, family=6),
                    st.integers(-1, 1), st.sampled_from(HOSTS6), st.sampled_from(HOSTS6),
                    st.sampled_from([22, 40000]), st.sampled_from([22, 443, 40000]))
packet4 = st.builds(lambda n, s, d, sp, dp: Packet(n, s, d, TCP, sp, dp),
                    st.integers(-1, 1), st.sampled_from(HOSTS4), st.sampled_from(HOSTS4),
                    st.sampled_from([22, 40000]), st.sampled_from([22, 443, 40000]))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.one_of(packet6, packet4), min_size=1, max_size=25),
       st.fixed_dictionaries({"gateway_type": st.sampled_from(["ExpressRoute", "Vpn"]),
                              "gateway_subnet6": st.booleans(), "transit": st.booleans(),
                              "udr": st.booleans(), "active_active": st.booleans()}),
       st.integers(1, 6))
def test_gateway_ipv6_batch_equals_reference(packets, params, split) -> None:
    """Random dual-stack traffic over the hub-and-spoke's gateway variants: the batch form
    equals the reference walk (dispositions, labels, paths, final addresses)."""
    net = hub_and_spoke(**params)
    owner = {A6: AN, B6: BN, v4("10.0.1.4"): AN, v4("10.1.1.4"): BN}
    packets = [p._replace(nic=owner.get(p.src, -1), time_ns=i) if i % 2
               else p._replace(time_ns=i) for i, p in enumerate(packets)]
    compare(net, packets, split)
