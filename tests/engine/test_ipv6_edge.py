"""IPv6 at the public edge, both forms (issue 17, v6edge): instance-level public IPv6 addresses
in and out, and the IPv6 Internet rule. The reference walk is the oracle; every case also runs
through the batch pipeline (ipv6_harness.compare: dispositions, labels, paths, final halves).

Microsoft's pages behind the expectations:
* "What is IPv6 for Azure Virtual Network?", https://learn.microsoft.com/azure/virtual-network/
  ip-services/ipv6-overview, "Benefits": "IPv6 connectivity to the Internet is only established
  when you explicitly request it in your deployment"; "Capabilities": "Instance-level public IP
  provides IPv6 Internet connectivity directly to individual VMs";
* "Default outbound access in Azure", https://learn.microsoft.com/azure/virtual-network/
  ip-services/default-outbound-access: the default outbound address is IPv4;
* "Public IP addresses", https://learn.microsoft.com/azure/virtual-network/ip-services/
  public-ip-addresses, "SKU": Standard closed to inbound until an NSG allows it, Basic open.
"""

from __future__ import annotations

import ipaddress

import pytest
from ipv6_harness import compare

from dataplane.control.outbound import INSTANCE_PUBLIC_IP, NONE
from dataplane.control.outbound6 import outbound_access6
from dataplane.control.public_addresses import POOL_V6, public_address
from dataplane.dispositions import Disposition as D
from dataplane.engine.compile import build_network
from dataplane.engine.reference import Packet
from dataplane.engine.stages import public_edge6

TOPO = """
vnets:
  v:
    region: westeurope
    address_space: [10.0.0.0/16, "fd00:db8:0::/48"]
    subnets:
      web: {prefix: 10.0.1.0/24, prefix6: "fd00:db8:0:1::/64", nsg: web-nsg}
      open: {prefix: 10.0.2.0/24, prefix6: "fd00:db8:0:2::/64"}
nsgs:
  web-nsg:
    rules:
      - {name: allow-https6, priority: 100, direction: Inbound, access: Allow, protocol: Tcp,
         source: "2000::/3", destination: "*", destination_ports: "443"}
public_ips:
  web1-ip6: {version: IPv6, address: "2001:db8:e0::10"}
  std-ip6: {version: IPv6}
  basic-ip6: {version: IPv6, sku: Basic}
vms:
  web1: {subnet: v/web, ip: 10.0.1.4, ip6: "fd00:db8:0:1::4", public_ip6: web1-ip6,
         size: Standard_D2s_v3}
  web2: {subnet: v/web, ip: 10.0.1.5, ip6: "fd00:db8:0:1::5", size: Standard_D2s_v3}
  std1: {subnet: v/open, ip: 10.0.2.4, ip6: "fd00:db8:0:2::4", public_ip6: std-ip6,
         size: Standard_D2s_v3}
  basic1: {subnet: v/open, ip: 10.0.2.5, ip6: "fd00:db8:0:2::5", public_ip6: basic-ip6,
           size: Standard_D2s_v3}
"""
WEB1N, WEB2N, STDN, BASICN = 0, 1, 2, 3
TCP = 6


def v6(text: str) -> int:
    return int(ipaddress.IPv6Address(text))


WEB1, WEB2, STD, BASIC = (v6(f"fd00:db8:0:{s}::{h}") for s, h in ((1, 4), (1, 5), (2, 4),
                                                                      (2, 5)))
WEB1_PUBLIC = v6("2001:db8:e0::10")
GOOGLE6 = v6("2001:4860:4860::8888")


@pytest.fixture(scope="module")
def net(make_topology):
    return build_network(make_topology(TOPO))


def _address(net, name: str) -> int:
    pip = next(p for p in net.topology.public_ip_addresses if p.name == name)
    return public_address(net.topology, pip).value


