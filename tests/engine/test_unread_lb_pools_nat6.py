"""Two Azure properties the loader now reads (issue props, never silently wrong):

* a load-balancing rule's `backendAddressPools` (a list; newer API versions write it instead of,
  or beside, the singular `backendAddressPool`): the rule balances over the union of its pools
  ("LoadBalancingRuleProperties.BackendAddressPools": "An array of references to pool of
  DIPs", https://learn.microsoft.com/dotnet/api/azure.resourcemanager.network.models.
  loadbalancingruleproperties.backendaddresspools), both engine forms, and its outbound SNAT
  (control/outbound.py) covers every pool;
* a StandardV2 NAT gateway's `publicIpAddressesV6` ("Azure NAT Gateway SKUs",
  https://learn.microsoft.com/azure/nat-gateway/nat-sku, "SKU comparison": public IP version
  IPv4, IPv6): a subnet's IPv6 flows to the Internet leave through it, with its IPv6 address
  and a SNAT port, ahead of an instance public IPv6 ("NAT gateway takes precedence over other
  outbound scenarios", https://learn.microsoft.com/azure/nat-gateway/nat-gateway-resource).
"""

from __future__ import annotations

import copy
import ipaddress
from pathlib import Path

import pytest
from ipv6_harness import compare
from scapy.layers.inet import IP, TCP

from dataplane.control.outbound import (
    DEFAULT_OUTBOUND,
    INSTANCE_PUBLIC_IP,
    LB_RULE,
    NAT_GATEWAY,
    NAT_IPV6_ONLY,
    NONE,
    lb_methods,
    outbound_access,
)
from dataplane.control.outbound6 import outbound_access6
from dataplane.dispositions import Disposition as D
from dataplane.engine import Emulator
from dataplane.engine.compile import build_network
from dataplane.engine.reference import Packet
from dataplane.engine.stages import public_edge6
from dataplane.load import read_resources
from dataplane.load.resources import resources_to_topology
from dataplane.model import id_key

ILB = """
vnets:
  v: {region: westeurope, address_space: [10.5.0.0/16],
      subnets: {client: 10.5.1.0/24, backend: 10.5.2.0/24}}
vms:
  client: {subnet: v/client, ip: 10.5.1.4, size: Standard_D2s_v3}
  be1: {subnet: v/backend, ip: 10.5.2.4, size: Standard_D2s_v3}
  be2: {subnet: v/backend, ip: 10.5.2.5, size: Standard_D2s_v3}
load_balancers:
  ilb: {sku: Standard, frontend: {subnet: v/backend, ip: 10.5.2.100}, backends: [be1],
        rules: [{name: http, protocol: Tcp, frontend_port: 80, backend_port: 8080}]}
"""


def _resources(tmp: Path, text: str) -> list[dict]:
    (tmp / "t.yaml").write_text(text)
    out = copy.deepcopy(read_resources(tmp / "t.yaml")[0])
    for r in out:
        r.pop("source", None)
    return out


def _two_pools(tmp: Path, plural: bool) -> list[dict]:
    """ILB with a second pool `pool2` holding be2; the rule names [backend, pool2] in
    `backendAddressPools` (plural) or only `backend` in the singular."""
    resources = _resources(tmp, ILB)
    lb = next(r for r in resources if r["type"] == "Microsoft.Network/loadBalancers")
    first = lb["properties"]["backendAddressPools"][0]["id"]
    second = first.rsplit("/", 1)[0] + "/pool2"
    lb["properties"]["backendAddressPools"].append({"name": "pool2", "id": second})
    be2 = next(r for r in resources if r["name"] == "be2-nic")
    be2["properties"]["ipConfigurations"][0]["properties"][
        "loadBalancerBackendAddressPools"] = [{"id": second}]
    rule = lb["properties"]["loadBalancingRules"][0]["properties"]
    if plural:
        del rule["backendAddressPool"]
        rule["backendAddressPools"] = [{"id": first}, {"id": second}]
    return resources


def _delivered_to(topology, flows: int = 48) -> set[str]:
    em = Emulator(topology)
    packets = [IP(src="10.5.1.4", dst="10.5.2.100") / TCP(sport=30000 + i, dport=80)
               for i in range(flows)]
    out = em.send(packets, source=["client"] * flows)
    assert set(out.dispositions()) == {D.DELIVERED}
    return {out.row(i)["hops"].rsplit(" > ", 1)[-1] for i in range(flows)}


def test_a_rule_with_backend_address_pools_balances_over_their_union(tmp_path):
    plural = resources_to_topology(_two_pools(tmp_path, plural=True), "t.json")
    (rule,) = plural.load_balancers[0].load_balancing_rules
    assert rule.backend_address_pool == "" and len(rule.all_backend_address_pools) == 2
    assert _delivered_to(plural) == {"be1", "be2"}
    # the same topology with the singular pool only: be2 (in pool2) never receives
    singular = resources_to_topology(_two_pools(tmp_path, plural=False), "t.json")
    assert _delivered_to(singular) == {"be1"}


