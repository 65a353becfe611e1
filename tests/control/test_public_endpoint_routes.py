"""Private endpoint routes (control/routes.py `_private_endpoint_routes`): a /32 with next hop
type InterfaceEndpoint in the endpoint's VNet and its directly peered VNets, not in a peer's peer;
a user route overrides it only with privateEndpointNetworkPolicies on for route tables and a
prefix at least as long as the endpoint VNet's space ("Manage network policies for private
endpoints", https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy,
first section and "Important")."""

from __future__ import annotations

import pytest

from dataplane.control.routes import effective_routes, lookup
from dataplane.load.scenario import load_scenario_text
from dataplane.model import Topology
from dataplane.net import parse_ip

TARGET = "/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/st"


def _topology(policies: str = "Disabled", user_prefix: str | None = None) -> Topology:
    table = ""
    app_subnet = "10.1.1.0/24"
    if user_prefix:
        table = f"""
route_tables:
  rt: {{routes: [{{name: via-fw, prefix: {user_prefix}, next_hop: VirtualAppliance, next_hop_ip: 10.1.1.10}}]}}
"""
        app_subnet = "{prefix: 10.1.1.0/24, route_table: rt}"
    return load_scenario_text(f"""
vnets:
  spoke: {{region: westeurope, address_space: 10.2.0.0/16,
          subnets: {{pe: {{prefix: 10.2.9.0/24, private_endpoint_network_policies: {policies}}},
                    work: 10.2.1.0/24}}}}
  hub: {{region: westeurope, address_space: 10.1.0.0/16, subnets: {{app: {app_subnet}}}}}
  far: {{region: westeurope, address_space: 10.3.0.0/16, subnets: {{app: 10.3.1.0/24}}}}
peerings:
  - {{between: [spoke, hub]}}
  - {{between: [hub, far]}}
{table}
private_endpoints:
  blob: {{subnet: spoke/pe, ip: 10.2.9.5, target: {TARGET}, group_ids: [blob]}}
""")


def _subnet(topology: Topology, vnet: str, subnet: str):
    return topology.vnet(vnet).subnet(subnet)


def _endpoint_rows(topology: Topology, vnet: str, subnet: str):
    return [r for r in effective_routes(topology, _subnet(topology, vnet, subnet))
            if r.next_hop_type == "InterfaceEndpoint"]


def test_the_endpoint_vnet_has_the_32_route() -> None:
    (row,) = _endpoint_rows(_topology(), "spoke", "work")
    assert (str(row.address_prefix), row.state, row.source) == ("10.2.9.5/32", "Active", "Default")
    assert row.as_dict()["nextHopType"] == "InterfaceEndpoint"


def test_a_directly_peered_vnet_has_it_and_a_peers_peer_does_not() -> None:
    topology = _topology()
    (row,) = _endpoint_rows(topology, "hub", "app")
    assert row.active and row.remote_vnet.endswith("/spoke")
    assert _endpoint_rows(topology, "far", "app") == []


def test_without_network_policies_a_less_specific_user_route_loses_to_the_32() -> None:
    topology = _topology("Disabled", "10.2.0.0/16")
    rows = effective_routes(topology, _subnet(topology, "hub", "app"))
    assert lookup(rows, parse_ip("10.2.9.5")).next_hop_type == "InterfaceEndpoint"
    assert lookup(rows, parse_ip("10.2.1.4")).next_hop_type == "VirtualAppliance"


@pytest.mark.parametrize("policies", ["Enabled", "RouteTableEnabled"])
def test_with_route_table_policies_a_vnet_sized_user_route_invalidates_it(policies: str) -> None:
    topology = _topology(policies, "10.2.0.0/16")
    rows = effective_routes(topology, _subnet(topology, "hub", "app"))
    (row,) = [r for r in rows if r.next_hop_type == "InterfaceEndpoint"]
    assert row.state == "Invalid"
    assert lookup(rows, parse_ip("10.2.9.5")).next_hop_type == "VirtualAppliance"


def test_nsg_only_policies_leave_the_route_alone() -> None:
    topology = _topology("NetworkSecurityGroupEnabled", "10.2.0.0/16")
    (row,) = _endpoint_rows(topology, "hub", "app")
    assert row.state == "Active"


def test_a_default_route_never_invalidates_it() -> None:
    """'a user-defined routes default route (0.0.0.0/0) doesn't invalidate private endpoint
    routes' (the page's "Important")."""
    topology = _topology("Enabled", "0.0.0.0/0")
    (row,) = _endpoint_rows(topology, "hub", "app")
    assert row.state == "Active"


def test_a_32_user_route_wins_at_the_equal_prefix_even_without_policies() -> None:
    topology = _topology("Disabled", "10.2.9.5/32")
    rows = effective_routes(topology, _subnet(topology, "hub", "app"))
    (endpoint,) = [r for r in rows if r.next_hop_type == "InterfaceEndpoint"]
    assert endpoint.state == "Invalid"
    assert lookup(rows, parse_ip("10.2.9.5")).next_hop_type == "VirtualAppliance"
