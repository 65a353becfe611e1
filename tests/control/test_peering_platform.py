"""Peering: a Disconnected link keeps its remote space for the overlap rules;
allowVirtualNetworkAccess=false blocks new flows (with the older tag-only reading as a switch).

Microsoft, "Create, change, or delete a virtual network peering",
https://learn.microsoft.com/azure/virtual-network/virtual-network-manage-peering: "Delete a
peering" (the other link goes Disconnected) and "Allow virtual network access" / "Traffic to
remote virtual network" (2018 wording: "When this setting is disabled, traffic doesn't flow
between the peered virtual networks"; 2022 wording: "only changes the definition of the
VirtualNetwork service tag"). ARM's VnetAddressSpaceOverlapsWithAlreadyPeeredVnet
(docs/azure-behaviour.md §4.6).
"""

from __future__ import annotations

import pytest
from topo_factory import Builder

from dataplane.control import peering
from dataplane.control.validate import validate
from dataplane.errors import AzureError, InputError
from dataplane.model import id_key


def orphaned_hub():
    """hub kept its link to 'old' (10.2.0.0/16), whose VNet was deleted: Disconnected."""
    return (Builder()
            .vnet("hub", "10.0.0.0/16", subnets={"s": "10.0.1.0/24"})
            .vnet("new", "10.2.0.0/16", subnets={"s": "10.2.1.0/24"})
            .link("hub", "old", state="Disconnected", remote_space=["10.2.0.0/16"])
            .build())


def test_disconnected_link_keeps_its_remote_space_for_overlap():
    topo = orphaned_hub()
    with pytest.raises(AzureError) as info:
        peering.create_link(topo, "new", "hub")
    assert info.value.code == "VnetAddressSpaceOverlapsWithAlreadyPeeredVnet"
    assert "virtualNetworks/old" in info.value.message


def test_after_deleting_the_disconnected_link_the_peer_is_accepted():
    topo = peering.delete_link(orphaned_hub(), "hub", "hub-to-old")
    both = peering.create_link(peering.create_link(topo, "new", "hub"), "hub", "new")
    assert {link.peering_state for v in both.virtual_networks
            for link in v.virtual_network_peerings} == {"Connected"}


def test_check_reports_the_disconnected_overlap():
    topo = (Builder()
            .vnet("hub", "10.0.0.0/16").vnet("new", "10.2.0.0/16")
            .link("hub", "old", state="Disconnected", remote_space=["10.2.0.0/16"])
            .link("new", "hub", state="Initiated")
            .build())
    codes = [f.code for f in validate(topo) if f.severity == "error"]
    assert codes == ["VnetAddressSpaceOverlapsWithAlreadyPeeredVnet"]


def access_topology():
    return (Builder().vnet("a", "10.1.0.0/16").vnet("b", "10.2.0.0/16")
            .link("a", "b", allow_virtual_network_access=False).link("b", "a")
            .vnet("c", "10.3.0.0/16").link("a", "c", state="Initiated")
            .build())


def pair(topo, src: str, dst: str) -> tuple[str, str]:
    return id_key(topo.vnet(src).id), id_key(topo.vnet(dst).id)


def test_access_false_blocks_new_flows_from_its_vnet(monkeypatch):
    monkeypatch.delenv(peering.PEERING_ACCESS_ENV, raising=False)
    topo = access_topology()
    table = peering.peering_access(topo)
    assert table[pair(topo, "a", "b")] is False  # a's link disallows access
    assert table[pair(topo, "b", "a")] is True  # b's link allows it
    assert table[pair(topo, "a", "c")] is False  # Initiated: no traffic in any mode


def test_older_reading_is_a_switch(monkeypatch):
    topo = access_topology()
    assert peering.peering_access(topo, mode="tag-only")[pair(topo, "a", "b")] is True
    monkeypatch.setenv(peering.PEERING_ACCESS_ENV, "tag-only")
    assert peering.peering_access(topo)[pair(topo, "a", "b")] is True
    assert peering.peering_access(topo)[pair(topo, "a", "c")] is False
    monkeypatch.setenv(peering.PEERING_ACCESS_ENV, "sometimes")
    with pytest.raises(InputError, match="block, tag-only"):
        peering.peering_access(topo)