def test_outbound6_methods_follow_the_ipv6_configuration(net) -> None:
    topology = net.topology
    by_name = {n.name: n for n in topology.network_interfaces}
    web1, web2 = by_name["web1-nic"], by_name["web2-nic"]
    config6 = next(c for c in web1.ip_configurations if c.private_ip_address_version == "IPv6")
    got = outbound_access6(topology, web1, config6)
    assert (got.method, [str(a) for a in got.public_addresses]) == (
        INSTANCE_PUBLIC_IP, ["2001:db8:e0::10"])
    config6 = next(c for c in web2.ip_configurations if c.private_ip_address_version == "IPv6")
    assert outbound_access6(topology, web2, config6).method == NONE
    # a template's IPv6 public IP without ipAddress gets one offline, inside the IPv6 pool
    chosen = ipaddress.IPv6Address(_address(net, "std-ip6"))
    assert chosen in ipaddress.IPv6Network(str(POOL_V6))


def test_egress_through_an_instance_public_ipv6_takes_its_address(net) -> None:
    (w,) = compare(net, [Packet(WEB1N, WEB1, GOOGLE6, TCP, 50000, 443, family=6)])
    assert (w.disposition, w.deciding) == (D.EXITS_INTERNET, "route System ::/0 Internet")
    assert w.out == (WEB1_PUBLIC, GOOGLE6, 50000, 443)  # 1:1, the port kept


def test_egress_without_a_public_ipv6_is_dropped(net) -> None:
    (w,) = compare(net, [Packet(WEB2N, WEB2, GOOGLE6, TCP, 50000, 443, family=6)])
    assert w.disposition == D.NO_IPV6_INTERNET
    assert w.deciding == public_edge6.no_internet_label("web2")
    assert w.nodes == [WEB2N]
    # its IPv4 Internet access is untouched (default outbound access is IPv4)
    (w4,) = compare(net, [Packet(WEB2N, int(ipaddress.IPv4Address("10.0.1.5")),
                                 int(ipaddress.IPv4Address("8.8.8.8")), TCP, 50000, 443)])
    assert w4.disposition == D.EXITS_INTERNET


def test_reply_of_an_egress_flow_comes_back_through_the_public_ipv6(net) -> None:
    out, back = compare(net, [
        Packet(WEB1N, WEB1, GOOGLE6, TCP, 50001, 443, family=6),
        Packet(-1, GOOGLE6, WEB1_PUBLIC, TCP, 443, 50001, family=6)])
    assert out.disposition == D.EXITS_INTERNET
    assert (back.disposition, back.nodes) == (D.DELIVERED, [WEB1N])
    assert back.out == (GOOGLE6, WEB1, 443, 50001)  # un-NATed to the private address


def test_inbound_to_the_public_ipv6_is_dnated_and_meets_the_nsg(net) -> None:
    https, ssh = compare(net, [
        Packet(-1, GOOGLE6, WEB1_PUBLIC, TCP, 40000, 443, family=6),
        Packet(-1, GOOGLE6, WEB1_PUBLIC, TCP, 40000, 22, family=6)])
    assert (https.disposition, https.nodes) == (D.DELIVERED, [WEB1N])
    assert https.deciding == "ingress internet to web1 (public IP)"
    assert https.out == (GOOGLE6, WEB1, 40000, 443)
    assert ssh.disposition == D.DENIED_IN  # web-nsg allows 443 only (DenyAllInBound)


def test_reply_of_an_inbound_flow_leaves_from_the_public_ipv6(net) -> None:
    _, reply = compare(net, [
        Packet(-1, GOOGLE6, WEB1_PUBLIC, TCP, 40001, 443, family=6),
        Packet(WEB1N, WEB1, GOOGLE6, TCP, 443, 40001, family=6)])
    assert reply.disposition == D.EXITS_INTERNET
    assert reply.out == (WEB1_PUBLIC, GOOGLE6, 443, 40001)  # un-DNAT at its host


def test_captured_after_translation_to_the_private_address(net) -> None:
    # a capture taken inside the VM shows its private address: taken as already translated
    (w,) = compare(net, [Packet(-1, GOOGLE6, WEB1, TCP, 40002, 443, family=6)])
    assert (w.disposition, w.nodes) == (D.DELIVERED, [WEB1N])
    # ... but a NIC without a public IPv6 is not reachable from the Internet
    (w,) = compare(net, [Packet(-1, GOOGLE6, WEB2, TCP, 40002, 443, family=6)])
    assert w.disposition == D.UNMAPPED


