"""Dual-stack ip configurations from ARM templates and az dumps (issue 17, part 3).

An IPv6 ip configuration (privateIPAddressVersion IPv6) gets its dynamic address from the
subnet's IPv6 prefix ("Private IP addresses", Dynamic allocation; assumption
ipv6-dynamic-allocation) and leaves the IPv4 pool alone, so the IPv4 addresses of the NICs after
it do not move; the engine's address maps keep taking each NIC's IPv4 address.
Fixture: tests/load/fixtures/arm/dual_stack_minimal.json (the smallest dual-stack deployment,
shaped after Microsoft's ARM reference "Deploy an IPv6 dual stack application in Azure -
Template", https://learn.microsoft.com/azure/virtual-network/ipv6-configure-template-json).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from dataplane.errors import InputError
from dataplane.load import load
from dataplane.load.allocation import AddressAllocator
from dataplane.net import parse_ip

DUAL = Path(__file__).parents[1] / "load" / "fixtures" / "arm" / "dual_stack_minimal.json"


def _addresses(topology) -> dict[str, list[tuple[str, str, str]]]:
    return {n.name: [(c.name, str(c.private_ip_address), c.private_ip_address_version)
                     for c in n.ip_configurations] for n in topology.network_interfaces}


def test_ipv6_configuration_takes_the_ipv6_prefix_and_ipv4_does_not_shift() -> None:
    topology = load(DUAL)
    assert _addresses(topology) == {
        "nic0": [("ipconfig-v4", "10.0.0.4", "IPv4"), ("ipconfig-v6", "ace:cab:deca:deed::4", "IPv6")],
        "nic1": [("ipconfig-v4", "10.0.0.5", "IPv4"), ("ipconfig-v6", "ace:cab:deca:deed::5", "IPv6")],
    }
    assert any(a.text.startswith("ipv6-dynamic-allocation:") for a in topology.assumptions)


def test_ipv6_configuration_listed_first_still_leaves_ipv4_alone(tmp_path: Path) -> None:
    doc = json.loads(DUAL.read_text())
    nic = next(r for r in doc["resources"] if r["type"].endswith("networkInterfaces"))
    nic["properties"]["ipConfigurations"].reverse()
    path = tmp_path / "reversed.json"
    path.write_text(json.dumps(doc))
    got = _addresses(load(path))
    assert got["nic0"] == [("ipconfig-v6", "ace:cab:deca:deed::4", "IPv6"),
                           ("ipconfig-v4", "10.0.0.4", "IPv4")]
    assert got["nic1"][1] == ("ipconfig-v4", "10.0.0.5", "IPv4")


def test_subnet_without_ipv6_prefix_assigns_nothing_and_says_so(tmp_path: Path) -> None:
    doc = json.loads(DUAL.read_text())
    doc["variables"]["subnetv6AddressRange"] = "10.0.1.0/24"  # a second IPv4 prefix instead
    path = tmp_path / "v4only.json"
    path.write_text(json.dumps(doc))
    topology = load(path)
    assert [str(c.private_ip_address) for c in topology.network_interfaces[1].ip_configurations] \
        == ["10.0.0.5", "None"]
    assert any("with an IPv6 prefix, so no private IP was assigned" in a.text
               for a in topology.assumptions)


def test_allocator_keeps_separate_pools_per_version() -> None:
    pool = AddressAllocator()
    assert pool.allocate("10.0.0.0/24", key="s") == "10.0.0.4"
    assert pool.allocate("fd00:1::/64", key="s") == "fd00:1::4"
    assert pool.allocate("fd00:1::/64", "fd00:1::5", key="s") == "fd00:1::5"
    assert pool.allocate("10.0.0.0/24", key="s") == "10.0.0.5"
    assert pool.allocate("fd00:1::/64", key="s") == "fd00:1::6"
    assert pool.taken("fd00:1::/64", key="s") == ("fd00:1::4", "fd00:1::5", "fd00:1::6")


def _dump(address: str | None, version: str) -> dict:
    sub = ("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/"
           "subnets/a")
    ipc = {"name": "v6", "properties": {"privateIPAddressVersion": version,
                                        "subnet": {"id": sub}}}
    if address is not None:
        ipc["properties"]["privateIPAddress"] = address
    return {"value": [
        {"type": "Microsoft.Network/virtualNetworks", "name": "v", "location": "eastus",
         "id": sub.rsplit("/subnets/", 1)[0],
         "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16", "fd00:1::/48"]},
                        "subnets": [{"name": "a", "id": sub, "properties": {
                            "addressPrefixes": ["10.0.0.0/24", "fd00:1::/64"]}}]}},
        {"type": "Microsoft.Network/networkInterfaces", "name": "n", "location": "eastus",
         "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/"
               "networkInterfaces/n",
         "properties": {"ipConfigurations": [
             {"name": "v4", "properties": {"privateIPAddress": "10.0.0.4", "primary": True,
                                           "subnet": {"id": sub}}}, ipc]}}]}


def test_az_dump_reads_the_version(tmp_path: Path) -> None:
    path = tmp_path / "dump.json"
    path.write_text(json.dumps(_dump("fd00:1::4", "ipv6")))
    nic = load(path).network_interfaces[0]
    assert [(c.private_ip_address, c.private_ip_address_version) for c in nic.ip_configurations] \
        == [(parse_ip("10.0.0.4"), "IPv4"), (parse_ip("fd00:1::4"), "IPv6")]
    assert nic.primary_ip == parse_ip("10.0.0.4")


@pytest.mark.parametrize("address, version, message", [
    ("10.0.0.9", "IPv6", "10.0.0.9 is not an IPv6 address"),
    ("fd00:1::4", "IPv7", "'IPv7' is not IPv4 or IPv6"),
])
def test_bad_version_is_one_line_naming_the_property(tmp_path: Path, address: str, version: str,
                                                     message: str) -> None:
    path = tmp_path / "dump.json"
    path.write_text(json.dumps(_dump(address, version)))
    with pytest.raises(InputError) as caught:
        load(path)
    text = str(caught.value)
    assert message in text and "ipConfigurations[1]" in text and "\n" not in text


def test_engine_address_maps_take_each_nics_ipv4_address() -> None:
    from scapy.layers.inet import IP, TCP

    from dataplane.dispositions import Disposition
    from dataplane.engine import Emulator

    topology = load(DUAL)
    em = Emulator(copy.deepcopy(topology))
    assert [em.net.nic_ip(i) for i in range(2)] == [parse_ip("10.0.0.4").value,
                                                    parse_ip("10.0.0.5").value]
    assert em.address_map(None, None, True).nic_ips == [("VM0", parse_ip("10.0.0.4").value),
                                                        ("VM1", parse_ip("10.0.0.5").value)]
    result = em.send(IP(src="10.0.0.4", dst="10.0.0.5") / TCP(dport=22, flags="S"), source="VM0")
    assert result.dispositions()[0] == Disposition.DELIVERED


def test_scenario_vm_with_an_ipv6_address_gets_an_ipv6_configuration() -> None:
    from dataplane.load.scenario import load_scenario_text

    topology = load_scenario_text("""
vnets:
  v: {region: westeurope, address_space: [10.0.0.0/16, 'fd00:1::/48'],
      subnets: {s: {prefix: 'fd00:1:0:1::/64'}, t: {prefix: 10.0.1.0/24}}}
vms:
  a: {subnet: v/s, ip: 'fd00:1:0:1::9', size: Standard_D2s_v3}
  b: {subnet: v/t, size: Standard_D2s_v3}
""")
    assert [(str(c.private_ip_address), c.private_ip_address_version)
            for n in topology.network_interfaces for c in n.ip_configurations] == [
        ("fd00:1:0:1::9", "IPv6"), ("10.0.1.4", "IPv4")]
