"""What Azure's gateways and Route Servers learn: BGP and static routes, propagated to a fixed point.

Takes: a Topology (gateways, local network gateways, connections, Route Servers, and the BGP
sidecar's `bgp_advertisements`). Emits, per speaker (a virtual network gateway or a Route
Server), its best paths per prefix (`rib`), the addresses of its instances (`instances`), and
`vnet_sources`: the speakers whose routes a VNet's subnets receive. control/routes.py turns
these into effective-route rows; nothing here knows about subnets or packets.

Documented behaviour modelled (Microsoft Learn, "VPN Gateway FAQ", section "BGP and routing",
https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-vpn-faq#bgp):
* a gateway advertises "your VNet address prefixes", "address prefixes for each local network
  gateway connected to the VPN gateway" and "routes learned from other BGP peering sessions
  connected to the VPN gateway, except for the default route or routes that overlap with any
  virtual network prefix"; "VPN gateways don't advertise default routes to other BGP peers";
  "to enable transit routing across multiple VPN gateways, you must enable BGP on all
  intermediate connections between virtual networks";
* "Azure VPN Gateway adds a host route internally to the on-premises BGP peer IP over the
  IPsec tunnel" (a /32 per BGP peer), and local network gateway prefixes "are added as static
  routes on the Azure VPN gateway, in addition to the routes learned via BGP";
* default ASN 65515 "whether BGP is enabled or not"; BGP on route-based gateways only, not on
  the Basic SKU;
* one BGP address per active-standby gateway and two for active-active, "allocated
  automatically ... from the GatewaySubnet range" (assumption `gateway-instance-addresses`
  for where in the range);
* spokes using the hub's gateway (useRemoteGateways) are advertised by it ("About VPN gateway
  transit for virtual network peering",
  https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-peering-gateway-transit);
* a VNet-to-VNet tunnel "consists of two connection resources in Azure, one for each
  direction" (same FAQ, "VNet-to-VNet"): both must exist (warning otherwise);
* Route Server ("About Azure Route Server", https://learn.microsoft.com/azure/route-server/
  overview; "Route Server support for ExpressRoute and Azure VPN",
  https://learn.microsoft.com/azure/route-server/expressroute-vpn-support): routes from NVAs
  (bgpConnections) are programmed into the VNet and the spokes that use remote gateways,
  next hop the NVA; with allowBranchToBranchTraffic they are exchanged with the VPN and
  ExpressRoute gateways of the same VNet.
AS-path loop prevention: a speaker drops paths whose AS path holds its own ASN (standard BGP,
RFC 4271 9.1.2; Azure documents distinct ASNs per BGP-connected network in the FAQ).
Best path: static before BGP, then the shortest AS path; equal paths are all kept (ECMP).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from dataplane.control.reach import (
    _gateways_of,
    _memo,
    reachable_gateways,
    transit_link,
    transit_spokes,
)
from dataplane.model import (
    AZURE_DEFAULT_ASN,
    BgpAdvertisement,
    Connection,
    LocalNetworkGateway,
    Subnet,
    Topology,
    VirtualHub,
    VirtualNetwork,
    VirtualNetworkGateway,
    id_key,
)
from dataplane.net import IPAddress, Prefix

STATIC, BGP = "static", "bgp"
MICROSOFT_EDGE_ASN = 12076  # ExpressRoute's Microsoft side (VPN FAQ: reserved public ASNs)


@dataclass(frozen=True)
class Path:
    """One way a speaker reaches a prefix. `via`: the speakers a packet crosses after this one
    (the remote gateways of VNet-to-VNet connections); `vnet`: the destination VNet when the
    prefix is an Azure VNet's space (None: on-premises, an NVA, an ExpressRoute circuit);
    `egress`: the connection or bgpConnection the packet leaves by at the last speaker;
    `next_hops`: addresses beyond the speaker (the NVA of a Route Server path, the edge of an
    ExpressRoute circuit), () for a VPN tunnel."""

    prefix: Prefix
    kind: str
    as_path: tuple[int, ...] = ()
    via: tuple[str, ...] = ()
    vnet: str | None = None
    egress: str | None = None
    next_hops: tuple[IPAddress, ...] = ()


@dataclass(frozen=True)
class Instance:
    """A gateway instance: its BGP address in the GatewaySubnet, its APIPA addresses and its
    public (tunnel) address when the input carries it."""

    bgp_ip: IPAddress | None
    custom_bgp_ips: tuple[IPAddress, ...] = ()
    public_ip: IPAddress | None = None


Speaker = VirtualNetworkGateway | VirtualHub


def is_route_server(hub: VirtualHub) -> bool:
    """A virtualHubs resource in a VNet's RouteServerSubnet, not part of a Virtual WAN."""
    return hub.virtual_wan is None and hub.subnet is not None \
        and hub.subnet.rstrip("/").lower().endswith("/subnets/routeserversubnet")


