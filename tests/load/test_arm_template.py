"""Template evaluation: copy loops, conditions, children, nested deployments, scopes, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dataplane.errors import InputError
from dataplane.load.arm.template import TemplateResult, evaluate_template

FIXTURES = Path(__file__).parent / "fixtures" / "arm"
SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"


def by_name(result: TemplateResult) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in result.resources}


def write(tmp_path: Path, resources: list[Any], **extra: Any) -> Path:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"$schema": SCHEMA, "contentVersion": "1.0.0.0",
                                "resources": resources, **extra}))
    return path


def vnet(name: str, **props: Any) -> dict[str, Any]:
    return {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-05-01", "name": name,
            "location": "[resourceGroup().location]",
            "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, **props}}


def test_copy_loops_children_and_conditions() -> None:
    result = evaluate_template(FIXTURES / "hub_spoke_copy.json", location="northeurope")
    res = by_name(result)
    assert [n for n in res if n.startswith("lab-spoke")] == ["lab-spoke1", "lab-spoke2"]
    spoke2 = res["lab-spoke2"]["properties"]
    assert spoke2["addressSpace"]["addressPrefixes"] == ["10.2.0.0/16"]
    assert [(s["name"], s["properties"]["addressPrefix"]) for s in spoke2["subnets"]] == [
        ("workload0", "10.2.0.0/24"), ("workload1", "10.2.1.0/24")]
    assert spoke2["subnets"][1]["id"].endswith("/virtualNetworks/lab-spoke2/subnets/workload1")
    assert res["lab-hub"]["location"] == "northeurope"
    assert res["lab-hub"]["tags"] == {"role": "hub"}
    peering = res["to-lab-spoke1"]
    assert peering["type"] == "Microsoft.Network/virtualNetworks/virtualNetworkPeerings"
    assert peering["id"] == ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
                             "vnet-dataplane-rg/providers/Microsoft.Network/virtualNetworks/lab-hub/"
                             "virtualNetworkPeerings/to-lab-spoke1")
    assert peering["properties"]["allowGatewayTransit"] is False
    assert peering["source"].endswith("hub_spoke_copy.json#resources[0].resources[0]")
    rules = res["workload-nsg"]["properties"]["securityRules"]
    assert [(r["name"], r["properties"]["priority"]) for r in rules] == [
        ("allow-ssh", 100), ("allow-https", 110)]
    assert [s["name"] for s in result.skipped] == ["lab-hub/GatewaySubnet"]
    assert result.skipped[0]["reason"] == "condition is false"


def test_parameters_change_loops_and_conditions() -> None:
    result = evaluate_template(FIXTURES / "hub_spoke_copy.json",
                               {"spokeCount": 0, "deployGateway": True, "adminPassword": "p"})
    res = by_name(result)
    assert not [n for n in res if "spoke" in n]
    assert "GatewaySubnet" in res and "to-lab-spoke1" not in res
    # The skipped peering's name cannot be evaluated (no spokes): it is listed as written.
    assert [s["type"].split("/")[-1] for s in result.skipped] == ["virtualNetworkPeerings"]


def test_dynamic_and_static_addresses_and_reference() -> None:
    result = evaluate_template(FIXTURES / "hub_spoke_copy.json")
    res = by_name(result)

    def ip(name: str) -> str:
        return res[name]["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"]

    # The static .5 is reserved first; dynamics take .4 then skip to .6 in deployment order.
    assert (ip("vm0-nic"), ip("static-nic"), ip("vm1-nic")) == ("10.0.1.4", "10.0.1.5", "10.0.1.6")
    assert ip("hub-fw") == "10.0.0.4"
    assert res["to-firewall"]["properties"]["routes"][0]["properties"]["nextHopIpAddress"] == "10.0.0.4"
    assert res["vm0"]["properties"]["diagnosticsProfile"]["bootDiagnostics"]["storageUri"] == "10.0.1.4"
    assert any("dynamic private IP 10.0.1.6" in a for a in result.assumptions)
    assert any("secure parameter 'adminPassword'" in a for a in result.assumptions)


def test_nested_deployments_scopes_and_linked_file() -> None:
    result = evaluate_template(FIXTURES / "nested.json")
    res = by_name(result)
    # outer scope: the parent's variables win over the nested template's own.
    assert res["outer-vnet"]["properties"]["addressSpace"]["addressPrefixes"] == ["10.1.0.0/16"]
    # inner scope: the nested template's parameters and variables.
    assert res["outer-vnet-inner"]["properties"]["addressSpace"]["addressPrefixes"] == ["172.16.0.0/16"]
    linked = res["linked-vnet"]
    assert linked["resourceGroup"] == "other-rg" and "/resourceGroups/other-rg/" in linked["id"]
    assert linked["source"].endswith("linked_child.json#resources[0]")
    # reference('innerScope').outputs flows into the linked template's parameter.
    assert res["to-inner"]["properties"]["remoteVirtualNetwork"]["id"] == res["outer-vnet-inner"]["id"]
    assert "Microsoft.Resources/deployments" not in {r["type"] for r in result.resources}


def test_subscription_scope(tmp_path: Path) -> None:
    raw = json.loads((FIXTURES / "subscription_scope.json").read_text())
    raw["resources"] = raw["resources"][:2]
    path = tmp_path / "sub.json"
    path.write_text(json.dumps(raw))
    result = evaluate_template(path, {"rgName": "rg-x"})
    assert [(s["type"], s["name"]) for s in result.skipped] == [("Microsoft.Resources/resourceGroups", "rg-x")]
    (only,) = result.resources
    assert only["name"] == "sub-vnet" and only["resourceGroup"] == "rg-x"
    assert only["location"] == "westeurope"


def test_remote_linked_template_is_named() -> None:
    with pytest.raises(InputError) as err:
        evaluate_template(FIXTURES / "subscription_scope.json")
    assert (err.value.resource, err.value.property) == ("remote", "properties.templateLink.uri")
    assert "linked template URL" in err.value.message


def test_linked_template_missing_parameter_names_deployment(tmp_path: Path) -> None:
    path = write(tmp_path, [{"type": "Microsoft.Resources/deployments", "apiVersion": "2021-04-01",
                             "name": "child", "properties": {
                                 "mode": "Incremental",
                                 "templateLink": {"uri": "https://example.com/c.json"}}}])
    with pytest.raises(InputError) as err:
        evaluate_template(path, linked_templates={"https://example.com/c.json": FIXTURES / "linked_child.json"})
    assert err.value.resource == "child"
    assert "required parameter 'remoteId'" in err.value.message


def test_parameters_file_case_insensitive_and_allowed_values(tmp_path: Path) -> None:
    template = write(tmp_path, [vnet("[parameters('Name')]")],
                     parameters={"name": {"type": "string", "allowedValues": ["a", "b"]}})
    params = tmp_path / "p.json"
    params.write_text(json.dumps({"$schema": "x", "parameters": {"NAME": {"value": "b"}}}))
    assert by_name(evaluate_template(template, params))["b"]["type"] == "Microsoft.Network/virtualNetworks"
    with pytest.raises(InputError, match="not one of the allowed values") as err:
        evaluate_template(template, {"name": "c"})
    assert err.value.property == "parameters.name"
    with pytest.raises(InputError, match="not declared"):
        evaluate_template(template, {"name": "a", "other": 1})
    with pytest.raises(InputError, match="must be of type string"):
        evaluate_template(template, {"name": 3})


def test_variables_in_any_order_and_circularity(tmp_path: Path) -> None:
    ok = write(tmp_path, [vnet("[variables('b')]")],
               variables={"b": "[concat(variables('a'), '-x')]", "a": "net"})
    assert "net-x" in by_name(evaluate_template(ok))
    bad = write(tmp_path, [vnet("[variables('a')]")],
                variables={"a": "[variables('b')]", "b": "[variables('a')]"})
    with pytest.raises(InputError, match="circular reference"):
        evaluate_template(bad)


def test_separate_parent_child_and_extension_resources(tmp_path: Path) -> None:
    path = write(tmp_path, [
        vnet("v1"),
        {"type": "Microsoft.Network/virtualNetworks/subnets", "apiVersion": "x", "name": "v1/s1",
         "properties": {"addressPrefix": "10.0.1.0/24"}},
        {"type": "Microsoft.Network/virtualNetworks/providers/diagnosticSettings", "apiVersion": "x",
         "name": "v1/Microsoft.Insights/diag", "properties": {}},
        {"type": "Microsoft.Insights/diagnosticSettings", "apiVersion": "x", "name": "d2",
         "scope": "Microsoft.Network/virtualNetworks/v1", "properties": {}},
    ])
    res = by_name(evaluate_template(path))
    assert res["s1"]["type"] == "Microsoft.Network/virtualNetworks/subnets"
    assert res["s1"]["id"].endswith("/providers/Microsoft.Network/virtualNetworks/v1/subnets/s1")
    assert res["diag"]["type"] == "Microsoft.Insights/diagnosticSettings"
    assert res["diag"]["id"].endswith("/virtualNetworks/v1/providers/Microsoft.Insights/diagnosticSettings/diag")
    assert res["d2"]["id"].endswith("/virtualNetworks/v1/providers/Microsoft.Insights/diagnosticSettings/d2")


def test_user_defined_functions(tmp_path: Path) -> None:
    path = write(tmp_path, [vnet("[lab.name('hub')]")], functions=[{
        "namespace": "lab", "members": {"name": {
            "parameters": [{"name": "role", "type": "string"}],
            "output": {"type": "string", "value": "[concat('vnet-', parameters('role'))]"}}}}])
    assert "vnet-hub" in by_name(evaluate_template(path))


@pytest.mark.parametrize(("resources", "resource", "prop", "message"), [
    ([vnet("v", subnets=[{"name": "s", "properties": {"addressPrefix": "[concat('10.0.0.0/24']"}}])],
     "v", "properties.subnets[0].properties.addressPrefix", None),
    ([vnet("v", subnets=[{"name": "s", "properties": {"addressPrefix": "[variables('nope')]"}}])],
     "v", "properties.subnets[0].properties.addressPrefix", "no variable 'nope'"),
    ([vnet("[concat('v', parameters('missing'))]")], "[concat('v', parameters('missing'))]", "name",
     "no parameter 'missing'"),
    ([vnet("v", dhcpOptions={"dnsServers": ["[listKeys('x', '1').key]"]})], "v",
     "properties.dhcpOptions.dnsServers[0]", "unsupported template function 'listKeys'"),
    ([vnet("v", x="[reference('elsewhere').ipAddress]")], "v", "properties.x",
     "no resource with that id or name"),
    ([{**vnet("v"), "copy": {"name": "c", "count": "[sub(0, 1)]"}}], "v", "copy.count", "copy count"),
    ([{**vnet("v"), "condition": "'yes'"}], "v", None, None),
    ([{**vnet("v"), "condition": "[string('yes')]"}], "v", "condition", "true or false"),
    ([vnet("v", x="[notAFunction(1)]")], "v", "properties.x", "unsupported template function 'notAFunction'"),
])
def test_errors_name_file_resource_and_property(tmp_path: Path, resources: list[Any], resource: str,
                                                prop: str | None, message: str | None) -> None:
    path = write(tmp_path, resources)
    if prop is None:  # a literal non-boolean condition string is not an expression: still wrong
        with pytest.raises(InputError, match="true or false"):
            evaluate_template(path)
        return
    with pytest.raises(InputError) as err:
        evaluate_template(path)
    assert err.value.file == str(path)
    assert err.value.resource == resource
    assert err.value.property == prop
    if message:
        assert message in err.value.message
    assert "\n" not in str(err.value)


def test_malformed_template_file_names_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n "resources": [\n  {"name": }\n ]\n}')
    with pytest.raises(InputError, match=r"line 3:") as err:
        evaluate_template(path)
    assert err.value.file == str(path)


def test_unknown_types_pass_through(tmp_path: Path) -> None:
    path = write(tmp_path, [{"type": "Contoso.Widgets/gadgets", "apiVersion": "1", "name": "g",
                             "sku": {"name": "S1"}, "zones": ["1"], "properties": {"a": "[add(1, 1)]"}}])
    (gadget,) = evaluate_template(path).resources
    assert (gadget["type"], gadget["sku"], gadget["zones"], gadget["properties"]) == (
        "Contoso.Widgets/gadgets", {"name": "S1"}, ["1"], {"a": 2})