def test_the_rules_outbound_snat_covers_every_pool(tmp_path):
    resources = _two_pools(tmp_path, plural=True)
    lb = next(r for r in resources if r["type"] == "Microsoft.Network/loadBalancers")
    lb["properties"]["frontendIPConfigurations"][0]["properties"] = {
        "publicIPAddress": {"id": lb["id"].rsplit("/loadBalancers/", 1)[0]
                            + "/publicIPAddresses/lb-ip"}}
    resources.append({"type": "Microsoft.Network/publicIPAddresses", "name": "lb-ip",
                      "location": "westeurope", "sku": {"name": "Standard"},
                      "id": lb["id"].rsplit("/loadBalancers/", 1)[0] + "/publicIPAddresses/lb-ip",
                      "properties": {"ipAddress": "203.0.113.7",
                                     "publicIPAllocationMethod": "Static"}})
    topology = resources_to_topology(resources, "t.json")
    pool2 = next(p for p in topology.load_balancers[0].backend_address_pools
                 if p.name == "pool2")
    (method,) = lb_methods(topology, {id_key(pool2.id)})
    assert (method.method, method.rule, [str(a) for a in method.public_addresses]) == (
        LB_RULE, "http", ["203.0.113.7"])


DUAL = """
vnets:
  v:
    region: westeurope
    address_space: [10.0.0.0/16, "fd00:db8:0::/48"]
    subnets:
      natted: {prefix: 10.0.1.0/24, prefix6: "fd00:db8:0:1::/64", nat_gateway: ng}
public_ips:
  ng-ip4: {address: 198.51.100.4}
  own-ip6: {version: IPv6, address: "2001:db8:e0::77"}
nat_gateways:
  ng: {public_ips: [ng-ip4]}
vms:
  a: {subnet: v/natted, ip: 10.0.1.4, ip6: "fd00:db8:0:1::4", size: Standard_D2s_v3}
  b: {subnet: v/natted, ip: 10.0.1.5, ip6: "fd00:db8:0:1::5", public_ip6: own-ip6,
      size: Standard_D2s_v3}
"""
NAT6 = "2001:db8:e0::66"
GOOGLE6 = int(ipaddress.IPv6Address("2001:4860:4860::8888"))
A6, B6 = (int(ipaddress.IPv6Address(f"fd00:db8:0:1::{h}")) for h in (4, 5))
AN, BN = 0, 1
TCP_ = 6


def _dual(tmp: Path, v6: bool, prefixes_only: bool = False, v4: bool = True):
    resources = _resources(tmp, DUAL)
    nat = next(r for r in resources if r["type"] == "Microsoft.Network/natGateways")
    base = nat["id"].rsplit("/natGateways/", 1)[0]
    if not v4:
        nat["properties"]["publicIpAddresses"] = []
    if v6:
        nat["sku"] = {"name": "StandardV2"}
        if prefixes_only:
            nat["properties"]["publicIpPrefixesV6"] = [{"id": f"{base}/publicIPPrefixes/p6"}]
        else:
            nat["properties"]["publicIpAddressesV6"] = [{"id": f"{base}/publicIPAddresses/ng-ip6"}]
            resources.append({"type": "Microsoft.Network/publicIPAddresses", "name": "ng-ip6",
                              "location": "westeurope", "sku": {"name": "Standard"},
                              "id": f"{base}/publicIPAddresses/ng-ip6",
                              "properties": {"publicIPAddressVersion": "IPv6",
                                             "ipAddress": NAT6}})
    return build_network(resources_to_topology(resources, "t.json"))


def _config6(topology, name: str):
    nic = next(n for n in topology.network_interfaces if n.name == name)
    return nic, next(c for c in nic.ip_configurations if c.private_ip_address_version == "IPv6")


def test_nat_gateway_ipv6_address_is_the_ipv6_outbound_method(tmp_path):
    net = _dual(tmp_path, v6=True)
    got = outbound_access6(net.topology, *_config6(net.topology, "a-nic"))
    assert (got.method, [str(a) for a in got.public_addresses]) == (NAT_GATEWAY, [NAT6])
    # it wins over b's instance public IPv6, which it names as overridden
    got = outbound_access6(net.topology, *_config6(net.topology, "b-nic"))
    assert (got.method, got.overrides) == (NAT_GATEWAY, (f"{INSTANCE_PUBLIC_IP} own-ip6",))


def test_without_ipv6_addresses_the_nat_gateway_gives_no_ipv6(tmp_path):
    net = _dual(tmp_path, v6=False)
    assert outbound_access6(net.topology, *_config6(net.topology, "a-nic")).method == NONE
    got = outbound_access6(net.topology, *_config6(net.topology, "b-nic"))
    assert got.method == INSTANCE_PUBLIC_IP
    (w,) = compare(net, [Packet(AN, A6, GOOGLE6, TCP_, 50000, 443, family=6)])
    assert (w.disposition, w.deciding) == (D.NO_IPV6_INTERNET,
                                          public_edge6.no_internet_label("a"))


