"""IPv6 packets through each engine stage, both forms (issue 17): the reference walk is the
oracle, every case also runs through the batch pipeline (ipv6_harness.compare).

Microsoft's pages behind the expectations:
* "IPv6 for Azure Virtual Network", https://learn.microsoft.com/azure/virtual-network/
  ip-services/ipv6-overview: dual-stack VNets and subnets, NSG rules and user-defined routes
  for IPv6, VNet peering carries IPv6;
* "Create an Azure Virtual Machine with a dual-stack network using the Azure portal",
  https://learn.microsoft.com/azure/virtual-network/ip-services/create-vm-dual-stack-ipv6-portal:
  a VM with one IPv4 and one IPv6 ip configuration reaches the IPv6 Internet with no outbound
  rule (the default AllowInternetOutBound);
* "Azure Virtual Network frequently asked questions", https://learn.microsoft.com/azure/
  virtual-network/virtual-networks-faq, "What protocols can I use within VNets?": multicast is
  blocked (ff00::/8 for IPv6);
* "Create, change, or delete a network interface", https://learn.microsoft.com/azure/
  virtual-network/virtual-network-network-interface, "Enable or disable IP forwarding".
Neighbour discovery: Microsoft documents none; assumption ipv6-nd-host (stages/platform.py).
"""

from __future__ import annotations

import pytest
from ipv6_harness import compare
from ipv6_topo import (
    A1,
    A1_4,
    A1_PUBLIC,
    A1N,
    A2,
    A2N,
    B1,
    B1_4,
    B1N,
    ICMPV6,
    NVAN,
    TCP,
    UDP,
    topo,
    v6,
)

from dataplane.dispositions import Disposition as D
from dataplane.engine.compile import build_network
from dataplane.engine.reference import Packet


@pytest.fixture(scope="module")
def net(make_topology):
    return build_network(make_topology(topo()))


def _one(net, packet: Packet) -> tuple[str, str, list[int]]:
    (w,) = compare(net, [packet])
    return w.disposition.name, w.deciding, w.nodes


def test_ipv6_route_through_the_nva_while_ipv4_goes_direct(net) -> None:
    # the UDR is an IPv6 prefix: only IPv6 packets take the NVA (route stage, IPv6 LPM)
    assert _one(net, Packet(A1N, A1, B1, TCP, 40000, 443, family=6)) == (
        "DELIVERED", "route System fd00:db8:1::/48 VNetPeering", [A1N, NVAN, B1N])
    assert _one(net, Packet(A1N, A1_4, B1_4, TCP, 40000, 443)) == (
        "DELIVERED", "route System 10.1.0.0/16 VNetPeering", [A1N, B1N])


def test_longer_ipv6_system_route_wins_over_a_shorter_udr(make_topology) -> None:
    # a /40 UDR is shorter than the peering's /48 system route: the peering route wins
    wide = build_network(make_topology(topo(udr_prefix="fd00:db8::/40")))
    assert _one(wide, Packet(A1N, A1, B1, TCP, 40000, 443, family=6)) == (
        "DELIVERED", "route System fd00:db8:1::/48 VNetPeering", [A1N, B1N])
    # ... and it carries what no system route holds: IPv6 beyond both VNets goes to the NVA
    # (the UDR prefix joins the VirtualNetwork tag, so the default NSG rules allow it), whose
    # subnet has no route for it but ::/0 Internet: unique-local space is not routed there
    got = _one(wide, Packet(A1N, A1, v6("fd00:db8:ff::1"), TCP, 40000, 443, family=6))
    assert got == ("NON_ROUTABLE", "route System ::/0 Internet", [A1N, NVAN])


def test_ipv6_nsg_rules_do_not_touch_ipv4(net) -> None:
    assert _one(net, Packet(B1N, B1, A1, TCP, 40000, 22, family=6)) == (
        "DENIED_IN", "nsg n1/securityRules/deny-ssh6", [B1N, A1N])
    assert _one(net, Packet(B1N, B1_4, A1_4, TCP, 40000, 22))[0] == "DELIVERED"
    assert _one(net, Packet(A1N, A1, B1, UDP, 40000, 53, family=6)) == (
        "DENIED_OUT", "nsg n1/securityRules/deny-udp6", [A1N])
    assert _one(net, Packet(A1N, A1_4, B1_4, UDP, 40000, 53))[0] == "DELIVERED"