def speaks_bgp(gateway: VirtualNetworkGateway) -> bool:
    """VPN FAQ: BGP on route-based VPN gateways except Basic; ExpressRoute always uses BGP."""
    if gateway.gateway_type.lower() == "expressroute":
        return True
    return gateway.enable_bgp and gateway.vpn_type.lower() == "routebased" \
        and gateway.sku.lower() != "basic"


def asn_of(speaker: Speaker) -> int:
    if isinstance(speaker, VirtualHub):
        return speaker.virtual_router_asn
    return speaker.bgp_settings.asn if speaker.bgp_settings else AZURE_DEFAULT_ASN


def _subnet_prefix(topology: Topology, vnet_id: str, name: str) -> Prefix | None:
    vnet = topology.get(vnet_id)
    subnet = vnet.subnet(name) if isinstance(vnet, VirtualNetwork) else None
    return subnet.address_prefixes[0] if isinstance(subnet, Subnet) and \
        subnet.address_prefixes else None


def instances(topology: Topology, gateway: VirtualNetworkGateway) -> tuple[Instance, ...]:
    """The gateway's instances (two when active-active). From bgpSettings when the input has
    them (an az dump); otherwise derived (assumption `gateway-instance-addresses`): the first
    two usable GatewaySubnet addresses for active-active (.4, .5), the last usable one for
    active-standby (.30 of a /27, as the FAQ's "10.12.255.30")."""
    count = 2 if gateway.active_active else 1
    settings = gateway.bgp_settings
    if settings and settings.bgp_peering_addresses:
        return tuple(Instance(p.default_bgp_ip_addresses[0] if p.default_bgp_ip_addresses
                              else None, p.custom_bgp_ip_addresses,
                              p.tunnel_ip_addresses[0] if p.tunnel_ip_addresses else None)
                     for p in settings.bgp_peering_addresses)
    if settings and settings.bgp_peering_address:
        return tuple(Instance(a) for a in settings.bgp_peering_address)
    subnet = _subnet_prefix(topology, gateway.virtual_network, "GatewaySubnet")
    if subnet is None or subnet.version != 4:
        return tuple(Instance(None) for _ in range(count))
    if count == 2:
        return (Instance(IPAddress(4, subnet.first + 4)), Instance(IPAddress(4, subnet.first + 5)))
    return (Instance(IPAddress(4, subnet.last - 1)),)


def router_ips(topology: Topology, hub: VirtualHub) -> tuple[IPAddress, ...]:
    """The Route Server's two addresses: virtualRouterIps, or the first two usable addresses
    of RouteServerSubnet (assumption `gateway-instance-addresses`)."""
    if hub.virtual_router_ips:
        return hub.virtual_router_ips
    subnet = topology.get(hub.subnet) if hub.subnet else None
    if not isinstance(subnet, Subnet) or not subnet.address_prefixes:
        return ()
    first = subnet.address_prefixes[0].first
    return (IPAddress(4, first + 4), IPAddress(4, first + 5))


