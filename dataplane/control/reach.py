"""Which gateways a VNet's subnets use, and which VNets use a hub's gateways (gateway transit).

Takes: a Topology. Emits: `GatewayReach` tuples (the VNet's own gateways, or the hub's through
gateway transit), the reverse peering link, the spokes of a hub. Follows docs/azure-behaviour.md §4.1
and 4.4 (useRemoteGateways / allowGatewayTransit, both links Connected; no transit through a
Basic VPN gateway). Indexes are memoised per (immutable) Topology object.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from dataplane.model import (
    Topology,
    VirtualNetwork,
    VirtualNetworkGateway,
    VirtualNetworkPeering,
    id_key,
)


@dataclass(frozen=True)
class GatewayReach:
    """A gateway this VNet's subnets can use, and how (own, or the hub's through transit)."""

    gateway: VirtualNetworkGateway
    transit_link: VirtualNetworkPeering | None


def same_region(a: str, b: str) -> bool:
    return a.replace(" ", "").lower() == b.replace(" ", "").lower()


# Per-topology memo (the Topology is immutable): indexes that turn per-VNet scans over every
# peering link or gateway into dictionary lookups. Keyed by identity, dropped with the topology.
_MEMO: dict[int, tuple[weakref.ref, dict]] = {}


def _memo(topology: Topology) -> dict:
    key = id(topology)
    entry = _MEMO.get(key)
    if entry is not None and entry[0]() is topology:
        return entry[1]
    store: dict = {}
    _MEMO[key] = (weakref.ref(topology, lambda _ref, key=key: _MEMO.pop(key, None)), store)
    return store


def _gateways_by_vnet(topology: Topology) -> dict[str, tuple[VirtualNetworkGateway, ...]]:
    memo = _memo(topology)
    index = memo.get("gateways")
    if index is None:
        grouped: dict[str, list[VirtualNetworkGateway]] = {}
        for g in topology.virtual_network_gateways:
            grouped.setdefault(id_key(g.virtual_network), []).append(g)
        index = memo["gateways"] = {k: tuple(v) for k, v in grouped.items()}
    return index


def _gateways_of(topology: Topology, vnet_id: str) -> tuple[VirtualNetworkGateway, ...]:
    """`topology.gateways_of`, from an index."""
    return _gateways_by_vnet(topology).get(id_key(vnet_id), ())


def reverse_link(topology: Topology, link: VirtualNetworkPeering) -> VirtualNetworkPeering | None:
    """The remote VNet's link back to the link's own VNet (None when absent)."""
    remote = topology.get(link.remote_virtual_network)
    if not isinstance(remote, VirtualNetwork):
        return None
    memo = _memo(topology)
    # remote VNet object id -> (VNet, {remote-of-link key: first such link}); the VNet is kept
    # so its id cannot be reused while the entry lives.
    links = memo.setdefault("links", {})
    entry = links.get(id(remote))
    if entry is None or entry[0] is not remote:
        index: dict[str, VirtualNetworkPeering] = {}
        for r in remote.virtual_network_peerings:
            index.setdefault(id_key(r.remote_virtual_network), r)
        entry = links[id(remote)] = (remote, index)
    return entry[1].get(id_key(link.virtual_network))


def reachable_gateways(topology: Topology, vnet: VirtualNetwork) -> tuple[GatewayReach, ...]:
    """The VNet's own gateways; without one, the hub's through gateway transit (4.1, 4.4):
    the spoke link useRemoteGateways and the hub link allowGatewayTransit, both Connected.
    VPN gateways of the Basic SKU do not offer transit (4.4). Memoised per VNet object."""
    memo = _memo(topology).setdefault("reach", {})
    entry = memo.get(id(vnet))
    if entry is not None and entry[0] is vnet:
        return entry[1]
    found = _reachable_gateways(topology, vnet)
    memo[id(vnet)] = (vnet, found)
    return found


def _reachable_gateways(topology: Topology, vnet: VirtualNetwork) -> tuple[GatewayReach, ...]:
    own = _gateways_of(topology, vnet.id)
    if own:
        return tuple(GatewayReach(g, None) for g in own)
    for link in vnet.virtual_network_peerings:
        if not (link.use_remote_gateways and link.peering_state == "Connected"):
            continue
        back = reverse_link(topology, link)
        if back is None or not back.allow_gateway_transit or back.peering_state != "Connected":
            continue
        hub_gateways = [g for g in _gateways_of(topology, link.remote_virtual_network)
                        if not (g.gateway_type == "Vpn" and g.sku.lower() == "basic")]
        if hub_gateways:
            return tuple(GatewayReach(g, link) for g in hub_gateways)
    return ()


def transit_link(topology: Topology, vnet: VirtualNetwork) -> VirtualNetworkPeering | None:
    """The VNet's link whose remote hub lets it use remote gateways (or a Route Server):
    useRemoteGateways on this side, allowGatewayTransit on the hub's, both Connected."""
    for link in vnet.virtual_network_peerings:
        if not (link.use_remote_gateways and link.peering_state == "Connected"):
            continue
        back = reverse_link(topology, link)
        if back is not None and back.allow_gateway_transit and back.peering_state == "Connected":
            return link
    return None


def transit_spokes(topology: Topology, hub_id: str) -> tuple[VirtualNetwork, ...]:
    """VNets whose transit link points at `hub_id` (memoised index over all VNets)."""
    memo = _memo(topology)
    index = memo.get("spokes")
    if index is None:
        grouped: dict[str, list[VirtualNetwork]] = {}
        for vnet in topology.virtual_networks:
            link = transit_link(topology, vnet)
            if link is not None and not _gateways_of(topology, vnet.id):
                grouped.setdefault(id_key(link.remote_virtual_network), []).append(vnet)
        index = memo["spokes"] = {k: tuple(v) for k, v in grouped.items()}
    return index.get(id_key(hub_id), ())
