"""The peering state machine (docs/azure-behaviour.md §4.2-4.6): states, rejections with Azure's
codes, sync levels after address-space edits, permissions and classic VNets."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataplane.control import peering
from dataplane.errors import AzureError, InputError
from dataplane.load.scenario import load_scenario_text
from dataplane.net import parse_prefix

VNETS = """
vnets:
  vnet1: {region: westeurope, address_space: [10.1.0.0/16], subnets: {s: 10.1.0.0/24}}
  vnet2: {region: westeurope, address_space: [10.2.0.0/16], subnets: {s: 10.2.0.0/24}}
  vnet3: {region: eastus, address_space: [10.3.0.0/16], subnets: {s: 10.3.0.0/24}}
  hub: {region: westeurope, address_space: [10.0.0.0/16],
        subnets: {GatewaySubnet: 10.0.255.0/27}, gateway: {type: Vpn}}
  clash: {region: westeurope, address_space: [10.1.128.0/17], subnets: {s: 10.1.128.0/24}}
"""


@pytest.fixture
def topo():
    return load_scenario_text(VNETS)


def state(topology, vnet, name):
    return next(x for x in topology.vnet(vnet).virtual_network_peerings if x.name == name)


def test_one_link_initiated_two_links_connected(topo):
    one = peering.create_link(topo, "vnet1", "vnet2", "p12")
    assert state(one, "vnet1", "p12").peering_state == "Initiated"
    both = peering.create_link(one, "vnet2", "vnet1", "p21")
    assert state(both, "vnet1", "p12").peering_state == "Connected"
    assert state(both, "vnet2", "p21").peering_state == "Connected"
    assert state(both, "vnet2", "p21").remote_address_space == (parse_prefix("10.1.0.0/16"),)
    assert topo.vnet("vnet1").virtual_network_peerings == ()  # immutable: old one unchanged


def test_delete_one_link_disconnects_the_other_and_recreate_needs_both(topo):
    both = peering.create_link(peering.create_link(topo, "vnet1", "vnet2", "p12"),
                               "vnet2", "vnet1", "p21")
    gone = peering.delete_link(both, "vnet1", "p12")
    assert [x.name for x in gone.vnet("vnet1").virtual_network_peerings] == []
    assert state(gone, "vnet2", "p21").peering_state == "Disconnected"
    with pytest.raises(AzureError) as info:  # re-creating one side is not enough
        peering.create_link(gone, "vnet1", "vnet2", "p12")
    assert info.value.code == "RemotePeeringIsDisconnected"
    with pytest.raises(AzureError, match="RemotePeeringIsDisconnected"):
        peering.update_link(gone, "vnet2", "p21", allow_forwarded_traffic=True)
    fresh = peering.delete_link(gone, "vnet2", "p21")
    again = peering.create_link(peering.create_link(fresh, "vnet1", "vnet2"), "vnet2", "vnet1")
    assert {x.peering_state for v in again.virtual_networks
            for x in v.virtual_network_peerings} == {"Connected"}


def test_overlap_rejected(topo):
    with pytest.raises(AzureError) as info:
        peering.create_link(topo, "vnet1", "clash")
    assert info.value.code == "VnetAddressSpacesOverlap"
    assert "10.1.0.0/16, 10.1.128.0/17" in info.value.message


def test_overlap_with_vnet_already_peered_to_remote(topo):
    hub_vnet2 = peering.create_link(peering.create_link(topo, "hub", "vnet1"), "vnet1", "hub")
    with pytest.raises(AzureError) as info:
        peering.create_link(hub_vnet2, "clash", "hub")
    assert info.value.code == "VnetAddressSpaceOverlapsWithAlreadyPeeredVnet"


def test_second_link_to_same_remote(topo):
    one = peering.create_link(topo, "vnet1", "vnet2", "a")
    with pytest.raises(AzureError, match="AnotherPeeringAlreadyReferencesRemoteVnet"):
        peering.create_link(one, "vnet1", "vnet2", "b")


def test_use_remote_gateways_rules(topo):
    with pytest.raises(AzureError) as info:
        peering.create_link(topo, "vnet1", "vnet2", use_remote_gateways=True)
    assert info.value.code == "RemoteVnetHasNoGateways"
    ok = peering.create_link(topo, "vnet1", "hub", use_remote_gateways=True)
    assert state(ok, "vnet1", "vnet1-to-hub").use_remote_gateways
    with pytest.raises(AzureError, match="UseRemoteGatewaysWithLocalGateway"):
        peering.create_link(topo, "hub", "vnet1", use_remote_gateways=True)


def test_only_one_link_may_use_remote_gateways():
    text = VNETS + """  hub2: {region: westeurope, address_space: [10.9.0.0/16],
        subnets: {GatewaySubnet: 10.9.255.0/27}, gateway: {type: Vpn}}
