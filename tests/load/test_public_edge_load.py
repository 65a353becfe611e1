"""Loading public IPs, NAT gateways, public load balancers and private endpoints (load/public_edge.py,
load/resources.py) from az-style dumps and scenario YAML: values as ARM has them, ARM's defaults
when absent, one clear InputError for a bad value."""

from __future__ import annotations

import pytest

from dataplane.errors import InputError
from dataplane.load.resources import resources_to_topology
from dataplane.load.scenario import load_scenario_text
from dataplane.model import PublicIPAddress

SUB = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Network/"
VNET = SUB + "virtualNetworks/v"


def _vnet(**subnet_props: object) -> dict:
    return {"type": "Microsoft.Network/virtualNetworks", "name": "v", "id": VNET, "location": "westeurope",
            "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                           "subnets": [{"name": "s", "id": VNET + "/subnets/s",
                                        "properties": {"addressPrefix": "10.0.1.0/24", **subnet_props}}]}}


def _nic(pip: str | None = None, ip: str = "10.0.1.4") -> dict:
    config = {"subnet": {"id": VNET + "/subnets/s"}, "privateIPAddress": ip}
    if pip:
        config["publicIPAddress"] = {"id": SUB + "publicIPAddresses/" + pip}
    return {"type": "Microsoft.Network/networkInterfaces", "name": "nic", "id": SUB + "networkInterfaces/nic",
            "location": "westeurope", "properties": {"ipConfigurations": [{"name": "c", "properties": config}]}}


def _pip(name: str, **props: object) -> dict:
    sku = props.pop("sku", None)
    out = {"type": "Microsoft.Network/publicIPAddresses", "name": name, "id": SUB + "publicIPAddresses/" + name,
           "location": "westeurope", "properties": props}
    if sku is not None:
        out["sku"] = {"name": sku}
    return out


def test_a_public_ip_on_a_nic_is_modelled_with_arms_defaults() -> None:
    topology = resources_to_topology([_vnet(), _nic("p"), _pip("p")])
    (pip,) = topology.public_ip_addresses
    assert pip == PublicIPAddress(id=SUB + "publicIPAddresses/p", name="p", location="westeurope",
                                  sku="Basic", public_ip_address_version="IPv4",
                                  public_ip_allocation_method="Dynamic", ip_address=None)
    assert topology.unknown_resources == ()


def test_a_dumps_address_and_sku_are_kept() -> None:
    topology = resources_to_topology([_vnet(), _nic("p"), _pip("p", sku="standard", ipAddress="20.1.2.3",
                                                               publicIPAllocationMethod="Static")])
    (pip,) = topology.public_ip_addresses
    assert (pip.sku, str(pip.ip_address), pip.public_ip_allocation_method) == ("Standard", "20.1.2.3", "Static")


def test_a_public_ip_nothing_modelled_uses_stays_an_unknown_resource() -> None:
    topology = resources_to_topology([_vnet(), _nic(), _pip("bastion-ip")])
    assert topology.public_ip_addresses == ()
    assert [u.name for u in topology.unknown_resources] == ["bastion-ip"]


def test_a_bad_sku_names_file_resource_and_property() -> None:
    with pytest.raises(InputError) as error:
        resources_to_topology([_vnet(), _nic("p"), _pip("p", sku="Premium")], "dump.json")
    assert (error.value.resource, error.value.property) == ("p", "sku.name")


def test_an_ipv6_version_with_an_ipv4_address_is_refused() -> None:
    with pytest.raises(InputError) as error:
        resources_to_topology([_vnet(), _nic("p"), _pip("p", publicIPAddressVersion="IPv6", ipAddress="20.1.2.3")])
    assert error.value.property == "properties.ipAddress"


