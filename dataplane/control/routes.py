"""Effective routes of a subnet, the way Azure selects them.

Takes: a Topology and a subnet (or NIC). Emits: a tuple of `EffectiveRoute`, one address prefix
per row, in the order Default, VirtualNetworkGateway, User; each Active or Invalid, with the
shape of `az network nic show-effective-route-table` via `EffectiveRoute.as_dict()`.
Follows azure-semantics.md section 3 (udr-overview: system routes 3.1, optional default routes
3.2, next-hop names 3.3, selection 3.4) and section 4 (peering states, gateway transit).

Active routes never tie at a prefix, so the Active set is a plain longest-prefix-match table;
`lookup` and the compiled Program (program.py) both rely on that.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from dataplane.control.tags import service_prefixes
from dataplane.model import (
    LocalNetworkGateway,
    NetworkInterface,
    RouteTable,
    Subnet,
    Topology,
    VirtualNetwork,
    VirtualNetworkGateway,
    VirtualNetworkPeering,
    id_key,
)
from dataplane.net import IPAddress, Prefix, parse_prefix

SOURCE_DEFAULT = "Default"
SOURCE_GATEWAY = "VirtualNetworkGateway"
SOURCE_USER = "User"

# Section 3.1: the None routes, in the order Azure lists them (REST example: string order).
RESERVED_NONE = tuple(parse_prefix(p) for p in
                      ("10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16"))
DEFAULT_V4 = parse_prefix("0.0.0.0/0")
DEFAULT_V6 = parse_prefix("::/0")

# Origins: how a row came to be (not an Azure field; used for precedence and explain).
VNET, PEERING, INTERNET, NONE, SERVICE_ENDPOINT, GATEWAY, USER = (
    "vnet", "peering", "internet", "none", "service_endpoint", "gateway", "user")

# Equal-prefix precedence (3.4): User > BGP > System, except that VNet/peering system routes
# beat BGP routes and service-endpoint routes cannot be overridden, even by a route table.
_RANK = {SERVICE_ENDPOINT: 5, USER: 4, VNET: 3, PEERING: 3, GATEWAY: 2, INTERNET: 1, NONE: 1}
# 3.4: these system routes win against BGP routes even when the BGP route is more specific.
_BEATS_SPECIFIC_BGP = (VNET, PEERING, SERVICE_ENDPOINT)


@dataclass(frozen=True)
class EffectiveRoute:
    source: str
    state: str
    address_prefix: Prefix
    next_hop_type: str
    next_hop_ip: tuple[IPAddress, ...] = ()
    disable_bgp_route_propagation: bool = False
    origin: str = VNET
    route_table_id: str | None = None  # the UDR's route table
    route_name: str = ""
    peering: str | None = None  # the local peering link a peering route rides on
    remote_vnet: str | None = None
    gateway: str | None = None  # the VirtualNetworkGateway a gateway route (or UDR) uses
    transit_link: str | None = None  # set when that gateway is the hub's (gateway transit)

    @property
    def active(self) -> bool:
        return self.state == "Active"

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "state": self.state,
            "addressPrefix": [str(self.address_prefix)],
            "nextHopType": self.next_hop_type,
            "nextHopIpAddress": [str(ip) for ip in self.next_hop_ip],
            "disableBgpRoutePropagation": self.disable_bgp_route_propagation,
        }


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


def gateway_prefixes(topology: Topology, gateway: VirtualNetworkGateway) -> tuple[Prefix, ...]:
    """Prefixes a gateway learns from its connections: the local network gateway's address
    space (IPsec) or the other VNet's space (Vnet2Vnet). BGP-learned routes beyond the local
    network gateway's prefixes and ExpressRoute circuit routes are not modelled."""
    out: list[Prefix] = []
    key = id_key(gateway.id)
    for conn in topology.connections:
        ends = [id_key(conn.virtual_network_gateway1),
                id_key(conn.virtual_network_gateway2 or "")]
        if key not in ends:
            continue
        if conn.local_network_gateway2:
            lng = topology.get(conn.local_network_gateway2)
            if isinstance(lng, LocalNetworkGateway):
                out.extend(lng.address_prefixes)
        elif conn.virtual_network_gateway2:
            other = conn.virtual_network_gateway2 if ends[0] == key else \
                conn.virtual_network_gateway1
            other_gw = topology.get(other)
            if isinstance(other_gw, VirtualNetworkGateway):
                other_vnet = topology.get(other_gw.virtual_network)
                if isinstance(other_vnet, VirtualNetwork):
                    out.extend(other_vnet.address_space)
    return tuple(dict.fromkeys(out))


