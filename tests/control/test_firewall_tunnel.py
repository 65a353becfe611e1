"""Forced tunnelling on an Azure Firewall without a management IP configuration
(control/firewall_tunnel.py): "Azure Firewall forced tunneling",
https://learn.microsoft.com/azure/firewall/forced-tunneling -- without the management NIC,
"UDR configurations on the AzureFirewallSubnet that have a default route not going directly
to the Internet are disabled". `check` warns and the answers through the firewall name it;
with `management: true` (managementIpConfiguration) neither; the real forced-tunnel template,
which has one, loads without the warning."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP

import dataplane
from dataplane.control.validate import validate
from dataplane.engine import Emulator

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from test_firewall_nat import tunnel_text  # noqa: E402

TUNNEL = tunnel_text(internet_behind=False, user_route=True)


@pytest.mark.parametrize("management", [False, True])
def test_check_warns_and_answers_name_it_without_management(tmp_path, management):
    text = TUNNEL.replace("    public_ips: [fw-ip]\n", "    public_ips: [fw-ip]\n    management: true\n") \
        if management else TUNNEL
    (tmp_path / "t.yaml").write_text(text)
    topology = dataplane.load(tmp_path / "t.yaml")
    assert topology.azure_firewalls[0].management_ip_configuration is management
    found = [f for f in validate(topology) if f.code == "FirewallForcedTunnelingWithoutManagement"]
    row = Emulator(topology).send(IP(src="10.1.1.4", dst="8.8.8.8") / TCP(sport=1, dport=443),
                                  source="app1").row(0)
    named = [c for c in row["caveats"] if c.startswith("firewall-forced-tunnel:")]
    if management:
        assert not found and not named
    else:
        (finding,) = found
        assert finding.severity == "warning" and "route tunnel/onprem" in finding.message
        assert len(named) == 1 and "Azure disables such a route" in named[0]
    assert row["hops"].split(" > ")[:2] == ["app1", "fw"]


def test_the_real_forced_tunnel_template_has_its_management_configuration(real_dir):
    arm = real_dir / "arm"
    topology = dataplane.load(arm / "ans_azfw-forced-tunnel.1-azureLinkedTemplate.json")
    assert all(fw.management_ip_configuration for fw in topology.azure_firewalls)
    assert not [f for f in validate(topology)
                if f.code == "FirewallForcedTunnelingWithoutManagement"]
