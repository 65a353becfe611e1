"""Azure Firewall application rules: order, FQDN wildcards, protocol:port pairs, sources
(control/application_rules.py). Microsoft: "Azure Firewall FAQ"
(https://learn.microsoft.com/azure/firewall/firewall-faq, "How do wildcards work in target URLs
and target FQDNs in application rules?") and "Azure Firewall rule processing logic"
(https://learn.microsoft.com/azure/firewall/rule-processing)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import dataplane
from dataplane.control.application_rules import (
    FqdnMatcher,
    application_rules,
    decide,
    fqdn_matches,
    request_name,
)
from dataplane.model import (
    AzureFirewall,
    FirewallApplicationRule,
    FirewallApplicationRuleCollection,
    Topology,
)
from dataplane.net import parse_prefix


@pytest.mark.parametrize(("pattern", "name", "matches"), [
    ("*.contoso.com", "www.contoso.com", True),
    ("*.contoso.com", "a.b.contoso.com", True),      # any depth of subdomains
    ("*.contoso.com", "contoso.com", False),         # not the apex
    ("*.contoso.com", "mycontoso.com", False),
    ("*contoso.com", "contoso.com", True),
    ("*contoso.com", "mycontoso.com", True),         # anything to the left
    ("*contoso.com", "www.contoso.com", True),
    ("www.contoso.com", "WWW.Contoso.com.", True),   # case and a trailing dot
    ("www.contoso.com", "contoso.com", False),
    ("*", "anything.example", True),
])
def test_fqdn_wildcards_as_the_faq_describes(pattern: str, name: str, matches: bool) -> None:
    assert fqdn_matches(pattern, name) is matches


def _faq_match(pattern: str, name: str) -> bool:
    """The FAQ's rule for one target, written out plainly (names already normalised)."""
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return name.endswith(pattern[1:]) and len(name) > len(pattern) - 1
    if pattern.startswith("*"):
        return name.endswith(pattern[1:])
    return name == pattern


_LABELS = st.sampled_from(["a", "b", "x", "contoso", "blob", "com"])  # normalised names
_NAMES = st.lists(_LABELS, min_size=1, max_size=4).map(".".join)


@given(st.lists(st.one_of(_NAMES, _NAMES.map("*.".__add__), _NAMES.map("*".__add__),
                          st.just("*")), min_size=1, max_size=4),
       st.lists(_NAMES, max_size=12))
def test_a_rules_targets_match_a_batch_of_names_as_each_target_alone(patterns: list[str],
                                                                      names: list[str]) -> None:
    got = FqdnMatcher(patterns).normal(names)
    assert got.tolist() == [any(_faq_match(p, n) for p in patterns) for n in names]


def test_http_host_port_is_not_part_of_the_name() -> None:
    assert request_name("example.com:8080", "Http") == "example.com"
    assert request_name("[2001:db8::1]:80", "Http") == "[2001:db8::1]:80"
    assert request_name("example.com", "Https") == "example.com"


def _ip(text: str) -> int:
    return int(ipaddress.ip_address(text))


def test_policy_application_rule_of_the_secured_hub_quickstart(real_dir: Path) -> None:
    arm = real_dir / "arm"
    topology = dataplane.load(arm / "aqt_fwm-docs-qs.azuredeploy.json",
                              parameters=arm / "aqt_fwm-docs-qs.azuredeploy.parameters.json")
    (fw,) = topology.azure_firewalls
    rules = application_rules(topology, fw)
    assert [r.label for r in rules] == [
        "firewall AzfwTest/DefaultApplicationRuleCollectionGroup/RC-01/Allow-msft"]
    source = _ip("10.0.1.4")
    assert decide(rules, source, "Https", 443, "www.microsoft.com") is rules[0]
    assert decide(rules, source, "Http", 80, "learn.microsoft.com:80") is rules[0]
    assert decide(rules, source, "Https", 443, "microsoft.com") is None       # apex
    assert decide(rules, source, "Https", 80, "www.microsoft.com") is None    # https:80 absent
    assert decide(rules, source, "Https", 443, "www.example.com") is None


