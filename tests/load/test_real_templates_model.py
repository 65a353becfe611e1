"""Every real template of the shared real inputs (arm/) loads through the front door into a
valid model, or fails with an error naming resource, property and feature (end to end: evaluator ->
converter -> validation)."""

from __future__ import annotations

import pytest

from dataplane import load
from dataplane.control.validate import validate
from dataplane.errors import InputError
from dataplane.net import parse_ip

CASES = {
    # file: (parameters, VNets, Connected links)
    "aqt_vnet-to-vnet-peering.azuredeploy.json": (
        "aqt_vnet-to-vnet-peering.azuredeploy.parameters.json", 2, 2),
    "aqt_demos_hub-and-spoke-sandbox.azuredeploy.json": (
        {"winVmUser": "u", "winVmDnsPrefix": "x"}, 3, 4),
    "ans_azfw-dns-proxy-hub-spoke.azuredeploy.json": (
        "ans_azfw-dns-proxy-hub-spoke.azuredeploy.parameters.json", 3, 4),
    "ans_azfw-private-ip-dnat-overlapped.PrivateIpDnatArmTemplateV2.json": (
        {"adminPassword": "x"}, 5, 8),
    "ans_netsec-demo-lab-standard.AzNetSecdeploy.json": (None, 3, 4),
    "ans_netsec-workshop.labdeployment.json": ({"adminPassword": "x", "appGwAfdName": "x"}, 3, 4),
    "ans_azfw-forced-tunnel.1-azureLinkedTemplate.json": (None, 2, 2),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_real_template_loads_valid(real_dir, name):
    parameters, vnets, connected = CASES[name]
    if isinstance(parameters, str):
        parameters = real_dir / "arm" / parameters
    topology = load(real_dir / "arm" / name, parameters)
    assert len(topology.virtual_networks) == vnets
    states = [link.peering_state for link in topology.peerings()]
    assert states.count("Connected") == connected
    errors = [f for f in validate(topology) if f.severity == "error"]
    assert errors == []


def test_dns_proxy_firewall_is_the_udr_next_hop(real_dir):
    """reference() to the firewall's private IP resolves to Azure's first usable address."""
    arm = real_dir / "arm"
    topology = load(arm / "ans_azfw-dns-proxy-hub-spoke.azuredeploy.json",
                    arm / "ans_azfw-dns-proxy-hub-spoke.azuredeploy.parameters.json")
    (firewall,) = topology.azure_firewalls
    assert firewall.private_ip_address == parse_ip("192.168.0.4")
    hops = {r.next_hop_ip_address for t in topology.route_tables for r in t.routes
            if r.next_hop_type == "VirtualAppliance"}
    assert hops == {firewall.private_ip_address}
    # The LogAnalytics extensions need listKeys: left out, and said so.
    assert any("listKeys" in a.text for a in topology.assumptions)


def test_overlapping_spokes_only_peer_their_own_hub(real_dir):
    topology = load(real_dir / "arm" /
                    "ans_azfw-private-ip-dnat-overlapped.PrivateIpDnatArmTemplateV2.json",
                    {"adminPassword": "x"})
    spaces = [tuple(map(str, v.address_space)) for v in topology.virtual_networks]
    assert spaces.count(("192.168.0.0/24",)) == 2


def test_remote_linked_template_is_a_precise_error(real_dir):
    with pytest.raises(InputError) as info:
        load(real_dir / "arm" / "ans_azfw-forced-tunnel.0-main.azfwForceTunnelTemplate.json")
    assert info.value.property == "properties.templateLink.uri"
    assert info.value.resource == "azureLinkedTemplate"
    assert "linked template URL" in info.value.message


def test_credentials_do_not_block_loading(real_dir):
    """Issue 18 item 5: the VM user, password and DNS label are read only by properties the
    model ignores; placeholders stand for them, each with a printed assumption."""
    topology = load(real_dir / "arm" / "aqt_demos_hub-and-spoke-sandbox.azuredeploy.json")
    texts = " ".join(a.text for a in topology.assumptions)
    for name in ("winVmUser", "winVmPassword", "winVmDnsPrefix"):
        assert f"parameter '{name}' has no value; the placeholder" in texts
    assert topology.virtual_networks
