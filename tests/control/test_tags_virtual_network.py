"""The VirtualNetwork tag as Azure builds it (control/tags.py).

Microsoft, "Azure service tags overview", https://learn.microsoft.com/azure/virtual-network/
service-tags-overview, "Available service tags", VirtualNetwork: "... the virtual IP address of
the host, and address prefixes used on user-defined routes. This tag might also contain
default routes." "What is IP address 168.63.129.16?", https://learn.microsoft.com/azure/
virtual-network/what-is-ip-address-168-63-129-16: health probes come from that address.
"""

from __future__ import annotations

from topo_factory import Builder

from dataplane.control.tags import TagResolver, TagScope
from dataplane.net import parse_prefix
from dataplane.watcher import ip_flow_verify

WEB_NSG = [
    {"name": "allow-443", "priority": 100, "protocol": "Tcp", "destination_ports": "443"},
    {"name": "deny-vnet", "priority": 4000, "access": "Deny", "source": "VirtualNetwork",
     "destination": "VirtualNetwork"},
]


def smallest(route_table: str | None = None, routes: list[tuple] = ()) -> Builder:
    b = Builder().nsg("web-nsg", WEB_NSG)
    if route_table:
        b.route_table(route_table, list(routes))
    web = {"prefix": "10.120.1.0/24", "nsg": "web-nsg", "route_table": route_table}
    return (b.vnet("v", "10.120.0.0/16", subnets={"web": web, "app": "10.120.2.0/24"})
            .vm("web1", "v/web", "10.120.1.4").vm("app1", "v/app", "10.120.2.4"))


def test_probe_from_host_address_meets_rule_4000():
    """The issue's smallest input: the 4000 deny names the probe, because the tag holds the
    host's virtual IP; AllowAzureLoadBalancerInBound (65001) is never reached."""
    answer = ip_flow_verify(smallest().build(), "web1", "Inbound", "TCP", "10.120.1.4:80",
                            "168.63.129.16:60000")
    assert (answer["access"], answer["ruleName"]) == ("Deny", "securityRules/deny-vnet")
    allowed = ip_flow_verify(smallest().build(), "web1", "Inbound", "TCP", "10.120.1.4:443",
                             "168.63.129.16:60000")
    assert (allowed["access"], allowed["ruleName"]) == ("Allow", "securityRules/allow-443")


def test_default_user_route_puts_everything_in_the_tag_of_its_subnet_only():
    """MicrosoftDocs/azure-docs#22178 (forced tunnelling: the tag becomes 0.0.0.0/0) and #124192
    (route-table prefixes join the tag of the subnets the table is associated with)."""
    topo = smallest("rt", [("default", "0.0.0.0/0", "VirtualAppliance", "10.120.2.10")]).build()
    answer = ip_flow_verify(topo, "web1", "Inbound", "TCP", "10.120.1.4:80", "8.8.8.8:5000")
    assert (answer["access"], answer["ruleName"]) == ("Deny", "securityRules/deny-vnet")
    resolver = TagResolver(topo)
    vnet = topo.virtual_networks[0]
    web, app = vnet.subnets
    assert [str(p) for p in resolver.resolve(TagScope(vnet, web.route_table),
                                             "VirtualNetwork")] == ["0.0.0.0/0"]
    assert [str(p) for p in resolver.resolve(TagScope(vnet, app.route_table),
                                             "VirtualNetwork")] == \
        ["10.120.0.0/16", "168.63.129.16/32"]
    # Internet keeps the public space: the default route does not empty it
    internet = resolver.resolve(TagScope(vnet, web.route_table), "Internet")
    assert any(p.contains(parse_prefix("8.8.8.8/32")) for p in internet)
    assert not any(p.contains(parse_prefix("10.120.1.4/32")) for p in internet)


def test_learned_prefixes_join_the_tag():
    """The input the BGP work feeds: prefixes learned for a VNet (gateway-connected); they
    leave the Internet tag as they join VirtualNetwork."""
    topo = smallest().build()
    vnet = topo.virtual_networks[0]
    learned = parse_prefix("203.0.113.0/24")
    resolver = TagResolver(topo, learned_prefixes={vnet.id: [learned]})
    assert [str(p) for p in resolver.resolve(vnet, "VirtualNetwork")] == \
        ["10.120.0.0/16", "168.63.129.16/32", "203.0.113.0/24"]
    assert not any(p.contains(learned) for p in resolver.resolve(vnet, "Internet"))
    assert any(p.contains(learned) for p in TagResolver(topo).resolve(vnet, "Internet"))
