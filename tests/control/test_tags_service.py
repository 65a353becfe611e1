"""Service tags: Azure's names, Microsoft's published file, regional tags, caveats.

Microsoft, "Azure service tags overview", https://learn.microsoft.com/azure/virtual-network/
service-tags-overview: "Available service tags" (names, "Can be regional?") and "Discover
service tags by using downloadable JSON files" (ServiceTags_Public_*.json, changeNumber; each
regional subsection such as Storage.WestUS is its own entry). ARM rejects an unknown tag with
SecurityRuleInvalidAddressPrefix ("Security rule ... has invalid Address prefix. Value
provided: ...", Azure/azure-powershell#391).
"""

from __future__ import annotations

import json

import pytest
from topo_factory import Builder

from dataplane.control.servicetags import (
    SERVICE_TAGS_ENV,
    close_tags,
    is_known_tag,
    load_service_tags,
    with_service_tags,
)
from dataplane.control.validate import validate
from dataplane.errors import InputError
from dataplane.watcher import ip_flow_verify

# The download's shape (top level changeNumber/cloud/values; per value name, id, properties)
DOWNLOAD = {
    "changeNumber": 321, "cloud": "Public",
    "values": [
        {"name": "Storage", "id": "Storage", "properties": {
            "changeNumber": 19, "region": "", "platform": "Azure", "systemService": "AzureStorage",
            "addressPrefixes": ["13.65.107.32/28", "52.239.216.0/23", "2603:1000::/40"]}},
        {"name": "Storage.WestEurope", "id": "Storage.WestEurope", "properties": {
            "changeNumber": 4, "region": "westeurope", "platform": "Azure",
            "systemService": "AzureStorage", "addressPrefixes": ["52.239.140.0/22"]}},
    ]}
# `az network list-service-tags -o json`: the same values with serviceTagChangeNumber
CLI = {"changeNumber": "77", "cloud": "Public", "id": "/subscriptions/s/providers/"
       "Microsoft.Network/serviceTags/Public", "name": "Public",
       "type": "Microsoft.Network/serviceTags",
       "values": [{"id": "Sql", "name": "Sql", "serviceTagChangeNumber": "5",
                   "properties": {"addressPrefixes": ["40.78.192.0/18"], "changeNumber": "5",
                                  "region": "", "state": "GA", "systemService": "AzureSQL"}}]}


def storage_nsg(tag: str) -> Builder:
    rules = [{"name": "deny-storage", "priority": 100, "direction": "Outbound",
              "access": "Deny", "destination": tag}]
    return (Builder().nsg("n", rules)
            .vnet("v", "10.0.0.0/16", subnets={"s": {"prefix": "10.0.1.0/24", "nsg": "n"}})
            .vm("vm1", "v/s", "10.0.1.4"))


def write(tmp_path, doc, name="ServiceTags_Public_20261123.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_names_regional_forms_and_close_names():
    assert is_known_tag("VirtualNetwork") and is_known_tag("virtual_network")
    assert is_known_tag("Storage.WestEurope") and is_known_tag("Sql.swedencentral")
    assert not is_known_tag("Storage.Mars")
    assert not is_known_tag("VirtualNetwrok")
    assert close_tags("VirtualNetwrok")[0] == "VirtualNetwork"


def test_misspelt_tag_is_an_error_with_azure_code_and_close_names():
    findings = validate(storage_nsg("VirtualNetwrok").build())
    bad = [f for f in findings if f.code == "SecurityRuleInvalidAddressPrefix"]
    assert len(bad) == 1 and bad[0].severity == "error"
    assert "Value provided: VirtualNetwrok" in bad[0].message
    assert "Close names: VirtualNetwork" in bad[0].message
    assert not [f for f in validate(storage_nsg("Storage.WestEurope").build())
                if f.severity == "error"]


def test_both_file_shapes_load(tmp_path):
    tags = load_service_tags(write(tmp_path, DOWNLOAD))
    assert (tags.change_number, tags.cloud) == ("321", "Public")
    assert [(n, [str(p) for p in ps]) for n, ps in tags.tags][1] == \
        ("Storage.WestEurope", ["52.239.140.0/22"])
    cli = load_service_tags(write(tmp_path, CLI, "tags.json"))
    assert cli.change_number == "77" and cli.tags[0][0] == "Sql"


@pytest.mark.parametrize("doc,where", [
    ({"changeNumber": 1}, "property 'values'"),
    ({"values": [{"id": "x"}]}, "property 'name'"),
    ({"values": [{"name": "Storage", "properties": {}}]}, "resource 'Storage'"),
    ({"values": [{"name": "Storage", "properties": {"addressPrefixes": ["1.2.3/99"]}}]},
     "property 'properties.addressPrefixes'"),
])
def test_bad_file_is_one_line_naming_the_place(tmp_path, doc, where):
    path = write(tmp_path, doc)
    with pytest.raises(InputError) as info:
        load_service_tags(path)
    assert str(path) in str(info.value) and where in str(info.value)
    assert "\n" not in str(info.value)


def test_regional_tag_uses_its_own_prefixes_and_the_change_number_is_reported(tmp_path):
    topo = with_service_tags(storage_nsg("Storage.WestEurope").build(),
                             write(tmp_path, DOWNLOAD))
    regional = ip_flow_verify(topo, "vm1", "Outbound", "TCP", "10.0.1.4:5000",
                              "52.239.140.9:443")
    assert (regional["access"], regional["ruleName"]) == ("Deny", "securityRules/deny-storage")
    assert regional["serviceTags"]["changeNumber"] == "321"
    assert regional["caveats"] == []
    global_only = ip_flow_verify(topo, "vm1", "Outbound", "TCP", "10.0.1.4:5000",
                                 "13.65.107.33:443")  # Storage, not Storage.WestEurope
    assert global_only["ruleName"] == "defaultSecurityRules/AllowInternetOutBound"


def test_without_a_file_the_answer_names_the_partial_tag(monkeypatch):
    monkeypatch.delenv(SERVICE_TAGS_ENV, raising=False)
    topo = with_service_tags(storage_nsg("AzureCloud").build())
    assert topo.service_tags is None
    answer = ip_flow_verify(topo, "vm1", "Outbound", "TCP", "10.0.1.4:5000", "20.60.0.1:443")
    assert answer["ruleName"] == "defaultSecurityRules/AllowInternetOutBound"
    assert len(answer["caveats"]) == 1 and "tag AzureCloud" in answer["caveats"][0]


def test_environment_variable_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv(SERVICE_TAGS_ENV, str(write(tmp_path, DOWNLOAD)))
    topo = with_service_tags(storage_nsg("Storage").build())
    assert topo.service_tags is not None and topo.service_tags.change_number == "321"
    answer = ip_flow_verify(topo, "vm1", "Outbound", "TCP", "10.0.1.4:5000", "52.239.216.1:443")
    assert answer["ruleName"] == "securityRules/deny-storage"
