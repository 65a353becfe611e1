"""Issue 10's tracebacks from input values, each now one InputError naming the file, the
resource and the property (shapes checked once at the edge, by kind)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dataplane.errors import InputError
from dataplane.load import load
from dataplane.load.arm.template import evaluate_template
from dataplane.load.scenario import load_scenario_text

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
RG = "/subscriptions/1/resourceGroups/r/providers/"


def dump(tmp_path: Path, resource: dict[str, Any]) -> Path:
    path = tmp_path / "dump.json"
    path.write_text(json.dumps([resource]))
    return path


def failure(path: Path, **kwargs: Any) -> InputError:
    with pytest.raises(InputError) as err:
        load(path, **kwargs)
    assert "\n" not in err.value.one_line()
    return err.value


@pytest.mark.parametrize(("kind", "properties", "prop", "wanted"), [
    ("Microsoft.Network/networkInterfaces", {"ipConfigurations": "x"},
     "properties.ipConfigurations", "expected a list, got string 'x'"),
    ("Microsoft.Network/networkInterfaces", {"ipConfigurations": ["x"]},
     "properties.ipConfigurations[0]", "expected an object, got string 'x'"),
    ("Microsoft.Compute/virtualMachines", {"networkProfile": {"networkInterfaces": 5}},
     "properties.networkProfile.networkInterfaces", "expected a list, got int 5"),
    ("Microsoft.Network/azureFirewalls", {"networkRuleCollections": [{"name": "c", "properties": {
        "rules": [{"name": "r", "sourceAddresses": "10.0.0.0/8"}]}}]},
     "properties.networkRuleCollections[0].properties.rules[0].sourceAddresses",
     "expected a list, got string '10.0.0.0/8'"),
    ("Microsoft.Network/virtualNetworks", {"subnets": [{"name": "s", "id": {"x": 1}}]},
     "properties.subnets[0].id", "expected a string, got object"),
    ("Microsoft.Network/virtualNetworks", "text", "properties", "expected an object"),
    ("Microsoft.Network/virtualNetworks", {"subnets": [{"name": "s", "id": True}]},
     "properties.subnets[0].id", "expected a string, got bool True"),
    ("Microsoft.Network/networkInterfaces", {"ipConfigurations": [{"name": "c",
                                                                   "properties": ["x"]}]},
     "properties.ipConfigurations[0].properties", "expected an object, got list"),
])
def test_dump_values_of_the_wrong_kind(tmp_path: Path, kind: str, properties: Any, prop: str,
                                       wanted: str) -> None:
    name = kind.rsplit("/", 1)[1]
    path = dump(tmp_path, {"type": kind, "name": "r1", "id": f"{RG}{kind}/r1",
                           "properties": properties})
    e = failure(path)
    assert (e.file, e.resource, e.property) == (str(path), "r1", prop), name
    assert wanted in e.message


def test_dump_priority_beyond_64_bits_is_refused_while_reading(tmp_path: Path) -> None:
    kind = "Microsoft.Network/networkSecurityGroups"
    path = dump(tmp_path, {"type": kind, "name": "n", "id": f"{RG}{kind}/n", "properties": {
        "securityRules": [{"name": "r", "properties": {"priority": 2**63}}]}})
    e = failure(path)
    assert e.file == str(path) and "9223372036854775808 is outside the 64-bit range" in e.message


def test_top_level_id_must_be_a_string(tmp_path: Path) -> None:
    """Found by the long fuzz profile: `"id": true` reached id_key()."""
    e = failure(dump(tmp_path, {"type": "Microsoft.Network/virtualNetworks", "name": "v",
                                "id": True, "properties": {}}))
    assert (e.resource, e.property) == ("v", "id") and "expected a string" in e.message


def test_flattened_az_form_is_checked_too(tmp_path: Path) -> None:
    kind = "Microsoft.Network/networkInterfaces"
    e = failure(dump(tmp_path, {"type": kind, "name": "n", "id": f"{RG}{kind}/n",
                                "ipConfigurations": 7}))
    assert e.property == "ipConfigurations" and "got int 7" in e.message


def template(tmp_path: Path, **doc: Any) -> Path:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"$schema": SCHEMA, "resources": [], **doc}))
    return path


@pytest.mark.parametrize(("doc", "resource", "prop"), [
    ({"parameters": "a string"}, None, "parameters"),
    ({"variables": ["x"]}, None, "variables"),
    ({"parameters": {"p": "string"}}, None, "parameters.p"),
    ({"resources": "none"}, None, "resources"),
    ({"resources": [{"type": "Microsoft.Network/routeTables", "name": "rt", "dependsOn": 3}]},
     "rt", "dependsOn"),
    ({"resources": [{"type": "Microsoft.Resources/deployments", "name": "d", "properties": {
        "template": {"$schema": SCHEMA, "resources": {"sym": "a string"}}}}]},
     None, "resources[0].properties.template.resources[0]"),
    ({"resources": [{"type": "Microsoft.Resources/deployments", "name": "d", "properties": {
        "template": {"$schema": SCHEMA, "resources": 5}}}]}, None,
     "resources[0].properties.template.resources"),
    ({"functions": {"x": 1}}, None, "functions"),
])
def test_template_sections_of_the_wrong_kind(tmp_path: Path, doc: dict[str, Any],
                                             resource: str | None, prop: str) -> None:
    path = template(tmp_path, **doc)
    with pytest.raises(InputError) as err:
        evaluate_template(path)
    e = err.value
    assert (e.file, e.resource, e.property) == (str(path), resource, prop)
    assert "\n" not in e.one_line() and "expected" in e.message


def test_evaluated_ip_configuration_of_the_wrong_kind(tmp_path: Path) -> None:
    """A NIC whose ipConfigurations evaluate to a string (the allocator reads them)."""
    kind = "Microsoft.Network/networkInterfaces"
    path = template(tmp_path, resources=[{"type": kind, "apiVersion": "2023-09-01",
                                          "name": "nic", "properties": {
                                              "ipConfigurations": "[concat('a', 'b')]"}}])
    with pytest.raises(InputError) as err:
        evaluate_template(path)
    assert (err.value.resource, err.value.property) == ("nic", "properties.ipConfigurations")


BASE = """
vnets:
  hub: {region: westeurope, address_space: [10.0.0.0/16],
        subnets: {AzureFirewallSubnet: 10.0.1.0/24, app: 10.0.2.0/24}}
