"""The IPv6 Internet rule at the forwarding node (issue 17 leftover 2, v6fix), both engine forms
(ipv6_harness.compare: reference walk == batch answer).

"IPv6 connectivity to the Internet is only established when you explicitly request it in your
deployment" ("What is IPv6 for Azure Virtual Network?", https://learn.microsoft.com/azure/
virtual-network/ip-services/ipv6-overview, "Benefits"): a packet an NVA forwards to the IPv6
Internet meets the NVA NIC's outbound method; a dual-stack Azure Firewall needs a public IPv6
address ("Deploy Azure Firewall in dual stack mode (preview)", https://learn.microsoft.com/
azure/firewall/deploy-dual-stack-firewall; assumption firewall-ipv6-internet).
"""

from __future__ import annotations

import pytest
from ipv6_harness import compare
from ipv6_topo import A1, A1N, NVAN, TCP, UDP, topo, v6
from test_ipv6_firewall import TOPO as FIREWALL_TOPO

from dataplane.dispositions import Disposition as D
from dataplane.engine.compile import build_network
from dataplane.engine.reference import Packet
from dataplane.engine.stages.public_edge6 import (
    FIREWALL_IPV6_INTERNET,
    firewall_no_internet_label,
    no_internet_label,
)

GOOGLE6 = v6("2001:4860:4860::8888")
SPOKE1_A = v6("fd00:db8:1:1::4")


def test_an_nva_without_public_ipv6_stops_what_it_forwards(make_topology) -> None:
    # a1 has a public IPv6 but its subnet sends ::/0 to the NVA, which has none
    net = build_network(make_topology(topo(udr_prefix="::/0")))
    (w,) = compare(net, [Packet(A1N, A1, GOOGLE6, TCP, 40000, 443, family=6)])
    assert (w.disposition, w.deciding, w.nodes) == (
        D.NO_IPV6_INTERNET, no_internet_label("nva"), [A1N, NVAN])


def test_an_nva_with_a_public_ipv6_lets_it_out_keeping_the_source(make_topology) -> None:
    text = topo(udr_prefix="::/0").replace(
        'nva: {subnet: hub/nva, ip: 10.0.2.4, ip6: "fd00:db8:0:2::4",',
        'nva: {subnet: hub/nva, ip: 10.0.2.4, ip6: "fd00:db8:0:2::4", public_ip6: nva-ip6,'
    ).replace("public_ips:\n", 'public_ips:\n  nva-ip6: {version: IPv6, address: '
                               '"2001:db8:e0::99"}\n')
    net = build_network(make_topology(text))
    (w,) = compare(net, [Packet(A1N, A1, GOOGLE6, TCP, 40001, 443, family=6)])
    assert (w.disposition, w.nodes) == (D.EXITS_INTERNET, [A1N, NVAN, net.internet_node])
    assert w.out is None or w.out[0] == A1  # forwarded: no translation modelled


def _firewall_topology(public_ip6: bool) -> str:
    text = FIREWALL_TOPO.replace(
        "      - {name: to-spoke2-v6,",
        '      - {name: default6, prefix: "::/0", next_hop: VirtualAppliance,\n'
        '         next_hop_ip: "fd00:db8:0:f::4"}\n      - {name: to-spoke2-v6,', 1)
    pips = ["fw-ip4", *(["fw-ip6"] if public_ip6 else [])]
    text = text.replace("firewalls:\n  fw:\n", f"public_ips:\n  fw-ip4: {{}}\n"
                        f"  fw-ip6: {{version: IPv6}}\nfirewalls:\n  fw:\n"
                        f"    public_ips: [{', '.join(pips)}]\n", 1)
    return text


@pytest.mark.parametrize("public_ip6", [False, True])
def test_a_dual_stack_firewall_needs_a_public_ipv6(make_topology, public_ip6: bool) -> None:
    net = build_network(make_topology(_firewall_topology(public_ip6)))
    fw_node = net.node_names.index("fw")
    (w,) = compare(net, [Packet(0, SPOKE1_A, GOOGLE6, UDP, 40002, 53, family=6)])
    if public_ip6:
        assert (w.disposition, w.nodes) == (D.EXITS_INTERNET, [0, fw_node, net.internet_node])
    else:
        assert (w.disposition, w.deciding, w.nodes) == (
            D.NO_IPV6_INTERNET, firewall_no_internet_label("fw"), [0, fw_node])


def test_ipv4_is_untouched(make_topology) -> None:
    # the same VM's IPv4 default route is the system one: it leaves directly
    net = build_network(make_topology(_firewall_topology(False)))
    (w,) = compare(net, [Packet(0, 0x0A010104, 0x08080808, 17, 40003, 53)])
    assert (w.disposition, w.nodes) == (D.EXITS_INTERNET, [0, net.internet_node])
    assert FIREWALL_IPV6_INTERNET.startswith("firewall-ipv6-internet:")
