"""Scenario YAML -> model: each section maps onto the ARM-named model; bad input names itself."""

from __future__ import annotations

import pytest

from dataplane.errors import InputError
from dataplane.load.scenario import load_scenario_text
from dataplane.net import parse_ip, parse_prefix

BASE = """
vnets:
  hub:
    region: westeurope
    address_space: [10.0.0.0/16]
    subnets:
      GatewaySubnet: 10.0.255.0/27
      nva: {prefix: 10.0.1.0/24, nsg: nva-nsg, route_table: rt}
    gateway: {type: Vpn, sku: VpnGw2}
  spoke:
    region: East US
    address_space: [10.1.0.0/16]
    subnets:
      web: {prefix: 10.1.1.0/24, service_endpoints: [Microsoft.Storage]}
peerings:
  - {vnet: hub, remote: spoke, allow_gateway_transit: true}
  - {vnet: spoke, remote: hub, use_remote_gateways: true, allow_forwarded_traffic: true}
asgs: [web-asg]
nsgs:
  nva-nsg:
    rules:
      - {name: r1, priority: 100, direction: Inbound, access: Allow, protocol: Tcp,
         source: [10.1.0.0/16, 10.2.0.0/16], destination: "*", destination_ports: "80, 8000-8080"}
      - {name: r2, priority: 110, direction: Outbound, access: Deny, protocol: "*",
         source_asgs: [web-asg], destination: Internet}
route_tables:
  rt:
    disable_bgp_route_propagation: true
    routes:
      - {name: default, prefix: 0.0.0.0/0, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4}
vms:
  nva: {subnet: hub/nva, ip: 10.0.1.4, size: Standard_D4s_v3, ip_forwarding: true}
  web: {subnet: spoke/web, size: Standard_D2s_v3, asgs: [web-asg]}
  web2: {subnet: spoke/web, size: Standard_D2s_v3}
on_premises:
  branch: {prefixes: [192.168.0.0/16, 172.16.0.0/12], connect_to: hub}
"""


@pytest.fixture
def topo():
    return load_scenario_text(BASE, "base.yaml")


def test_vnets_subnets_and_regions(topo):
    hub, spoke = topo.vnet("hub"), topo.vnet("spoke")
    assert hub.address_space == (parse_prefix("10.0.0.0/16"),)
    assert spoke.location == "eastus"  # display names are folded the way ARM spells locations
    assert [s.name for s in hub.subnets] == ["GatewaySubnet", "nva"]
    assert spoke.subnet("web").service_endpoints == ("Microsoft.Storage",)
    assert topo.get(hub.subnet("nva").route_table).disable_bgp_route_propagation is True


def test_peering_links_each_owned_by_its_vnet(topo):
    (hub_link,) = topo.vnet("hub").virtual_network_peerings
    (spoke_link,) = topo.vnet("spoke").virtual_network_peerings
    assert hub_link.allow_gateway_transit and not hub_link.use_remote_gateways
    assert spoke_link.use_remote_gateways and spoke_link.allow_forwarded_traffic
    assert hub_link.peering_state == spoke_link.peering_state == "Connected"
    assert hub_link.remote_address_space == topo.vnet("spoke").address_space


def test_single_link_is_initiated():
    text = BASE.replace("  - {vnet: spoke, remote: hub, use_remote_gateways: true, "
                        "allow_forwarded_traffic: true}\n", "")
    topo = load_scenario_text(text)
    assert topo.vnet("hub").virtual_network_peerings[0].peering_state == "Initiated"
    assert topo.vnet("spoke").virtual_network_peerings == ()


def test_nsg_rules_parse_plural_prefixes_ports_and_asgs(topo):
    rules = topo.network_security_groups[0].security_rules
    assert rules[0].source_address_prefixes == (parse_prefix("10.1.0.0/16"),
                                                parse_prefix("10.2.0.0/16"))
    assert [(p.low, p.high) for p in rules[0].destination_port_ranges] == [(80, 80), (8000, 8080)]
    assert rules[1].destination_address_prefixes == ("Internet",)
    assert rules[1].source_application_security_groups[0].endswith("/web-asg")
    assert rules[1].protocol == "*"


def test_vms_nics_dynamic_addresses_and_asg_membership(topo):
    nics = {n.name: n for n in topo.network_interfaces}
    assert nics["nva-nic"].enable_ip_forwarding
    # Dynamic addresses: the first usable hosts after Azure's 4 reserved ones, in order.
    assert nics["web-nic"].primary_ip == parse_ip("10.1.1.4")
    assert nics["web2-nic"].primary_ip == parse_ip("10.1.1.5")
    assert nics["web-nic"].ip_configurations[0].application_security_groups[0].endswith("web-asg")
    vm = topo.find("virtual_machines", "nva")
    assert vm.vm_size == "Standard_D4s_v3" and vm.location == "westeurope"
    assert topo.vm_of_nic(nics["nva-nic"]) == vm


def test_gateway_local_network_and_connection(topo):
    (gateway,) = topo.virtual_network_gateways
    assert gateway.sku == "VpnGw2" and gateway.virtual_network == topo.vnet("hub").id
    (local,) = topo.local_network_gateways
    assert local.address_prefixes == (parse_prefix("192.168.0.0/16"),
                                      parse_prefix("172.16.0.0/12"))
    (connection,) = topo.connections
    assert connection.virtual_network_gateway1 == gateway.id
    assert connection.local_network_gateway2 == local.id


