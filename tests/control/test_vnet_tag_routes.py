"""The VirtualNetwork tag's user-route prefixes (control/vnet_tag_routes.py): an NSG verdict
decided by a rule whose VirtualNetwork tag holds the remote address only because of a user route
carries caveat `virtualnetwork-tag-route-prefix` (the tag holds "address prefixes used on
user-defined routes", "Virtual network service tags",
https://learn.microsoft.com/azure/virtual-network/service-tags-overview; the user reports,
MicrosoftDocs/azure-docs#22178, are about a default route to an appliance). Verdicts are kept.

The real case: the Firewall Manager quickstart (aqt_fwm-docs-qs) gives Jump-SN route table RT-01
with `jump-to-inet` 0.0.0.0/0 -> Internet, so AllowVnetInBound allows an Internet source."""

from __future__ import annotations

from pathlib import Path

import pytest
from topo_factory import Builder

import dataplane
from dataplane.model import Topology
from dataplane.watcher import effective_security_rules, explain, ip_flow_verify

KEY = "virtualnetwork-tag-route-prefix"


@pytest.fixture
def quickstart(real_dir: Path) -> Topology:
    arm = real_dir / "arm"
    return dataplane.load(arm / "aqt_fwm-docs-qs.azuredeploy.json",
                          parameters=arm / "aqt_fwm-docs-qs.azuredeploy.parameters.json")


def ours(answer: dict) -> list[str]:
    return [c for c in answer["caveats"] if c.startswith(KEY)]


def test_internet_source_allowed_by_allow_vnet_inbound_is_said(quickstart):
    out = ip_flow_verify(quickstart, "Jump-Srv", "Inbound", "TCP", "10.0.2.4:22",
                         "203.0.113.9:50001")
    assert out["access"] == "Allow"  # the verdict is kept (assumption virtualnetwork-udr-prefixes)
    assert out["ruleName"] == "defaultSecurityRules/AllowVnetInBound"
    (line,) = ours(out)
    assert "AllowVnetInBound matched 203.0.113.9" in line
    assert "route table RT-01 route jump-to-inet (0.0.0.0/0, next hop Internet)" in line
    assert "MicrosoftDocs/azure-docs#22178" in line
    assert "with next hop Internet it is unconfirmed" in line


def test_a_source_in_the_vnet_needs_no_caveat(quickstart):
    out = ip_flow_verify(quickstart, "Jump-Srv", "Inbound", "TCP", "10.0.2.4:22",
                         "10.0.1.4:50001")
    assert out["ruleName"] == "defaultSecurityRules/AllowVnetInBound" and not ours(out)


def test_a_subnet_without_such_a_route_needs_no_caveat(quickstart):
    out = ip_flow_verify(quickstart, "Workload-Srv", "Inbound", "TCP", "10.0.1.4:22",
                         "203.0.113.9:50001")
    assert out["access"] == "Deny" and not ours(out)


def test_explain_carries_it_on_the_outbound_nsg_hop(quickstart):
    # AllowVnetOutBound (65000) comes before AllowInternetOutBound (65001): the route decides
    out = explain(quickstart, "Jump-Srv", "203.0.113.9:443")
    hop = next(h for h in out["hops"] if h["step"] == "nsg-outbound")
    assert hop["rule"] == "defaultSecurityRules/AllowVnetOutBound"
    assert [c for c in hop.get("caveats", ()) if c.startswith(KEY)] == ours(out)
    assert len(ours(out)) == 1 and "AllowVnetOutBound matched 203.0.113.9" in ours(out)[0]


def test_rules_table_names_the_widening_route(quickstart):
    rules = effective_security_rules(quickstart, "netInterface-jump-srv")
    (line,) = ours(rules)
    assert "jump-to-inet (0.0.0.0/0, next hop Internet)" in line
    assert not ours(effective_security_rules(quickstart, "netInterface-workload-srv"))


def appliance(source: str) -> Topology:
    """A spoke whose subnet sends everything to an appliance; its NSG allows 22 from
    VirtualNetwork and `source` (assumption-free case: the other prefix decides)."""
    rules = [{"name": "ssh", "priority": 100, "source": ["VirtualNetwork", source],
              "destination_ports": "22", "protocol": "Tcp"}]
    return (Builder().nsg("n", rules)
            .vnet("v", "10.0.0.0/16", subnets={
                "s": {"prefix": "10.0.1.0/24", "nsg": "n", "route_table": "rt"},
                "dmz": "10.0.100.0/24"})
            .route_table("rt", [("default-nva", "0.0.0.0/0", "VirtualAppliance", "10.0.100.4"),
                                ("inside", "10.0.0.0/17", "VirtualAppliance", "10.0.100.4")])
            .vm("vm1", "v/s", "10.0.1.4").vm("nva", "v/dmz", "10.0.100.4", ip_forwarding=True)
            .build())


def test_an_appliance_route_is_the_reported_case_and_other_prefixes_win():
    out = ip_flow_verify(appliance("192.0.2.0/24"), "vm1", "Inbound", "TCP", "10.0.1.4:22",
                         "198.51.100.7:50001")
    assert out["ruleName"] == "securityRules/ssh"
    (line,) = ours(out)
    assert "n/ssh matched 198.51.100.7" in line and "next hop VirtualAppliance" in line
    assert "unconfirmed" not in line
    # the rule's own prefix holds the address: the tag does not decide alone
    assert not ours(ip_flow_verify(appliance("198.51.100.0/24"), "vm1", "Inbound", "TCP",
                                   "10.0.1.4:22", "198.51.100.7:50001"))


def test_rules_table_names_only_routes_beyond_the_vnet():
    (line,) = ours(effective_security_rules(appliance("192.0.2.0/24"), "vm1-nic"))
    assert "route default-nva (0.0.0.0/0, next hop VirtualAppliance)" in line
    assert "route inside" not in line  # 10.0.0.0/17 is inside the VNet's space


def test_replay_marks_paths_through_the_nic_of_a_non_appliance_route(quickstart):
    from dataplane.engine.compile import build_network
    from dataplane.engine.path_caveats import path_caveats

    net = build_network(quickstart, caps=False)
    (caveat,) = [c for c in path_caveats(net) if c.key.startswith(KEY)]
    assert caveat.key == f"{KEY}:RT-01" and caveat.resources == ("netInterface-jump-srv",)
    assert caveat.nodes == frozenset(i for i, n in enumerate(net.nics)
                                     if n.name == "netInterface-jump-srv")
    assert "may rest on it" in caveat.line() and "next hop Internet" in caveat.line()
    # an appliance default route (the reported case) is left to the assumption in replay
    assert not [c for c in path_caveats(build_network(appliance("192.0.2.0/24"), caps=False))
                if c.key.startswith(KEY)]