def test_anti_spoofing_by_family(net) -> None:
    # a2's IPv6 address from a1: spoofed; a1's IPv6 address sent as itself: fine
    assert _one(net, Packet(A1N, A2, B1, TCP, 40000, 443, family=6)) == (
        "SPOOFED", "anti-spoofing a1", [A1N])
    # the NVA forwards (IP forwarding on): it may send a1's IPv6 address
    assert _one(net, Packet(NVAN, A1, B1, TCP, 40000, 443, family=6))[0] == "DELIVERED"


def test_ip_forwarding_off_stops_the_ipv6_nva(make_topology) -> None:
    off = build_network(make_topology(topo(ipf=False)))
    assert _one(off, Packet(A1N, A1, B1, TCP, 40000, 443, family=6)) == (
        "IP_FORWARDING_DISABLED", "ip-forwarding nva", [A1N, NVAN])


def test_forwarded_ipv6_needs_allow_forwarded_traffic(make_topology) -> None:
    # b1 -> a1 is direct (no UDR in the spoke); a1 -> b1 crosses from the NVA in the hub with
    # a1's (hub) source: originated in the hub, so allowForwardedTraffic is not needed
    closed = build_network(make_topology(topo(fwd=False)))
    assert _one(closed, Packet(A1N, A1, B1, TCP, 40000, 443, family=6))[0] == "DELIVERED"
    # a source outside the hub's IPv6 space, forwarded by the NVA: needs it
    got = _one(closed, Packet(NVAN, v6("fd00:db8:9::1"), B1, TCP, 40000, 443, family=6))
    assert got == ("FORWARDING_BLOCKED", "peering hub->spoke", [NVAN])


def test_ipv6_internet_egress_and_non_routable(net) -> None:
    # Microsoft's dual-stack tutorial: a VM with a public IPv6 reaches the IPv6 Internet with
    # no outbound rule; one without any IPv6 outbound method does not (ipv6-overview)
    assert _one(net, Packet(A1N, A1, v6("2001:4860:4860::8888"), TCP, 40000, 443, family=6)) \
        == ("EXITS_INTERNET", "route System ::/0 Internet", [A1N, net.internet_node])
    assert _one(net, Packet(A2N, A2, v6("2001:4860:4860::8888"), TCP, 40000, 443,
                            family=6))[0] == "NO_IPV6_INTERNET"


def test_neighbour_discovery_answered_by_host_other_multicast_blocked(net) -> None:
    ns = Packet(A1N, A1, v6("ff02::1:ff00:5"), ICMPV6, 135, 0, family=6)
    assert _one(net, ns) == ("EXITS_PLATFORM",
                             "host service IPv6 neighbour discovery (neighbour solicitation)",
                             [A1N])
    rs = Packet(A1N, v6("fe80::4"), v6("ff02::2"), ICMPV6, 133, 0, family=6)
    assert _one(net, rs)[0] == "SPOOFED"  # the link-local source is no configured address
    rs_own = Packet(A1N, A1, v6("ff02::2"), ICMPV6, 133, 0, family=6)
    assert _one(net, rs_own)[1] == "host service IPv6 neighbour discovery (router solicitation)"
    mld = Packet(A1N, A1, v6("ff02::16"), ICMPV6, 143, 0, family=6)
    assert _one(net, mld) == ("BLOCKED_IN_VNET", "blocked in VNet: multicast", [A1N])
    echo = Packet(A1N, A1, B1, ICMPV6, 128, 0, family=6)  # echo request: routed as usual
    assert _one(net, echo)[0] == "DELIVERED"


def test_no_nic_at_an_ipv6_address_of_the_vnet(net) -> None:
    assert _one(net, Packet(A1N, A1, v6("fd00:db8:0:1::99"), TCP, 40000, 443, family=6)) == (
        "NO_DESTINATION", "route System fd00:db8::/48 VnetLocal", [A1N])


def test_ipv6_from_outside_is_unmapped_unless_it_answers_a_tracked_flow(net) -> None:
    # a2 has no public IPv6: nothing from the Internet reaches it
    name, label, nodes = _one(net, Packet(-1, v6("2001:db8::1"), A2, TCP, 40000, 22, family=6))
    assert (name, nodes) == ("UNMAPPED", []) and "IPv6" in label
    google = v6("2001:4860:4860::8888")
    out = Packet(A1N, A1, google, TCP, 40000, 443, family=6)
    back = Packet(-1, google, A1_PUBLIC, TCP, 443, 40000, family=6, time_ns=1)
    other = Packet(-1, google, A1_PUBLIC, TCP, 443, 40001, family=6, time_ns=2)  # no flow
    walks = compare(net, [out, back, other], split=2)
    assert [(w.disposition.name, w.nodes) for w in walks] == [
        ("EXITS_INTERNET", [A1N, net.internet_node]), ("DELIVERED", [A1N]),
        ("DENIED_IN", [A1N])]  # a1's public IPv6 lets it in, n1's DenyAllInBound stops it
    assert walks[0].out == (A1_PUBLIC, google, 40000, 443)  # SNAT to its public IPv6
    assert walks[1].deciding == "ingress internet to a1 (public IP)"
    assert walks[1].out == (google, A1, 443, 40000)


