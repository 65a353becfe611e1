"""Public load balancer IPv6 frontends, both forms (issue 17, v6edge): new flows from the IPv6
Internet to a Standard load balancer's IPv6 frontend are balanced to the IPv6 ip configurations
of its backend pool, DNATed, and meet the backend's inbound NSG; replies leave from the frontend
address; the backends reach the IPv6 Internet through it. The reference walk is the oracle,
every case also runs through the batch pipeline (ipv6_harness.compare).

Microsoft's pages behind the expectations:
* "Deploy an IPv6 dual stack application in Azure virtual network - PowerShell" / "- CLI"
  (https://learn.microsoft.com/azure/load-balancer/
  virtual-network-ipv4-ipv6-dual-stack-standard-load-balancer-powershell): a Standard load
  balancer with an IPv4 and an IPv6 public frontend, one backend pool per family (the NICs'
  IPv6 ip configurations in the IPv6 pool), a load-balancing rule per family, NSG rules
  admitting the traffic;
* "What is IPv6 for Azure Virtual Network?", https://learn.microsoft.com/azure/
  virtual-network/ip-services/ipv6-overview, "Capabilities": the Standard IPv6 public load
  balancer, "Load balancing doesn't perform any protocol translation (no NAT64)";
* "Public IP addresses", https://learn.microsoft.com/azure/virtual-network/ip-services/
  public-ip-addresses, "SKU": Standard closed to inbound until an NSG allows it.
"""

from __future__ import annotations

import ipaddress

from gateway_topo import RG, Arm
from hypothesis import given, settings
from hypothesis import strategies as st
from ipv6_harness import compare

from dataplane.dispositions import Disposition as D
from dataplane.engine.compile import build_network
from dataplane.engine.reference import Packet

TCP = 6
LB = f"{RG}/loadBalancers/lb"


def v6(text: str) -> int:
    return int(ipaddress.IPv6Address(text))


FRONT6 = v6("2001:db8:e0::80")
CLIENT = v6("2001:4860:4860::8888")
VM1, VM2 = v6("fd00:a:0:1::4"), v6("fd00:a:0:1::5")
VM1N, VM2N = 0, 1


def dual_stack_lb(*, nsg: bool = True, nat_rule: bool = True):
    """The tutorial's shape: VNet A (10.0.0.0/16 + fd00:a::/48), subnet s (NSG allowing TCP 80
    in, when `nsg`), two VMs whose IPv6 ip configurations are in pool be6; Standard load
    balancer lb, frontend fe6 on public IPv6 2001:db8:e0::80, rule http6 TCP 80 -> 80 on
    be6 and (when `nat_rule`) an inbound NAT rule ssh6 TCP 50001 -> vm1:22."""
    arm = Arm()
    if nsg:
        arm.add("networkSecurityGroups", "web", {"securityRules": [{
            "name": "allow-http", "properties": {
                "priority": 100, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
                "sourceAddressPrefix": "*", "sourcePortRange": "*",
                "destinationAddressPrefix": "*", "destinationPortRange": "80"}}]})
    arm.add("virtualNetworks", "A", {
        "addressSpace": {"addressPrefixes": ["10.0.0.0/16", "fd00:a::/48"]},
        "subnets": [{"name": "s", "id": f"{RG}/virtualNetworks/A/subnets/s", "properties": {
            "addressPrefixes": ["10.0.1.0/24", "fd00:a:0:1::/64"],
            **({"networkSecurityGroup": {"id": f"{RG}/networkSecurityGroups/web"}}
               if nsg else {})}}],
        "virtualNetworkPeerings": []})
    arm.add("publicIPAddresses", "lb-ip6", {
        "publicIPAddressVersion": "IPv6", "publicIPAllocationMethod": "Static",
        "ipAddress": "2001:db8:e0::80"}, sku={"name": "Standard"})
    subnet = {"id": f"{RG}/virtualNetworks/A/subnets/s"}
    for name, ip4, ip6 in (("vm1", "10.0.1.4", "fd00:a:0:1::4"),
                           ("vm2", "10.0.1.5", "fd00:a:0:1::5")):
        arm.add("networkInterfaces", name, {"ipConfigurations": [
            {"name": "v4", "properties": {"privateIPAddress": ip4, "primary": True,
                                          "privateIPAllocationMethod": "Static",
                                          "subnet": subnet}},
            {"name": "v6", "properties": {
                "privateIPAddress": ip6, "privateIPAddressVersion": "IPv6", "primary": False,
                "privateIPAllocationMethod": "Static", "subnet": subnet,
                "loadBalancerBackendAddressPools": [{"id": f"{LB}/backendAddressPools/be6"}]}}]})
    arm.add("loadBalancers", "lb", {
        "frontendIPConfigurations": [{"name": "fe6", "id": f"{LB}/frontendIPConfigurations/fe6",
                                      "properties": {"publicIPAddress": {
                                          "id": f"{RG}/publicIPAddresses/lb-ip6"}}}],
        "backendAddressPools": [{"name": "be6", "id": f"{LB}/backendAddressPools/be6"}],
        "loadBalancingRules": [{"name": "http6", "properties": {
            "frontendIPConfiguration": {"id": f"{LB}/frontendIPConfigurations/fe6"},
            "backendAddressPool": {"id": f"{LB}/backendAddressPools/be6"},
            "protocol": "Tcp", "frontendPort": 80, "backendPort": 80}}],
        "inboundNatRules": [{"name": "ssh6", "properties": {
            "frontendIPConfiguration": {"id": f"{LB}/frontendIPConfigurations/fe6"},
            "backendIPConfiguration": {"id": f"{RG}/networkInterfaces/vm1/ipConfigurations/v6"},
            "protocol": "Tcp", "frontendPort": 50001, "backendPort": 22}}] if nat_rule else []},
        sku={"name": "Standard"})
    return build_network(arm.build())


