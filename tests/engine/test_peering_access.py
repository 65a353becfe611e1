"""allowVirtualNetworkAccess=false in the packet engine (control/peering.peering_access):
"When this setting is disabled, traffic doesn't flow between the peered virtual networks"
("Create, change, or delete a virtual network peering",
https://learn.microsoft.com/azure/virtual-network/virtual-network-manage-peering, 2018 text;
the 2022 text reads it as a VirtualNetwork-tag change only: VNET_DATAPLANE_PEERING_ACCESS)."""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, TCP

from dataplane.engine import Emulator

TOPOLOGY = """
vnets:
  a: {{region: westeurope, address_space: [10.1.0.0/16], subnets: {{s: 10.1.1.0/24}}}}
  b: {{region: westeurope, address_space: [10.2.0.0/16], subnets: {{s: 10.2.1.0/24}}}}
peerings:
  - {{vnet: a, remote: b, allow_virtual_network_access: {a_allows}}}
  - {{vnet: b, remote: a}}
nsgs:
  open:
    rules:
      - {{name: any-in, priority: 100, direction: Inbound, access: Allow, protocol: "*", source: "*", destination: "*", destination_ports: "*"}}
      - {{name: any-out, priority: 100, direction: Outbound, access: Allow, protocol: "*", source: "*", destination: "*", destination_ports: "*"}}
vms:
  x: {{subnet: a/s, ip: 10.1.1.4, size: Standard_D2s_v3, nsg: open}}
  y: {{subnet: b/s, ip: 10.2.1.4, size: Standard_D2s_v3, nsg: open}}
"""


def _dispositions(make_topology, a_allows: bool) -> list[str]:
    emulator = Emulator(make_topology(TOPOLOGY.format(a_allows=str(a_allows).lower())))
    result = emulator.send([IP(src="10.1.1.4", dst="10.2.1.4") / TCP(sport=40000, dport=80),
                            IP(src="10.2.1.4", dst="10.1.1.4") / TCP(sport=40001, dport=80)])
    return [d.name for d in result.dispositions()]


def test_access_allowed_both_ways(make_topology) -> None:
    assert _dispositions(make_topology, True) == ["DELIVERED", "DELIVERED"]


def test_one_link_blocking_access_stops_traffic_both_ways(make_topology, monkeypatch) -> None:
    monkeypatch.delenv("VNET_DATAPLANE_PEERING_ACCESS", raising=False)
    # NSGs allowing everything both ways do not help: the peering itself carries nothing.
    assert _dispositions(make_topology, False) == ["PEERING_BLOCKED", "PEERING_BLOCKED"]


@pytest.mark.parametrize("mode", ["tag-only"])
def test_the_2022_reading_only_changes_the_tag(make_topology, monkeypatch, mode) -> None:
    monkeypatch.setenv("VNET_DATAPLANE_PEERING_ACCESS", mode)
    assert _dispositions(make_topology, False) == ["DELIVERED", "DELIVERED"]