def onprem_prefixes(topology: Topology, vnet: VirtualNetwork) -> tuple[Prefix, ...]:
    """Every prefix reachable through the gateways this VNet can use."""
    out: list[Prefix] = []
    for reach in reachable_gateways(topology, vnet):
        out.extend(gateway_prefixes(topology, reach.gateway))
    return tuple(dict.fromkeys(out))


def _system_routes(vnet: VirtualNetwork, table: RouteTable | None) -> list[EffectiveRoute]:
    """3.1: one VnetLocal route per address-space prefix, 0.0.0.0/0 Internet, the four None
    routes with the adjustment rule (a space equal to a reserved prefix turns its None route
    into the VnetLocal route; a space that includes one removes it; a space inside one
    leaves it, as the REST example with 172.20.2.0/24 shows).

    Assumption `udr-default-removes-none-routes`: a user route 0.0.0.0/0 to VirtualAppliance or
    VirtualNetworkGateway removes the None routes, as the UDR overview's routing example lists
    none for Subnet1 (3.4 "0.0.0.0/0 override"; doc-only, unverified on the live cloud)."""
    forced = table is not None and any(
        r.address_prefix == DEFAULT_V4
        and r.next_hop_type in ("VirtualAppliance", "VirtualNetworkGateway")
        for r in table.routes)
    rows = [EffectiveRoute(SOURCE_DEFAULT, "Active", p, "VnetLocal", origin=VNET)
            for p in vnet.address_space]
    rows.append(EffectiveRoute(SOURCE_DEFAULT, "Active", DEFAULT_V4, "Internet", origin=INTERNET))
    for reserved in RESERVED_NONE:
        if forced or any(space.contains(reserved) for space in vnet.address_space):
            continue
        rows.append(EffectiveRoute(SOURCE_DEFAULT, "Active", reserved, "None", origin=NONE))
    if any(p.version == 6 for p in vnet.address_space):
        rows.append(EffectiveRoute(SOURCE_DEFAULT, "Active", DEFAULT_V6, "Internet",
                                   origin=INTERNET))
    return rows


def _peering_routes(topology: Topology, vnet: VirtualNetwork) -> list[EffectiveRoute]:
    """3.2 / 4.2: a route per synced remote prefix of each Connected link; VNetGlobalPeering
    when the two VNets' regions differ. Never transitive: only the VNet's own links count."""
    rows = []
    for link in vnet.virtual_network_peerings:
        if link.peering_state != "Connected":
            continue
        remote = topology.get(link.remote_virtual_network)
        regional = not isinstance(remote, VirtualNetwork) or same_region(remote.location,
                                                                         vnet.location)
        hop = "VNetPeering" if regional else "VNetGlobalPeering"
        for prefix in link.remote_address_space:
            rows.append(EffectiveRoute(SOURCE_DEFAULT, "Active", prefix, hop, origin=PEERING,
                                       peering=link.id, remote_vnet=link.remote_virtual_network))
    return rows


def _service_endpoint_routes(subnet: Subnet) -> list[EffectiveRoute]:
    rows = []
    for service in subnet.service_endpoints:
        for prefix in service_prefixes(service):
            rows.append(EffectiveRoute(SOURCE_DEFAULT, "Active", prefix,
                                       "VirtualNetworkServiceEndpoint", origin=SERVICE_ENDPOINT))
    return rows


def _gateway_routes(topology: Topology, vnet: VirtualNetwork) -> list[EffectiveRoute]:
    """3.2: prefixes from local network gateways behind the usable gateways, source
    VirtualNetworkGateway. Gateway instance addresses are not modelled: nextHopIpAddress []."""
    rows: dict[Prefix, EffectiveRoute] = {}
    for reach in reachable_gateways(topology, vnet):
        for prefix in gateway_prefixes(topology, reach.gateway):
            rows.setdefault(prefix, EffectiveRoute(
                SOURCE_GATEWAY, "Active", prefix, "VirtualNetworkGateway", origin=GATEWAY,
                gateway=reach.gateway.id,
                transit_link=reach.transit_link.id if reach.transit_link else None))
    return list(rows.values())


