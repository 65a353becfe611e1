"""ARM/az: a property a spelling away from one the loader reads is a `check` warning and a named
caveat, never silence; an unknown property far from any we read stays silent (ARM holds many we
do not model). A target FQDN with a wildcard anywhere but the left is refused, as Azure does."""

from __future__ import annotations

import json

import pytest

from dataplane.cli import main
from dataplane.control.caveats import topology_caveats
from dataplane.control.validate import validate
from dataplane.errors import PROPERTY_NEAR_MISS, InputError
from dataplane.load.resources import resources_to_topology
from dataplane.load.scenario import load_scenario_text

SUB = "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network"


def firewall(rule: dict) -> list[dict]:
    return [
        {"type": "Microsoft.Network/virtualNetworks", "name": "hub", "id": f"{SUB}/"
         "virtualNetworks/hub", "location": "westeurope", "properties": {
             "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
             "subnets": [{"name": "AzureFirewallSubnet", "properties": {
                 "addressPrefix": "10.0.1.0/26"}}]}},
        {"type": "Microsoft.Network/azureFirewalls", "name": "fw", "id": f"{SUB}/"
         "azureFirewalls/fw", "location": "westeurope", "properties": {
             "ipConfigurations": [{"name": "c", "properties": {
                 "subnet": {"id": f"{SUB}/virtualNetworks/hub/subnets/AzureFirewallSubnet"},
                 "privateIPAddress": "10.0.1.4"}}],
             "applicationRuleCollections": [{"name": "apps", "properties": {
                 "priority": 100, "action": {"type": "Allow"}, "rules": [rule]}}]}}]


RULE = {"name": "web", "sourceAddresses": ["10.1.0.0/16"],
        "protocols": [{"protocolType": "Https", "port": 443}], "fqdnTags": ["WindowsUpdate"]}


def test_misspelt_target_fqdns_is_a_warning_and_a_caveat():
    topology = resources_to_topology(firewall({**RULE, "targetFQDN": ["www.example.com"]}),
                                     "fw.json")
    (finding,) = [f for f in validate(topology) if f.code == PROPERTY_NEAR_MISS]
    assert finding.severity == "warning" and finding.resource.endswith("/azureFirewalls/fw")
    assert finding.message.startswith(
        "fw.json: resource 'fw': property 'properties.applicationRuleCollections[0]"
        ".properties.rules[0].targetFQDN' is not read (did you mean 'targetFqdns'?)")
    (caveat,) = [c for c in topology_caveats(topology) if c.key.startswith("near-miss:")]
    assert caveat.key == ("near-miss:fw:properties.applicationRuleCollections[0].properties."
                          "rules[0].targetFQDN")
    assert caveat.resources == {f"{SUB}/azureFirewalls/fw".lower()}


@pytest.mark.parametrize("extra", [{"description": "x"}, {"targetUrls": ["a.b/c"]},
                                   {"TargetFqdns": ["www.example.com"]}])
def test_unknown_or_differently_cased_properties_stay_silent(extra):
    topology = resources_to_topology(firewall({**RULE, **extra}), "fw.json")
    assert not [f for f in validate(topology) if f.code == PROPERTY_NEAR_MISS]


def test_near_miss_in_an_az_dump_route_flattened():
    dump = [{"type": "Microsoft.Network/routeTables", "name": "rt", "id": f"{SUB}/routeTables/rt",
             "location": "westeurope", "routes": [
                 {"name": "d", "addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance",
                  "nextHopIpAdress": "10.0.1.4"}]}]
    messages = [m for c, m, _ in resources_to_topology(dump, "rt.json").load_findings
                if c == PROPERTY_NEAR_MISS]
    assert messages == ["rt.json: resource 'rt': property 'routes[0].nextHopIpAdress' is not "
                        "read (did you mean 'nextHopIpAddress'?); Azure ignores it too, so the "
                        "resource is modelled without it"]


def test_check_prints_the_warning_and_stays_valid(tmp_path, capsys):
    path = tmp_path / "fw.json"
    path.write_text(json.dumps(firewall({**RULE, "targetFQDN": ["www.example.com"]})),
                    encoding="utf-8")
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    words = " ".join(out.split())  # the terminal wraps long lines
    assert "Warnings: 1" in out
    assert (f"{PROPERTY_NEAR_MISS}: {path}: resource 'fw': property 'properties."
            "applicationRuleCollections[0].properties.rules[0].targetFQDN' is not read (did you "
            "mean 'targetFqdns'?)") in words
    assert "VALID" in out.splitlines()[-1]


@pytest.mark.parametrize("fqdn", ["www.*.com", "contoso.*", "*.contoso.*"])
def test_a_wildcard_not_at_the_left_is_refused(fqdn):
    with pytest.raises(InputError) as info:
        resources_to_topology(firewall({**RULE, "targetFqdns": [fqdn]}), "fw.json")
    assert info.value.property == ("properties.applicationRuleCollections[0].properties."
                                   "rules[0].targetFqdns[0]")
    assert "wildcard only at the left" in info.value.message


@pytest.mark.parametrize("fqdn", ["*", "*.contoso.com", "*contoso.com", "www.contoso.com"])
def test_wildcards_azure_takes_load(fqdn):
    topology = resources_to_topology(firewall({**RULE, "targetFqdns": [fqdn]}), "fw.json")
    assert topology.azure_firewalls[0].application_rule_collections[0].rules[0] \
        .target_fqdns == (fqdn,)


def test_scenario_mid_wildcard_names_the_firewall(tmp_path):
    text = ("vnets: {hub: {region: westeurope, address_space: [10.0.0.0/16], subnets: "
            "{AzureFirewallSubnet: 10.0.2.0/26}}}\n"
            "firewalls: {fw: {subnet: hub/AzureFirewallSubnet, application_collections: [{name: "
            "a, rules: [{name: r, fqdns: ['www.*.com']}]}]}}\n")
    with pytest.raises(InputError) as info:
        load_scenario_text(text, "lab.yaml")
    assert (info.value.file, info.value.resource) == ("lab.yaml", "fw")
    assert "www.*.com" in info.value.message
