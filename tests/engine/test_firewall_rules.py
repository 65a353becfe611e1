"""Classic Azure Firewall rules read as written ("Azure Firewall rule processing logic",
https://learn.microsoft.com/azure/firewall/rule-processing): a rule with destinationFqdns or IP
groups instead of destinationAddresses never matches "any"; IP groups in the topology are
evaluated; what cannot be evaluated (FQDNs, missing IP groups, NAT and application rule
collections, a Firewall Policy) puts a named caveat on every answer crossing that firewall."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from hub_topo import HUB_FW
from scapy.layers.inet import IP, TCP

from dataplane.control.validate import validate
from dataplane.engine import Disposition as D
from dataplane.engine import Emulator
from dataplane.errors import InputError
from dataplane.load import read_resources
from dataplane.load.resources import resources_to_topology

SUB = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers"


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> list[dict]:
    path = tmp_path_factory.mktemp("fw") / "hub.yaml"
    path.write_text(HUB_FW)
    return read_resources(Path(path))[0]


def with_firewall(base: list[dict], rule: dict, extra: list[dict] = (), **props) -> object:
    resources = copy.deepcopy(base)
    fw = next(r for r in resources if r["type"] == "Microsoft.Network/azureFirewalls")
    fw["properties"]["networkRuleCollections"] = [{"name": "c", "properties": {
        "priority": 100, "action": {"type": "Allow"}, "rules": [rule]}}]
    fw["properties"].update(props)
    return resources_to_topology([*resources, *extra], "test")


def ip_group(name: str, addresses: list[str]) -> dict:
    return {"type": "Microsoft.Network/ipGroups", "name": name, "location": "westeurope",
            "id": f"{SUB}/Microsoft.Network/ipGroups/{name}",
            "properties": {"ipAddresses": addresses}}


def send(topology, src: str, dst: str, vm: str):
    return Emulator(topology).send(IP(src=src, dst=dst) / TCP(sport=50000, dport=1433),
                                   source=vm)


def test_fqdn_rule_does_not_match_any_address_and_says_so(base):
    topo = with_firewall(base, {"name": "sql-by-name", "protocols": ["TCP"],
                                "sourceAddresses": ["10.1.0.0/16"],
                                "destinationFqdns": ["sql.contoso.internal"],
                                "destinationPorts": ["1433"]})
    rule = topo.azure_firewalls[0].network_rule_collections[0].rules[0]
    assert rule.destination_addresses == () and rule.destination_fqdns == (
        "sql.contoso.internal",)
    out = send(topo, "10.1.1.4", "10.2.1.4", "app1")
    assert out.dispositions() == [D.FIREWALL_DENIED]  # was DELIVERED ("*" by default)
    row = out.row(0)
    assert row["deciding"] == "firewall fw/default-deny"
    assert [c.split(":")[0] for c in row["caveats"]] == ["firewall-fqdn"]
    assert "sql.contoso.internal" in row["caveats"][0]
    assert list(out.summary()["caveats"].values()) == [1]


@pytest.mark.parametrize(("extra", "enabled"), [({}, False),
                                                ({"Network.DNS.EnableProxy": "true"}, True),
                                                ({"network.dns.enableproxy": "False"}, False)])
def test_classic_dns_proxy_is_read_and_named_in_the_fqdn_caveat(base, extra, enabled):
    """Classic firewalls turn DNS proxy on with additionalProperties "Network.DNS.EnableProxy"
    (New-AzFirewall -EnableDnsProxy); FQDNs in network rules resolve only with it ("Azure
    Firewall DNS settings", https://learn.microsoft.com/azure/firewall/dns-settings)."""
    topo = with_firewall(base, {"name": "sql-by-name", "protocols": ["TCP"],
                                "sourceAddresses": ["10.1.0.0/16"],
                                "destinationFqdns": ["sql.contoso.internal"],
                                "destinationPorts": ["1433"]}, additionalProperties=extra)
    assert topo.azure_firewalls[0].dns_proxy_enabled is enabled
    (caveat,) = send(topo, "10.1.1.4", "10.2.1.4", "app1").row(0)["caveats"]
    said = "resolved by the firewall's DNS proxy in Azure" in caveat
    assert said is enabled and ("does not enable it" in caveat) is not enabled


def test_a_bad_classic_dns_proxy_value_names_its_property(base):
    with pytest.raises(InputError, match=r'additionalProperties\["Network.DNS.EnableProxy"\]'):
        with_firewall(base, {"name": "r", "protocols": ["TCP"], "sourceAddresses": ["*"],
                             "destinationAddresses": ["*"], "destinationPorts": ["1"]},
                      additionalProperties={"Network.DNS.EnableProxy": "yes"})


def test_ip_groups_in_the_topology_are_evaluated(base):
    groups = [ip_group("spoke1", ["10.1.1.0/24"]), ip_group("sql", ["10.2.1.1-10.2.1.10"])]
    topo = with_firewall(base, {"name": "groups", "protocols": ["TCP"],
                                "sourceIpGroups": [groups[0]["id"]],
                                "destinationIpGroups": [groups[1]["id"]],
                                "destinationPorts": ["1433"]}, groups)
    assert [str(p) for p in topo.ip_groups[1].ip_addresses] == [
        "10.2.1.1/32", "10.2.1.2/31", "10.2.1.4/30", "10.2.1.8/31", "10.2.1.10/32"]
    out = send(topo, "10.1.1.4", "10.2.1.4", "app1")
    assert out.dispositions() == [D.DELIVERED] and out.row(0)["caveats"] == []
    # outside the destination group (10.2.1.11 is not in 10.2.1.1-10.2.1.10)
    assert send(topo, "10.1.1.4", "10.2.1.11", "app1").dispositions() == [D.FIREWALL_DENIED]


def test_missing_ip_group_matches_nothing_with_a_caveat(base):
    topo = with_firewall(base, {"name": "ghost", "protocols": ["Any"],
                                "sourceAddresses": ["*"],
                                "destinationIpGroups": [f"{SUB}/Microsoft.Network/ipGroups/gone"],
                                "destinationPorts": ["*"]})
    out = send(topo, "10.1.1.4", "10.2.1.4", "app1")
    assert out.dispositions() == [D.FIREWALL_DENIED]
    assert out.row(0)["caveats"][0].startswith("firewall-ipgroup-missing:")
    assert "'gone'" in out.row(0)["caveats"][0]


def test_nat_application_collections_and_policy_are_loaded_and_named(base):
    nat = [{"name": "inbound-rdp", "properties": {"priority": 100, "action": {"type": "Dnat"},
            "rules": [{"name": "rdp", "protocols": ["TCP"], "sourceAddresses": ["*"],
                       "destinationAddresses": ["52.1.2.3"], "destinationPorts": ["3389"],
                       "translatedAddress": "10.2.1.4", "translatedPort": "3389"}]}}]
    app = [{"name": "web-out", "properties": {"priority": 200, "action": {"type": "Allow"},
            "rules": [{"name": "msft", "sourceAddresses": ["10.1.0.0/16"],
                       "protocols": [{"protocolType": "Https", "port": 443}],
                       "targetFqdns": ["*.microsoft.com"]}]}}]
    rule = {"name": "sql", "protocols": ["TCP"], "sourceAddresses": ["10.1.0.0/16"],
            "destinationAddresses": ["10.2.0.0/16"], "destinationPorts": ["1433"]}
    topo = with_firewall(base, rule, natRuleCollections=nat, applicationRuleCollections=app,
                         firewallPolicy={"id": f"{SUB}/Microsoft.Network/firewallPolicies/p1"})
    fw = topo.azure_firewalls[0]
    assert fw.nat_rule_collections[0].rules[0].translated_address == "10.2.1.4"
    assert fw.application_rule_collections[0].rules[0].protocols == ("Https:443",)
    assert fw.application_rule_collections[0].rules[0].target_fqdns == ("*.microsoft.com",)
    out = send(topo, "10.1.1.4", "10.2.1.4", "app1")
    assert out.dispositions() == [D.DELIVERED]
    names = [c.split(":")[0] for c in out.row(0)["caveats"]]
    # application rules are evaluated (issue 12) and SNATed, DNAT rules applied (issue 11);
    # the DNAT rule names an address the firewall does not hold in the input: said
    assert names == ["firewall-policy", "firewall-dnat-no-public-ip"]


def test_answers_that_do_not_cross_the_firewall_carry_no_caveat(base):
    topo = with_firewall(base, {"name": "x", "protocols": ["TCP"], "sourceAddresses": ["*"],
                                "destinationFqdns": ["a.example"], "destinationPorts": ["1"]})
    out = Emulator(topo).send(IP(src="10.1.1.4", dst="10.1.1.9") / TCP(sport=1, dport=2),
                              source="app1")
    assert out.dispositions() == [D.NO_DESTINATION] and out.row(0)["caveats"] == []
    assert out.summary()["caveats"] == {}


def test_check_never_calls_an_unmodelled_resource_harmless(base):
    nat = {"type": "Microsoft.Network/bastionHosts", "name": "nat1", "location": "x",
           "id": f"{SUB}/Microsoft.Network/bastionHosts/nat1", "properties": {}}
    topo = resources_to_topology([*copy.deepcopy(base), nat], "test")
    found = [f for f in validate(topo) if f.code == "UnknownResourceType"]
    assert len(found) == 1 and "bastionHosts" in found[0].message
    assert "does not affect" not in found[0].message
    assert "can change verdicts" in found[0].message


def test_explain_names_the_caveat_at_the_firewall_hop(base):
    """`dataplane explain` (JSON and text) carries the firewall's caveats at its hop."""
    from dataplane import watcher
    from dataplane.control.explain import describe

    app = [{"name": "web-out", "properties": {"priority": 200, "action": {"type": "Allow"},
            "rules": [{"name": "msft", "sourceAddresses": ["10.1.0.0/16"],
                       "protocols": [{"protocolType": "Https", "port": 443}],
                       "targetFqdns": ["*.microsoft.com"]}]}}]
    rule = {"name": "sql", "protocols": ["TCP"], "sourceAddresses": ["10.1.0.0/16"],
            "destinationAddresses": ["10.2.0.0/16"], "destinationPorts": ["1433"]}
    topo = with_firewall(base, rule, applicationRuleCollections=app)
    out = watcher.explain(topo, "app1", "10.2.1.4:1433")
    assert out["disposition"] == "Delivered"
    assert out["caveats"] == []  # application-rule SNAT is modelled now (issue 12 item 6)
    rule["destinationFqdns"] = ["db.contoso.com"]
    out = watcher.explain(with_firewall(base, rule, applicationRuleCollections=app), "app1",
                          "10.2.1.4:1433")
    assert [c.split(":")[0] for c in out["caveats"]] == ["firewall-fqdn"]
    fw_hop = next(h for h in out["hops"] if h["step"] == "appliance")
    lines = describe(fw_hop).splitlines()
    assert lines[1].strip().startswith("caveat firewall-fqdn:")
    assert "firewall fw " in describe(fw_hop) and max(len(x) for x in lines[1:]) <= 92


@pytest.mark.parametrize("priority", [50, 99, 65001, 70000])
@pytest.mark.parametrize("key", ["networkRuleCollections", "applicationRuleCollections",
                                 "natRuleCollections"])
def test_a_classic_collection_priority_outside_azures_range_is_an_error(base, key, priority):
    """Classic rule collections take priorities 100-65000 ("Microsoft.Network azureFirewalls"
    ARM reference, https://learn.microsoft.com/azure/templates/microsoft.network/azurefirewalls,
    `priority`: Min value = 100, Max value = 65000); the error names the property."""
    resources = copy.deepcopy(base)
    fw = next(r for r in resources if r["type"] == "Microsoft.Network/azureFirewalls")
    fw["properties"][key] = [{"name": "c", "properties": {
        "priority": priority, "action": {"type": "Dnat" if key.startswith("nat") else "Allow"},
        "rules": []}}]
    with pytest.raises(InputError) as err:
        resources_to_topology(resources, "test")
    assert err.value.property == f"properties.{key}[0].properties.priority"
    assert f"priority {priority} is outside Azure's range 100-65000" in str(err.value)
    fw["properties"][key][0]["properties"]["priority"] = 65000  # the edge is accepted
    resources_to_topology(resources, "test")


def test_a_misspelt_policy_rule_property_reaches_the_answers_through_the_firewall(base):
    """`ipProtocol` for `ipProtocols` in a Firewall Policy rule: Azure ignores the unknown
    property, so the rule matches any protocol here as the loader reads it; the near-miss
    caveat names it on the answers through the firewall (second trial: the policy was not among
    the resources a firewall's answers read, so the warning never reached them)."""
    policy = {"type": "Microsoft.Network/firewallPolicies", "name": "p1", "location": "westeurope",
              "id": f"{SUB}/Microsoft.Network/firewallPolicies/p1",
              "properties": {"ruleCollectionGroups": [{"name": "g", "properties": {
                  "priority": 200, "ruleCollections": [{
                      "ruleCollectionType": "FirewallPolicyFilterRuleCollection", "name": "c",
                      "priority": 100, "action": {"type": "Allow"}, "rules": [{
                          "ruleType": "NetworkRule", "name": "sql", "ipProtocol": ["TCP"],
                          "sourceAddresses": ["10.1.0.0/16"],
                          "destinationAddresses": ["10.2.0.0/16"],
                          "destinationPorts": ["1433"]}]}]}}]}}
    resources = copy.deepcopy(base)
    fw = next(r for r in resources if r["type"] == "Microsoft.Network/azureFirewalls")
    fw["properties"]["firewallPolicy"] = {"id": policy["id"]}
    topo = resources_to_topology([*resources, policy], "test")
    out = send(topo, "10.1.1.4", "10.2.1.4", "app1")
    assert out.dispositions() == [D.DELIVERED]
    named = [c for c in out.row(0)["caveats"] if c.startswith("near-miss:")]
    assert len(named) == 1 and "ipProtocol" in named[0], out.row(0)["caveats"]