def test_load_balancer_and_firewall():
    text = BASE + """
load_balancers:
  ilb: {sku: Standard, frontend: {subnet: hub/nva, ip: 10.0.1.100}, backends: [nva],
        rules: [{name: ha, protocol: All, frontend_port: 0, backend_port: 0}]}
firewalls:
  fw: {subnet: hub/nva, ip: 10.0.1.50, collections: [{name: c, priority: 100, action: Deny,
       rules: [{name: r, protocols: [TCP], source: ["*"], destination: [10.1.0.0/16], ports: [22]}]}]}
"""
    topo = load_scenario_text(text)
    (lb,) = topo.load_balancers
    assert lb.sku == "Standard"
    assert lb.frontend_ip_configurations[0].private_ip_address == parse_ip("10.0.1.100")
    assert lb.load_balancing_rules[0].protocol == "All"
    nva_nic = topo.find("network_interfaces", "nva-nic")
    assert nva_nic.ip_configurations[0].load_balancer_backend_address_pools == (
        lb.backend_address_pools[0].id,)
    (fw,) = topo.azure_firewalls
    assert fw.private_ip_address == parse_ip("10.0.1.50")
    assert fw.network_rule_collections[0].action == "Deny"
    assert fw.network_rule_collections[0].rules[0].destination_ports[0].low == 22


@pytest.mark.parametrize("text, resource, prop", [
    ("vnets: {a: {address_space: [10.0.0.0/16]}}", "a", "region"),
    # values are checked by the shared converter, which names the ARM property path
    ("vnets: {a: {region: x, address_space: [10.0.0.0/33]}}", "a",
     "properties.addressSpace.addressPrefixes[0]"),
    ("vnets: {a: {region: x, address_space: [10.0.0.0/16]}}\npeerings: [{vnet: a, remote: b}]",
     "peerings[0]", "remote"),
    ("vnets: {a: {region: x, address_space: [10.0.0.0/16], subnets: {s: 10.0.0.0/24}}}\n"
     "vms: {v: {subnet: a/t}}", "v", "nics[0].subnet"),
    ("vnets: {a: {region: x, address_space: [10.0.0.0/16], subnets: {s: {nsg: n}}}}", "a",
     "subnets.s.prefix"),
    ("vnets: {a: {region: x, address_space: [10.0.0.0/16], subnets: {s: {prefix: 10.0.0.0/24, "
     "nsg: missing}}}}", "a/s", "nsg"),
    ("vnets: {a: {region: x, address_space: [10.0.0.0/16]}}\nnsgs: {n: {rules: [{name: r, "
     "priority: 100, direction: Sideways, access: Allow}]}}", "n",
     "properties.securityRules[0].direction"),
    ("vnetz: {}", None, "vnetz"),
    # a bad subnet prefix names the subnet, not the VM placed in it (new-user trial)
    ("vnets: {a: {region: x, address_space: [10.0.0.0/16], subnets: {web: 10.0.1.0/33}}}\n"
     "vms: {vm1: {subnet: a/web}}", "a", "subnets.web.prefix"),
    # a bad requested address names its owner and property, whatever owns it (hostile fuzz)
    ("vnets: {a: {region: x, address_space: [10.0.0.0/16], subnets: {web: 10.0.1.0/24}}}\n"
     "vms: {vm1: {subnet: a/web}}\n"
     "load_balancers: {lb: {frontend: {subnet: a/web, ip: [10.0.1.100]}, backends: [vm1]}}",
     "lb", "frontend.ip"),
    ("vnets: {a: {region: x, address_space: [10.0.0.0/16], subnets: {web: 10.0.1.0/24}}}\n"
     "vms: {vm1: {nics: [{subnet: a/web}, {subnet: a/web, ip: 10.9.9.300}]}}",
     "vm1", "nics[1].ip"),
    ("vnets: {a: {region: x, address_space: [10.0.0.0/16], subnets: {AzureFirewallSubnet: "
     "10.0.2.0/26}}}\nfirewalls: {fw: {subnet: a/AzureFirewallSubnet, ip: nope}}", "fw", "ip"),
])
def test_bad_scenarios_name_resource_and_property(text, resource, prop):
    with pytest.raises(InputError) as info:
        load_scenario_text(text, "bad.yaml")
    error = info.value
    assert error.file == "bad.yaml"
    assert error.property is not None and prop in error.property
    if resource is not None:
        assert error.resource == resource
    assert "bad.yaml" in error.one_line()


def test_malformed_yaml_reports_line():
    with pytest.raises(InputError, match=r"malformed YAML at line 2, column 7"):
        load_scenario_text("vnets:\n  a: b: c\n", "x.yaml")


def test_later_entry_refines_the_link_of_the_same_pair():
    text = """vnets:
  hub: {region: westeurope, address_space: [10.0.0.0/16]}
  spoke: {region: westeurope, address_space: [10.1.0.0/16]}
peerings:
  - {between: [hub, spoke], allow_forwarded_traffic: true}
  - {vnet: spoke, remote: hub, allow_forwarded_traffic: false, name: custom}
"""
    topo = load_scenario_text(text)
    (spoke_link,) = topo.vnet("spoke").virtual_network_peerings
    (hub_link,) = topo.vnet("hub").virtual_network_peerings
    assert spoke_link.name == "custom" and not spoke_link.allow_forwarded_traffic
    assert hub_link.allow_forwarded_traffic and spoke_link.peering_state == "Connected"
