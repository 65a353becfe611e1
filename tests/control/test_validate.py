"""Validation: each finding code fires on the input Azure rejects and not on a clean one."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataplane.control.validate import validate
from dataplane.load.scenario import load_scenario_text


def codes(text: str, severity: str = "error") -> list[str]:
    return [f.code for f in validate(load_scenario_text(text)) if f.severity == severity]


def one_vnet(space="10.0.0.0/16", subnets="s1: 10.0.1.0/24", extra=""):
    return f"vnets:\n  a: {{region: westeurope, address_space: [{space}], subnets: {{{subnets}}}}}\n" + extra


def test_clean_topology_has_no_errors():
    assert codes(one_vnet()) == []


@pytest.mark.parametrize("text, code", [
    (one_vnet(subnets="s1: 10.1.0.0/24"), "NetcfgSubnetRangeOutsideVnet"),
    (one_vnet(subnets="s1: 10.0.0.0/24, s2: 10.0.0.128/25"), "NetcfgSubnetRangesOverlap"),
    (one_vnet(subnets="s1: 10.0.1.7/24"), "InvalidCIDRNotation"),
    (one_vnet(space="10.0.0.1/16"), "InvalidCIDRNotation"),
    (one_vnet(space="169.254.0.0/16", subnets="s1: 169.254.1.0/24"), "VnetAddressSpaceReserved"),
    (one_vnet(space="224.0.0.0/16", subnets="s1: 224.0.1.0/24"), "VnetAddressSpaceReserved"),
    (one_vnet(space="10.0.0.0/16, 10.0.128.0/17"), "VnetAddressSpaceOverlapsItself"),
    (one_vnet(subnets="s1: 10.0.1.0/30"), "SubnetPrefixLengthOutOfRange"),
    (one_vnet(extra="vms: {v: {subnet: a/s1, ip: 10.0.1.2}}"), "PrivateIPAddressInReservedRange"),
    (one_vnet(extra="vms: {v: {subnet: a/s1, ip: 10.0.1.255}}"), "PrivateIPAddressInReservedRange"),
    (one_vnet(extra="vms: {v: {subnet: a/s1, ip: 10.0.2.9}}"), "PrivateIPAddressNotInSubnet"),
    (one_vnet(subnets="s1: {prefix: 10.0.1.0/24, nsg: n}", extra=(
        "nsgs: {n: {rules: [{name: r, priority: 99, direction: Inbound, access: Allow}]}}")),
     "SecurityRuleInvalidPriority"),
    (one_vnet(subnets="s1: {prefix: 10.0.1.0/24, nsg: n}", extra=(
        "nsgs: {n: {rules: [{name: r1, priority: 200, direction: Inbound, access: Allow},"
        " {name: r2, priority: 200, direction: Inbound, access: Deny}]}}")),
     "SecurityRuleConflict"),
    (one_vnet(extra="route_tables: {rt: {routes: [{name: x, prefix: 0.0.0.0/0, "
                    "next_hop: Internet, next_hop_ip: 10.0.1.4}]}}"), "NextHopIpAddressNotAllowed"),
    (one_vnet(extra="route_tables: {rt: {routes: [{name: x, prefix: 0.0.0.0/0, "
                    "next_hop: VirtualAppliance}]}}"), "NextHopIpAddressRequired"),
])
def test_each_error_code(text, code):
    assert code in codes(text)


def test_same_priority_other_direction_is_fine():
    text = one_vnet(subnets="s1: {prefix: 10.0.1.0/24, nsg: n}", extra=(
        "nsgs: {n: {rules: [{name: r1, priority: 200, direction: Inbound, access: Allow},"
        " {name: r2, priority: 200, direction: Outbound, access: Deny}]}}"))
    assert codes(text) == []


def test_duplicate_static_ip_is_allocated():
    text = one_vnet(extra="vms: {v1: {subnet: a/s1, ip: 10.0.1.10}, v2: {subnet: a/s1, ip: 10.0.1.10}}")
    found = validate(load_scenario_text(text))
    assert [(f.code, f.resource.rsplit("/", 1)[-1]) for f in found] == [
        ("PrivateIPAddressIsAllocated", "v2-nic")]


def test_dangling_reference_in_dump(tmp_path):
    import json

    from dataplane import load
    sub = "/subscriptions/1/resourceGroups/rg/providers/Microsoft.Network"
    vnet = {"id": f"{sub}/virtualNetworks/a", "name": "a", "type": "Microsoft.Network/virtualNetworks",
            "location": "westeurope", "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [{"name": "s", "id": f"{sub}/virtualNetworks/a/subnets/s",
                         "addressPrefix": "10.0.0.0/24",
                         "routeTable": {"id": f"{sub}/routeTables/gone"}}]}
    nic = {"id": f"{sub}/networkInterfaces/n", "name": "n",
           "type": "Microsoft.Network/networkInterfaces",
           "ipConfigurations": [{"name": "c", "privateIPAddress": "10.0.0.4",
                                 "subnet": {"id": f"{sub}/virtualNetworks/a/subnets/s"}}]}
    nic2 = {**nic, "id": f"{sub}/networkInterfaces/n2", "name": "n2"}
    path = tmp_path / "d.json"
    path.write_text(json.dumps([vnet, nic, nic2]))
    found = [(f.code, f.resource) for f in validate(load(path))]
    assert ("InvalidResourceReference", f"{sub}/virtualNetworks/a/subnets/s") in found
    assert ("PrivateIPAddressIsAllocated", f"{sub}/networkInterfaces/n2") in found


def test_unknown_types_are_warnings(tmp_path):
    import json

    from dataplane import load
    path = tmp_path / "d.json"
    path.write_text(json.dumps([{"id": "/subscriptions/1/x/Microsoft.Web/sites/s", "name": "s",
                                 "type": "Microsoft.Web/sites"}]))
    findings = validate(load(path))
    assert [(f.code, f.severity) for f in findings] == [("UnknownResourceType", "warning")]


# --- random address plans: the validator's overlap findings match a brute-force check ------

@st.composite
def address_plans(draw):
    subnets = []
    for _ in range(draw(st.integers(1, 8))):
        length = draw(st.integers(20, 28))
        base = draw(st.integers(0, (1 << (32 - 16)) - 1)) << 16 >> (32 - length) << (32 - length)
        network = (10 << 24) | (base & 0xFFFF)
        network &= ~((1 << (32 - length)) - 1) & 0xFFFFFFFF
        subnets.append(ipaddress.ip_network((network, length)))
    return subnets


@given(address_plans())
def test_subnet_overlap_findings_match_brute_force(subnets):
    body = ", ".join(f"s{i}: {net}" for i, net in enumerate(subnets))
    found = validate(load_scenario_text(one_vnet(space="10.0.0.0/16", subnets=body)))
    flagged = {f.resource.rsplit("/", 1)[-1] for f in found if f.code == "NetcfgSubnetRangesOverlap"}
    expected = {f"s{j}" for i in range(len(subnets)) for j in range(i + 1, len(subnets))
                if subnets[i].overlaps(subnets[j])}
    assert flagged == expected
