"""az CLI / Resource Graph dumps: flattened or nested properties, lists or {"value": [...]},
several files merged; and the front door's format detection and errors."""

from __future__ import annotations

import json

import pytest

from dataplane import load
from dataplane.errors import InputError
from dataplane.net import parse_ip, parse_prefix

SUB = "/subscriptions/1111/resourceGroups/rg/providers/Microsoft.Network"


def vnet_flat(name, space, peer_to=None, state="Connected", location="westeurope"):
    """The shape `az network vnet list -o json` prints: properties flattened to the top."""
    vid = f"{SUB}/virtualNetworks/{name}"
    return {
        "id": vid, "name": name, "type": "Microsoft.Network/virtualNetworks",
        "location": location,
        "addressSpace": {"addressPrefixes": [space]},
        "subnets": [{"id": f"{vid}/subnets/default", "name": "default",
                     "addressPrefix": space.replace("/16", "/24"),
                     "networkSecurityGroup": {"id": f"{SUB}/networkSecurityGroups/nsg1"}}],
        "virtualNetworkPeerings": [] if not peer_to else [{
            "id": f"{vid}/virtualNetworkPeerings/to-{peer_to}", "name": f"to-{peer_to}",
            "remoteVirtualNetwork": {"id": f"{SUB}/virtualNetworks/{peer_to}"},
            "allowVirtualNetworkAccess": True, "allowForwardedTraffic": False,
            "allowGatewayTransit": False, "useRemoteGateways": False,
            "peeringState": state, "peeringSyncLevel": "FullyInSync",
            "remoteAddressSpace": {"addressPrefixes": ["10.9.0.0/16"]}}],
    }


NSG_GRAPH = {  # Resource Graph keeps "properties"
    "id": f"{SUB}/networkSecurityGroups/nsg1", "name": "nsg1",
    "type": "microsoft.network/networksecuritygroups", "location": "westeurope",
    "properties": {"securityRules": [{"name": "ssh", "properties": {
        "priority": 100, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
        "sourceAddressPrefix": "*", "sourcePortRange": "*",
        "destinationAddressPrefix": "VirtualNetwork", "destinationPortRange": "22"}}],
        "defaultSecurityRules": []},
}
NIC = {
    "id": f"{SUB}/networkInterfaces/nic1", "name": "nic1",
    "type": "Microsoft.Network/networkInterfaces", "location": "westeurope",
    "enableIPForwarding": True,
    "ipConfigurations": [{"name": "ipconfig1", "privateIPAddress": "10.1.0.4",
                          "privateIPAllocationMethod": "Dynamic",
                          "subnet": {"id": f"{SUB}/virtualNetworks/a/subnets/default"}}],
}


def write(tmp_path, name, doc):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_flat_az_list_and_graph_value_merged(tmp_path):
    vnets = write(tmp_path, "vnets.json", [vnet_flat("a", "10.1.0.0/16", "b"),
                                           vnet_flat("b", "10.9.0.0/16", "a")])
    nsgs = write(tmp_path, "nsgs.json", {"value": [NSG_GRAPH]})
    nics = write(tmp_path, "nics.json", [NIC])
    topo = load([vnets, nsgs, nics])
    assert [v.name for v in topo.virtual_networks] == ["a", "b"]
    link = topo.vnet("a").virtual_network_peerings[0]
    assert link.peering_state == "Connected"
    assert link.remote_address_space == (parse_prefix("10.9.0.0/16"),)
    assert topo.vnet("a").subnets[0].network_security_group.endswith("/nsg1")
    assert topo.network_security_groups[0].security_rules[0].destination_port_ranges[0].low == 22
    nic = topo.network_interfaces[0]
    assert nic.enable_ip_forwarding and nic.primary_ip == parse_ip("10.1.0.4")


def test_dump_keeps_reported_peering_state(tmp_path):
    """A dump's peeringState is what Azure reported, even when it differs from a derivation."""
    path = write(tmp_path, "v.json", [vnet_flat("a", "10.1.0.0/16", "b", state="Disconnected"),
                                      vnet_flat("b", "10.9.0.0/16")])
    assert load(path).vnet("a").virtual_network_peerings[0].peering_state == "Disconnected"


def test_separate_child_resources_are_merged(tmp_path):
    vnet = vnet_flat("a", "10.1.0.0/16")
    vnet["subnets"] = []
    child = {"id": f"{SUB}/virtualNetworks/a/subnets/s2", "name": "s2",
             "type": "Microsoft.Network/virtualNetworks/subnets",
             "properties": {"addressPrefix": "10.1.2.0/24"}}
    topo = load(write(tmp_path, "v.json", [vnet, child]))
    assert [s.name for s in topo.vnet("a").subnets] == ["s2"]


def test_unknown_types_kept_aside(tmp_path):
    storage = {"id": "/subscriptions/1/resourceGroups/rg/providers/Microsoft.Storage/"
                     "storageAccounts/st", "name": "st", "type": "Microsoft.Storage/storageAccounts"}
    topo = load(write(tmp_path, "v.json", [vnet_flat("a", "10.1.0.0/16"), storage]))
    assert [u.type for u in topo.unknown_resources] == ["Microsoft.Storage/storageAccounts"]


@pytest.mark.parametrize("doc, needle", [
    ([{"name": "x", "type": "Microsoft.Network/virtualNetworks"}], "has no 'id'"),
    ([42], "not an object"),
    ({"foo": 1}, "not an ARM template"),
    ([{**vnet_flat("a", "10.1.0.0/16"), "addressSpace": {"addressPrefixes": ["10.1.0.0/99"]}}],
     "not a valid address prefix"),
    ([{**vnet_flat("a", "10.1.0.0/16"), "subnets": "nope"}], "expected a list"),
])
def test_bad_dumps_give_one_line_errors(tmp_path, doc, needle):
    path = write(tmp_path, "bad.json", doc)
    with pytest.raises(InputError, match=needle) as info:
        load(path)
    assert str(path) in info.value.one_line()


def test_malformed_json_and_missing_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"value": [ {"id": }')
    with pytest.raises(InputError, match=r"malformed JSON at line 1"):
        load(bad)
    with pytest.raises(InputError, match="file not found"):
        load(tmp_path / "missing.json")


def test_bad_property_names_resource_and_path(tmp_path):
    vnet = vnet_flat("a", "10.1.0.0/16", "b")
    vnet["virtualNetworkPeerings"][0]["allowGatewayTransit"] = "maybe"
    with pytest.raises(InputError) as info:
        load(write(tmp_path, "v.json", [vnet]))
    assert info.value.resource == "a"
    assert info.value.property == "properties.virtualNetworkPeerings[0].allowGatewayTransit"
