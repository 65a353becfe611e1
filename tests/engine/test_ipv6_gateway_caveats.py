"""`routes` and `next-hop` on IPv6 rows to an IPv4-only gateway (issue 17 leftover 1, v6fix).

The control plane lists an IPv6 prefix learned from a local network gateway (or BGP) as a
VirtualNetworkGateway row as Azure programs it, while the engine drops the traffic
GATEWAY_IPV4_ONLY: "VPN gateways currently support IPv4 traffic only" ("What is IPv6 for Azure
Virtual Network?", https://learn.microsoft.com/azure/virtual-network/ip-services/ipv6-overview,
"Limitations"). The answers keep az's keys and carry a `gateway-ipv4-only` caveat.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from ipv6_harness import compare
from test_ipv6_gateway import A6, AN, ONPREM6, ONPREM_HOST, TCP, hub_and_spoke_topology

from dataplane import watcher
from dataplane.control.gateway_family import ipv6_gateway_caveats
from dataplane.control.routes import effective_routes, nic_subnet
from dataplane.dispositions import Disposition as D
from dataplane.engine.compile import build_network
from dataplane.engine.reference import Packet
from dataplane.net import parse_prefix

AZ_ROUTE_KEYS = {"source", "state", "addressPrefix", "nextHopType", "nextHopIpAddress",
                 "disableBgpRoutePropagation"}


def _gateway_caveats(answer: dict) -> list[str]:
    return [c for c in answer["caveats"] if c.startswith("gateway-ipv4-only:")]


def test_routes_of_a_vpn_gateway_list_the_ipv6_prefix_with_a_caveat() -> None:
    topology = hub_and_spoke_topology(gateway_type="Vpn")
    answer = watcher.effective_route_table(topology, "a")
    row = next(r for r in answer["value"] if r["addressPrefix"] == [ONPREM6])
    assert set(row) == AZ_ROUTE_KEYS and row["nextHopType"] == "VirtualNetworkGateway"
    (caveat,) = _gateway_caveats(answer)
    assert f"gateway er ({ONPREM6})" in caveat
    assert "VPN gateways carry IPv4 traffic only" in caveat and "GATEWAY_IPV4_ONLY" in caveat
    assert "ipv6-overview" in caveat


def test_next_hop_to_on_premises_ipv6_over_a_vpn_gateway_carries_the_caveat() -> None:
    topology = hub_and_spoke_topology(gateway_type="Vpn", vms=True)
    answer = watcher.next_hop(topology, "vm-a", "fd00:a:0:1::4", "2001:db8:50::9")
    assert answer["nextHopType"] == "VirtualNetworkGateway"
    assert len(_gateway_caveats(answer)) == 1
    # the same VM's IPv4 next hop to on-premises has none
    four = watcher.next_hop(topology, "vm-a", "10.0.1.4", "10.50.1.1")
    assert four["nextHopType"] == "VirtualNetworkGateway" and _gateway_caveats(four) == []


@pytest.mark.parametrize("options", [dict(gateway_type="Vpn"), dict(gateway_subnet6=False), {}],
                         ids=["vpn", "expressroute-ipv4-gateway-subnet", "expressroute-dual"])
def test_the_caveat_is_there_exactly_when_the_engine_drops(options: dict) -> None:
    topology = hub_and_spoke_topology(vms=True, **options)
    (walk,) = compare(build_network(topology),
                      [Packet(AN, A6, ONPREM_HOST, TCP, 50000, 443, family=6)])
    answer = watcher.next_hop(topology, "vm-a", "fd00:a:0:1::4", "2001:db8:50::9")
    dropped = walk.disposition == D.GATEWAY_IPV4_ONLY
    assert dropped == bool(options)
    assert bool(_gateway_caveats(answer)) == dropped


def test_user_route_and_gateway_transit_rows_carry_it() -> None:
    topology = hub_and_spoke_topology(gateway_type="Vpn", udr=True)
    rows = effective_routes(topology, nic_subnet(topology, topology.network_interfaces[0]))
    (caveat,) = ipv6_gateway_caveats(topology, rows)
    assert "::/0" in caveat and ONPREM6 in caveat  # the user route and the learned prefix
    spoke = watcher.effective_route_table(topology, "b")  # B uses A's gateway (transit)
    assert len(_gateway_caveats(spoke)) == 1


def test_many_prefixes_are_counted_not_listed() -> None:
    topology = hub_and_spoke_topology(gateway_type="Vpn")
    rows = effective_routes(topology, nic_subnet(topology, topology.network_interfaces[0]))
    template = next(r for r in rows if str(r.address_prefix) == ONPREM6)
    extra = [replace(template, address_prefix=parse_prefix(f"2001:db8:{60 + i}::/48"))
             for i in range(6)]
    (caveat,) = ipv6_gateway_caveats(topology, [*rows, *extra])
    assert "and 3 more" in caveat and "2001:db8:62::/48" in caveat
    assert "2001:db8:63::/48" not in caveat