def test_preview_schema_rules_in_order(real_dir: Path) -> None:
    topology = dataplane.load(real_dir / "arm" / "ans_netsec-demo-lab-standard.AzNetSecdeploy.json")
    (fw,) = topology.azure_firewalls
    rules = application_rules(topology, fw)
    assert [r.label.rsplit("/", 1)[-1] for r in rules] == ["SearchEngineAccess"]
    assert decide(rules, _ip("10.0.27.4"), "Https", 443, "www.bing.com") is rules[0]
    assert decide(rules, _ip("10.0.27.4"), "Https", 443, "maps.bing.com") is None


def test_classic_collections_by_priority_first_match_decides() -> None:
    def collection(name, priority, action, fqdn, sources=("10.1.0.0/16",)):
        rule = FirewallApplicationRule(name=f"{name}-rule", protocols=("Https:443",),
                                       source_addresses=tuple(parse_prefix(s) for s in sources),
                                       target_fqdns=(fqdn,))
        return FirewallApplicationRuleCollection(name, priority, action, (rule,))

    fw = AzureFirewall(id="/x/azureFirewalls/fw", name="fw", location="", subnet=None,
                       private_ip_address=None, application_rule_collections=(
                           collection("allow-all-msft", 300, "Allow", "*.microsoft.com"),
                           collection("deny-xbox", 200, "Deny", "*.xbox.microsoft.com"),
                           collection("tags", 400, "Allow", "*"),
                       ))
    rules = application_rules(Topology(azure_firewalls=(fw,)), fw)
    assert [r.label for r in rules] == ["firewall fw/deny-xbox/deny-xbox-rule",
                                        "firewall fw/allow-all-msft/allow-all-msft-rule",
                                        "firewall fw/tags/tags-rule"]
    assert decide(rules, _ip("10.1.1.4"), "Https", 443, "live.xbox.microsoft.com").allow is False
    assert decide(rules, _ip("10.1.1.4"), "Https", 443, "www.microsoft.com").allow is True
    assert decide(rules, _ip("10.9.1.4"), "Https", 443, "www.microsoft.com") is None  # source


def test_fqdn_tags_are_named_not_guessed() -> None:
    rule = FirewallApplicationRule(name="wu", protocols=(), source_addresses=("*",),
                                   fqdn_tags=("WindowsUpdate",))
    fw = AzureFirewall(id="/x/azureFirewalls/fw", name="fw", location="", subnet=None,
                       private_ip_address=None, application_rule_collections=(
                           FirewallApplicationRuleCollection("updates", 100, "Allow", (rule,)),))
    (flat,) = application_rules(Topology(azure_firewalls=(fw,)), fw)
    (caveat,) = flat.caveats
    assert caveat.startswith("firewall-fqdn-tag: firewall fw/updates/wu: FQDN tags WindowsUpdate "
                             "are not evaluated (their FQDNs are Microsoft's and change: 'Azure "
                             "Firewall FQDN tags', https://learn.microsoft.com/azure/firewall/")
    assert flat.unevaluated == "FQDN tags WindowsUpdate are not evaluated"
    assert decide((flat,), _ip("10.1.1.4"), "Https", 443, "download.windowsupdate.com") is None


def test_a_target_fqdn_built_from_a_parameter_without_value_is_named(real_dir: Path) -> None:
    """ans_netsec-workshop builds an application rule's FQDN from appGwAfdName, which has no
    value: the template still loads, and the rule names the unknown FQDN instead of guessing."""
    topology = dataplane.load(real_dir / "arm" / "ans_netsec-workshop.labdeployment.json")
    held = [(fw, rule) for fw in topology.azure_firewalls for rule in application_rules(topology, fw)
            if any("appGwAfdName" in c for c in rule.caveats)]
    assert held, "the rule with the placeholder FQDN carries a caveat"
    for _, rule in held:
        assert not any("appGwAfdName" in target for target in rule.target_fqdns)
