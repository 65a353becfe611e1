"""Effective routes of a subnet, the way Azure selects them.

Takes: a Topology and a subnet (or NIC). Emits: a tuple of `EffectiveRoute`, one address prefix
per row, in the order Default, VirtualNetworkGateway, User; each Active or Invalid, with the
shape of `az network nic show-effective-route-table` via `EffectiveRoute.as_dict()`.
Follows docs/azure-behaviour.md section 3 (udr-overview: system routes 3.1, optional default routes
3.2, next-hop names 3.3, selection 3.4) and section 4 (peering states, gateway transit).

Active routes tie at a prefix only within one ECMP group (the next hops of one gateway or
Route Server: active-active instances, several NVAs; their `ecmp` key); otherwise the Active
set is a plain longest-prefix-match table. `lookup` returns the group's first row; the
compiled Program (program.py) folds a group into one next hop with an ECMP address list.
Gateway rows come from control/bgp.py; which rows Azure hides or marks Invalid: docs/bgp.md.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from dataplane.control import bgp
from dataplane.control.reach import (  # noqa: F401 (re-exported: engine, tags, tests)
    GatewayReach,
    _memo,
    reachable_gateways,
    reverse_link,
    same_region,
)
from dataplane.control.tags import service_prefixes, summarize_prefixes
from dataplane.model import (
    NetworkInterface,
    RouteTable,
    Subnet,
    Topology,
    VirtualHub,
    VirtualNetwork,
    VirtualNetworkGateway,
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
# A private endpoint's /32 (next hop type InterfaceEndpoint), and the same row invalidated by
# a user route while the endpoint's subnet has network policies for route tables.
INTERFACE_ENDPOINT, OVERRIDDEN_ENDPOINT = "interface_endpoint", "overridden_endpoint"

# Equal-prefix precedence (3.4): User > BGP > System, except that VNet/peering system routes
# beat BGP routes and service-endpoint routes cannot be overridden, even by a route table.
_RANK = {SERVICE_ENDPOINT: 5, USER: 4, VNET: 3, PEERING: 3, INTERFACE_ENDPOINT: 3, GATEWAY: 2,
         INTERNET: 1, NONE: 1, OVERRIDDEN_ENDPOINT: 0}
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
    # Gateway routes (control/bgp.py): the speaker that programmed the row (a gateway or a
    # Route Server), the remote gateways a packet crosses, the destination VNet of a prefix
    # learned over VNet-to-VNet, the connection or bgpConnection it leaves by, and the
    # AS path. Rows of one prefix with the same `ecmp` key are equal-cost (all Active).
    speaker: str | None = None
    via: tuple[str, ...] = ()
    dest_vnet: str | None = None
    egress: str | None = None
    as_path: tuple[int, ...] = ()
    ecmp: str | None = None
    private_endpoint: str | None = None  # the Microsoft.Network/privateEndpoints id
    # One number per (speaker set, prefix) group of gateway rows, shared by every VNet that
    # receives it: program.py compiles such a group's next hop once (0: not a gateway row).
    hop_key: int = field(default=0, compare=False, repr=False)

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


def gateway_prefixes(topology: Topology, gateway: VirtualNetworkGateway) -> tuple[Prefix, ...]:
    """Prefixes a gateway has learned (static and BGP, control/bgp.py), in RIB order."""
    return tuple(bgp.speaker_rib(topology, gateway))


def onprem_prefixes(topology: Topology, vnet: VirtualNetwork) -> tuple[Prefix, ...]:
    """Every prefix the VNet's subnets learn from gateways and Route Servers (the input of the
    VirtualNetwork tag: "connected on-premises address spaces" and "virtual networks connected
    to a virtual network gateway", docs/azure-behaviour.md §2.3), summarized. Hidden rows are
    excluded; they equal the VNet's space or a peer's, which the tag holds anyway, so the
    speakers' summarized set (shared by all their VNets) is returned unless a hidden prefix
    is a peer's the tag leaves out (allowVirtualNetworkAccess false)."""
    rows, prefixes = _gateway_block(topology, vnet)
    in_tag = set(vnet.address_space)
    for link in vnet.virtual_network_peerings:
        if link.peering_state == "Connected" and link.allow_virtual_network_access:
            in_tag.update(link.remote_address_space)
    if all(p in in_tag for p in _hidden(topology, vnet) if p in prefixes):
        memo = _memo(topology).setdefault("summarized", {})
        found = memo.get(id(prefixes))
        if found is None or found[0] is not prefixes:
            found = memo[id(prefixes)] = (prefixes, summarize_prefixes(list(prefixes)))
        return found[1]
    return summarize_prefixes([r.address_prefix for r in rows])


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