"""
    topo = peering.create_link(load_scenario_text(text), "vnet1", "hub", use_remote_gateways=True)
    with pytest.raises(AzureError, match="MultiplePeeringsUseRemoteGateways"):
        peering.create_link(topo, "vnet1", "hub2", use_remote_gateways=True)


def test_update_cannot_change_remote(topo):
    one = peering.create_link(topo, "vnet1", "vnet2", "p")
    with pytest.raises(AzureError, match="ChangingRemoteVirtualNetworkNotAllowed"):
        peering.update_link(one, "vnet1", "p", remote_virtual_network=topo.vnet("vnet3").id)
    changed = peering.update_link(one, "vnet1", "p", allow_forwarded_traffic=True)
    assert state(changed, "vnet1", "p").allow_forwarded_traffic


def test_peering_limit(topo, monkeypatch):
    monkeypatch.setattr(peering, "PEERING_LIMIT", 1)
    one = peering.create_link(topo, "vnet1", "vnet2")
    with pytest.raises(AzureError, match="PeeringLimitReached"):
        peering.create_link(one, "vnet1", "vnet3")


def test_sync_levels_follow_the_powershell_scenario_test(topo):
    """Azure PowerShell Test-SyncVirtualNetworkPeering (docs/azure-behaviour.md §4.3)."""
    t = peering.create_link(peering.create_link(topo, "vnet1", "vnet2", "peer1"),
                            "vnet2", "vnet1", "peer2")
    t = peering.add_address_prefix(t, "vnet1", "10.99.0.0/16")
    assert state(t, "vnet1", "peer1").peering_sync_level == "RemoteNotInSync"
    assert state(t, "vnet2", "peer2").peering_sync_level == "LocalNotInSync"
    # Until the sync, vnet2's link still routes only to vnet1's old space.
    assert parse_prefix("10.99.0.0/16") not in state(t, "vnet2", "peer2").remote_address_space
    t = peering.sync_link(t, "vnet2", "peer2")
    assert state(t, "vnet1", "peer1").peering_sync_level == "FullyInSync"
    assert state(t, "vnet2", "peer2").peering_sync_level == "FullyInSync"
    assert state(t, "vnet2", "peer2").remote_address_space == t.vnet("vnet1").address_space


def test_both_sides_changed_is_local_and_remote_not_in_sync(topo):
    t = peering.create_link(peering.create_link(topo, "vnet1", "vnet2", "p1"), "vnet2", "vnet1", "p2")
    t = peering.add_address_prefix(t, "vnet1", "10.98.0.0/16")
    t = peering.add_address_prefix(t, "vnet2", "10.97.0.0/16")
    assert state(t, "vnet1", "p1").peering_sync_level == "LocalAndRemoteNotInSync"
    assert state(t, "vnet2", "p2").peering_sync_level == "LocalAndRemoteNotInSync"


def test_address_space_edits_are_validated(topo):
    t = peering.create_link(peering.create_link(topo, "vnet1", "vnet2"), "vnet2", "vnet1")
    with pytest.raises(AzureError, match="VnetAddressSpacesOverlap"):
        peering.add_address_prefix(t, "vnet1", "10.2.128.0/17")
    with pytest.raises(AzureError, match="InvalidCIDRNotation"):
        peering.add_address_prefix(t, "vnet1", "10.50.1.0/16")
    with pytest.raises(AzureError, match="AddressSpaceInUseBySubnets"):
        peering.remove_address_prefix(t, "vnet1", "10.1.0.0/16")
    grown = peering.add_address_prefix(t, "vnet1", "10.50.0.0/16")
    shrunk = peering.remove_address_prefix(grown, "vnet1", "10.50.0.0/16")
    assert shrunk.vnet("vnet1").address_space == (parse_prefix("10.1.0.0/16"),)


def test_sync_needs_connected_link(topo):
    one = peering.create_link(topo, "vnet1", "vnet2", "p")
    with pytest.raises(AzureError, match="PeeringNotConnected"):
        peering.sync_link(one, "vnet1", "p")


def test_unknown_names_are_input_errors(topo):
    with pytest.raises(InputError, match="unknown virtual network 'nope'"):
        peering.create_link(topo, "vnet1", "nope")
    with pytest.raises(InputError, match="no peering 'x'"):
        peering.delete_link(topo, "vnet1", "x")


# --- permissions and deployment models ---------------------------------------------------

ROLES = VNETS.replace("vnets:", """roles:
  - {principal: alice, role: Network Contributor, scope: vnet1}
  - {principal: alice, role: Network Contributor, scope: vnet2}
  - {principal: bob, role: Network Contributor, scope: vnet1}
  - {principal: carol, role: custom, scope: vnet1,
     actions: [Microsoft.Network/virtualNetworks/virtualNetworkPeerings/write]}
  - {principal: carol, role: custom, scope: vnet2,
     actions: [Microsoft.Network/virtualNetworks/peer/action]}
