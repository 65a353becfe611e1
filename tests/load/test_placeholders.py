"""Issue 18 item 5: parameters no network analysis needs get a placeholder and a printed
assumption; parameters that shape the network stay required (named, exit 2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dataplane.errors import InputError
from dataplane.load import load
from dataplane.load.arm.template import evaluate_template

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
VNET = "Microsoft.Network/virtualNetworks"


def template(tmp_path: Path, parameters: dict[str, Any], resources: list[Any],
             variables: dict[str, Any] | None = None) -> Path:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"$schema": SCHEMA, "parameters": parameters,
                                "variables": variables or {}, "resources": resources}))
    return path


def vnet(name: Any = "v", prefix: Any = "10.0.0.0/16", **extra: Any) -> dict[str, Any]:
    return {"type": VNET, "apiVersion": "2023-09-01", "name": name, "location": "westeurope",
            "properties": {"addressSpace": {"addressPrefixes": [prefix]}}, **extra}


def vm(os_profile: Any) -> dict[str, Any]:
    return {"type": "Microsoft.Compute/virtualMachines", "apiVersion": "2023-09-01",
            "name": "vm", "location": "westeurope", "properties": {
                "hardwareProfile": {"vmSize": "Standard_B2s"},
                "osProfile": os_profile,
                "storageProfile": {"imageReference": "[parameters('image')]"}}}


CREDENTIALS = {"adminUsername": {"type": "string"}, "adminPassword": {"type": "securestring"},
               "image": {"type": "object"}, "dnsLabel": {"type": "string"}}


def test_credentials_images_and_dns_labels_get_placeholders(tmp_path: Path) -> None:
    path = template(tmp_path, CREDENTIALS, [vnet(), vm({
        "adminUsername": "[parameters('adminUsername')]",
        "adminPassword": "[parameters('adminPassword')]",
        "computerName": "[concat(parameters('dnsLabel'), '-vm')]"})])
    topology = load(path)
    assert [v.name for v in topology.virtual_networks] == ["v"]
    texts = [a.text for a in topology.assumptions]
    for name in CREDENTIALS:
        assert any(f"parameter '{name}' has no value; the placeholder" in t for t in texts), name


def test_a_parameter_the_model_reads_stays_required(tmp_path: Path) -> None:
    """A VNet name from a parameter shapes the network: exit 2 naming it and where it is read."""
    path = template(tmp_path, {"vnetName": {"type": "string"}}, [
        vnet("[concat(parameters('vnetName'), '-hub')]")])
    with pytest.raises(InputError) as err:
        load(path)
    e = err.value
    assert (e.file, e.property) == (str(path), "parameters.vnetName")
    assert "required parameter 'vnetName' has no value" in e.message
    assert "the model reads it" in e.message and "\n" not in e.one_line()


def test_every_parameter_the_model_reads_is_named_in_one_run(tmp_path: Path) -> None:
    """Two parameters shape the network: one line names both, so one run lists what to give."""
    declared = {"hubName": {"type": "string"}, "spokeName": {"type": "string"}}
    path = template(tmp_path, declared, [vnet("[parameters('hubName')]"),
                                         vnet("[parameters('spokeName')]", "10.1.0.0/16")])
    with pytest.raises(InputError) as err:
        load(path)
    e = err.value
    assert e.property == "parameters.hubName"
    assert "required parameter 'hubName' has no value" in e.message
    assert "also 'spokeName'" in e.message and "\n" not in e.one_line()
    with pytest.raises(InputError) as err:
        load(path, {"hubName": "hub"})
    assert "parameter 'spokeName' has no value" in err.value.message
    assert "also" not in err.value.message


def test_a_parameter_read_as_an_address_prefix_stays_required(tmp_path: Path) -> None:
    path = template(tmp_path, {"prefix": {"type": "string"}}, [vnet(prefix="[parameters('prefix')]")])
    with pytest.raises(InputError, match="required parameter 'prefix' has no value"):
        load(path)


def test_a_parameter_that_decides_a_condition_stays_required(tmp_path: Path) -> None:
    path = template(tmp_path, {"deployHub": {"type": "string"}}, [
        vnet(condition="[equals(parameters('deployHub'), 'yes')]")])
    with pytest.raises(InputError) as err:
        load(path)
    assert "required parameter 'deployHub'" in err.value.message
    assert "compares or tests it" in err.value.message


def test_a_parameter_used_directly_as_a_condition_stays_required(tmp_path: Path) -> None:
    path = template(tmp_path, {"flag": {"type": "string"}}, [
        vnet(condition="[parameters('flag')]")])
    with pytest.raises(InputError, match="required parameter 'flag' has no value"):
        load(path)


def test_an_object_parameter_read_member_by_member_stays_required(tmp_path: Path) -> None:
    path = template(tmp_path, {"names": {"type": "object"}}, [
        vnet("[parameters('names').hub]")])
    with pytest.raises(InputError, match="required parameter 'names' has no value"):
        load(path)


def test_counts_and_options_stay_required(tmp_path: Path) -> None:
    path = template(tmp_path, {"count": {"type": "int"}}, [
        vnet("[concat('v', copyIndex())]", copy={"name": "c", "count": "[parameters('count')]"})])
    with pytest.raises(InputError, match="required parameter 'count' has no value"):
        load(path)


def test_a_supplied_value_is_used_not_a_placeholder(tmp_path: Path) -> None:
    path = template(tmp_path, {"vnetName": {"type": "string"}}, [vnet("[parameters('vnetName')]")])
    assert load(path, {"vnetName": "hub"}).virtual_networks[0].name == "hub"


def test_evaluate_template_alone_keeps_plain_parameters_required(tmp_path: Path) -> None:
    """Only `load` (which proves the model never reads them) stands in for plain parameters."""
    path = template(tmp_path, CREDENTIALS, [vnet(), vm({})])
    with pytest.raises(InputError, match="required parameter 'adminUsername'"):
        evaluate_template(path)
    result = evaluate_template(path, stand_in_parameters=True)
    assert {name for name, _ in result.placeholders} == set(CREDENTIALS)


NETWORK_SHAPING = {  # the only parameters without defaults the public templates still need
    "ans_azfw-forced-tunnel.3-azfwConnectionsLinkedTemplate.json": "azureVNG",
    "ans_netsec-demo-lab.Networking.vNets.json": "resourceNames",
}


def test_every_real_template_loads_without_credentials(real_dir: Path) -> None:
    """Issue 18: each public template checks with no -p for credentials. What still stops
    one is a parameter that shapes the network (a gateway name, the resource names object)
    or a linked template on the Internet (the forced-tunnel main template)."""
    outcomes = {}
    for path in sorted((real_dir / "arm").glob("*.json")):
        if path.name.endswith(".parameters.json") or path.name.startswith("restapispec"):
            continue
        try:
            load(path)
            outcomes[path.name] = "loaded"
        except InputError as error:
            outcomes[path.name] = error.one_line()
    for name, outcome in outcomes.items():
        if name in NETWORK_SHAPING:
            assert f"required parameter '{NETWORK_SHAPING[name]}' has no value" in outcome
        elif name.startswith("ans_azfw-forced-tunnel.0-main"):
            assert "linked template URL" in outcome
        else:
            assert outcome == "loaded", (name, outcome)
    assert sum(o == "loaded" for o in outcomes.values()) >= 9