def _private_endpoint_routes(topology: Topology, vnet: VirtualNetwork,
                             table: RouteTable | None) -> list[EffectiveRoute]:
    """A /32 per private endpoint address, next hop type InterfaceEndpoint, in the endpoint's
    VNet and in the VNets with a Connected peering to it, never further. Microsoft names "the
    /32 default route propagated by the private endpoint" ("Manage network policies for
    private endpoints", https://learn.microsoft.com/azure/private-link/
    disable-private-endpoint-network-policy) but not where it propagates; the scope is
    assumption `private-endpoint-route-scope` (field notes: "Private Link reality bite #2",
    blog.cloudtrooper.net, 2025: routes "in the VNet where they are located and in the
    peered VNets"; peering is not transitive: "Virtual network peering",
    https://learn.microsoft.com/azure/virtual-network/virtual-network-peering-overview).

    A user route of `table` overrides (invalidates) the /32 only while the endpoint's subnet
    has network policies for route tables (privateEndpointNetworkPolicies Enabled or
    RouteTableEnabled) and the user route's prefix length is at least that of the endpoint
    VNet's address space holding the address: a 0.0.0.0/0 never does ("Manage network
    policies for private endpoints", https://learn.microsoft.com/azure/private-link/
    disable-private-endpoint-network-policy, first section and "Important"). Without the
    policy a less specific user route loses to the /32 by longest prefix match; a /32 user
    route for the same address wins at the equal prefix (User before Default, 3.4)."""
    if not topology.private_endpoints:
        return []
    homes = {id_key(vnet.id)} | {id_key(link.remote_virtual_network)
                                 for link in vnet.virtual_network_peerings
                                 if link.peering_state == "Connected"}
    user = [r.address_prefix for r in (table.routes if table else ())
            if isinstance(r.address_prefix, Prefix)]
    rows = []
    for endpoint in topology.private_endpoints:
        home = topology.vnet_of_subnet(endpoint.subnet)
        subnet = topology.get(endpoint.subnet)
        if home is None or id_key(home.id) not in homes or not isinstance(subnet, Subnet):
            continue
        policy = subnet.private_endpoint_network_policies in ("Enabled", "RouteTableEnabled")
        for address in endpoint.private_ip_addresses:
            host = Prefix(address.version, address.value, 32 if address.version == 4 else 128)
            space = max((p.length for p in home.address_space if p.contains_address(address)),
                        default=host.length)
            overridden = policy and any(
                p.contains_address(address) and space <= p.length < host.length for p in user)
            rows.append(EffectiveRoute(
                SOURCE_DEFAULT, "Active", host, "InterfaceEndpoint",
                origin=OVERRIDDEN_ENDPOINT if overridden else INTERFACE_ENDPOINT,
                remote_vnet=None if home is vnet else home.id,
                private_endpoint=endpoint.id))
    return rows


def _hidden(topology: Topology, vnet: VirtualNetwork) -> set[Prefix]:
    """Rows Azure never shows (docs/bgp.md, rules R1 and R2): gateway routes equal to the VNet's
    own address space (VPN FAQ, "BGP and routing": advertising "the same prefixes as any one
    of your Virtual Network address prefixes will be blocked or filtered"), and, where gateway
    transit is enabled on the link, equal to a Connected peer's synced space ("When gateway
    transit is enabled: You cannot advertise the exact prefixes as your virtual network
    (including peered virtual networks) prefixes"; without transit "the gateway does not
    learn peered virtual network prefixes": such a row is listed, Invalid, rule R3)."""
    out = set(vnet.address_space)
    for link in vnet.virtual_network_peerings:
        if link.peering_state != "Connected":
            continue
        back = reverse_link(topology, link)
        if link.allow_gateway_transit or link.use_remote_gateways or (
                back is not None and (back.allow_gateway_transit or back.use_remote_gateways)):
            out.update(link.remote_address_space)
    return out


def _next_hops(topology: Topology, speaker: bgp.Speaker,
               paths: tuple[bgp.Path, ...]) -> tuple[IPAddress | None, ...]:
    """One entry per row (ECMP): a Route Server's and an ExpressRoute gateway's paths name their
    next hops (the NVA, the circuit's edge); a VPN gateway's rows carry its instances'
    addresses: both private addresses when active-active, else the public (tunnel) address
    when the input has it, else the BGP address (assumption `gateway-next-hop-ip`)."""
    if isinstance(speaker, VirtualHub) or speaker.gateway_type.lower() == "expressroute":
        hops = tuple(dict.fromkeys(h for p in paths for h in p.next_hops))
        return hops or (None,)
    found = bgp.instances(topology, speaker)
    if speaker.active_active and len(found) > 1:
        return tuple(i.bgp_ip for i in found)
    first = found[0] if found else None
    return (first.public_ip or first.bgp_ip,) if first else (None,)


