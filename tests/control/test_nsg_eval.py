"""NSG evaluation: how-it-works walkthrough, ASG example, tags (docs/azure-behaviour.md §2)."""

from __future__ import annotations

import pytest
from topo_factory import Builder

from dataplane.control.nsg import DEFAULT_SECURITY_RULES, Flow, evaluate, nic_security
from dataplane.control.tags import TagResolver
from dataplane.net import parse_ip


def verdict(topology, vm: str, direction: str, remote: str, local_port: int = 80,
            protocol: int = 6, remote_port: int = 50000):
    nic = topology.find("network_interfaces", f"{vm}-nic")
    local = nic.primary_ip
    if direction == "Inbound":
        flow = Flow(protocol, parse_ip(remote), remote_port, local, local_port)
    else:
        flow = Flow(protocol, local, remote_port, parse_ip(remote), local_port)
    result = evaluate(nic_security(topology, nic), direction, flow)
    return result.access, result.rule_name


def test_default_rules_exact():
    got = [(r.direction, r.name, r.priority, r.access) for r in DEFAULT_SECURITY_RULES]
    assert got == [
        ("Inbound", "AllowVnetInBound", 65000, "Allow"),
        ("Inbound", "AllowAzureLoadBalancerInBound", 65001, "Allow"),
        ("Inbound", "DenyAllInBound", 65500, "Deny"),
        ("Outbound", "AllowVnetOutBound", 65000, "Allow"),
        ("Outbound", "AllowInternetOutBound", 65001, "Allow"),
        ("Outbound", "DenyAllOutBound", 65500, "Deny"),
    ]


ALLOW_80 = {"name": "allow-http", "priority": 100, "direction": "Inbound", "protocol": "Tcp",
            "source": "Internet", "destination_ports": "80"}


def how_it_works(nsg1_rules=(ALLOW_80,), nsg2_rules=(ALLOW_80,)):
    """network-security-group-how-it-works: VM1 (Subnet1 with NSG1), VM2 (Subnet1 + NSG2 on
    its NIC), VM3 (Subnet2 without NSG, NSG2 on its NIC), VM4 (Subnet3, no NSG at all)."""
    return (Builder()
            .nsg("NSG1", list(nsg1_rules)).nsg("NSG2", list(nsg2_rules))
            .vnet("vnet", "10.0.0.0/16", subnets={
                "Subnet1": {"prefix": "10.0.1.0/24", "nsg": "NSG1"},
                "Subnet2": "10.0.2.0/24", "Subnet3": "10.0.3.0/24"})
            .vm("VM1", "vnet/Subnet1", "10.0.1.4")
            .vm("VM2", "vnet/Subnet1", "10.0.1.5", nsg="NSG2")
            .vm("VM3", "vnet/Subnet2", "10.0.2.4", nsg="NSG2")
            .vm("VM4", "vnet/Subnet3", "10.0.3.4")
            .build())


def test_how_it_works_inbound():
    topo = how_it_works()
    internet = "203.0.113.7"
    assert verdict(topo, "VM1", "Inbound", internet) == ("Allow", "securityRules/allow-http")
    assert verdict(topo, "VM2", "Inbound", internet) == ("Allow", "securityRules/allow-http")
    assert verdict(topo, "VM3", "Inbound", internet) == ("Allow", "securityRules/allow-http")
    assert verdict(topo, "VM4", "Inbound", internet) == ("Allow", None)  # no NSG anywhere
    # VM2: NSG1 allows but NSG2 lacks the rule -> NSG2's DenyAllInBound decides.
    topo = how_it_works(nsg2_rules=())
    assert verdict(topo, "VM2", "Inbound", internet) == ("Deny", "defaultSecurityRules/DenyAllInBound")
    assert verdict(topo, "VM3", "Inbound", internet) == ("Deny", "defaultSecurityRules/DenyAllInBound")
    # VM1 without an allowing subnet rule: denied at the subnet, NIC never consulted.
    topo = how_it_works(nsg1_rules=())
    assert verdict(topo, "VM1", "Inbound", internet) == ("Deny", "defaultSecurityRules/DenyAllInBound")
    assert verdict(topo, "VM2", "Inbound", internet) == ("Deny", "defaultSecurityRules/DenyAllInBound")
    nic = topo.find("network_interfaces", "VM2-nic")
    levels = evaluate(nic_security(topo, nic), "Inbound",
                      Flow(6, parse_ip(internet), 1, nic.primary_ip, 80)).levels
    assert [lv.level for lv in levels] == ["subnet"]