"""


def test_scenario_firewall_rule_takes_a_single_source() -> None:
    """`source: 10.1.0.0/16` is a one-element list, never read character by character."""
    text = BASE + """
firewalls:
  fw:
    subnet: hub/AzureFirewallSubnet
    collections:
      - {name: c, priority: 100, action: Allow,
         rules: [{name: r, protocols: TCP, source: 10.1.0.0/16, destination: 10.2.0.0/16,
                  ports: 443}]}
"""
    [fw] = load_scenario_text(text, "s.yaml").azure_firewalls
    rule = fw.network_rule_collections[0].rules[0]
    assert [str(a) for a in rule.source_addresses] == ["10.1.0.0/16"]
    assert [str(a) for a in rule.destination_addresses] == ["10.2.0.0/16"]
    assert rule.protocols == ("TCP",) and rule.destination_ports[0].low == 443


def test_scenario_priority_beyond_64_bits() -> None:
    text = BASE + f"""
nsgs:
  n:
    rules: [{{name: r, priority: {2**63}, direction: Inbound, access: Allow}}]
"""
    with pytest.raises(InputError) as err:
        load_scenario_text(text, "s.yaml")
    assert err.value.resource == "n" and "64-bit" in err.value.message
    assert err.value.property == "properties.securityRules[0].properties.priority"


def test_scenario_infinite_priority_is_one_line() -> None:
    text = BASE + """
nsgs:
  n:
    rules: [{name: r, priority: .inf, direction: Inbound, access: Allow}]
"""
    with pytest.raises(InputError) as err:
        load_scenario_text(text, "s.yaml")
    assert err.value.resource == "n" and "finite" in err.value.message


def test_nic_with_null_properties_in_a_template(tmp_path: Path) -> None:
    """Found by the long fuzz profile: `"properties": null` on a NIC reached the allocator."""
    kind = "Microsoft.Network/networkInterfaces"
    path = template(tmp_path, resources=[{"type": kind, "apiVersion": "2023-09-01",
                                          "name": "nic", "properties": None}])
    result = evaluate_template(path)
    assert [r["name"] for r in result.resources] == ["nic"]


@pytest.mark.parametrize("name", ["../../X", "/abs/X", "a\\b", " "])
def test_dump_resource_names_azure_forbids(tmp_path: Path, name: str) -> None:
    """Issue 10 point 2's names: refused at the edge (output names are also sanitised by the
    writers, which the command-line issue owns)."""
    kind = "Microsoft.Compute/virtualMachines"
    e = failure(dump(tmp_path, {"type": kind, "name": name, "id": f"{RG}{kind}/x",
                                "properties": {}}))
    assert e.property == "name" and "not a valid resource name" in e.message


def test_parameter_default_error_names_the_file(tmp_path: Path) -> None:
    """Found by the long fuzz profile: a defaultValue reading an undeclared parameter."""
    path = template(tmp_path, parameters={"a": {"type": "string",
                                                "defaultValue": "[parameters('b')]"}})
    with pytest.raises(InputError) as err:
        evaluate_template(path)
    assert (err.value.file, err.value.property) == (str(path), "parameters.a.defaultValue")
