"""Template errors inside Firewall Policy children name the right place (issue 11, finding e).

A rule collection group written as its own resource (`Microsoft.Network/firewallPolicies/
ruleCollectionGroups` named "pol/rcg") is folded into policy 'pol' by the loader; an error in it
names the child (its name as the template writes it, its type, its file entry) and the property
path inside it, on one line, exit 2 ("a template error names file, resource and property").
Priorities outside Azure's range are refused ("Microsoft.Network firewallPolicies/
ruleCollectionGroups" ARM template reference, https://learn.microsoft.com/azure/templates/
microsoft.network/firewallpolicies/rulecollectiongroups: group and rule collection `priority`,
"Min value = 100, Max value = 65000"; "Azure Firewall Policy rule sets",
https://learn.microsoft.com/azure/firewall/policy-rule-sets). A basePolicy cycle names the file
and the policies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dataplane.cli import main
from dataplane.errors import PROPERTY_NEAR_MISS, InputError
from dataplane.load import load

RCG_TYPE = "Microsoft.Network/firewallPolicies/ruleCollectionGroups"


def _rule(**extra: Any) -> dict:
    return {"ruleType": "NetworkRule", "name": "tls", "ipProtocols": ["TCP"],
            "sourceAddresses": ["10.1.0.0/16"], "destinationAddresses": ["10.2.0.0/16"],
            "destinationPorts": ["443"], **extra}


def _group_props(priority: Any = 200, collection_priority: Any = 100,
                 rule: dict | None = None) -> dict:
    return {"priority": priority, "ruleCollections": [{
        "ruleCollectionType": "FirewallPolicyFilterRuleCollection", "name": "net",
        "priority": collection_priority, "action": {"type": "Allow"},
        "rules": [rule or _rule()]}]}


def _template(tmp_path: Path, group: dict | None = None, inline: dict | None = None,
              preview: dict | None = None, name: str = "t.json") -> Path:
    """A policy 'pol' (resources[0]); a child group 'pol/rcg' (resources[1]) with properties
    `group`; `inline`: a group written inside the policy instead; `preview`: a 2019-06-01
    `firewallPolicies/ruleGroups` child 'pol/rg' with properties `preview`."""
    policy: dict[str, Any] = {"type": "Microsoft.Network/firewallPolicies",
                              "apiVersion": "2023-04-01", "name": "pol",
                              "location": "westeurope", "properties": {}}
    if inline is not None:
        policy["properties"]["ruleCollectionGroups"] = [{"name": "inline",
                                                         "properties": inline}]
    resources = [policy]
    if group is not None:
        resources.append({"type": RCG_TYPE, "apiVersion": "2023-04-01", "name": "pol/rcg",
                          "dependsOn": ["[resourceId('Microsoft.Network/firewallPolicies', "
                                        "'pol')]"], "properties": group})
    if preview is not None:
        resources.append({"type": "Microsoft.Network/firewallPolicies/ruleGroups",
                          "apiVersion": "2019-06-01", "name": "pol/rg", "properties": preview})
    path = tmp_path / name
    path.write_text(json.dumps({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/"
                   "deploymentTemplate.json#", "contentVersion": "1.0.0.0",
        "resources": resources}))
    return path


def _error(path: Path) -> str:
    with pytest.raises(InputError) as e:
        load(path)
    return str(e.value)


def _check_line(path: Path, capsys) -> str:
    """`dataplane check` on `path`: exit 2 and exactly one error line, returned."""
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def test_an_error_in_a_child_group_names_the_child_and_the_path_inside_it(tmp_path,
                                                                          capsys) -> None:
    path = _template(tmp_path, group=_group_props(rule=_rule(ruleType="Bogus")))
    text = _error(path)
    assert text.startswith(f"{path}#resources[1]: resource 'pol/rcg': property "
                           "'properties.ruleCollections[0].rules[0].ruleType': expected "
                           "NetworkRule, ApplicationRule or NatRule, got 'Bogus'")
    assert RCG_TYPE in text and "child of policy 'pol'" in text
    assert "ruleCollectionGroups[" not in text  # not the policy's merged path
    assert _check_line(path, capsys).endswith(text)


def test_an_error_in_an_inline_group_still_names_the_policy(tmp_path) -> None:
    """A group written inside the policy's properties is the policy's: its path is the
    policy's (the child form above is not applied to it)."""
    path = _template(tmp_path, inline=_group_props(priority="high"))
    text = _error(path)
    assert text.startswith(f"{path}#resources[0]: resource 'pol': property "
                           "'properties.ruleCollectionGroups[0].properties.priority': expected "
                           "an integer, got 'high'")
    assert RCG_TYPE not in text


