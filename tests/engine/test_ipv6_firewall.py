"""IPv6 through a dual-stack Azure Firewall (issue 17), both engine forms: network rules on
IPv6 prefixes, sessions for replies, application rules named IPV6_NOT_MODELLED, the preview
caveat; the reference walk is the oracle, every case also runs through the batch pipeline
(ipv6_harness.compare).

Microsoft's page behind the expectations: "Deploy Azure Firewall in dual stack mode
(preview)", https://learn.microsoft.com/azure/firewall/deploy-dual-stack-firewall,
"Supported scenarios and limitations": "Azure Firewall fully supports IPv6 traffic in network
rules"; UDRs and IPv6 address spaces; IPv6-only firewalls are not supported.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ipv6_harness import compare
from ipv6_topo import TCP, UDP, v6

from dataplane.dispositions import Disposition as D
from dataplane.engine.compile import build_network
from dataplane.engine.reference import Packet

TOPO = """
vnets:
  hub:
    region: westeurope
    address_space: [10.0.0.0/16, "fd00:db8:0::/48"]
    subnets:
      AzureFirewallSubnet: {prefix: 10.0.0.0/26, prefix6: "fd00:db8:0:f::/64"}
  spoke1:
    region: westeurope
    address_space: [10.1.0.0/16, "fd00:db8:1::/48"]
    subnets:
      s: {prefix: 10.1.1.0/24, prefix6: "fd00:db8:1:1::/64", route_table: rt1}
  spoke2:
    region: westeurope
    address_space: [10.2.0.0/16, "fd00:db8:2::/48"]
    subnets:
      s: {prefix: 10.2.1.0/24, prefix6: "fd00:db8:2:1::/64", route_table: rt2}
peerings:
  - {between: [hub, spoke1], allow_forwarded_traffic: true}
  - {between: [hub, spoke2], allow_forwarded_traffic: true}
route_tables:
  rt1:
    routes:
      - {name: to-spoke2-v6, prefix: "fd00:db8:2::/48", next_hop: VirtualAppliance,
         next_hop_ip: "fd00:db8:0:f::4"}
      - {name: to-spoke2-v4, prefix: 10.2.0.0/16, next_hop: VirtualAppliance,
         next_hop_ip: 10.0.0.4}
  rt2:
    routes:
      - {name: to-spoke1-v6, prefix: "fd00:db8:1::/48", next_hop: VirtualAppliance,
         next_hop_ip: "fd00:db8:0:f::4"}
      - {name: to-spoke1-v4, prefix: 10.1.0.0/16, next_hop: VirtualAppliance,
         next_hop_ip: 10.0.0.4}
firewalls:
  fw:
    subnet: hub/AzureFirewallSubnet
    ip: 10.0.0.4
    ip6: "fd00:db8:0:f::4"
    collections:
      - {name: allow, priority: 100, action: Allow, rules: [
          {name: https6, protocols: [TCP], source: "fd00:db8:1::/48",
           destination: "fd00:db8:2:1::/64", ports: "443"},
          {name: https4, protocols: [TCP], source: 10.1.0.0/16, destination: 10.2.0.0/16,
           ports: "443"},
          {name: dns-any, protocols: [UDP], source: "*", destination: "*", ports: "53"}]}
      - {name: deny, priority: 200, action: Deny, rules: [
          {name: ssh6, protocols: [TCP], source: "*", destination: "fd00:db8:2::/48",
           ports: "22"}]}
    application_collections:
      - {name: web, priority: 300, action: Allow, rules: [
          {name: any-web, source: "*", protocols: ["Https:8443"], fqdns: ["*.example.com"]}]}
vms:
  a: {subnet: spoke1/s, ip: 10.1.1.4, ip6: "fd00:db8:1:1::4", size: Standard_D2s_v3}
  b: {subnet: spoke2/s, ip: 10.2.1.4, ip6: "fd00:db8:2:1::4", size: Standard_D2s_v3}