def test_how_it_works_outbound_order_nic_then_subnet():
    deny_out = {"name": "deny-80-out", "priority": 100, "direction": "Outbound", "access": "Deny",
                "protocol": "Tcp", "destination_ports": "80"}
    topo = how_it_works(nsg1_rules=(deny_out,), nsg2_rules=())
    out = verdict(topo, "VM2", "Outbound", "13.107.21.200")
    assert out == ("Deny", "securityRules/deny-80-out")
    nic = topo.find("network_interfaces", "VM2-nic")
    levels = evaluate(nic_security(topo, nic), "Outbound",
                      Flow(6, nic.primary_ip, 1, parse_ip("13.107.21.200"), 80)).levels
    assert [(lv.level, lv.access) for lv in levels] == [("networkInterface", "Allow"),
                                                        ("subnet", "Deny")]
    assert verdict(topo, "VM3", "Outbound", "13.107.21.200") == \
        ("Allow", "defaultSecurityRules/AllowInternetOutBound")


def test_intra_subnet_default_and_deny_all():
    topo = how_it_works(nsg1_rules=(), nsg2_rules=())
    assert verdict(topo, "VM1", "Inbound", "10.0.1.5") == ("Allow", "defaultSecurityRules/AllowVnetInBound")
    deny_all = [{"name": "deny-in", "priority": 100, "direction": "Inbound", "access": "Deny"},
                {"name": "deny-out", "priority": 100, "direction": "Outbound", "access": "Deny"}]
    topo = how_it_works(nsg1_rules=deny_all, nsg2_rules=())
    assert verdict(topo, "VM1", "Inbound", "10.0.1.5") == ("Deny", "securityRules/deny-in")
    assert verdict(topo, "VM1", "Outbound", "10.0.1.5") == ("Deny", "securityRules/deny-out")


def asg_example():
    """application-security-groups: web, logic and db ASGs behind one subnet NSG."""
    rules = [
        {"name": "Allow-HTTP-Inbound-Internet", "priority": 100, "protocol": "Tcp",
         "source": "Internet", "destination_asgs": ["AsgWeb"], "destination_ports": "80"},
        {"name": "Deny-Database-All", "priority": 120, "access": "Deny",
         "destination_asgs": ["AsgDb"], "destination_ports": "1433"},
        {"name": "Allow-Database-BusinessLogic", "priority": 110, "protocol": "Tcp",
         "source_asgs": ["AsgLogic"], "destination_asgs": ["AsgDb"], "destination_ports": "1433"},
    ]
    return (Builder().nsg("NSG1", rules)
            .vnet("vnet", "10.0.0.0/16", subnets={"Subnet1": {"prefix": "10.0.0.0/24",
                                                              "nsg": "NSG1"}})
            .vm("web1", "vnet/Subnet1", "10.0.0.4", asgs=("AsgWeb",))
            .vm("web2", "vnet/Subnet1", "10.0.0.5", asgs=("AsgWeb",))
            .vm("logic1", "vnet/Subnet1", "10.0.0.6", asgs=("AsgLogic",))
            .vm("db1", "vnet/Subnet1", "10.0.0.7", asgs=("AsgDb",))
            .build())


def test_asg_example():
    topo = asg_example()
    assert verdict(topo, "web1", "Inbound", "198.51.100.1") == \
        ("Allow", "securityRules/Allow-HTTP-Inbound-Internet")
    assert verdict(topo, "logic1", "Inbound", "198.51.100.1") == \
        ("Deny", "defaultSecurityRules/DenyAllInBound")
    assert verdict(topo, "db1", "Inbound", "10.0.0.6", local_port=1433) == \
        ("Allow", "securityRules/Allow-Database-BusinessLogic")
    assert verdict(topo, "db1", "Inbound", "10.0.0.4", local_port=1433) == \
        ("Deny", "securityRules/Deny-Database-All")
    assert verdict(topo, "db1", "Inbound", "10.0.0.4", local_port=22) == \
        ("Allow", "defaultSecurityRules/AllowVnetInBound")