def route_servers(topology: Topology, vnet_id: str) -> tuple[VirtualHub, ...]:
    key = id_key(vnet_id)
    return tuple(h for h in topology.virtual_hubs
                 if is_route_server(h) and id_key(h.virtual_network or "") == key)


def vnet_sources(topology: Topology, vnet: VirtualNetwork) -> tuple[Speaker, ...]:
    """The speakers whose routes this VNet's subnets receive: its own gateways and Route
    Server, or, without either, those of the hub it uses through gateway transit."""
    own: tuple[Speaker, ...] = (*_gateways_of(topology, vnet.id),
                                *route_servers(topology, vnet.id))
    if own:
        return own
    reach = reachable_gateways(topology, vnet)
    if reach:
        hub = reach[0].gateway.virtual_network
        return (*(r.gateway for r in reach), *route_servers(topology, hub))
    link = transit_link(topology, vnet)
    return route_servers(topology, link.remote_virtual_network) if link else ()


def _advertised(topology: Topology, names: tuple[str, ...]) -> list[BgpAdvertisement]:
    keys = {n.lower() for n in names if n}
    return [a for a in topology.bgp_advertisements if a.peer.lower() in keys]


def _best(paths: list[Path]) -> dict[Prefix, tuple[Path, ...]]:
    """Static before BGP, then the shortest AS path; ties are all kept (ECMP)."""
    out: dict[Prefix, tuple[Path, ...]] = {}
    for path in paths:
        found = out.get(path.prefix)
        if found is None:
            out[path.prefix] = (path,)
            continue
        rank, old = _rank(path), _rank(found[0])
        if rank < old:
            out[path.prefix] = (path,)
        elif rank == old and path not in found:
            out[path.prefix] = (*found, path)
    return out


def _rank(path: Path) -> tuple[int, int]:
    return (0 if path.kind == STATIC else 1, len(path.as_path))


def vnet2vnet_pairs(topology: Topology) -> dict[frozenset[str], list[Connection]]:
    """Vnet2Vnet connection resources grouped by their two gateways."""
    pairs: dict[frozenset[str], list[Connection]] = {}
    for conn in topology.connections:
        if conn.connection_type.lower() == "vnet2vnet" and conn.virtual_network_gateway2:
            key = frozenset((id_key(conn.virtual_network_gateway1),
                             id_key(conn.virtual_network_gateway2)))
            pairs.setdefault(key, []).append(conn)
    return pairs