def test_subnet_nat_gateway_policies_and_private_flag() -> None:
    nat = {"type": "Microsoft.Network/natGateways", "name": "nat", "id": SUB + "natGateways/nat",
           "location": "westeurope", "sku": {"name": "Standard"},
           "properties": {"publicIpAddresses": [{"id": SUB + "publicIPAddresses/p"}]}}
    topology = resources_to_topology([
        _vnet(natGateway={"id": SUB + "natGateways/nat"}, privateEndpointNetworkPolicies="routetableenabled",
              defaultOutboundAccess=False), _nic(), _pip("p", sku="Standard"), nat])
    subnet = topology.virtual_networks[0].subnets[0]
    assert subnet.nat_gateway == SUB + "natGateways/nat"
    assert subnet.private_endpoint_network_policies == "RouteTableEnabled"
    assert subnet.default_outbound_access is False
    assert topology.nat_gateways[0].public_ip_addresses == (SUB + "publicIPAddresses/p",)
    assert [p.name for p in topology.public_ip_addresses] == ["p"]  # the NAT gateway uses it


def test_network_policies_default_to_disabled_and_refuse_unknown_values() -> None:
    assert resources_to_topology([_vnet()]).virtual_networks[0].subnets[0].private_endpoint_network_policies \
        == "Disabled"
    with pytest.raises(InputError) as error:
        resources_to_topology([_vnet(privateEndpointNetworkPolicies="Sometimes")])
    assert error.value.property.endswith("privateEndpointNetworkPolicies")


def _endpoint(**props: object) -> dict:
    return {"type": "Microsoft.Network/privateEndpoints", "name": "pe", "id": SUB + "privateEndpoints/pe",
            "location": "westeurope",
            "properties": {"subnet": {"id": VNET + "/subnets/s"},
                           "privateLinkServiceConnections": [{"name": "c", "properties": {
                               "privateLinkServiceId": "/subscriptions/x/resourceGroups/y/providers/"
                                                       "Microsoft.Storage/storageAccounts/st",
                               "groupIds": ["blob"]}}], **props}}


def test_a_private_endpoint_without_address_takes_the_first_free_one() -> None:
    topology = resources_to_topology([_vnet(), _nic(ip="10.0.1.4"), _endpoint()])
    (pe,) = topology.private_endpoints
    assert [str(a) for a in pe.private_ip_addresses] == ["10.0.1.5"]
    assert pe.target.endswith("storageAccounts/st (blob)")
    assert "private-endpoint-address" in [a.key for a in topology.assumptions]


def test_a_private_endpoints_given_address_is_kept_without_assumption() -> None:
    topology = resources_to_topology([_vnet(), _endpoint(customDnsConfigs=[{"ipAddresses": ["10.0.1.9"]}])])
    assert [str(a) for a in topology.private_endpoints[0].private_ip_addresses] == ["10.0.1.9"]
    assert "private-endpoint-address" not in [a.key for a in topology.assumptions]


def test_a_private_endpoint_without_target_is_refused() -> None:
    bad = _endpoint()
    bad["properties"]["privateLinkServiceConnections"][0]["properties"]["privateLinkServiceId"] = ""
    with pytest.raises(InputError) as error:
        resources_to_topology([_vnet(), bad])
    assert "privateLinkServiceId" in error.value.property


SCENARIO = """
vnets:
  hub: {region: westeurope, address_space: 10.0.0.0/16,
        subnets: {app: {prefix: 10.0.1.0/24, nat_gateway: nat}, pe: {prefix: 10.0.2.0/24,
                  private_endpoint_network_policies: Enabled}}}
public_ips:
  vm-ip: {sku: Basic}
  nat-ip: {address: 20.50.0.1}
  lb-ip: {}
nat_gateways:
  nat: {public_ips: [nat-ip]}
vms:
  web: {subnet: hub/app, public_ip: vm-ip}
load_balancers:
  edge: {frontend: {public_ip: lb-ip}, backends: [web], rules: [{protocol: Tcp, frontend_port: 80}],
         outbound_rules: [{name: out}], inbound_nat_rules: [{name: ssh, vm: web, frontend_port: 50022,
                                                             backend_port: 22}]}
private_endpoints:
  blob: {subnet: hub/pe, target: /subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/st,
         group_ids: [blob]}
"""