def _user_routes(topology: Topology, vnet: VirtualNetwork,
                 table: RouteTable) -> list[EffectiveRoute]:
    reach = reachable_gateways(topology, vnet)
    rows = []
    for route in table.routes:
        prefixes = ((route.address_prefix,) if isinstance(route.address_prefix, Prefix)
                    else service_prefixes(route.address_prefix))
        hop_ip = (route.next_hop_ip_address,) if route.next_hop_ip_address else ()
        gateway = transit = None
        if route.next_hop_type == "VirtualNetworkGateway" and reach:
            gateway = reach[0].gateway.id
            transit = reach[0].transit_link.id if reach[0].transit_link else None
        for prefix in prefixes:
            rows.append(EffectiveRoute(
                SOURCE_USER, "Active", prefix, route.next_hop_type, hop_ip,
                table.disable_bgp_route_propagation, USER, route_table_id=table.id,
                route_name=route.name, gateway=gateway, transit_link=transit))
    return rows


def _with_state(row: EffectiveRoute, state: str) -> EffectiveRoute:
    if row.state == state:
        return row
    return EffectiveRoute(**{**row.__dict__, "state": state})


def _select(rows: list[EffectiveRoute]) -> list[EffectiveRoute]:
    """3.4: at an equal prefix one row stays Active (precedence `_RANK`, first listed wins a
    tie); gateway rows inside a VNet, peering or service-endpoint prefix are Invalid."""
    best: dict[Prefix, int] = {}
    for i, row in enumerate(rows):
        j = best.get(row.address_prefix)
        if j is None or _RANK[row.origin] > _RANK[rows[j].origin]:
            best[row.address_prefix] = i
    shields = [r.address_prefix for r in rows if r.origin in _BEATS_SPECIFIC_BGP]
    out = []
    for i, row in enumerate(rows):
        active = best[row.address_prefix] == i
        if active and row.origin == GATEWAY:
            active = not any(s.contains(row.address_prefix) for s in shields)
        out.append(_with_state(row, "Active" if active else "Invalid"))
    return out


def effective_routes(topology: Topology, subnet: Subnet | str) -> tuple[EffectiveRoute, ...]:
    """All routes of a subnet (Active and Invalid) in Azure's listing order."""
    if isinstance(subnet, str):
        found = topology.get(subnet)
        if not isinstance(found, Subnet):
            raise KeyError(subnet)
        subnet = found
    vnet = topology.vnet_of_subnet(subnet.id)
    if vnet is None:
        raise KeyError(subnet.id)
    table = topology.get(subnet.route_table) if subnet.route_table else None
    table = table if isinstance(table, RouteTable) else None
    rows = _system_routes(vnet, table)
    rows[len(vnet.address_space):len(vnet.address_space)] = _peering_routes(topology, vnet)
    rows += _service_endpoint_routes(subnet)
    # 3.4: disableBgpRoutePropagation drops gateway (BGP and static) routes for this subnet.
    if table is None or not table.disable_bgp_route_propagation:
        rows += _gateway_routes(topology, vnet)
    if table is not None:
        rows += _user_routes(topology, vnet, table)
    return tuple(_select(rows))


def nic_subnet(topology: Topology, nic: NetworkInterface) -> Subnet:
    """The subnet of the NIC's primary IP configuration."""
    configs = nic.ip_configurations
    config = next((c for c in configs if c.primary), configs[0] if configs else None)
    subnet = topology.get(config.subnet) if config else None
    if not isinstance(subnet, Subnet):
        raise KeyError(nic.id)
    return subnet


def lookup(routes: tuple[EffectiveRoute, ...], address: IPAddress) -> EffectiveRoute | None:
    """Longest prefix match over the Active rows (3.4)."""
    best: EffectiveRoute | None = None
    for row in routes:
        if row.active and row.address_prefix.contains_address(address) and (
                best is None or row.address_prefix.length > best.address_prefix.length):
            best = row
    return best