def test_standard_public_ipv6_without_nsg_is_closed_basic_is_open(net) -> None:
    std, basic, std_private = compare(net, [
        Packet(-1, GOOGLE6, _address(net, "std-ip6"), TCP, 40003, 443, family=6),
        Packet(-1, GOOGLE6, _address(net, "basic-ip6"), TCP, 40003, 443, family=6),
        Packet(-1, GOOGLE6, STD, TCP, 40003, 443, family=6)])
    assert (std.disposition, std.deciding) == (
        D.PUBLIC_IP_CLOSED, "public IP std-ip6 (Standard): closed to inbound, no NSG allows it")
    assert (basic.disposition, basic.nodes) == (D.DELIVERED, [BASICN])
    assert std_private.disposition == D.PUBLIC_IP_CLOSED


def test_closed_public_ipv6_still_lets_its_own_flows_replies_in(net) -> None:
    _, back = compare(net, [
        Packet(STDN, STD, GOOGLE6, TCP, 50002, 443, family=6),
        Packet(-1, GOOGLE6, _address(net, "std-ip6"), TCP, 443, 50002, family=6)])
    assert (back.disposition, back.nodes) == (D.DELIVERED, [STDN])


def test_non_internet_ipv6_source_from_outside_stays_unmapped(net) -> None:
    (w,) = compare(net, [Packet(-1, v6("fd99::1"), WEB1_PUBLIC, TCP, 40004, 443, family=6)])
    assert w.disposition == D.UNMAPPED


def test_batch_split_keeps_the_flow_state(net) -> None:
    packets = [Packet(WEB1N, WEB1, GOOGLE6, TCP, 50010 + i, 443, family=6) for i in range(3)]
    packets += [Packet(-1, GOOGLE6, WEB1_PUBLIC, TCP, 443, 50010 + i, family=6)
                for i in range(3)]
    walks = compare(net, packets, split=2)
    assert [w.disposition for w in walks] == [D.EXITS_INTERNET] * 3 + [D.DELIVERED] * 3


def test_reply_captured_inside_the_vm_answers_its_snated_flow(net) -> None:
    # a capture taken at the VM shows the reply already translated back (conntrack answers
    # reverse(original) of a source-translated flow, as for IPv4): no NSG, delivered
    _, back, other = compare(net, [
        Packet(WEB1N, WEB1, GOOGLE6, TCP, 50020, 443, family=6),
        Packet(-1, GOOGLE6, WEB1, TCP, 443, 50020, family=6),
        Packet(-1, GOOGLE6, WEB1, TCP, 443, 50021, family=6)])  # answers no flow
    assert (back.disposition, back.nodes) == (D.DELIVERED, [WEB1N])
    assert other.disposition == D.DENIED_IN  # web-nsg admits new flows to 443 only


def test_ipv6_fragments_leaving_by_a_public_ipv6_are_not_default_outbound() -> None:
    from scapy.layers.inet import UDP
    from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, fragment6
    from scapy.packet import Raw

    from dataplane.cli import demo_dual_stack as demo
    from dataplane.engine import Emulator

    datagram = (IPv6(src="fd00:db8:1:1::4", dst="2001:4860:4860::8888") / IPv6ExtHdrFragment()
                / UDP(sport=5353, dport=53) / Raw(b"x" * 3000))
    out = Emulator(demo.demo_topology()).send(fragment6(datagram, 1280), source="web1")
    assert set(out.dispositions()) == {D.EXITS_INTERNET}  # through web1's public IPv6


def test_an_ipv6_public_ip_alone_keeps_ipv4_default_outbound_access(net) -> None:
    # assumption default-outbound-ipv6-public-ip (control/outbound.py): Microsoft is silent
    from dataplane.control.outbound import DEFAULT_OUTBOUND, outbound_access

    web1 = next(n for n in net.topology.network_interfaces if n.name == "web1-nic")
    got = outbound_access(net.topology, web1)
    assert got.method == DEFAULT_OUTBOUND
    assert "default-outbound-ipv6-public-ip" in {a.key for a in got.assumptions}
    (w,) = compare(net, [Packet(WEB1N, int(ipaddress.IPv4Address("10.0.1.4")),
                                int(ipaddress.IPv4Address("8.8.8.8")), TCP, 50030, 443)])
    assert w.disposition == D.EXITS_INTERNET
