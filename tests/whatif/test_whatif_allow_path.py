"""`whatif --allow-path DIR` reaches the base topology's loader (new-user trial: whatif ignored
it, so a base template linking a template outside its folder could not be used)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dataplane.cli import main
from dataplane.errors import InputError
from dataplane.whatif.spec import load_spec

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
SUBNET = "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'v', 's')]"


def _nic_and_vm(name: str) -> list[dict]:
    return [
        {"type": "Microsoft.Network/networkInterfaces", "apiVersion": "2023-09-01",
         "name": f"{name}-nic", "location": "westeurope", "properties": {"ipConfigurations": [
             {"name": "c", "properties": {"privateIPAllocationMethod": "Dynamic",
                                          "subnet": {"id": SUBNET}}}]}},
        {"type": "Microsoft.Compute/virtualMachines", "apiVersion": "2023-09-01", "name": name,
         "location": "westeurope", "properties": {
             "hardwareProfile": {"vmSize": "Standard_D2s_v3"},
             "networkProfile": {"networkInterfaces": [{"id": "[resourceId("
                                                      "'Microsoft.Network/networkInterfaces', "
                                                      f"'{name}-nic')]"}]}}}]


CHILD = {"$schema": SCHEMA, "contentVersion": "1.0.0.0", "resources": [
    {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-09-01", "name": "v",
     "location": "westeurope", "properties": {
         "addressSpace": {"addressPrefixes": ["10.1.0.0/16"]},
         "subnets": [{"name": "s", "properties": {"addressPrefix": "10.1.1.0/24"}}]}},
    *_nic_and_vm("a"), *_nic_and_vm("b")]}
TOP = {"$schema": SCHEMA, "contentVersion": "1.0.0.0", "resources": [
    {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "inner",
     "properties": {"mode": "Incremental",
                    "templateLink": {"relativePath": "../linked/child.json"}}}]}
SPEC = """name: linked
base: base/top.json
metrics: [latency]
workload: {flows: [{from: a, to: b, port: 443, size: 1MB, rate: 10Mbit/s}]}
"""


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    (tmp_path / "linked").mkdir()
    (tmp_path / "base").mkdir()
    (tmp_path / "linked" / "child.json").write_text(json.dumps(CHILD))
    (tmp_path / "base" / "top.json").write_text(json.dumps(TOP))
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    return path


def test_the_base_reads_linked_files_only_where_allowed(spec: Path):
    with pytest.raises(InputError) as error:
        load_spec(spec)
    assert "child.json" in error.value.one_line()
    loaded = load_spec(spec, allow_paths=(str(spec.parent / "linked"),))
    assert loaded.allow_paths == (str(spec.parent / "linked"),)


def test_whatif_cli_passes_allow_path(spec: Path, tmp_path: Path, capsys):
    out = tmp_path / "out"
    assert main(["whatif", str(spec), "--out", str(out), "--serial", "--quiet", "--no-plots",
                 "--allow-path", str(spec.parent / "linked"), "-o", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["error"] == "" and row["latency_p50_ms"] > 0
