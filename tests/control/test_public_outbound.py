"""Outbound precedence per NIC (control/outbound.py) and the offline public-address scheme
(control/public_addresses.py), from Microsoft's pages:
* "Azure NAT Gateway resource" (https://learn.microsoft.com/azure/nat-gateway/nat-gateway-resource):
  NAT gateway takes precedence over instance-level public IPs and load balancers;
* "Outbound rules Azure Load Balancer" (https://learn.microsoft.com/azure/load-balancer/outbound-rules):
  "Outbound rules will only be followed if the backend VM doesn't have an instance-level public IP";
* "Default outbound access in Azure" (https://learn.microsoft.com/azure/virtual-network/ip-services/
  default-outbound-access): none of those -> default outbound access, unless the subnet is private."""

from __future__ import annotations

from dataplane.control.outbound import outbound_access
from dataplane.control.public_addresses import POOL_V4, public_address, public_address_assumptions
from dataplane.load.scenario import load_scenario_text
from dataplane.model import Topology


def _topology(subnet: str = "10.0.1.0/24", vm: str = "{subnet: v/app}", extra: str = "") -> Topology:
    return load_scenario_text(f"""
vnets:
  v: {{region: westeurope, address_space: 10.0.0.0/16, subnets: {{app: {subnet}}}}}
public_ips:
  vm-ip: {{address: 20.0.0.10}}
  nat-ip: {{address: 20.0.0.20}}
  lb-ip: {{address: 20.0.0.30}}
  lb-ip2: {{address: 20.0.0.40}}
nat_gateways:
  nat: {{public_ips: [nat-ip]}}
vms:
  web: {vm}
{extra}
""")


def _web(topology: Topology):
    return topology.find("network_interfaces", "web-nic")


LB = """
load_balancers:
  edge: {frontend: {public_ip: lb-ip}, backends: [web], rules: [{protocol: Tcp, frontend_port: 80}],
         outbound_rules: [{name: out}]}
"""


def test_nat_gateway_wins_over_an_instance_public_ip() -> None:
    topology = _topology("{prefix: 10.0.1.0/24, nat_gateway: nat}", "{subnet: v/app, public_ip: vm-ip}")
    out = outbound_access(topology, _web(topology))
    assert out.method == "NatGateway"
    assert [str(a) for a in out.public_addresses] == ["20.0.0.20"]
    assert out.overrides == ("InstancePublicIP vm-ip",)


def test_an_instance_public_ip_is_used_without_nat_gateway() -> None:
    topology = _topology(vm="{subnet: v/app, public_ip: vm-ip}")
    out = outbound_access(topology, _web(topology))
    assert (out.method, [str(a) for a in out.public_addresses]) == ("InstancePublicIP", ["20.0.0.10"])


def test_lb_outbound_rules_apply_only_without_an_instance_public_ip() -> None:
    without = _topology(extra=LB)
    out = outbound_access(without, _web(without))
    assert (out.method, out.rule, [str(a) for a in out.public_addresses]) == (
        "LoadBalancerOutboundRule", "out", ["20.0.0.30"])
    with_pip = _topology(vm="{subnet: v/app, public_ip: vm-ip}", extra=LB)
    out = outbound_access(with_pip, _web(with_pip))
    assert out.method == "InstancePublicIP"
    assert "LoadBalancerOutboundRule edge/out" in out.overrides


def test_a_load_balancing_rule_snats_unless_disable_outbound_snat() -> None:
    rule = """
load_balancers:
  edge: {{frontend: {{public_ip: lb-ip}}, backends: [web],
         rules: [{{protocol: Tcp, frontend_port: 80, disable_outbound_snat: {flag}}}]}}
"""
    snat = _topology(extra=rule.format(flag="false"))
    assert outbound_access(snat, _web(snat)).method == "LoadBalancerRule"
    off = _topology(extra=rule.format(flag="true"))
    assert outbound_access(off, _web(off)).method == "DefaultOutboundAccess"


def test_default_outbound_access_and_private_subnets() -> None:
    unset = _topology()
    out = outbound_access(unset, _web(unset))
    assert (out.method, out.public_addresses) == ("DefaultOutboundAccess", ())
    assert [a.key for a in out.assumptions] == ["default-outbound-access-unset"]
    private = _topology("{prefix: 10.0.1.0/24, default_outbound_access: false}")
    out = outbound_access(private, _web(private))
    assert (out.method, out.reaches_internet, out.assumptions) == ("None", False, ())
    explicit = _topology("{prefix: 10.0.1.0/24, default_outbound_access: true}")
    assert outbound_access(explicit, _web(explicit)).assumptions == ()


def test_a_private_subnet_still_uses_its_nat_gateway() -> None:
    topology = _topology("{prefix: 10.0.1.0/24, default_outbound_access: false, nat_gateway: nat}")
    assert outbound_access(topology, _web(topology)).method == "NatGateway"


def test_offline_addresses_are_deterministic_and_in_the_documented_range() -> None:
    text = """
vnets:
  v: {region: westeurope, address_space: 10.0.0.0/16, subnets: {app: 10.0.1.0/24}}
public_ips:
  a: {}
  b: {}
  given: {address: 20.0.0.1}
vms:
  web: {subnet: v/app, public_ip: a}
  db: {subnet: v/app, public_ip: b}
  app: {subnet: v/app, public_ip: given}
"""
    one, two = load_scenario_text(text), load_scenario_text(text)
    a1 = public_address(one, one.find("public_ip_addresses", "a"))
    b1 = public_address(one, one.find("public_ip_addresses", "b"))
    assert POOL_V4.contains_address(a1) and POOL_V4.contains_address(b1) and a1 != b1
    assert public_address(two, two.find("public_ip_addresses", "a")) == a1
    assert str(public_address(one, one.find("public_ip_addresses", "given"))) == "20.0.0.1"
    assert [x.key for x in public_address_assumptions(one)] == ["public-address-allocation"]
    out = outbound_access(one, one.find("network_interfaces", "web-nic"))
    assert out.public_addresses == (a1,)
    assert [x.key for x in out.assumptions] == ["public-address-allocation"]
