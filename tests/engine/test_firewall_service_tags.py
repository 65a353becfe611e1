"""Service tags in Azure Firewall network rules ("Azure Firewall service tags",
https://learn.microsoft.com/azure/firewall/service-tags: tags "listed in Virtual network service
tags" can be used in network rules) are resolved as NSG rules resolve them (control/tags.py
through control/firewall_addresses.py): the built-in representative set with the caveat NSG
answers carry, or Microsoft's file (--service-tags FILE); a name Azure does not have matches
nothing, with a caveat and a `dataplane check` warning."""

from __future__ import annotations

import ipaddress
import json

import pytest
from test_firewall_rules import base, send, with_firewall  # noqa: F401 (fixture)

from dataplane.control.servicetags import with_service_tags
from dataplane.control.tags import service_prefixes
from dataplane.control.validate import validate
from dataplane.engine import Disposition as D
from dataplane.engine.stages.firewall import compile_firewall
from dataplane.net import parse_ip, parse_prefix

# The download's shape (ServiceTags_Public_*.json; tests/control/test_tags_service.py)
DOWNLOAD = {
    "changeNumber": 321, "cloud": "Public",
    "values": [
        {"name": "Storage.WestEurope", "id": "Storage.WestEurope", "properties": {
            "changeNumber": 4, "region": "westeurope", "platform": "Azure",
            "systemService": "AzureStorage",
            "addressPrefixes": ["52.239.140.0/22", "2603:1020:200::/46"]}},
    ]}


def storage_rule(tag: str = "Storage.WestEurope") -> dict:
    return {"name": "to-storage", "protocols": ["TCP"], "sourceAddresses": ["10.1.0.0/16"],
            "destinationAddresses": [tag], "destinationPorts": ["1433"]}


def host(prefix, offset: int) -> str:
    return str(ipaddress.ip_address(prefix.first + offset))


def passed(out) -> bool:
    """Allowed by the firewall and out to the Internet (the hub's spokes route 0.0.0.0/0 to
    the firewall; the firewall subnet's system route sends public addresses out)."""
    return out.dispositions() == [D.EXITS_INTERNET] and out.row(0)["hops"] == "app1 > fw > internet"


def test_builtin_set_decides_with_the_nsg_caveat(base):  # noqa: F811
    topo = with_firewall(base, storage_rule())
    inside = service_prefixes("Storage.WestEurope")[0]  # the built-in representative set
    out = send(topo, "10.1.1.4", host(inside, 5), "app1")
    assert passed(out), out.row(0)
    caveats = out.row(0)["caveats"]
    assert any(c.startswith("service-tag-prefixes-not-loaded: tag Storage.WestEurope")
               for c in caveats)
    assert not any(c.startswith("firewall-service-tag") for c in caveats)
    denied = send(topo, "10.1.1.4", "198.51.100.7", "app1")
    assert denied.dispositions() == [D.FIREWALL_DENIED]
    assert denied.row(0)["deciding"] == "firewall fw/default-deny"


def test_the_loaded_file_decides(base, tmp_path):  # noqa: F811
    path = tmp_path / "ServiceTags_Public_20261123.json"
    path.write_text(json.dumps(DOWNLOAD))
    topo = with_service_tags(with_firewall(base, storage_rule()), path)
    out = send(topo, "10.1.1.4", "52.239.141.9", "app1")
    assert passed(out), out.row(0)
    assert not any(c.startswith("service-tag-prefixes-not-loaded")
                   for c in out.row(0)["caveats"])
    # an address of the built-in set that the file does not list is now outside the tag
    outside = host(service_prefixes("Storage")[0], 5)
    assert not parse_prefix("52.239.140.0/22").contains_address(parse_ip(outside))
    assert send(topo, "10.1.1.4", outside, "app1").dispositions() == [D.FIREWALL_DENIED]
    # the file's IPv6 prefix joins the rule's IPv6 destinations
    compiled = compile_firewall(topo, topo.azure_firewalls[0])
    six = parse_prefix("2603:1020:200::/46")
    assert compiled.rules[0].dst6 == ((six.first, six.last),)


@pytest.mark.parametrize("name", ["Storage.Mars", "Strorage"])
def test_a_made_up_tag_matches_nothing_and_is_said(base, name):  # noqa: F811
    topo = with_firewall(base, storage_rule(name))
    out = send(topo, "10.1.1.4", "52.239.141.9", "app1")
    assert out.dispositions() == [D.FIREWALL_DENIED]
    said = [c for c in out.row(0)["caveats"] if c.startswith("firewall-service-tag-unknown:")]
    assert len(said) == 1 and f"'{name}'" in said[0]
    warnings = [f for f in validate(topo) if f.code == "FirewallRuleServiceTagUnknown"]
    assert len(warnings) == 1 and warnings[0].severity == "warning"
    assert name in warnings[0].message


def test_check_lists_fqdns_and_missing_ip_groups(base):  # noqa: F811
    rule = {"name": "mixed", "protocols": ["TCP"], "sourceAddresses": ["10.1.0.0/16"],
            "destinationFqdns": ["sql.contoso.internal"], "destinationPorts": ["1433"],
            "destinationIpGroups": ["/subscriptions/s/resourceGroups/rg/providers/"
                                    "Microsoft.Network/ipGroups/gone"]}
    codes = sorted(f.code for f in validate(with_firewall(base, rule))
                   if f.code.startswith("FirewallRule"))
    assert codes == ["FirewallRuleFqdnNotResolved", "FirewallRuleIpGroupMissing"]
    assert not [f for f in validate(with_firewall(base, storage_rule()))
                if f.code.startswith("FirewallRule")]


def test_virtual_network_tag_is_not_a_firewall_tag(base):  # noqa: F811
    topo = with_firewall(base, storage_rule("VirtualNetwork"))
    out = send(topo, "10.1.1.4", "10.2.1.4", "app1")
    assert out.dispositions() == [D.FIREWALL_DENIED]
    assert any(c.startswith("firewall-service-tag:") for c in out.row(0)["caveats"])