_KIND = {"expressroute": 0, "vpn": 1}  # default routing preference (docs/bgp.md, R6)


_HOP_KEYS = itertools.count(1)


def _speaker_rows(topology: Topology, speakers: tuple[bgp.Speaker, ...]
                  ) -> tuple[list[tuple[Prefix, EffectiveRoute]], frozenset[Prefix]]:
    """The rows a set of speakers programs, before a VNet's own filter (memoised per set: all
    spokes of a hub share them). Per prefix the best speaker (ExpressRoute, VPN, then Route
    Server; then the shortest path), one row per next-hop address (ECMP)."""
    key = ("speaker-rows", *(id_key(s.id) for s in speakers))
    memo = _memo(topology)
    found = memo.get(key)
    if found is not None:
        return found
    rs_keys = {id_key(s.id) for s in speakers if isinstance(s, VirtualHub)}
    best: dict[Prefix, tuple[tuple, bgp.Speaker, tuple[bgp.Path, ...]]] = {}
    for speaker in speakers:
        kind = 2 if isinstance(speaker, VirtualHub) else _KIND.get(
            speaker.gateway_type.lower(), 1)
        for prefix, paths in bgp.speaker_rib(topology, speaker).items():
            # Each speaker programs what it learned itself: a Route Server its NVAs' routes
            # (not a gateway's, branch-to-branch), a gateway not its Route Server's copy.
            if isinstance(speaker, VirtualHub):
                paths = tuple(p for p in paths if not p.via)
            else:
                paths = tuple(p for p in paths if not (p.via and p.via[0] in rs_keys))
            if not paths:
                continue
            rank = (kind, bgp._rank(paths[0]))
            if prefix not in best or rank < best[prefix][0]:
                best[prefix] = (rank, speaker, paths)
    hops_of: dict[str, tuple[IPAddress | None, ...]] = {}
    rows: list[tuple[Prefix, EffectiveRoute]] = []
    for prefix, (_rank, speaker, paths) in best.items():
        gateway = speaker.id if isinstance(speaker, VirtualNetworkGateway) else None
        first = paths[0]
        if gateway is not None:
            hops = hops_of.get(gateway)
            if hops is None:
                hops = hops_of[gateway] = _next_hops(topology, speaker, paths)
        else:
            hops = _next_hops(topology, speaker, paths)
        hop_key = next(_HOP_KEYS)
        for ip in hops:
            rows.append((prefix, EffectiveRoute(
                SOURCE_GATEWAY, "Active", prefix, "VirtualNetworkGateway",
                (ip,) if ip is not None else (), origin=GATEWAY, gateway=gateway,
                speaker=speaker.id, via=first.via, dest_vnet=first.vnet, egress=first.egress,
                as_path=first.as_path, ecmp=speaker.id, hop_key=hop_key)))
    found = memo[key] = (rows, frozenset(best))
    return found


def _gateway_routes(topology: Topology, vnet: VirtualNetwork) -> list[EffectiveRoute]:
    return _gateway_block(topology, vnet)[0]


def _gateway_block(topology: Topology, vnet: VirtualNetwork
                   ) -> tuple[list[EffectiveRoute], frozenset[Prefix]]:
    """3.2: the routes the VNet's gateways and Route Servers learned (control/bgp.py), source
    VirtualNetworkGateway, one row per next-hop address (ECMP); hidden rows left out
    (`_hidden`). Memoised per VNet; the rows are shared with the other VNets of the same
    speakers unless they ride on a transit link (then copied with its id). Also returns the
    speakers' prefix set (a superset of the rows' prefixes) for `_select`."""
    memo = _memo(topology).setdefault("gateway-rows", {})
    entry = memo.get(id(vnet))
    if entry is not None and entry[0] is vnet:
        return entry[1]
    hidden = _hidden(topology, vnet)
    reach = reachable_gateways(topology, vnet)
    link = reach[0].transit_link.id if reach and reach[0].transit_link else None
    template, prefixes = _speaker_rows(topology, bgp.vnet_sources(topology, vnet))
    if link is None:
        rows = [row for prefix, row in template if prefix not in hidden]
    else:  # `_copy` inlined: hundreds of rows per spoke
        rows = []
        new = object.__new__
        for prefix, row in template:
            if prefix in hidden:
                continue
            if row.gateway is not None:
                fields = row.__dict__.copy()
                fields["transit_link"] = link
                row = new(EffectiveRoute)
                object.__setattr__(row, "__dict__", fields)
            rows.append(row)
    memo[id(vnet)] = (vnet, (rows, prefixes))
    return rows, prefixes