class _Graph:
    """Speakers, their fixed inputs (static and external BGP routes) and BGP edges."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.speakers: dict[str, Speaker] = {id_key(g.id): g
                                             for g in topology.virtual_network_gateways}
        for hub in topology.virtual_hubs:
            if is_route_server(hub):
                self.speakers[id_key(hub.id)] = hub
        self.inputs: dict[str, list[Path]] = {k: [] for k in self.speakers}
        # BGP edges: receiver -> [(sender, connection id the receiver sends through)]
        self.edges: dict[str, list[tuple[str, str]]] = {k: [] for k in self.speakers}
        self.originated: dict[str, list[Path]] = {k: self._originated(s)
                                                  for k, s in self.speakers.items()}
        for conn in topology.connections:
            self._connection(conn)
        self._vnet2vnet()
        for key, speaker in self.speakers.items():
            if isinstance(speaker, VirtualHub):
                self._route_server(key, speaker)

    def _originated(self, speaker: Speaker) -> list[Path]:
        """Its VNet's space and the spokes that use it; its own BGP addresses as /32s."""
        vnet_id = speaker.virtual_network or ""
        vnet = self.topology.get(vnet_id)
        if not isinstance(vnet, VirtualNetwork):
            return []
        out = [Path(p, BGP, vnet=vnet.id) for p in vnet.address_space]
        for spoke in transit_spokes(self.topology, vnet.id):
            out += [Path(p, BGP, vnet=spoke.id) for p in spoke.address_space]
        if isinstance(speaker, VirtualNetworkGateway):
            out += [Path(host_prefix(i.bgp_ip), BGP, vnet=vnet.id)
                    for i in instances(self.topology, speaker) if i.bgp_ip is not None]
        return out

    def _connection(self, conn: Connection) -> None:
        key = id_key(conn.virtual_network_gateway1)
        gateway = self.speakers.get(key)
        if not isinstance(gateway, VirtualNetworkGateway):
            return
        kind = conn.connection_type.lower()
        if kind == "ipsec" and gateway.gateway_type.lower() == "vpn":
            site = self.topology.get(conn.local_network_gateway2)
            if not isinstance(site, LocalNetworkGateway):
                return
            self.inputs[key] += [Path(p, STATIC, egress=conn.id) for p in site.address_prefixes]
            if not (conn.enable_bgp and speaks_bgp(gateway) and site.bgp_settings):
                return
            peer_asn = site.bgp_settings.asn
            for address in site.bgp_settings.bgp_peering_address:
                self.inputs[key].append(Path(host_prefix(address), BGP, (peer_asn,),
                                             egress=conn.id))
            names = (site.name, site.id, conn.name, conn.id,
                     *(str(a) for a in site.bgp_settings.bgp_peering_address))
            self._external(key, names, (peer_asn,), conn.id, None)
        elif kind == "expressroute" and gateway.gateway_type.lower() == "expressroute":
            names = (conn.name, conn.id, conn.peer or "",
                     (conn.peer or "").rstrip("/").rsplit("/", 1)[-1])
            self._external(key, names, (MICROSOFT_EDGE_ASN,), conn.id, None)

    def _external(self, key: str, names: tuple[str, ...], default_path: tuple[int, ...],
                  egress: str, next_hop: IPAddress | None) -> None:
        own = asn_of(self.speakers[key])
        for adv in _advertised(self.topology, names):
            as_path = adv.as_path or default_path
            if own in as_path:
                continue  # AS-path loop prevention
            hop = adv.next_hop or next_hop
            self.inputs[key] += [Path(p, BGP, as_path, egress=egress,
                                      next_hops=(hop,) if hop else ())
                                 for p in adv.prefixes]

    def _vnet2vnet(self) -> None:
        for pair, conns in vnet2vnet_pairs(self.topology).items():
            if len(pair) != 2:
                continue
            a, b = sorted(pair)
            ga, gb = self.speakers.get(a), self.speakers.get(b)
            if not (isinstance(ga, VirtualNetworkGateway) and isinstance(gb, VirtualNetworkGateway)):
                continue
            ends = {id_key(c.virtual_network_gateway1) for c in conns}
            if ends != {a, b}:
                continue  # one connection resource only: no tunnel (validate warns)
            by_end = {id_key(c.virtual_network_gateway1): c for c in conns}
            bgp = all(c.enable_bgp for c in conns) and speaks_bgp(ga) and speaks_bgp(gb)
            if bgp:
                if asn_of(ga) != asn_of(gb):
                    self.edges[a].append((b, by_end[a].id))
                    self.edges[b].append((a, by_end[b].id))
                continue
            for me, other in ((a, gb), (b, ga)):
                vnet = self.topology.get(other.virtual_network)
                if isinstance(vnet, VirtualNetwork):
                    self.inputs[me] += [Path(p, STATIC, via=(id_key(other.id),), vnet=vnet.id)
                                        for p in vnet.address_space]

    def _route_server(self, key: str, hub: VirtualHub) -> None:
        for peer in hub.bgp_connections:
            names = (peer.name, peer.id, str(peer.peer_ip) if peer.peer_ip else "")
            self._external(key, names, (peer.peer_asn,), peer.id, peer.peer_ip)
        if not hub.allow_branch_to_branch_traffic:
            return
        for gateway in _gateways_of(self.topology, hub.virtual_network or ""):
            g = id_key(gateway.id)
            self.edges[key].append((g, ""))
            self.edges[g].append((key, ""))