def tag_topology(access: bool = True):
    return (Builder()
            .vnet("hub", "10.0.0.0/16", subnets={"s": "10.0.1.0/24"})
            .vnet("spoke", "10.1.0.0/16", subnets={"s": "10.1.1.0/24"})
            .vnet("far", "10.2.0.0/16", subnets={"s": "10.2.1.0/24"})
            .link("hub", "spoke", allow_virtual_network_access=access).link("spoke", "hub")
            .link("far", "hub", state="Initiated")
            .gateway("hub").onprem("branch", ["192.168.0.0/16"], connect_to="hub")
            .build())


def test_virtual_network_tag_from_topology():
    topo = tag_topology()
    tags = TagResolver(topo)
    # 168.63.129.16: "the virtual IP address of the host" (service-tags-overview)
    assert [str(p) for p in tags.resolve(topo.vnet("hub"), "VirtualNetwork")] == \
        ["10.0.0.0/15", "168.63.129.16/32", "192.168.0.0/16"]
    assert [str(p) for p in tags.resolve(topo.vnet("far"), "VIRTUAL_NETWORK")] == \
        ["10.2.0.0/16", "168.63.129.16/32"]
    blocked = tag_topology(access=False)
    assert [str(p) for p in TagResolver(blocked).resolve(blocked.vnet("hub"), "VirtualNetwork")] \
        == ["10.0.0.0/16", "168.63.129.16/32", "192.168.0.0/16"]


@pytest.mark.parametrize("address,inside", [
    ("13.107.21.200", True), ("8.8.8.8", True), ("10.10.10.10", False), ("192.168.1.1", False),
    ("100.64.0.1", False), ("224.0.0.1", False), ("1.0.0.1", True)])
def test_internet_tag(address, inside):
    topo = tag_topology()
    prefixes = TagResolver(topo).resolve(topo.vnet("hub"), "Internet")
    assert any(p.contains_address(parse_ip(address)) for p in prefixes) is inside
    v4 = [p for p in prefixes if p.version == 4]
    assert str(v4[0]) == "1.0.0.0/8" and str(v4[-1]) == "208.0.0.0/4"
    # IPv6 part (assumption internet-tag-ipv6): the VNets here are IPv4-only, so all of 2000::/3
    assert [str(p) for p in prefixes if p.version == 6] == ["2000::/3"]


def test_block_vnet_access_changes_only_the_tag():
    """manage-peering: with allowVirtualNetworkAccess=false the VirtualNetwork tag shrinks, so
    the default rules deny, but an explicit rule still lets the traffic through."""
    base = (Builder().vnet("a", "10.0.0.0/16", subnets={"s": {"prefix": "10.0.1.0/24",
                                                             "nsg": "n"}})
            .vnet("b", "10.1.0.0/16", subnets={"s": "10.1.1.0/24"})
            .link("a", "b", allow_virtual_network_access=False).link("b", "a"))
    topo = base.nsg("n", []).vm("va", "a/s", "10.0.1.4").build()
    assert verdict(topo, "va", "Inbound", "10.1.1.4") == ("Deny", "defaultSecurityRules/DenyAllInBound")
    assert verdict(topo, "va", "Outbound", "10.1.1.4") == ("Deny", "defaultSecurityRules/DenyAllOutBound")
    topo = base.nsg("n", [{"name": "allow-b", "priority": 200, "source": "10.1.0.0/16"}]).build()
    assert verdict(topo, "va", "Inbound", "10.1.1.4") == ("Allow", "securityRules/allow-b")


def test_ports_lists_ranges_and_protocols():
    rule = {"name": "multi", "priority": 100, "protocol": "Udp",
            "destination_ports": "53, 10000-10005", "source": "10.9.0.0/16,10.8.0.0/16"}
    topo = (Builder().nsg("n", [rule])
            .vnet("v", "10.0.0.0/16", subnets={"s": {"prefix": "10.0.0.0/24", "nsg": "n"}})
            .vm("vm", "v/s", "10.0.0.4").build())
    for port, access in ((53, "Allow"), (10003, "Allow"), (10006, "Deny"), (80, "Deny")):
        assert verdict(topo, "vm", "Inbound", "10.8.1.1", local_port=port, protocol=17)[0] == access
    assert verdict(topo, "vm", "Inbound", "10.8.1.1", local_port=53, protocol=6)[0] == "Deny"
    # ICMP has no ports: a rule limited to ports never matches it.
    assert verdict(topo, "vm", "Inbound", "10.8.1.1", local_port=0, protocol=1)[0] == "Deny"