def _copy(row: EffectiveRoute, **changes: object) -> EffectiveRoute:
    """`dataclasses.replace` without re-running the frozen __init__ (hundreds of thousands of
    gateway rows at estate scale: bench/test_control_compile.py)."""
    out = object.__new__(EffectiveRoute)
    out.__dict__.update(row.__dict__)
    out.__dict__.update(changes)
    return out


def _user_routes(topology: Topology, vnet: VirtualNetwork,
                 table: RouteTable) -> list[EffectiveRoute]:
    """A user route to VirtualNetworkGateway uses a VPN gateway only: "You can't specify a
    virtual network gateway created as type ExpressRoute in a user-defined route" (Microsoft
    Learn, "Virtual network traffic routing", https://learn.microsoft.com/azure/
    virtual-network/virtual-networks-udr-overview, "Custom routes"). With no VPN gateway the
    row stays but names no gateway: its packets are not routed (validate: UserRouteToGateway-
    WithoutVpnGateway)."""
    reach = tuple(r for r in reachable_gateways(topology, vnet)
                  if r.gateway.gateway_type.lower() == "vpn")
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
    return _copy(row, state=state)


def _select(rows: list[EffectiveRoute], block: tuple[int, int, frozenset[Prefix]] = (0, 0,
            frozenset())) -> list[EffectiveRoute]:
    """3.4: at an equal prefix one row stays Active (precedence `_RANK`, first listed wins a
    tie), with the rows of its ECMP group (one speaker's next hops); gateway rows inside a
    VNet, peering or service-endpoint prefix are Invalid.

    `block`: rows[lo:hi] are the gateway rows (unique prefixes but for ECMP groups, all in
    `prefixes`); they are decided against the few other rows without a dictionary entry
    each, since a VNet can receive hundreds of them."""
    lo, hi, gw_prefixes = block
    best: dict[Prefix, int] = {}
    for i in (*range(lo), *range(hi, len(rows))):
        row = rows[i]
        if row.origin == OVERRIDDEN_ENDPOINT:
            continue  # listed, never selected
        j = best.get(row.address_prefix)
        if j is None or _RANK[row.origin] > _RANK[rows[j].origin]:
            best[row.address_prefix] = i
    shields = [(r.address_prefix.version, r.address_prefix.first, r.address_prefix.last)
               for r in rows if r.origin in _BEATS_SPECIFIC_BGP]
    beaten = {p for p, j in best.items() if p in gw_prefixes
              and _RANK[rows[j].origin] > _RANK[GATEWAY]}
    out = []
    for i, row in enumerate(rows):
        p = row.address_prefix
        if lo <= i < hi:
            active = not (beaten and p in beaten)
            if active:
                version, first = p.version, p.network
                last = first + (1 << ((32 if version == 4 else 128) - p.length)) - 1
                for v, a, z in shields:
                    if v == version and a <= first and last <= z:
                        active = False
                        break
        elif row.origin == OVERRIDDEN_ENDPOINT:
            active = False
        else:
            winner = rows[best[p]]
            active = best[p] == i or (
                row.ecmp is not None and row.ecmp == winner.ecmp and row.origin == winner.origin)
            if active and _RANK[row.origin] < _RANK[GATEWAY] and p in gw_prefixes and any(
                    rows[k].address_prefix == p for k in range(lo, hi)):
                active = False
            if active and row.origin == GATEWAY:
                active = not any(v == p.version and a <= p.first and p.last <= z
                                 for v, a, z in shields)
        out.append(row if row.state == ("Active" if active else "Invalid")
                   else _with_state(row, "Active" if active else "Invalid"))
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
    rows += _private_endpoint_routes(topology, vnet, table)
    # 3.4: disableBgpRoutePropagation drops gateway (BGP and static) routes for this subnet.
    block: tuple[int, int, frozenset[Prefix]] = (0, 0, frozenset())
    if table is None or not table.disable_bgp_route_propagation:
        gateway_rows, prefixes = _gateway_block(topology, vnet)
        block = (len(rows), len(rows) + len(gateway_rows), prefixes)
        rows += gateway_rows
    if table is not None:
        rows += _user_routes(topology, vnet, table)
    return tuple(_select(rows, block))


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