def _export(sender: Speaker, key: str, rib: dict[Prefix, tuple[Path, ...]],
            originated: list[Path], same_vnet: bool) -> list[Path]:
    """What `sender` advertises over one BGP session (FAQ: its VNet prefixes, its local network
    gateways' prefixes, routes learned from other sessions except the default route and
    routes overlapping its VNet). Between a Route Server and a gateway of the same VNet
    (branch-to-branch) the VNet's own space is not exchanged and no ASN is prepended: both
    use 65515 ("Route Server support for ExpressRoute and Azure VPN": the VPN gateway's ASN
    must be 65515)."""
    asn = () if same_vnet else (asn_of(sender),)
    out = [] if same_vnet else [Path(p.prefix, BGP, asn, (key,), p.vnet) for p in originated]
    space = _merged([o.prefix for o in originated if o.prefix.length < o.prefix.bits])
    for paths in rib.values():
        for p in paths:
            if p.prefix.length == 0 or _overlaps_any(p.prefix, space):
                continue
            out.append(Path(p.prefix, BGP, (*asn, *p.as_path), (key, *p.via), p.vnet,
                            p.egress, p.next_hops))
    return out


def _merged(prefixes: list[Prefix]) -> dict[int, tuple[list[int], list[int]]]:
    """Per address family, the prefixes as disjoint sorted intervals (starts, ends)."""
    out: dict[int, tuple[list[int], list[int]]] = {}
    for version in {p.version for p in prefixes}:
        starts: list[int] = []
        ends: list[int] = []
        for first, last in sorted((p.first, p.last) for p in prefixes if p.version == version):
            if ends and first <= ends[-1] + 1:
                ends[-1] = max(ends[-1], last)
            else:
                starts.append(first)
                ends.append(last)
        out[version] = (starts, ends)
    return out


def _overlaps_any(prefix: Prefix, merged: dict[int, tuple[list[int], list[int]]]) -> bool:
    found = merged.get(prefix.version)
    if not found:
        return False
    starts, ends = found
    at = bisect.bisect_right(starts, prefix.last) - 1
    return at >= 0 and ends[at] >= prefix.first


def host_prefix(address: IPAddress) -> Prefix:
    return Prefix(address.version, address.value, 32 if address.version == 4 else 128)


def ribs(topology: Topology) -> dict[str, dict[Prefix, tuple[Path, ...]]]:
    """Every speaker's best paths per prefix, iterated to a fixed point (memoised)."""
    memo = _memo(topology)
    found = memo.get("bgp-ribs")
    if found is not None:
        return found
    graph = _Graph(topology)
    rib = {k: _best(list(graph.inputs[k])) for k in graph.speakers}
    for _ in range(len(graph.speakers) + 1):
        changed = False
        new = {}
        for key, speaker in graph.speakers.items():
            own = asn_of(speaker)
            paths = list(graph.inputs[key])
            for sender_key, _conn in graph.edges[key]:
                sender = graph.speakers[sender_key]
                same_vnet = isinstance(sender, VirtualHub) != isinstance(speaker, VirtualHub)
                for p in _export(sender, sender_key, rib[sender_key],
                                 graph.originated[sender_key], same_vnet):
                    if key not in p.via and (same_vnet or own not in p.as_path):
                        paths.append(p)
            new[key] = _best(paths)
            changed = changed or new[key] != rib[key]
        rib = new
        if not changed:
            break
    memo["bgp-ribs"] = rib
    return rib


def speaker_rib(topology: Topology, speaker: Speaker) -> dict[Prefix, tuple[Path, ...]]:
    return ribs(topology).get(id_key(speaker.id), {})
