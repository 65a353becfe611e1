"""The Internet leg's latency (issue 17 leftover 5, v6fix; engine/timing_stage.py).

Microsoft publishes no Internet latency ("Azure network round-trip latency statistics",
https://learn.microsoft.com/azure/networking/azure-network-latency: region pairs only). The
choice, written down as assumption `internet-edge-latency`: an exit is timed to the sender's
region edge, a leg from the Internet node to the receiver's region edge (the intra-region
latency of that region, not of whichever region the table lists last); a packet straight from
the Internet to a VM's public IP (IPv4 or IPv6) has no leg before the VM: latencyNs 0.
"""

from __future__ import annotations

import numpy as np
import pytest

from dataplane.engine import Emulator
from dataplane.engine.compile import build_network
from dataplane.engine.timing_stage import INTERNET_EDGE_LATENCY, leg_tables

TOPO = """
vnets:
  west:
    region: westeurope
    address_space: [10.0.0.0/16]
    subnets:
      s: {prefix: 10.0.1.0/24}
  east:
    region: australiaeast
    address_space: [10.1.0.0/16]
    subnets:
      s: {prefix: 10.1.1.0/24}
vms:
  w1: {subnet: west/s, ip: 10.0.1.4, size: Standard_D2s_v3}
  e1: {subnet: east/s, ip: 10.1.1.4, size: Standard_D2s_v3}
"""


@pytest.fixture(scope="module")
def net(make_topology):
    return build_network(make_topology(TOPO))


def test_a_leg_from_the_internet_takes_the_receivers_region(net) -> None:
    internet = net.internet_node
    for nic in (0, 1):
        region = int(net.node_region[nic])
        nodes = np.array([[internet, nic, -1]], dtype=np.int64)
        _vm, cost = leg_tables(net, nodes)
        assert int(cost[0, 0]) == int(net.latency_ns[region, region] + net.node_cost_ns[nic])
    # the two regions' edges differ from each other's cross-region latency
    assert net.latency_ns[0, 0] != net.latency_ns[1, 0]


def test_an_exit_takes_the_senders_region(net) -> None:
    for nic in (0, 1):
        region = int(net.node_region[nic])
        _vm, cost = leg_tables(net, np.array([[nic, net.internet_node]], dtype=np.int64))
        assert int(cost[0, 0]) == int(net.latency_ns[region, region])


def test_the_choice_is_in_every_replays_assumptions(make_topology) -> None:
    em = Emulator(make_topology(TOPO))
    assert INTERNET_EDGE_LATENCY in em.assumptions()
    assert INTERNET_EDGE_LATENCY.startswith("internet-edge-latency:")
