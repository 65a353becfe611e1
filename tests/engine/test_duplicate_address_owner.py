"""Two NICs of one VNet holding one private address (Azure refuses it:
PrivateIPAddressIsAllocated, which `check` reports): the first NIC in topology order owns the
address everywhere in the engine, UDR next hops included (new-user trial: the route's owner map
kept the last NIC while engine/addresses.py, Network.ip_nic and the docs say the first)."""

from __future__ import annotations

import pytest

from dataplane.control.validate import validate
from dataplane.engine.compile import build_network
from dataplane.load.resources import resources_to_topology
from dataplane.load.scenario import scenario_resources

SCENARIO = """
vnets:
  hub:
    region: westeurope
    address_space: [10.0.0.0/16, "fd00:db8::/48"]
    subnets:
      nva: {prefix: 10.0.0.0/24, prefix6: "fd00:db8:0:1::/64"}
      app: {prefix: 10.0.1.0/24, prefix6: "fd00:db8:0:2::/64", route_table: via-nva}
route_tables:
  via-nva:
    routes:
      - {name: out, prefix: 0.0.0.0/0, next_hop: VirtualAppliance, next_hop_ip: 10.0.0.10}
      - {name: out6, prefix: "::/0", next_hop: VirtualAppliance, next_hop_ip: "fd00:db8:0:1::10"}
vms:
  nva-a: {subnet: hub/nva, ip: 10.0.0.10, ip6: "fd00:db8:0:1::10", ip_forwarding: true}
  nva-b: {subnet: hub/nva, ip: 10.0.0.11, ip6: "fd00:db8:0:1::11", ip_forwarding: true}
  client: {subnet: hub/app, ip: 10.0.1.4, ip6: "fd00:db8:0:2::4"}
"""


@pytest.fixture(scope="module")
def duplicated():
    resources = scenario_resources(SCENARIO, "dup.yaml")
    nic_b = next(r for r in resources if r["name"] == "nva-b-nic")
    configs = nic_b["properties"]["ipConfigurations"]
    configs[0]["properties"]["privateIPAddress"] = "10.0.0.10"  # nva-a's addresses, both
    configs[1]["properties"]["privateIPAddress"] = "fd00:db8:0:1::10"
    return resources_to_topology(resources, "dup.yaml")


def test_check_reports_the_duplicate(duplicated):
    codes = [f.code for f in validate(duplicated) if f.severity == "error"]
    assert codes.count("PrivateIPAddressIsAllocated") == 2  # IPv4 and IPv6


@pytest.mark.parametrize("route", ["out", "out6"])
def test_the_first_nic_is_the_udr_next_hop(duplicated, route):
    net = build_network(duplicated)
    (row,) = [i for i, label in enumerate(net.route_labels) if label.endswith(f"/{route}")]
    appliance = int(net.route_appliance[row])
    assert net.node_names[appliance] == "nva-a"