@pytest.mark.parametrize(("node", "src"), [(AN, A6), (BN, B6)])
def test_ipv6_flows_leave_through_the_nat_gateway_and_replies_return(tmp_path, node, src):
    net = _dual(tmp_path, v6=True)
    (out,) = compare(net, [Packet(node, src, GOOGLE6, TCP_, 50000, 443, family=6)])
    assert out.disposition == D.EXITS_INTERNET
    public, _dst, sport, _dport = out.out
    assert public == int(ipaddress.IPv6Address(NAT6))  # the NAT gateway's IPv6 address
    # the reply to the translated flow (its SNAT port) is delivered, un-NATed, to the sender
    first, reply = compare(net, [Packet(node, src, GOOGLE6, TCP_, 50000, 443, family=6),
                                 Packet(-1, GOOGLE6, public, TCP_, 443, sport, family=6)])
    assert first.out == out.out
    assert (reply.disposition, reply.nodes) == (D.DELIVERED, [node])
    assert reply.out == (GOOGLE6, src, 443, 50000)


def test_prefixes_only_reach_the_internet_keeping_the_source(tmp_path):
    net = _dual(tmp_path, v6=True, prefixes_only=True)
    got = outbound_access6(net.topology, *_config6(net.topology, "a-nic"))
    assert (got.method, got.public_addresses) == (NAT_GATEWAY, ())
    (w,) = compare(net, [Packet(AN, A6, GOOGLE6, TCP_, 50000, 443, family=6)])
    assert w.disposition == D.EXITS_INTERNET and w.out[0] == A6


def test_ipv4_keeps_the_nat_gateway_and_an_ipv6_only_one_gives_no_ipv4(tmp_path):
    both = _dual(tmp_path, v6=True).topology
    got = outbound_access(both, next(n for n in both.network_interfaces if n.name == "a-nic"))
    assert (got.method, [str(a) for a in got.public_addresses]) == (NAT_GATEWAY,
                                                                    ["198.51.100.4"])
    only6 = _dual(tmp_path, v6=True, v4=False).topology
    got = outbound_access(only6, next(n for n in only6.network_interfaces if n.name == "a-nic"))
    assert got.method == DEFAULT_OUTBOUND and NAT_IPV6_ONLY in got.assumptions


def test_a_dynamic_internal_frontend_gets_an_address_and_balances(tmp_path):
    """A template's internal frontend with `privateIPAllocationMethod: Dynamic` and no address
    (Azure allocates it at deployment): the lowest free address of its subnet after the NICs
    (assumption internal-frontend-address), so packets to it are load-balanced; before, the
    frontend had no address and was silently absent from the engine."""
    resources = _resources(tmp_path, ILB)
    lb = next(r for r in resources if r["type"] == "Microsoft.Network/loadBalancers")
    props = lb["properties"]["frontendIPConfigurations"][0]["properties"]
    del props["privateIPAddress"]
    props["privateIPAllocationMethod"] = "Dynamic"
    topology = resources_to_topology(resources, "t.json")
    (fe,) = topology.load_balancers[0].frontend_ip_configurations
    assert str(fe.private_ip_address) == "10.5.2.6"  # .4 be1, .5 be2 (NICs first)
    assert "internal-frontend-address" in {a.key for a in topology.assumptions}
    em = Emulator(topology)
    out = em.send([IP(src="10.5.1.4", dst="10.5.2.6") / TCP(sport=30000, dport=80)],
                  source=["client"])
    assert out.dispositions() == [D.DELIVERED]
    assert out.row(0)["hops"].endswith("be1")


def test_an_ip_based_backend_pool_balances_to_the_nics_holding_its_addresses(tmp_path):
    """A pool configured by IP address and virtual network ("Backend pool management",
    https://learn.microsoft.com/azure/load-balancer/backend-pool-management): be2's address
    listed in the pool makes be2 a member though its NIC names no pool; an address in
    another VNet's space joins nothing."""
    resources = _resources(tmp_path, ILB)
    lb = next(r for r in resources if r["type"] == "Microsoft.Network/loadBalancers")
    vnet = next(r for r in resources if r["type"] == "Microsoft.Network/virtualNetworks")
    pool = lb["properties"]["backendAddressPools"][0]
    pool["properties"] = {"loadBalancerBackendAddresses": [
        {"name": "be2", "properties": {"ipAddress": "10.5.2.5",
                                       "virtualNetwork": {"id": vnet["id"]}}},
        {"name": "elsewhere", "properties": {"ipAddress": "10.5.2.4",
                                             "virtualNetwork": {"id": vnet["id"] + "-other"}}}]}
    be1 = next(r for r in resources if r["name"] == "be1-nic")
    del be1["properties"]["ipConfigurations"][0]["properties"][
        "loadBalancerBackendAddressPools"]
    topology = resources_to_topology(resources, "t.json")
    members = {n.name for n in topology.network_interfaces for c in n.ip_configurations
               if c.load_balancer_backend_address_pools}
    assert members == {"be2-nic"}
    assert _delivered_to(topology, flows=8) == {"be2"}