def test_ipv6_reply_skips_the_nsg_and_ipv4_tuple_never_answers_it(net) -> None:
    fwd = Packet(A1N, A1, B1, TCP, 40000, 22, family=6)
    reply = Packet(B1N, B1, A1, TCP, 22, 40000, family=6, time_ns=1)
    walks = compare(net, [fwd, reply], split=1)
    assert [w.disposition for w in walks] == [D.DELIVERED, D.DELIVERED]
    assert walks[1].reply_of is not None
    # the same tuple in IPv4 with the low bits of the IPv6 addresses opens nothing for IPv6
    low = Packet(A1N, A1 & 0xFFFFFFFF, B1 & 0xFFFFFFFF, TCP, 40000, 22)
    assert compare(net, [low])[0].disposition == D.SPOOFED


def test_ipv6_load_balancer_frontend_balances(make_topology) -> None:
    """An IPv6 ILB frontend balances to its backends' IPv6 addresses (test_ipv6_lb.py has
    the cases); a free IPv6 address of the subnet stays NO_DESTINATION."""
    text = topo() + """load_balancers:
  ilb6: {sku: Standard, frontend: {subnet: spoke/s, ip: "fd00:db8:1:1::100"}, backends: [b1],
         rules: [{name: https, protocol: Tcp, frontend_port: 443, backend_port: 443}]}
"""
    lbnet = build_network(make_topology(text))
    assert _one(lbnet, Packet(A1N, A1, v6("fd00:db8:1:1::100"), TCP, 40000, 443, family=6)) == (
        "DELIVERED", "lb ilb6/https", [A1N, NVAN, B1N])
    # a free IPv6 address of the same subnet is still NO_DESTINATION
    assert _one(lbnet, Packet(A1N, A1, v6("fd00:db8:1:1::101"), TCP, 40000, 443,
                              family=6))[0] == "NO_DESTINATION"


def test_dual_stack_tutorial_vm_reaches_the_ipv6_internet_through_the_emulator() -> None:
    """"Create an Azure Virtual Machine with a dual-stack network using the Azure portal"
    (https://learn.microsoft.com/azure/virtual-network/ip-services/
    create-vm-dual-stack-ipv6-portal, "Network interface configuration"): the tutorial's
    IPv6 ip configuration carries a public IPv6 address (myPublicIP-IPv6, Standard;
    fixture dual_stack_public_ipv6.json) and reaches the IPv6 Internet (route ::/0 Internet,
    the default AllowInternetOutBound) with that address as its source. Without it
    (dual_stack_minimal.json) IPv6 Internet egress ends NO_IPV6_INTERNET ("only established
    when you explicitly request it", ipv6-overview) while IPv4 leaves by default outbound
    access. Scapy packets through Emulator.send, the IPv6 source NIC found by its address."""
    from pathlib import Path

    from scapy.layers.inet import IP
    from scapy.layers.inet import TCP as TCP_
    from scapy.layers.inet6 import IPv6

    from dataplane.control.public_addresses import public_address
    from dataplane.engine import Emulator
    from dataplane.load import load

    fixtures = Path(__file__).parents[1] / "load" / "fixtures" / "arm"
    frames = [IPv6(src="ace:cab:deca:deed::4", dst="2001:4860:4860::8888") / TCP_(
        sport=50000, dport=443), IP(src="10.0.0.4", dst="8.8.8.8") / TCP_(sport=50000,
                                                                          dport=443)]
    out = Emulator(load(fixtures / "dual_stack_minimal.json")).send(frames)
    assert out.dispositions() == [D.NO_IPV6_INTERNET, D.EXITS_INTERNET]
    tutorial = load(fixtures / "dual_stack_public_ipv6.json")
    out = Emulator(tutorial).send(frames[:1])
    assert out.dispositions() == [D.EXITS_INTERNET]
    assert out.row(0)["deciding"] == "route System ::/0 Internet"
    assert out.row(0)["hops"].split(" > ")[0] == "VM0"
    public = public_address(tutorial, tutorial.public_ip_addresses[0])
    assert out.row(0)["final_src"] == str(public)  # translated 1:1 to the public IPv6 address
