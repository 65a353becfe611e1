"""Peering links of a topology, indexed once: every lookup the peering rules need in O(1).

Takes a Topology (immutable); `peering_index(topology)` builds (once per topology object, kept
while it lives) a `PeeringIndex`: per VNet id key its position and its peered VNets, each
link's position among its VNet's links, the first link per (VNet, remote) pair, the links
using remote gateways, and the address space peered with each VNet with a prefix index for
overlap queries. Building it is linear in VNets + links; the rules in control/peering.py
(`peered_vnets`, `back_link`, `link_findings`) read it instead of scanning every VNet for
every link, so `check` is linear in links (plus the findings it reports).
"""

from __future__ import annotations

import bisect
import weakref
from dataclasses import dataclass, field

from dataplane.model import Topology, VirtualNetwork, VirtualNetworkPeering, id_key
from dataplane.net import Prefix


@dataclass
class SpaceIndex:
    """Prefixes owned by keys (VNets), for "which owners overlap this prefix" in
    O(log n + 33 + hits): CIDR blocks either nest or are disjoint, so the blocks overlapping
    p are those starting inside p (a sorted scan) and p's supernets (one lookup per length)."""

    starts: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # version -> (first, n)
    exact: dict[tuple[int, int, int], list[int]] = field(default_factory=dict)
    entries: list[tuple[str, Prefix]] = field(default_factory=list)

    def add(self, owner: str, prefix: Prefix) -> None:
        n = len(self.entries)
        self.entries.append((owner, prefix))
        self.starts.setdefault(prefix.version, []).append((prefix.first, n))
        self.exact.setdefault((prefix.version, prefix.network, prefix.length), []).append(n)

    def freeze(self) -> None:
        for lst in self.starts.values():
            lst.sort()

    def overlapping(self, prefix: Prefix) -> set[int]:
        """Entry numbers whose prefix overlaps `prefix`."""
        hits: set[int] = set()
        lst = self.starts.get(prefix.version, [])
        lo = bisect.bisect_left(lst, (prefix.first, -1))
        hi = bisect.bisect_right(lst, (prefix.last, len(self.entries)))
        hits.update(n for _, n in lst[lo:hi])
        bits = prefix.bits
        for length in range(prefix.length):
            net = prefix.network >> (bits - length) << (bits - length) if length else 0
            hits.update(self.exact.get((prefix.version, net, length), ()))
        return hits


class PeeringIndex:
    """Lookups over one topology's peering links (module docstring)."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        vnets = topology.virtual_networks
        self.position = {id_key(v.id): n for n, v in enumerate(vnets)}
        self.by_key = {id_key(v.id): v for v in vnets}
        self.link_position: dict[int, int] = {}  # id(link) -> its index among its VNet's
        self.first_link: dict[tuple[str, str], VirtualNetworkPeering] = {}
        self.links_to: dict[tuple[str, str], list[VirtualNetworkPeering]] = {}
        self.remote_gateway_links: dict[str, list[VirtualNetworkPeering]] = {}
        linked: dict[str, set[str]] = {k: set() for k in self.position}
        for vnet in vnets:
            vk = id_key(vnet.id)
            for n, link in enumerate(vnet.virtual_network_peerings):
                rk = id_key(link.remote_virtual_network)
                self.link_position[id(link)] = n
                self.first_link.setdefault((vk, rk), link)
                self.links_to.setdefault((vk, rk), []).append(link)
                if link.use_remote_gateways:
                    self.remote_gateway_links.setdefault(vk, []).append(link)
                if rk in linked and rk != vk:
                    linked[vk].add(rk)  # own link, any state
                    if link.peering_state != "Disconnected":
                        linked[rk].add(vk)  # the remote sees a link that is not Disconnected
        self._linked = linked
        self._spaces: dict[str, tuple[dict[str, tuple[str, tuple[Prefix, ...]]], SpaceIndex]] = {}

    def peered_vnets(self, vnet: VirtualNetwork) -> list[VirtualNetwork]:
        keys = self._linked.get(id_key(vnet.id), set())
        return [self.by_key[k] for k in sorted(keys, key=self.position.__getitem__)]

    def back_link(self, link: VirtualNetworkPeering) -> VirtualNetworkPeering | None:
        rk = id_key(link.remote_virtual_network)
        if rk not in self.by_key:
            return None
        return self.first_link.get((rk, id_key(link.virtual_network)))

    def peered_spaces(self, vnet: VirtualNetwork
                      ) -> tuple[dict[str, tuple[str, tuple[Prefix, ...]]], SpaceIndex]:
        """control/peering.py `peered_spaces` of `vnet`, and a SpaceIndex over it (owner:
        the third VNet's id key); computed once per VNet."""
        vk = id_key(vnet.id)
        got = self._spaces.get(vk)
        if got is None:
            out = {id_key(third.id): (third.id, tuple(third.address_space))
                   for third in self.peered_vnets(vnet)}
            for link in vnet.virtual_network_peerings:
                key = id_key(link.remote_virtual_network)
                known = out.get(key, (link.remote_virtual_network, ()))
                out[key] = (known[0], tuple(dict.fromkeys((*known[1],
                                                           *link.remote_address_space))))
            index = SpaceIndex()
            for key, (_, space) in out.items():
                for prefix in space:
                    index.add(key, prefix)
            index.freeze()
            got = self._spaces[vk] = (out, index)
        return got


_INDEX: dict[int, tuple[weakref.ref, PeeringIndex]] = {}


def peering_index(topology: Topology) -> PeeringIndex:
    """The index of `topology` (built on first use, dropped with the topology)."""
    key = id(topology)
    entry = _INDEX.get(key)
    if entry is not None and entry[0]() is topology:
        return entry[1]
    index = PeeringIndex(topology)
    _INDEX[key] = (weakref.ref(topology, lambda ref, key=key, table=_INDEX: _forget(
        table, key, ref)), index)
    return index


def _forget(table: dict, key: int, ref: weakref.ref) -> None:
    """Drop the entry of a topology that died (not a newer one that reuses its id)."""
    if table.get(key, (None,))[0] is ref:
        del table[key]


__all__ = ["PeeringIndex", "SpaceIndex", "peering_index"]