def test_new_flow_to_the_ipv6_frontend_is_balanced_and_dnated() -> None:
    net = dual_stack_lb()
    walks = compare(net, [Packet(-1, CLIENT, FRONT6, TCP, 40000 + i, 80, family=6)
                          for i in range(8)])
    assert {w.disposition for w in walks} == {D.DELIVERED}
    assert {w.deciding for w in walks} == {"lb lb/http6"}
    assert {tuple(w.nodes) for w in walks} == {(VM1N,), (VM2N,)}  # both backends used
    for w in walks:
        assert w.out[1] == (VM1 if w.nodes == [VM1N] else VM2)  # DNAT to its IPv6 address


def test_reply_leaves_from_the_frontend_address() -> None:
    net = dual_stack_lb()
    into, = compare(net, [Packet(-1, CLIENT, FRONT6, TCP, 41000, 80, family=6)])
    backend = into.nodes[0]
    _, reply = compare(net, [Packet(-1, CLIENT, FRONT6, TCP, 41000, 80, family=6),
                             Packet(backend, into.out[1], CLIENT, TCP, 80, 41000, family=6)])
    assert reply.disposition == D.EXITS_INTERNET
    assert reply.out == (FRONT6, CLIENT, 80, 41000)  # un-DNAT at the backend's host


def test_no_rule_inbound_nat_and_the_nsg() -> None:
    net = dual_stack_lb()
    no_rule, ssh = compare(net, [Packet(-1, CLIENT, FRONT6, TCP, 42000, 443, family=6),
                                 Packet(-1, CLIENT, FRONT6, TCP, 42000, 50001, family=6)])
    assert (no_rule.disposition, no_rule.deciding) == (
        D.LB_NO_RULE, "lb lb: no load-balancing rule matches")
    # the inbound NAT rule reaches vm1:22, where the subnet's NSG (TCP 80 only) denies it
    assert (ssh.disposition, ssh.nodes) == (D.DENIED_IN, [VM1N])
    assert ssh.out == (CLIENT, VM1, 42000, 22)


def test_standard_frontend_without_nsg_is_closed() -> None:
    net = dual_stack_lb(nsg=False)
    (w,) = compare(net, [Packet(-1, CLIENT, FRONT6, TCP, 43000, 80, family=6)])
    assert (w.disposition, w.deciding) == (
        D.PUBLIC_IP_CLOSED,
        "lb lb (Standard): closed to inbound, no NSG on the backend's NIC or subnet allows it")


def test_backends_reach_the_ipv6_internet_through_the_load_balancer() -> None:
    # a load-balancing rule without disableOutboundSnat gives its pool outbound connectivity
    # (control/outbound6.py): the source becomes the frontend's IPv6 address with a SNAT port
    # (assumptions ipv6-internet-egress, snat-port); the reply is un-SNATed back to the VM
    net = dual_stack_lb()
    (out,) = compare(net, [Packet(VM2N, VM2, CLIENT, TCP, 44000, 443, family=6)])
    assert out.disposition == D.EXITS_INTERNET
    src, dst, sport, dport = out.out
    assert (src, dst, dport) == (FRONT6, CLIENT, 443) and 1024 <= sport <= 65535
    assert sport != 44000  # a SNAT port, not the VM's
    _, back, stray = compare(net, [
        Packet(VM2N, VM2, CLIENT, TCP, 44000, 443, family=6),
        Packet(-1, CLIENT, FRONT6, TCP, 443, sport, family=6),
        Packet(-1, CLIENT, FRONT6, TCP, 443, sport + 1 if sport < 65535 else 1024,
               family=6)])
    assert (back.disposition, back.nodes) == (D.DELIVERED, [VM2N])
    assert back.out == (CLIENT, VM2, 443, 44000)  # un-SNAT: the VM's address and port
    assert back.deciding == "ingress internet to vm2 (reply of a flow it opened)"
    assert stray.disposition == D.LB_NO_RULE  # a new flow to the frontend: its rules decide


ADDRS6 = [CLIENT, FRONT6, VM1, VM2, v6("2001:db8:e0::81")]
packet6 = st.builds(lambda n, s, d, sp, dp: Packet(n, s, d, TCP, sp, dp, family=6),
                    st.integers(-1, 1), st.sampled_from(ADDRS6), st.sampled_from(ADDRS6),
                    st.sampled_from([80, 22, 40000, 50001]),
                    st.sampled_from([80, 22, 443, 40000, 50001]))


@settings(max_examples=30, deadline=None)
@given(st.lists(packet6, min_size=1, max_size=25), st.booleans(), st.booleans(),
       st.integers(1, 6))
def test_public_ipv6_frontend_batch_equals_reference(packets, nsg, nat_rule, split) -> None:
    net = dual_stack_lb(nsg=nsg, nat_rule=nat_rule)
    owner = {VM1: VM1N, VM2: VM2N}
    packets = [p._replace(nic=owner.get(p.src, -1), time_ns=i) if i % 2
               else p._replace(time_ns=i) for i, p in enumerate(packets)]
    compare(net, packets, split)
