"""Unmodelled resources put named caveats on the answers they can change (control/caveats.py,
load/related.py): never "does not affect the data plane" unless true, and scoped to the resources
they are connected to. Inputs: the Firewall Manager secured-hub quickstart (Virtual WAN hub,
a public IP on the jump VM's NIC) and small az-style dumps."""

from __future__ import annotations

from pathlib import Path

import pytest

import dataplane
from dataplane import watcher
from dataplane.control.caveats import caveats_touching, impact, topology_caveats
from dataplane.control.validate import validate
from dataplane.load.resources import resources_to_topology
from dataplane.model import Topology

SUB = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"


@pytest.fixture
def secured_hub(real_dir: Path) -> Topology:
    arm = real_dir / "arm"
    return dataplane.load(arm / "aqt_fwm-docs-qs.azuredeploy.json",
                          parameters=arm / "aqt_fwm-docs-qs.azuredeploy.parameters.json")


def _related(topology: Topology, name: str) -> set[str]:
    (unknown,) = [u for u in topology.unknown_resources if u.name == name]
    return {r.rsplit("/", 1)[1] for r in unknown.related}


def test_unmodelled_resources_reach_what_they_change(secured_hub: Topology) -> None:
    # The hub connection changes the spoke's routes; the hub route table names the firewall.
    assert _related(secured_hub, "hub-spoke") == {"Hub-01", "Spoke-01", "AzfwTest"}
    # The Virtual WAN reaches its hub (a modelled VirtualHub that carries its own caveat).
    assert _related(secured_hub, "VWan-01") == {"Hub-01"}
    # The public IP is modelled, and the engine translates outbound packets to it (primary IP
    # configuration, IPv4): no caveat is left for it.
    assert [p.name for p in secured_hub.public_ip_addresses] == ["publicIP-jump-srv"]
    assert not [c for c in topology_caveats(secured_hub) if c.key.startswith("public-edge:")]


def test_check_never_says_a_verdict_changing_resource_has_no_effect(secured_hub: Topology) -> None:
    warnings = [f for f in validate(secured_hub) if f.code == "UnknownResourceType"]
    assert len(warnings) == len(secured_hub.unknown_resources) == 3
    for finding in warnings:
        assert "does not affect" not in finding.message
        assert "can change verdicts" in finding.message
    hub = next(f for f in warnings if f.resource.endswith("/hubVirtualNetworkConnections/hub-spoke"))
    assert "answers involving AzfwTest, Hub-01, Spoke-01 carry a caveat" in hub.message


def test_answers_carry_only_the_caveats_that_touch_them(secured_hub: Topology) -> None:
    workload = watcher.next_hop(secured_hub, "Workload-Srv", "10.0.1.4", "8.8.8.8")
    jump = watcher.next_hop(secured_hub, "Jump-Srv", "10.0.2.4", "8.8.8.8")
    assert workload["nextHopType"] == "Internet"
    assert any("hubVirtualNetworkConnections 'hub-spoke'" in c for c in workload["caveats"])
    # The jump VM's public IP is modelled (inbound DNAT, outbound SNAT): no answer names it.
    assert not any("publicIP-jump-srv" in c for c in jump["caveats"] + workload["caveats"])
    # The policy's unevaluated application rules touch the firewall, which no next-hop names.
    assert not any("Policy-01" in c for c in workload["caveats"])
    verify = watcher.ip_flow_verify(secured_hub, "Jump-Srv", "Inbound", "TCP", "10.0.2.4:3389",
                                    "203.0.113.9:50000")
    assert not any("publicIP-jump-srv" in c for c in verify["caveats"])


def _dump(*extra: dict) -> list[dict]:
    vnet = {"type": "Microsoft.Network/virtualNetworks", "name": "v", "id": SUB + "Microsoft.Network/virtualNetworks/v",
            "location": "westeurope",
            "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                           "subnets": [{"name": "s", "id": SUB + "Microsoft.Network/virtualNetworks/v/subnets/s",
                                        "properties": {"addressPrefix": "10.0.1.0/24"}}]}}
    return [vnet, *extra]


def test_a_type_that_cannot_change_a_verdict_says_why_and_carries_no_caveat() -> None:
    extension = {"type": "Microsoft.Compute/virtualMachines/extensions", "name": "vm/ext",
                 "id": SUB + "Microsoft.Compute/virtualMachines/vm/extensions/ext", "properties": {}}
    topology = resources_to_topology(_dump(extension))
    (finding,) = [f for f in validate(topology) if f.code == "UnknownResourceType"]
    assert "cannot change a verdict (VM extensions install software inside the guest)" in finding.message
    assert topology_caveats(topology) == ()


def test_an_unknown_type_is_assumed_to_change_verdicts() -> None:
    changes, what = impact("Contoso.Network/magicBoxes")
    assert changes and "unknown" in what


def test_a_caveat_on_a_vnet_covers_its_subnets() -> None:
    nat = {"type": "Microsoft.Network/bastionHosts", "name": "nat", "id": SUB + "Microsoft.Network/bastionHosts/nat",
           "properties": {"subnets": [{"id": SUB + "Microsoft.Network/virtualNetworks/v/subnets/s"}]}}
    topology = resources_to_topology(_dump(nat))
    (caveat,) = topology_caveats(topology)
    assert caveat.key == "unmodelled:Microsoft.Network/bastionHosts:nat"
    assert caveats_touching([caveat], [SUB + "Microsoft.Network/virtualNetworks/v/subnets/s"]) == [caveat]
    assert caveats_touching([caveat], [SUB + "Microsoft.Network/virtualNetworks/v/subnets/other"]) == []


def test_a_public_ipv6_on_the_first_ipv6_configuration_carries_no_edge_caveat() -> None:
    # Microsoft's dual-stack tutorial VM: its public IPv6 is on its (first) IPv6 configuration,
    # which stages/public_edge6.py translates (issue 17); only a public IP the engine does not
    # translate (a secondary configuration) keeps the public-edge caveat (new-user trial: the
    # caveat said "not source-translated" beside an explain showing the translation).
    import dataclasses

    fixture = Path(__file__).parents[1] / "load" / "fixtures" / "arm" / "dual_stack_public_ipv6.json"
    topology = dataplane.load(fixture)
    from dataplane.control.caveats import edge_caveats

    assert not [c for c in edge_caveats(topology) if c.key.startswith("public-edge:")]
    (nic,) = topology.network_interfaces
    v4, v6 = nic.ip_configurations
    second = dataclasses.replace(v6, name="ipconfig-v6b")  # a second IPv6 configuration
    moved = dataclasses.replace(v6, public_ip_address=None)
    changed = dataclasses.replace(topology, network_interfaces=(
        dataclasses.replace(nic, ip_configurations=(v4, moved, second)),))
    (caveat,) = [c for c in edge_caveats(changed) if c.key.startswith("public-edge:")]
    assert caveat.key == "public-edge:myPublicIP-IPv6" and "not source-translated" in caveat.text