vnets:""")


@pytest.mark.parametrize("principal, code", [
    ("alice", None), ("carol", None),
    ("bob", "LinkedAuthorizationFailed"),  # write on vnet1 but no peer/action on vnet2
    ("mallory", "AuthorizationFailed"),
])
def test_permissions_checked_on_create(principal, code):
    topo = load_scenario_text(ROLES)
    if code is None:
        assert peering.create_link(topo, "vnet1", "vnet2", principal=principal)
        return
    with pytest.raises(AzureError) as info:
        peering.create_link(topo, "vnet1", "vnet2", principal=principal)
    assert info.value.code == code
    assert "Microsoft.Network/virtualNetworks" in info.value.message


def test_cross_subscription_peering_and_ids():
    text = VNETS.replace("vnet3: {region: eastus,",
                         "vnet3: {region: eastus, subscription: 2222, resource_group: other,")
    topo = load_scenario_text(text)
    t = peering.create_link(peering.create_link(topo, "vnet1", "vnet3"), "vnet3", "vnet1")
    link = state(t, "vnet1", "vnet1-to-vnet3")
    assert link.peering_state == "Connected"
    assert "/subscriptions/2222/resourceGroups/other/" in link.remote_virtual_network


def test_classic_peers_with_resource_manager_but_not_classic():
    text = VNETS + """  old1: {region: westeurope, classic: true, address_space: [10.7.0.0/16], subnets: {s: 10.7.0.0/24}}
  old2: {region: westeurope, classic: true, address_space: [10.8.0.0/16], subnets: {s: 10.8.0.0/24}}
"""
    topo = load_scenario_text(text)
    assert state(peering.create_link(topo, "vnet1", "old1"), "vnet1",
                 "vnet1-to-old1").peering_state == "Initiated"
    with pytest.raises(AzureError, match="PeeringLinkOnClassicVnet"):
        peering.create_link(topo, "old1", "old2")


# --- random address plans: peering overlap decisions agree with brute force ---------------

prefixes = st.tuples(st.integers(8, 24), st.integers(0, (1 << 24) - 1)).map(
    lambda t: ipaddress.ip_network(((10 << 24 | t[1]) & ~((1 << (32 - t[0])) - 1) & 0xFFFFFFFF,
                                    t[0])))


@given(st.lists(prefixes, min_size=1, max_size=3), st.lists(prefixes, min_size=1, max_size=3))
def test_peering_overlap_matches_brute_force(space_a, space_b):
    def distinct(space):
        return [n for i, n in enumerate(space) if not any(n.overlaps(m) for m in space[:i])]
    space_a, space_b = distinct(space_a), distinct(space_b)
    text = f"""vnets:
  a: {{region: westeurope, address_space: [{", ".join(map(str, space_a))}]}}
  b: {{region: westeurope, address_space: [{", ".join(map(str, space_b))}]}}
"""
    topo = load_scenario_text(text)
    expected = any(x.overlaps(y) for x in space_a for y in space_b)
    try:
        peering.create_link(topo, "a", "b")
        rejected = False
    except AzureError as error:
        assert error.code == "VnetAddressSpacesOverlap"
        rejected = True
    assert rejected == expected
