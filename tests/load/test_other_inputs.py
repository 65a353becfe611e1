"""A scenario's VNET/SUBNET reference resolves in the run's other inputs (load/other_inputs.py):
test VMs added to a VM-less template (new-user trial: a false "VNet X has no subnet Y")."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

import dataplane
from dataplane.cli import main
from dataplane.errors import InputError

PEERING = "aqt_vnet-to-vnet-peering.azuredeploy.json"
DOC = Path(__file__).resolve().parents[2] / "docs" / "scenario.md"


def _recipe() -> str:
    """The scenario of docs/scenario.md's recipe, as the document shows it."""
    section = DOC.read_text(encoding="utf-8").split("## Adding test VMs to a template")[1]
    return re.search(r"```text\n(.*?)```", section, re.S).group(1)


@pytest.fixture
def template(real_dir, tmp_path) -> Path:
    return Path(shutil.copy(real_dir / "arm" / PEERING, tmp_path / "azuredeploy.json"))


def test_the_documented_recipe_places_vms_in_the_template_subnets(template, tmp_path):
    vms = tmp_path / "test-vms.yaml"
    vms.write_text(_recipe())
    for order in ([template, vms], [vms, template]):  # either order on the command line
        topology = dataplane.load([str(p) for p in order])
        nics = {n.name: n for n in topology.network_interfaces}
        one = nics["probe1-nic"].ip_configurations[0]
        two = nics["probe2-nic"].ip_configurations[0]
        vnet1, vnet2 = (topology.vnet(n) for n in ("vNet1", "vNet2"))
        assert one.subnet == vnet1.subnets[0].id and str(one.private_ip_address) == "10.0.0.4"
        assert two.subnet == vnet2.subnets[0].id and str(two.private_ip_address) == "192.168.0.10"
        assert topology.find("virtual_machines", "probe1").location == vnet1.location


def test_explain_between_the_test_vms(template, tmp_path, capsys):
    vms = tmp_path / "test-vms.yaml"
    vms.write_text(_recipe())
    assert main(["explain", str(template), str(vms), "--vm", "probe1", "--to",
                 "192.168.0.10:22", "-o", "json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert (answer["disposition"], answer["engineDisposition"]) == ("Delivered", "DELIVERED")
    assert any(h["step"] == "peering" for h in answer["hops"])


SUBNETS = """{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
 "contentVersion": "1.0.0.0", "resources": [
  {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-09-01", "name": "lab",
   "location": "northeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.9.0.0/16"]}}},
  {"type": "Microsoft.Network/virtualNetworks/subnets", "apiVersion": "2023-09-01",
   "name": "lab/app", "properties": {"addressPrefix": "10.9.1.0/24"},
   "dependsOn": ["[resourceId('Microsoft.Network/virtualNetworks', 'lab')]"]},
  {"type": "Microsoft.Network/networkInterfaces", "apiVersion": "2023-09-01", "name": "old-nic",
   "location": "northeurope", "properties": {"ipConfigurations": [{"name": "c", "properties": {
     "privateIPAllocationMethod": "Static", "privateIPAddress": "10.9.1.4",
     "subnet": {"id": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'lab', 'app')]"}}}]}}
]}"""


def test_child_subnets_and_taken_addresses_of_the_other_input(tmp_path):
    """A subnet written as a child resource resolves too; a dynamic address skips the one the
    template's NIC holds."""
    (tmp_path / "lab.json").write_text(SUBNETS)
    (tmp_path / "vms.yaml").write_text("vms:\n  t1: {subnet: lab/app}\n")
    topology = dataplane.load([str(tmp_path / "lab.json"), str(tmp_path / "vms.yaml")])
    nic = next(n for n in topology.network_interfaces if n.name == "t1-nic")
    assert str(nic.ip_configurations[0].private_ip_address) == "10.9.1.5"
    assert topology.find("virtual_machines", "t1").location == "northeurope"


@pytest.mark.parametrize(("scenario", "message"), [
    ("vms:\n  t1: {subnet: lab/web}\n", "VNet 'lab' has no subnet 'web'"),
    ("vms:\n  t1: {subnet: elsewhere/app}\n", "unknown VNet 'elsewhere'"),
])
def test_a_reference_no_input_defines_is_named(tmp_path, scenario, message):
    (tmp_path / "lab.json").write_text(SUBNETS)
    (tmp_path / "vms.yaml").write_text(scenario)
    with pytest.raises(InputError) as error:
        dataplane.load([str(tmp_path / "lab.json"), str(tmp_path / "vms.yaml")])
    assert message in error.value.one_line() and "vms.yaml" in error.value.one_line()


def test_two_vnets_of_that_name_make_the_reference_ambiguous(tmp_path):
    (tmp_path / "vms.yaml").write_text("vms:\n  t1: {subnet: lab/app}\n")
    two = [{"type": "Microsoft.Network/virtualNetworks", "name": "lab", "location": "eastus",
            "id": f"/subscriptions/s/resourceGroups/{rg}/providers/Microsoft.Network/"
                  "virtualNetworks/lab",
            "properties": {"addressSpace": {"addressPrefixes": ["10.9.0.0/16"]},
                           "subnets": [{"name": "app", "properties": {
                               "addressPrefix": "10.9.1.0/24"}}]}} for rg in ("rg1", "rg2")]
    (tmp_path / "dump.json").write_text(json.dumps(two))
    with pytest.raises(InputError) as error:
        dataplane.load([str(tmp_path / "dump.json"), str(tmp_path / "vms.yaml")])
    assert "the other inputs define 2 VNets named 'lab'" in error.value.one_line()
    assert "/rg1/" in error.value.one_line() and "/rg2/" in error.value.one_line()