"""
A, B = v6("fd00:db8:1:1::4"), v6("fd00:db8:2:1::4")
A4, B4 = 0x0A010104, 0x0A020104
AN, BN = 0, 1


@pytest.fixture(scope="module")
def net(make_topology):
    return build_network(make_topology(TOPO))


def _one(net, p: Packet):
    (w,) = compare(net, [p])
    return w.disposition, w.deciding, w.nodes


def test_firewall_loads_its_ipv6_address_and_routes_reach_it(net) -> None:
    fw = net.firewalls[0]
    assert str(fw.private_ip_address) == "10.0.0.4"
    assert str(fw.private_ip_address6) == "fd00:db8:0:f::4"
    fw_node = len(net.nics)
    d, label, nodes = _one(net, Packet(AN, A, B, TCP, 40000, 443, family=6))
    assert (d, label, nodes) == (D.DELIVERED, "route System fd00:db8:2::/48 VNetPeering",
                                 [AN, fw_node, BN])


def test_ipv6_network_rules_by_prefix_first_match_default_deny(net) -> None:
    fw_node = len(net.nics)
    assert _one(net, Packet(AN, A, B, TCP, 40000, 22, family=6)) == (
        D.FIREWALL_DENIED, "firewall fw/deny/ssh6", [AN, fw_node])
    assert _one(net, Packet(AN, A, B, UDP, 40000, 53, family=6))[0] == D.DELIVERED
    # no rule for TCP 80: default deny; the IPv4 rule https4 never matches an IPv6 packet
    assert _one(net, Packet(AN, A, B, TCP, 40000, 80, family=6)) == (
        D.FIREWALL_DENIED, "firewall fw/default-deny", [AN, fw_node])
    # from spoke2 to spoke1 on 443: https6 names spoke1 as the source only
    assert _one(net, Packet(BN, B, A, TCP, 40000, 443, family=6))[1] == "firewall fw/default-deny"
    # IPv4 is unchanged: its own rule
    assert _one(net, Packet(AN, A4, B4, TCP, 40000, 443))[0] == D.DELIVERED


def test_ipv6_reply_holds_a_session(net) -> None:
    first = Packet(AN, A, B, TCP, 40000, 443, family=6)
    reply = Packet(BN, B, A, TCP, 443, 40000, family=6)
    walks = compare(net, [first, reply])
    assert walks[1].disposition == D.DELIVERED
    hop = next(h for h in walks[1].hops if h.get("kind") == "AzureFirewall" or
               h.get("session"))
    assert hop["session"] == "established"
    # alone, the same packet is a new flow the rules deny
    assert compare(net, [reply])[0].disposition == D.FIREWALL_DENIED


def test_application_rules_on_ipv6_are_named_not_modelled(net) -> None:
    d, label, _ = _one(net, Packet(AN, A, B, TCP, 40000, 8443, family=6))
    assert d == D.IPV6_NOT_MODELLED
    assert label == ("azure firewall fw: IPv6 through application rules not modelled "
                     "(preview: IPv6 in network rules only)")


def test_preview_caveat_on_answers(net) -> None:
    (w,) = compare(net, [Packet(AN, A, B, TCP, 40000, 443, family=6)])
    caveats = net.caveats_of(w.nodes)
    assert any(c.startswith("firewall-ipv6-preview: firewall fw is dual stack") for c in caveats)
    hop = next(h for h in w.hops if "caveats" in h)
    assert any("preview" in c for c in hop["caveats"])


def test_ipv4_only_firewall_has_no_preview_caveat_and_ipv6_route_is_unreachable(
        make_topology) -> None:
    net = build_network(make_topology(TOPO.replace('    ip6: "fd00:db8:0:f::4"\n', "")))
    assert net.firewalls[0].private_ip_address6 is None
    assert not any("ipv6-preview" in c for c in net.firewall_rules[0].caveats)
    assert _one(net, Packet(AN, A, B, TCP, 40000, 443, family=6))[0] == D.NEXT_HOP_UNREACHABLE


ADDRS = [A, B, v6("fd00:db8:2:1::9"), v6("fd00:db8:1:1::9"), v6("fd00:db8:0:f::4")]
packet6 = st.builds(lambda n, s, d, pr, sp, dp: Packet(n, s, d, pr, sp, dp, family=6),
                    st.sampled_from([AN, BN]), st.sampled_from(ADDRS), st.sampled_from(ADDRS),
                    st.sampled_from([TCP, UDP, 58]), st.sampled_from([22, 53, 443, 40000]),
                    st.sampled_from([22, 53, 80, 443, 8443, 40000]))
packet4 = st.builds(lambda n, s, d, pr, sp, dp: Packet(n, s, d, pr, sp, dp, family=4),
                    st.sampled_from([AN, BN]), st.sampled_from([A4, B4]),
                    st.sampled_from([A4, B4]), st.sampled_from([TCP, UDP]),
                    st.sampled_from([443, 40000]), st.sampled_from([53, 443, 40000]))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(packet6, packet6, packet4), min_size=1, max_size=24),
       st.integers(1, 5))
def test_ipv6_firewall_batch_equals_reference(net, packets, split) -> None:
    """Reference == batch through the dual-stack firewall: each packet followed by its
    reply (sessions), both families, split batches."""
    flows = []
    for p in packets:
        flows += [p, p._replace(nic=BN if p.nic == AN else AN, src=p.dst, dst=p.src,
                                sport=p.dport, dport=p.sport)]
    compare(net, [p._replace(time_ns=i) for i, p in enumerate(flows)], split)


def test_ipv6_to_the_firewalls_own_address_is_named(net) -> None:
    d, label, nodes = _one(net, Packet(AN, A, v6("fd00:db8:0:f::4"), TCP, 40000, 443, family=6))
    assert (d, label) == (D.IPV6_NOT_MODELLED, "azure firewall fw: IPv6 to its own address "
                          "(DNAT rules, preview) not modelled")
    # a free IPv6 address of the firewall's subnet stays NO_DESTINATION
    assert _one(net, Packet(AN, A, v6("fd00:db8:0:f::5"), TCP, 40000, 443, family=6))[0] == \
        D.NO_DESTINATION