def test_the_scenario_keys_build_the_same_model() -> None:
    topology = load_scenario_text(SCENARIO)
    assert sorted(p.name for p in topology.public_ip_addresses) == ["lb-ip", "nat-ip", "vm-ip"]
    (lb,) = topology.load_balancers
    assert lb.public and lb.outbound_rules[0].name == "out"
    assert (lb.inbound_nat_rules[0].frontend_port, lb.inbound_nat_rules[0].backend_port) == (50022, 22)
    assert lb.inbound_nat_rules[0].backend_ip_configuration.endswith("web-nic/ipConfigurations/ipconfig1")
    (pe,) = topology.private_endpoints
    assert [str(a) for a in pe.private_ip_addresses] == ["10.0.2.4"]
    assert topology.virtual_networks[0].subnet("pe").private_endpoint_network_policies == "Enabled"
    assert topology.network_interfaces[0].ip_configurations[0].public_ip_address.endswith("/vm-ip")


def test_a_firewalls_public_ip_is_modelled_since_issue_11() -> None:
    """Issue 11: an Azure Firewall's public IPs are DNAT destinations and SNAT sources
    (engine/stages/firewall_nat.py), so they are modelled, in ipConfigurations order."""
    firewall = {"type": "Microsoft.Network/azureFirewalls", "name": "fw", "id": SUB + "azureFirewalls/fw",
                "location": "westeurope",
                "properties": {"ipConfigurations": [{"name": "c", "properties": {
                    "subnet": {"id": VNET + "/subnets/s"}, "privateIPAddress": "10.0.1.4",
                    "publicIPAddress": {"id": SUB + "publicIPAddresses/fw-ip"}}}]}}
    topology = resources_to_topology([_vnet(), firewall, _pip("fw-ip", sku="Standard")])
    assert [p.name for p in topology.public_ip_addresses] == ["fw-ip"]
    assert topology.unknown_resources == ()
    assert topology.azure_firewalls[0].public_ip_addresses == (SUB + "publicIPAddresses/fw-ip",)


def test_az_dumps_with_flattened_properties() -> None:
    """`az network public-ip list`, `az network nat gateway list`, `az network private-endpoint
    list` print properties at the top level; the NIC of a dumped endpoint gives its address."""
    pip = {"type": "Microsoft.Network/publicIPAddresses", "name": "p", "id": SUB + "publicIPAddresses/p",
           "location": "westeurope", "sku": {"name": "Standard", "tier": "Regional"},
           "ipAddress": "20.1.2.3", "publicIPAllocationMethod": "Static", "publicIPAddressVersion": "IPv4"}
    nat = {"type": "Microsoft.Network/natGateways", "name": "nat", "id": SUB + "natGateways/nat",
           "location": "westeurope", "sku": {"name": "Standard"}, "idleTimeoutInMinutes": 10,
           "publicIpAddresses": [{"id": SUB + "publicIPAddresses/p", "resourceGroup": "rg"}]}
    pe_nic = {"type": "Microsoft.Network/networkInterfaces", "name": "pe.nic.1", "id": SUB + "networkInterfaces/pe.nic.1",
              "location": "westeurope", "ipConfigurations": [{"name": "privateEndpointIpConfig",
                                                              "privateIPAddress": "10.0.1.7",
                                                              "subnet": {"id": VNET + "/subnets/s"}}],
              "privateEndpoint": {"id": SUB + "privateEndpoints/pe"}}
    pe = {"type": "Microsoft.Network/privateEndpoints", "name": "pe", "id": SUB + "privateEndpoints/pe",
          "location": "westeurope", "subnet": {"id": VNET + "/subnets/s"},
          "networkInterfaces": [{"id": SUB + "networkInterfaces/pe.nic.1"}],
          "privateLinkServiceConnections": [{"name": "c", "privateLinkServiceId": "/subscriptions/x/"
                                             "resourceGroups/y/providers/Microsoft.KeyVault/vaults/kv",
                                             "groupIds": ["vault"]}], "customDnsConfigs": []}
    topology = resources_to_topology([_vnet(natGateway={"id": SUB + "natGateways/nat"}), pip, nat, pe_nic, pe])
    assert str(topology.public_ip_addresses[0].ip_address) == "20.1.2.3"
    assert topology.nat_gateways[0].idle_timeout_in_minutes == 10
    (endpoint,) = topology.private_endpoints
    assert [str(a) for a in endpoint.private_ip_addresses] == ["10.0.1.7"]
    assert endpoint.target.endswith("vaults/kv (vault)")
    assert "private-endpoint-address" not in [a.key for a in topology.assumptions]