@pytest.mark.parametrize("where, group, prop", [
    ("group", _group_props(priority=70000), "properties.priority"),
    ("group", _group_props(priority=99), "properties.priority"),
    ("collection", _group_props(collection_priority=70000),
     "properties.ruleCollections[0].priority"),
    ("collection", _group_props(collection_priority=0), "properties.ruleCollections[0].priority"),
])
def test_priorities_outside_100_65000_are_refused(tmp_path, capsys, where, group, prop) -> None:
    path = _template(tmp_path, group=group)
    line = _check_line(path, capsys)
    assert f"resource 'pol/rcg': property '{prop}': priority " in line
    assert "is outside Azure's range 100-65000" in line and str(path) in line
    inline = _template(tmp_path, inline=group, name="inline.json")
    assert f"'properties.ruleCollectionGroups[0].{prop}': priority " in _error(inline)


def test_priorities_at_the_ends_of_the_range_load(tmp_path) -> None:
    for low, high in ((100, 65000), (65000, 100)):
        topology = load(_template(tmp_path, group=_group_props(low, high)))
        ((group,),) = [p.rule_collection_groups for p in topology.firewall_policies]
        assert (group.priority, group.rule_collections[0].priority) == (low, high)


def test_an_error_in_a_preview_rule_group_child_names_it(tmp_path) -> None:
    """The 2019-06-01 schema: `firewallPolicies/ruleGroups` 'pol/rg'."""
    path = _template(tmp_path, preview={"priority": 200, "rules": [
        {"ruleType": "FirewallPolicyUnknownRule", "name": "x", "priority": 100}]})
    text = _error(path)
    assert text.startswith(f"{path}#resources[1]: resource 'pol/rg': property "
                           "'properties.rules[0].ruleType'")
    assert "Microsoft.Network/firewallPolicies/ruleGroups" in text


def test_a_near_miss_in_a_child_group_names_the_child(tmp_path) -> None:
    """`ipProtocol` for `ipProtocols` in the child: a warning naming 'pol/rcg' and the path
    inside it (the rule then has no protocol list, as in Azure)."""
    rule = _rule()
    rule["ipProtocol"] = rule.pop("ipProtocols")
    path = _template(tmp_path, group=_group_props(rule=rule))
    topology = load(path)
    (message,) = [m for c, m, _ in topology.load_findings if c == PROPERTY_NEAR_MISS]
    assert message.startswith(f"{path}#resources[1]: resource 'pol/rcg': property "
                              "'properties.ruleCollections[0].rules[0].ipProtocol' is not read")


def _cycle_template(tmp_path: Path) -> Path:
    def policy(name: str, base: str) -> dict:
        return {"type": "Microsoft.Network/firewallPolicies", "apiVersion": "2023-04-01",
                "name": name, "location": "westeurope", "properties": {"basePolicy": {
                    "id": f"[resourceId('Microsoft.Network/firewallPolicies', '{base}')]"}}}
    resources = [
        {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-04-01", "name": "hub",
         "location": "westeurope", "properties": {
             "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
             "subnets": [{"name": "AzureFirewallSubnet",
                          "properties": {"addressPrefix": "10.0.1.0/26"}}]}},
        policy("pa", "pb"), policy("pb", "pa"),
        {"type": "Microsoft.Network/azureFirewalls", "apiVersion": "2023-04-01", "name": "fw",
         "location": "westeurope", "properties": {
             "ipConfigurations": [{"name": "c", "properties": {
                 "subnet": {"id": "[resourceId('Microsoft.Network/virtualNetworks/subnets', "
                                  "'hub', 'AzureFirewallSubnet')]"},
                 "privateIPAddress": "10.0.1.4"}}],
             "firewallPolicy": {"id": "[resourceId('Microsoft.Network/firewallPolicies', "
                                      "'pa')]"}}}]
    path = tmp_path / "cycle.json"
    path.write_text(json.dumps({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/"
                   "deploymentTemplate.json#", "contentVersion": "1.0.0.0",
        "resources": resources}))
    return path


def test_a_base_policy_cycle_names_the_file_and_the_policies(tmp_path, capsys) -> None:
    """pa's base is pb, pb's is pa: `check` exits 2 naming the file entry of the policy whose
    basePolicy closes the cycle, its property and the cycle in order."""
    path = _cycle_template(tmp_path)
    line = _check_line(path, capsys)
    assert (f"{path}#resources[2]: resource 'pb': property 'properties.basePolicy.id': "
            "basePolicy cycle: firewall policies 'pa' -> 'pb' -> 'pa'") in line
    assert "firewall 'fw' uses 'pa'" in line
