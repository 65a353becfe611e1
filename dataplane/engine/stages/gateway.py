"""Stage: the network's gateways and edges -- reference and batch forms side by side.

Contract. Takes a Topology, the engine's node/VNet/subnet indices and its route rows
(compile.py); emits `IngressTables` (on-premises sites, entry subnets, gateway transit, public
addresses, and `GatewayRoutes`: what each gateway route does beyond the local gateway). Forms:
* ingress -- a packet whose source is no emulated NIC is classified, in order:
  1 on-premises: the source lies in a prefix behind a connection of a VPN/ExpressRoute gateway
    (a local network gateway's static prefixes, then the prefixes the gateway learned over BGP
    from that connection: control/bgp.py, the sidecar; first in that order wins). It enters at
    that gateway and is routed with the effective routes of its VNet's GatewaySubnet (UDRs on
    the GatewaySubnet apply; docs/azure-behaviour.md §3.2, 3.4). From the gateway it may cross
    a peering only into a VNet that uses this gateway through gateway transit (spoke link
    useRemoteGateways + hub link allowGatewayTransit, both Connected; 4.1, 4.4), otherwise
    TRANSIT_BLOCKED; allowForwardedTraffic is not required for gateway transit. No NSG
    applies at the gateway; the destination's inbound NSG does. Without a GatewaySubnet in
    the model the packet stays UNMAPPED.
  2 the AzureLoadBalancer probe source 168.63.129.16 (2.3) to an emulated NIC address: the
    destination's inbound NSG decides (default rule AllowAzureLoadBalancerInBound, 2.2).
  3 the Internet (a public source outside every VNet) to an emulated NIC address: taken as
    already translated (NSGs run after inbound NAT, 2.1); delivered through the NIC's inbound
    NSG only when the IP configuration holding the address has a public IP attached, or as
    the reply of a flow the VM opened; otherwise UNMAPPED, labelled "no public IP".
  Anything else stays UNMAPPED. Reference: `classify`; batch: `enter_stage` (once per batch).
* Internet edge (assumption `internet-non-routable`): a route with next hop Internet that
  selects a non-Internet destination (control/tags.NOT_INTERNET) is dropped at Azure's edge:
  NON_ROUTABLE. Batch: `edge_stage`; reference: `IngressTables.nonroutable`.
* transit: from a gateway over a peering route into a spoke (batch `transit_stage`; the
  reference form is stages/peering.decide with the gateway node). A new IPv4 flow to an Azure
  Firewall's private address that its DNAT rules name, the firewall in that spoke, is not
  transit's: it crosses the peering by the same transit rules and the firewall's DNAT decides
  (stages/firewall_nat.py `private_target`; batch: `BatchPipeline._direct`).
* gateway routes (next hop VirtualNetworkGateway; control/bgp.py, docs/bgp.md "What the
  engine's gateway stage must do"). Reference `ecmp` / batch `ecmp_np`, right after the route
  lookup: rows of one prefix programmed by one speaker are equal-cost (one per active-active
  instance, one per Route Server NVA); a flow picks one by the load balancers' symmetric flow
  hash (`flow_hash`), so a flow and its reply pick the same; an NVA sending to a prefix it
  advertises itself picks its own row. Reference `cross` / batch `hop_np`, for a gateway row:
  the packet enters the local gateway, then every remote gateway the route was learned
  through (VNet-to-VNet connections; each gateway node charges its cost in timing), and
  - the prefix is an Azure VNet's space (learned over VNet-to-VNet): it enters that VNet at
    the last gateway and is routed with its GatewaySubnet's routes, so the remote VNet's
    routes and its NSGs apply (assumption `vnet-to-vnet-entry`);
  - a prefix a remote VNet's Route Server learned from an NVA: it enters that VNet at the
    last gateway and follows the Route Server's row to the NVA (assumption
    `remote-route-server-nva`);
  - otherwise it leaves to on-premises (EXITS_ON_PREMISES) by the route's connection (the
    BGP-learned egress);
  a user route to the gateway (no path of its own) follows what the gateway learned
  (`IngressTables.learned_at`, batch `_crossings`), else a static site prefix names the
  connection;
  - no local gateway (a user route to VirtualNetworkGateway without a VPN gateway): NO_ROUTE;
  - a node path longer than the engine's width: LOOP ("hop limit").
  A Route Server row (next hop the NVA) is compiled as a VirtualAppliance hop to that NVA;
  at the NVA itself the same prefix leaves through it (EXITS_ON_PREMISES, assumption
  `route-server-nva-egress`).
IPv6 (issue 17): an ExpressRoute gateway whose GatewaySubnet has an IPv6 prefix carries IPv6 as
above -- BGP-learned IPv6 prefixes are `IngressTables.sites6` (ingress, reference
`reference._ingress6`, batch `batch._ingress6`) and its IPv6 rows cross it (`cross(...,
family=6)`: learned rows only; IPv4 learned paths and static sites are never looked up for an
IPv6 destination); transit into spokes finds the NIC by its IPv6 halves; the ECMP hash folds
IPv6 addresses (lb-hash-ipv6). A VPN gateway, or an ExpressRoute gateway without an IPv6
GatewaySubnet prefix, is IPv4-only (`ipv4_only_reason`): IPv6 ends GATEWAY_IPV4_ONLY there,
both ways (assumption `expressroute-ipv6`, EXPRESSROUTE_IPV6).
Microsoft pages: "About BGP and VPN Gateway" (https://learn.microsoft.com/azure/vpn-gateway/
vpn-gateway-bgp-overview, "transit routing"); "About VPN gateway transit for virtual network
peering" (https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-peering-gateway-transit:
"Connectivity available on the VPN gateway, including S2S, P2S, and VNet-to-VNet connections,
applies to all three virtual networks"); "About active-active mode VPN gateways"
(https://learn.microsoft.com/azure/vpn-gateway/about-active-active-gateways, "Active-active
mode design": both instances carry traffic); "Quickstart: Create and configure Route Server"
(https://learn.microsoft.com/azure/route-server/quickstart-configure-route-server-portal: Route
Server "will learn routes from the NVA and program them on the virtual machines").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from dataplane.control import bgp
from dataplane.control.explain import PROTOCOL_NAMES
from dataplane.control.gateway_family import ipv4_only_reason  # moved down (v6fix)
from dataplane.control.public_addresses import closed_to_inbound
from dataplane.control.routes import EffectiveRoute
from dataplane.control.tags import NOT_INTERNET
from dataplane.dispositions import Disposition as D
from dataplane.engine.stages import peering
from dataplane.engine.stages.loadbalancer import flow_hash_np, flow_hash_of, fold6_np
from dataplane.engine.stages.public_edge import closed_label
from dataplane.model import LocalNetworkGateway, Topology, id_key

if TYPE_CHECKING:  # pragma: no cover
    from dataplane.engine.compile import Network

PROBE_IP = (168 << 24) | (63 << 16) | (129 << 8) | 16
INGRESS_ASSUMPTIONS = (
    "ingress-onprem: a packet from a local network gateway's prefixes enters at the VPN "
    "gateway and is routed with the GatewaySubnet's routes; it reaches a peered VNet only "
    "through gateway transit (useRemoteGateways/allowGatewayTransit), without needing "
    "allowForwardedTraffic.",
    "ingress-internet: a packet from the Internet to an instance public IP is DNATed to its "
    "private address (stages/public_edge.py); one addressed to a VM's private address is taken "
    "as captured after that translation: it gets in only when that IP configuration has a "
    "public IP (else it stays UNMAPPED, labelled 'no public IP') or when it answers a flow the "
    "VM opened, and a Standard public IP without an NSG on the NIC or subnet is closed "
    "(PUBLIC_IP_CLOSED) either way.",
    "internet-non-routable: a route with next hop Internet that selects a non-Internet "
    "destination (RFC 1918, RFC 6598, loopback, link-local, multicast) is dropped at the "
    "Azure edge (NON_ROUTABLE).",
)
GATEWAY_ASSUMPTIONS = (
    "vnet-to-vnet-entry: a packet over a VNet-to-VNet connection (a prefix learned from another "
    "VNet's gateway) crosses every gateway on the learned path, each charging its cost, and "
    "enters the destination VNet at its gateway, routed with that VNet's GatewaySubnet routes; "
    "the destination's NSGs apply, no NSG applies at the gateways.",
    "gateway-ecmp: equal-cost gateway rows (active-active instances, Route Server NVAs) are "
    "chosen per flow by the symmetric flow hash of the load balancers (lb-hash): a flow and its "
    "reply pick the same instance; Azure documents that both instances carry traffic, not how "
    "a flow is assigned.",
    "remote-route-server-nva: a prefix a remote VNet's Route Server learned from an NVA is "
    "reached over VNet-to-VNet by entering that VNet at its gateway and following the Route "
    "Server's row to the NVA (its NSGs and IP forwarding apply), where it leaves as below.",
    "route-server-nva-egress: a packet reaching, over a Route Server route, the NVA that "
    "advertised the prefix leaves the emulated network through that NVA (its tunnels are "
    "outside the model: EXITS_ON_PREMISES, named by the bgpConnection).",
)


@dataclass
class Site:
    prefix_first: int
    prefix_last: int
    gateway_node: int
    connection: str
    site: str
    prefix: str
    site_key: str = "localNetworkGateway"  # or "expressRouteCircuit" (hop dict key)


@dataclass(frozen=True)
class Learned:
    """A prefix a gateway learned from another speaker (its best path, control/bgp.py): the
    remote gateway nodes crossed after it (`via`), the destination VNet index and its entry
    subnet (-1: the prefix is not a VNet's space) and the egress connection's name and site."""

    prefix_first: int
    prefix_last: int
    via: tuple[int, ...]
    dest_vnet: int
    entry_subnet: int
    egress: str | None
    site: Where


@dataclass
class GatewayRoutes:
    """Per engine route id (compile.py; arrays sized to the route count): the ECMP group
    (CSR `group_off` over `group_rid`: the member route ids, the route alone when it has no
    peers), the remote gateway nodes crossed after the local gateway (CSR `via_off` over
    `via_node`), the destination VNet index of a VNet-to-VNet prefix (`dest_vnet`, -1) and the
    subnet it enters there (`entry_subnet`, that gateway's GatewaySubnet, -1), the egress
    connection and site names (`egress`, `site`; None), and Route Server rows (`to_nva`)."""

    group_off: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    group_rid: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    via_off: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    via_node: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    dest_vnet: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    entry_subnet: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    to_nva: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    learned_row: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # a BGP row
    egress: tuple[str | None, ...] = ()
    site: tuple[Where, ...] = ()
    members: dict[int, EffectiveRoute] = field(default_factory=dict)  # rid -> its row

    @property
    def has_groups(self) -> bool:
        return self.group_rid.size > self.group_off.size - 1

    def group(self, rid: int) -> list[int]:
        return self.group_rid[self.group_off[rid]:self.group_off[rid + 1]].tolist()

    def via(self, rid: int) -> list[int]:
        return self.via_node[self.via_off[rid]:self.via_off[rid + 1]].tolist()


@dataclass
class IngressTables:
    sites: list[Site] = field(default_factory=list)
    entry_subnet: dict[int, int] = field(default_factory=dict)   # gateway node -> subnet
    serves: dict[int, frozenset[int]] = field(default_factory=dict)  # gateway node -> VNets
    gateway_vnet: dict[int, int] = field(default_factory=dict)  # gateway node -> its VNet
    public: frozenset[int] = frozenset()   # private addresses with a public IP attached
    closed: dict[int, str] = field(default_factory=dict)  # of those, closed: address -> label
    routes: GatewayRoutes = field(default_factory=GatewayRoutes)
    # gateway node -> what it learned, most specific first (user routes to the gateway follow it)
    learned: dict[int, tuple[Learned, ...]] = field(default_factory=dict)
    nonroutable_lo: np.ndarray = field(default_factory=lambda: np.array(
        [p.first for p in NOT_INTERNET], np.int64))
    nonroutable_hi: np.ndarray = field(default_factory=lambda: np.array(
        [p.last for p in NOT_INTERNET], np.int64))
    sites6: list[Site] = field(default_factory=list)  # IPv6 on-premises prefixes (BGP-learned)
    ipv4_only: dict[int, str] = field(default_factory=dict)  # gateway node -> why, its label

    def site_of6(self, src: int) -> Site | None:
        """The first IPv6 on-premises site holding `src` (a 128-bit address), None if none."""
        return next((s for s in self.sites6 if s.prefix_first <= src <= s.prefix_last), None)

    def site_of(self, src: int) -> Site | None:
        return next((s for s in self.sites if s.prefix_first <= src <= s.prefix_last), None)

    def exit_site(self, gateway_node: int, dst: int) -> Site | None:
        return next((s for s in self.sites if s.gateway_node == gateway_node
                     and s.prefix_first <= dst <= s.prefix_last), None)

    def learned_at(self, gateway_node: int, dst: int) -> Learned | None:
        """The most specific learned path of `gateway_node` holding `dst`, None when none: where
        the gateway forwards a packet a user route sent to it ("Virtual network traffic
        routing", https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview,
        "User-defined", next hop "Virtual network gateway")."""
        return next((x for x in self.learned.get(gateway_node, ())
                     if x.prefix_first <= dst <= x.prefix_last), None)

    def covers(self, gateway_node: int, dst: int) -> bool:
        """Whether a site prefix or a learned route of `gateway_node` holds IPv4 `dst` (where
        a user route to the gateway can send it: `exit_site`, `learned_at`)."""
        return self.exit_site(gateway_node, dst) is not None or \
            self.learned_at(gateway_node, dst) is not None

    def covers_np(self, gateway_node: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Batch form of `covers` (bool per row)."""
        out = np.zeros(dst.size, bool)
        spans = [(s.gateway_node, s.prefix_first, s.prefix_last) for s in self.sites] + [
            (g, x.prefix_first, x.prefix_last) for g, paths in self.learned.items() for x in paths]
        for g, first, last in spans:
            out |= (gateway_node == g) & (dst >= first) & (dst <= last)
        return out

    def nonroutable(self, ip: int) -> bool:
        return bool(((self.nonroutable_lo <= ip) & (ip <= self.nonroutable_hi)).any())

    def nonroutable_np(self, ip: np.ndarray) -> np.ndarray:
        return ((ip[:, None] >= self.nonroutable_lo[None, :])
                & (ip[:, None] <= self.nonroutable_hi[None, :])).any(1)


def build_tables(topology: Topology, gateway_nodes: dict[str, int],
                 vnet_index: dict[str, int], subnet_index: dict[str, int]) -> IngressTables:
    from dataplane.control.routes import reachable_gateways

    out = IngressTables()
    for conn in topology.connections:
        node = gateway_nodes.get(id_key(conn.virtual_network_gateway1))
        site = topology.get(conn.local_network_gateway2) if conn.local_network_gateway2 \
            else None
        if node is None or not isinstance(site, LocalNetworkGateway):
            continue
        for prefix in site.address_prefixes:  # IPv6 ones: an IPv4-only VPN gateway's (sites6)
            (out.sites if prefix.version == 4 else out.sites6).append(
                Site(prefix.first, prefix.last, node, conn.name, site.name, str(prefix)))
    names = egress_names(topology)
    for gw in topology.virtual_network_gateways:  # BGP-learned on-premises prefixes
        node = gateway_nodes[id_key(gw.id)]
        for prefix, paths in bgp.speaker_rib(topology, gw).items():
            path = next((q for q in paths if q.egress and not q.via and q.kind == bgp.BGP), None)
            if path is not None:
                conn, where = names.get(id_key(path.egress), (path.egress, None))
                key, name = where or ("localNetworkGateway", conn)
                (out.sites if prefix.version == 4 else out.sites6).append(
                    Site(prefix.first, prefix.last, node, conn, name, str(prefix), key))
    for gw in topology.virtual_network_gateways:
        node = gateway_nodes[id_key(gw.id)]
        vnet = topology.get(gw.virtual_network)
        out.gateway_vnet[node] = vnet_index.get(id_key(gw.virtual_network), -1)
        for sub in getattr(vnet, "subnets", ()):
            if sub.name.lower() == "gatewaysubnet" and id_key(sub.id) in subnet_index:
                out.entry_subnet[node] = subnet_index[id_key(sub.id)]
        why = ipv4_only_reason(topology, gw)
        if why:
            out.ipv4_only[node] = label_ipv4_only(gw.name, why)
        served = set()
        for v in topology.virtual_networks:
            if any(id_key(r.gateway.id) == id_key(gw.id) for r in reachable_gateways(topology, v)):
                served.add(vnet_index[id_key(v.id)])
        out.serves[node] = frozenset(served)
    for gw in topology.virtual_network_gateways:
        node = gateway_nodes[id_key(gw.id)]
        out.learned[node] = _learned(bgp.speaker_rib(topology, gw), names, gateway_nodes,
                                     vnet_index, out)
    out.public = frozenset(
        c.private_ip_address.value for nic in topology.network_interfaces
        for c in nic.ip_configurations
        if c.public_ip_address and c.private_ip_address is not None
        and c.private_ip_address.version == 4)
    out.closed = {  # Standard public IP, no NSG: closed also when captured as translated
        c.private_ip_address.value: closed_label(str(c.public_ip_address).rsplit("/", 1)[-1])
        for nic in topology.network_interfaces for c in nic.ip_configurations
        if c.private_ip_address is not None and c.private_ip_address.version == 4
        and closed_to_inbound(topology, nic, c)}
    return out


Where = tuple[str, str] | None  # (hop dict key, name) of what lies beyond a connection


def _learned(rib: dict[Any, tuple[bgp.Path, ...]], names: dict[str, tuple[str, Where]],
             gateway_nodes: dict[str, int], vnet_index: dict[str, int],
             tables: IngressTables) -> tuple[Learned, ...]:
    """A gateway's learned IPv4 paths (remote VNets over VNet-to-VNet, on-premises sites),
    most specific first; its own VNet's space (no crossing, no egress) is left out."""
    out = []
    for prefix, paths in sorted(rib.items(), key=lambda kv: -kv[0].length):
        path = paths[0] if paths else None
        if path is None or prefix.version != 4 or not (path.via or path.egress):
            continue
        via = tuple(gateway_nodes[k] for k in path.via if k in gateway_nodes)
        egress, where = names.get(id_key(path.egress), (path.egress, None)) if path.egress \
            else (None, None)
        dest = vnet_index.get(id_key(path.vnet), -1) if path.vnet else -1
        dest, entry = _destination(tables, via, dest, where)
        out.append(Learned(prefix.first, prefix.last, via, dest, entry, egress, where))
    return tuple(out)


def _destination(tables: IngressTables, via: tuple[int, ...] | list[int], dest_vnet: int,
                 where: Where) -> tuple[int, int]:
    """(destination VNet, entry subnet) of a path crossing remote gateways `via`: the VNet
    whose space the prefix is, or, for a prefix a remote VNet's Route Server learned from an
    NVA (`where` names a peerIp), that remote VNet: the packet enters it at its GatewaySubnet
    and follows the Route Server's row to the NVA, whose NSGs and IP forwarding apply
    (assumption `remote-route-server-nva`). (-1, -1): none (it leaves at the last gateway)."""
    if via and dest_vnet < 0 and where is not None and where[0] == "peerIp":
        dest_vnet = tables.gateway_vnet.get(via[-1], -1)
    if dest_vnet < 0 or not via:
        return dest_vnet, -1
    return dest_vnet, tables.entry_subnet.get(via[-1], -1)


def egress_names(topology: Topology) -> dict[str, tuple[str, Where]]:
    """Egress id (a connection, a Route Server's bgpConnection) -> (its name, what lies
    beyond: ("localNetworkGateway", name), ("expressRouteCircuit", name), ("peerIp",
    address) of an NVA, or None)."""
    out: dict[str, tuple[str, Where]] = {}
    for conn in topology.connections:
        site = topology.get(conn.local_network_gateway2) if conn.local_network_gateway2 \
            else None
        where: Where = ("localNetworkGateway", site.name) if isinstance(
            site, LocalNetworkGateway) else ("expressRouteCircuit", conn.peer.rstrip("/").rsplit(
                "/", 1)[-1]) if conn.peer else None
        out[id_key(conn.id)] = (conn.name, where)
    for hub in topology.virtual_hubs:
        for peer in hub.bgp_connections:
            out[id_key(peer.id)] = (peer.name, ("peerIp", str(peer.peer_ip))
                                    if peer.peer_ip else None)
    return out


def to_nva(route: EffectiveRoute) -> bool:
    """A Route Server row: next hop type VirtualNetworkGateway, programmed by a Route Server
    (no local gateway), naming the NVA as its next-hop address; the engine sends it to that
    NVA like a VirtualAppliance route (compile.py)."""
    return route.next_hop_type == "VirtualNetworkGateway" and route.gateway is None \
        and route.speaker is not None and bool(route.next_hop_ip)


def build_routes(topology: Topology, tables: IngressTables, gateway_nodes: dict[str, int],
                 vnet_index: dict[str, int], rows: list[tuple[int, int, EffectiveRoute]],
                 route_count: int, lb_synth: dict[tuple[int, int], int]) -> GatewayRoutes:
    """`rows`: (subnet index, engine route id, row) of every Active route (compile.py).
    Gateway rows of one prefix in one subnet with the same `ecmp` key (one speaker) form an
    equal-cost group, in row order. `lb_synth`: (route id, backend) -> the synthetic route id
    of a next hop behind an internal load balancer (a Route Server next-hop IP may be a
    frontend, "Next hop IP support in Azure Route Server"): it keeps its route's kind."""
    names = egress_names(topology)
    groups: dict[tuple[int, object, str], list[int]] = {}
    via: list[list[int]] = [[] for _ in range(route_count)]
    dest = np.full(route_count, -1, np.int32)
    entry = np.full(route_count, -1, np.int32)
    nva = np.zeros(route_count, bool)
    egress: list[str | None] = [None] * route_count
    site: list[Where] = [None] * route_count
    members: dict[int, EffectiveRoute] = {}
    group_of: dict[int, list[int]] = {}
    for subnet, rid, route in rows:
        if route.next_hop_type != "VirtualNetworkGateway" or route.speaker is None:
            continue
        nva[rid] = to_nva(route)
        members[rid] = route
        group = groups.setdefault((subnet, route.address_prefix, route.ecmp or str(rid)), [])
        group.append(rid)
        group_of[rid] = group
        via[rid] = [gateway_nodes[k] for k in route.via if k in gateway_nodes]
        if route.egress:
            egress[rid], site[rid] = names.get(id_key(route.egress), (route.egress, None))
        if route.dest_vnet is not None and not via[rid]:  # the local gateway's own VNet
            dest[rid] = vnet_index.get(id_key(route.dest_vnet), -1)
            last = gateway_nodes.get(id_key(route.gateway or ""), -1)
            entry[rid] = tables.entry_subnet.get(last, -1)
        elif not nva[rid]:
            dest[rid], entry[rid] = _destination(
                tables, via[rid], vnet_index.get(id_key(route.dest_vnet), -1)
                if route.dest_vnet is not None else -1, site[rid])
    for (rid, _backend), synth in lb_synth.items():
        nva[synth], egress[synth] = nva[rid], egress[rid]
    flat = [m for rid in range(route_count) for m in group_of.get(rid, (rid,))]
    off = np.cumsum([0] + [len(group_of.get(rid, (rid,))) for rid in range(route_count)],
                    dtype=np.int64)
    via_off = np.cumsum([0] + [len(v) for v in via], dtype=np.int64)
    return GatewayRoutes(
        group_off=off, group_rid=np.array(flat, np.int32),
        via_off=via_off, via_node=np.array([n for v in via for n in v], np.int32),
        dest_vnet=dest, entry_subnet=entry, to_nva=nva,
        learned_row=np.isin(np.arange(route_count), np.array(sorted(members), np.int64)),
        egress=tuple(egress), site=tuple(site), members=members)


# -- reference helpers ---------------------------------------------------------------------
def classify(net: Network, src: int, dst: int) -> tuple[str, Any]:
    """('onprem', Site) | ('probe', nic) | ('internet', nic) | ('unmapped', None)."""
    ing = net.ingress
    site = ing.site_of(src)
    if site is not None:
        return ("onprem", site) if site.gateway_node in ing.entry_subnet else ("unmapped", None)
    target = net.ip_nic.get(dst, -1)
    if target < 0:
        return "unmapped", None
    if src == PROBE_IP:
        return "probe", target
    if not ing.nonroutable(src) and not _in_vnets(net, src):
        return "internet", target
    return "unmapped", None


def onprem_gateways_np(net: Network, src: np.ndarray) -> np.ndarray:
    """int64 per IPv4 source: the gateway node an on-premises source enters at (`classify`'s
    'onprem' site), -2 for a site whose gateway has no entry subnet, -1 for no site."""
    ing = net.ingress
    gw = np.full(src.size, -1, np.int64)
    for s in reversed(ing.sites):  # the first site in topology order wins
        at = (src >= s.prefix_first) & (src <= s.prefix_last)
        gw[at] = s.gateway_node if s.gateway_node in ing.entry_subnet else -2
    return gw


def _in_vnets(net: Network, ip: int) -> bool:
    return any(bool(((lo <= ip) & (ip <= hi)).any()) for lo, hi in zip(
        net.vnet_lo, net.vnet_hi, strict=True))


def label_ipv4_only(name: str, why: str) -> str:
    return f"gateway {name}: no IPv6, {why}"


EXPRESSROUTE_IPV6 = (
    "expressroute-ipv6: an ExpressRoute gateway whose GatewaySubnet has an IPv6 prefix carries "
    "IPv6 (prefixes learned over its connections, docs/bgp-sidecar.md); IPv6 on the circuit's "
    "private peering and the gateway's creation after the IPv6 GatewaySubnet prefix, which "
    "Microsoft requires (expressroute-howto-add-ipv6-portal), are not visible in a topology and "
    "are assumed. VPN gateways carry no IPv6 (GATEWAY_IPV4_ONLY, ipv6-overview 'Limitations').")


def label_probe() -> str:
    return "probe AzureLoadBalancer 168.63.129.16"


def label_internet(net: Network, nic: int, reply: bool = False) -> str:
    """`reply`: the address has no public IP; only a reply of a flow the VM opened gets in."""
    if reply:
        return f"ingress internet to {net.node_names[nic]} (reply of a flow it opened)"
    return f"ingress internet to {net.node_names[nic]} (public IP)"


def label_not_exposed(net: Network, nic: int) -> str:
    return (f"ingress internet: {net.node_names[nic]} has no public IPv4 address (and the "
            "packet answers no live flow: one dropped on its way out opened none)")


EXPIRED_AT_VM = (
    "expired-reply-at-vm: an Internet reply captured at the VM (addressed to its private "
    "address) whose flow idled out (conntrack-idle) is judged as the same reply at the "
    "flow's public address without state: when an Azure Firewall SNATed the flow, it enters "
    "through that firewall (the lowest-indexed of the flow's firewalls) and is denied there as "
    "a new flow no DNAT rule matches (FIREWALL_DENIED: DNAT rules name listening ports, the "
    "SNAT port is the firewall's choice; they are not evaluated against it); otherwise it stays "
    "UNMAPPED (the VM has no public address that admits a new flow); the label names the flow "
    "and conntrack-idle.")


def _flow_text(flow: tuple[int, int, int, int, int]) -> str:
    """'10.1.1.4:40000 -> 93.184.216.34:443 Tcp' of an IPv4 5-tuple."""
    src, dst, proto, sport, dport = flow
    name = PROTOCOL_NAMES.get(proto, f"protocol {proto}")
    if proto in (6, 17):
        return f"{_dotted(src)}:{sport} -> {_dotted(dst)}:{dport} {name}"
    return f"{_dotted(src)} -> {_dotted(dst)} {name}"


def _dotted(v: int) -> str:
    return ".".join(str((v >> s) & 255) for s in (24, 16, 8, 0))


def label_expired(net: Network, nic: int, reply: tuple[int, int, int, int, int],
                  firewall: str | None) -> str:
    """An Internet reply captured at NIC `nic` (its 5-tuple `reply`, IPv4) whose flow idled
    out (assumption expired-reply-at-vm): the label names the flow (reverse of `reply`, as
    the VM sent it) and conntrack-idle; `firewall`: the name of the Azure Firewall it enters
    through (FIREWALL_DENIED there), None: it stays UNMAPPED."""
    s, d, proto, sp, dp = reply
    flow = _flow_text((d, s, proto, dp, sp))
    why = (f"the reply of {net.node_names[nic]}'s flow {flow} after the flow idled out "
           f"(conntrack-idle: no state after 4 idle minutes), a new flow")
    if firewall is not None:
        return f"firewall {firewall}/default-deny ({why} no DNAT rule matches)"
    return (f"ingress internet: {why}; {net.node_names[nic]} has no public IPv4 address")



EXPIRED_AT_FIREWALL = (
    "expired-reply-at-firewall: a packet addressed to the address:port an Azure Firewall "
    "translated a flow's source to (an instance address in AzureFirewallSubnet: private SNAT "
    "or DNAT's source translation; or a public address: SNAT to the Internet) after that flow "
    "idled out (conntrack-idle) finds no session at the firewall ('Azure Firewall features', "
    "https://learn.microsoft.com/azure/firewall/features: stateful; 'Azure Firewall FAQ', "
    "https://learn.microsoft.com/azure/firewall/firewall-faq: TCP idle timeout four "
    "minutes): it is a new flow to the firewall's own address, which no DNAT rule matches (DNAT "
    "rules name the firewall's public and private addresses and listening ports; an instance "
    "address is never a DNAT destination, and a DNAT rule that names a public address:port is "
    "evaluated as for any new flow), so the firewall's default deny drops it (FIREWALL_DENIED "
    "at the firewall; Microsoft does not describe this packet: our reading of the stateful "
    "firewall). From a VM, such a packet to an instance address reaches the firewall as the "
    "live reply does (straight to the instance, peering checks applied after the source's "
    "outbound NSG); the label names the firewall, the translated address:port and "
    "conntrack-idle.")

EXPIRED_OWN = 1 << 16  # batch.py `_expired`: value EXPIRED_OWN | k + 1, expired-reply-at-firewall


def label_expired_own(firewall: str, address: int, proto: int, port: int) -> str:
    """The deciding label of a packet to `address`:`port`, the source firewall `firewall`
    translated a flow to, after the flow idled out (assumption expired-reply-at-firewall)."""
    at = f"{_dotted(address)}:{port}" if proto in (6, 17) else _dotted(address)
    return (f"firewall {firewall}/default-deny (the reply of the flow {firewall} translated to "
            f"{at}, after the flow idled out (conntrack-idle: no state after 4 idle minutes): "
            f"a new flow no DNAT rule matches)")

# -- batch stages --------------------------------------------------------------------------
def enter_stage(bp: Any, c: Any, est: np.ndarray, disp: np.ndarray, dec: np.ndarray,
                nodes: np.ndarray, pos: np.ndarray, active: np.ndarray, subnet: np.ndarray,
                expired: np.ndarray | None = None) -> None:
    """Once per batch, before the hop loop: packets marked UNMAPPED are classified; on-premises
    ones become active at their gateway with the GatewaySubnet as current subnet; probe and
    Internet ones are decided here (inbound NSG at the destination). An Internet packet to a
    private address nothing admits stays UNMAPPED, its label registered with the pending
    sessions (engine/pending.py: it may answer one); `expired` (int32 per row, batch.py
    `_expired`; -1 none): one answering an expired flow is labelled so, and one a firewall
    SNATed (value k + 1) is FIREWALL_DENIED at firewall k (assumption expired-reply-at-vm)."""
    net = bp.net
    ing = net.ingress
    un = np.flatnonzero(disp == D.UNMAPPED)
    if un.size == 0:
        return
    gw = onprem_gateways_np(net, c.src[un])
    m = gw >= 0
    if m.any():
        sel = un[m]
        disp[sel] = 255  # UNDECIDED (batch.py)
        dec[sel] = -1
        active[sel] = True
        nodes[sel, 0] = gw[m]
        subnet[sel] = np.array([ing.entry_subnet[int(g)] for g in gw[m].tolist()], np.int64)
        pos[sel] = 1
    rest = gw == -1
    if not rest.any():
        return
    ips = np.array(sorted(net.ip_nic), dtype=np.int64)
    vals = np.array([net.ip_nic[k] for k in ips.tolist()], dtype=np.int32)
    sel = un[rest]
    if ips.size == 0:
        return
    at = np.minimum(np.searchsorted(ips, c.dst[sel]), ips.size - 1)
    target = np.where(ips[at] == c.dst[sel], vals[at], -1)
    s_src = c.src[sel]
    probe = (target >= 0) & (s_src == PROBE_IP)
    public_src = ~ing.nonroutable_np(s_src)
    for lo, hi in zip(net.vnet_lo, net.vnet_hi, strict=True):
        if lo.size:
            public_src &= ~((s_src[:, None] >= lo[None, :]) & (s_src[:, None] <= hi[None, :])
                            ).any(1)
    internet = (target >= 0) & ~probe & public_src
    if probe.any():
        p = sel[probe]
        nodes[p, 0] = target[probe]
        bp.deliver(c, est, p, target[probe], bp.labels(label_probe()), nodes,
                   np.zeros(c.src.size, np.int64), disp, dec, active)
    if internet.any():
        p, t = sel[internet], target[internet]
        public = np.isin(c.dst[p], np.array(sorted(ing.public), np.int64))
        shut = ~est[p] & np.isin(c.dst[p], np.array(sorted(ing.closed), np.int64))
        for address in np.unique(c.dst[p[shut]]).tolist():
            q = p[shut & (c.dst[p] == address)]
            disp[q] = D.PUBLIC_IP_CLOSED
            dec[q] = bp.labels(ing.closed[address])
        p, t, public = p[~shut], t[~shut], public[~shut]
        exposed = public | est[p]
        closed, tc = p[~exposed], t[~exposed]
        gone = np.full(closed.size, -1) if expired is None else expired[closed]
        for nic in np.unique(tc[gone < 0]).tolist():
            q = closed[(tc == nic) & (gone < 0)]  # stays UNMAPPED, with the reason as its label
            dec[q] = bp.labels(label_not_exposed(net, nic))
            bp.pending_sessions.register_internet(int(dec[q[0]]))
        for i, nic, fw in zip(closed[gone >= 0].tolist(), tc[gone >= 0].tolist(),
                              (gone[gone >= 0] - 1).tolist(), strict=True):
            ported = int(c.proto[i]) in (6, 17)
            key = (int(c.src[i]), int(c.dst[i]), int(c.proto[i]),
                   int(c.sport[i]) if ported else 0, int(c.dport[i]) if ported else 0)
            dec[i] = bp.labels(label_expired(net, nic, key, net.firewall_rules[fw].name
                                             if fw >= 0 else None))
            bp.pending_sessions.register_internet(int(dec[i]))
            if fw >= 0:  # through the firewall that SNATed it: a new flow, denied there
                disp[i] = D.FIREWALL_DENIED
                nodes[i, 0], nodes[i, 1] = net.internet_node, fw + len(net.nics)
        for reply in (False, True):
            pick = exposed & (public != reply)
            ok, tok = p[pick], t[pick]
            for nic in np.unique(tok).tolist():
                q = ok[tok == nic]
                nodes[q, 0] = nic
                bp.deliver(c, est, q, np.full(q.size, nic, np.int32),
                           bp.labels(label_internet(net, nic, reply)), nodes,
                           np.zeros(c.src.size, np.int64), disp, dec, active)


def edge_stage(bp: Any, c: Any, idx: np.ndarray, rid: np.ndarray, nh: np.ndarray,
               disp: np.ndarray, dec: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Internet route to a non-routable destination -> NON_ROUTABLE; returns keep (over idx)."""
    from dataplane.engine.compile import NH_INTERNET

    m = nh == NH_INTERNET
    if m.any():
        m[m] = net_nonroutable(bp.net, c.dst[idx[m]])
        sel = idx[m]
        disp[sel] = D.NON_ROUTABLE
        dec[sel] = bp.route_label[rid[m]]
        active[sel] = False
    return ~m


def net_nonroutable(net: Network, ip: np.ndarray) -> np.ndarray:
    return net.ingress.nonroutable_np(ip)


def transit_stage(bp: Any, c: Any, est: np.ndarray, idx: np.ndarray, rid: np.ndarray,
                  a: np.ndarray, b: np.ndarray, prev: np.ndarray, nodes: np.ndarray,
                  pos: np.ndarray, disp: np.ndarray, dec: np.ndarray, active: np.ndarray
                  ) -> None:
    """From a gateway (on-premises ingress) over a peering route into another VNet."""
    program = bp.net.program
    k = (b.astype(np.int64) << 32) | c.dst[idx]
    if program.addr_keys.size:
        at = np.minimum(np.searchsorted(program.addr_keys, k), program.addr_keys.size - 1)
        target = np.where(program.addr_keys[at] == k, program.addr_nic[at], -1)
    else:
        target = np.full(idx.size, -1)
    six = c.family[idx] == 6  # IPv6 from on-premises (ExpressRoute): the NIC by its halves
    if six.any():
        target = np.where(six, bp.addresses.owner_np(
            b, c.family[idx], c.dst_hi[idx], np.where(six, c.dst_lo[idx], 0)), target)
    miss = target < 0
    disp[idx[miss]] = D.NO_DESTINATION
    active[idx[miss]] = False
    idx, rid, a, b, prev, target = (x[~miss] for x in (idx, rid, a, b, prev, target))
    ok = peering.decide_np(bp.net, bp.labels, bp.peer_label, c.src[idx], idx, a, b, prev,
                           np.ones(idx.size, bool), disp, dec, active, c.family[idx] == 6,
                           c.src_hi[idx], c.src_lo[idx])
    idx, rid, target = idx[ok], rid[ok], target[ok]
    bp.deliver(c, est, idx, target.astype(np.int32), 0, nodes, pos, disp, dec, active)
    dec[idx[disp[idx] == D.DELIVERED]] = bp.route_label[rid[disp[idx] == D.DELIVERED]]


# -- gateway routes: ECMP choice ---------------------------------------------------------------
def _own(net: Network, members: list[int], current: int) -> int:
    """Index of the member whose NVA is the current node (an NVA sending to a prefix it
    advertises keeps it), -1 when none."""
    return next((k for k, m in enumerate(members) if int(net.route_appliance[m]) == current), -1)


def ecmp(net: Network, rid: int, route: EffectiveRoute, hop: dict[str, Any], current: int,
         p: Any) -> tuple[int, EffectiveRoute]:
    """Reference form: the member of `rid`'s equal-cost group this flow takes (route id and
    row); the route hop is updated to name it. `p`: the packet (src, dst, proto, ports)."""
    members = net.ingress.routes.group(rid)
    if len(members) <= 1:
        return rid, route
    k = _own(net, members, current)
    if k < 0:
        k = flow_hash_of(p.family, p.src, p.dst, p.proto, p.sport, p.dport) % len(members)
    chosen = net.ingress.routes.members[members[k]]
    hop.update(route=net.route_labels[members[k]], ecmp=f"{k + 1} of {len(members)}",
               nextHopIpAddress=str(chosen.next_hop_ip[0]) if chosen.next_hop_ip else None)
    return members[k], chosen


def ecmp_np(net: Network, c: Any, idx: np.ndarray, rid: np.ndarray, nodes: np.ndarray,
            pos: np.ndarray) -> np.ndarray:
    """Batch form: route ids (over idx) rewritten to the chosen group member; `nodes`/`pos`
    give each row's current node (the last on its path)."""
    r = net.ingress.routes
    if not r.has_groups:
        return rid
    size = r.group_off[rid + 1] - r.group_off[rid]
    m = size > 1
    if not m.any():
        return rid
    out = rid.copy()
    rows = idx[m]
    current = nodes[rows, pos[rows] - 1]
    src, dst = c.src[rows], c.dst[rows]
    six = c.family[rows] == 6  # IPv6 addresses folded to 32 bits (lb-hash-ipv6)
    if six.any():
        src = np.where(six, fold6_np(c.src_hi[rows], c.src_lo[rows]).astype(np.int64), src)
        dst = np.where(six, fold6_np(c.dst_hi[rows], c.dst_lo[rows]).astype(np.int64), dst)
    h = flow_hash_np(src, dst, c.proto[rows], c.sport[rows], c.dport[rows])
    first = r.group_off[rid[m]]
    k = (h % size[m].astype(np.uint64)).astype(np.int64)
    found = np.zeros(rows.size, bool)
    for j in range(int(size[m].max())):  # the NVA's own row first
        within = ~found & (j < size[m])
        cand = r.group_rid[np.where(within, first + j, first)]
        own = within & (net.route_appliance[cand] == current)
        k[own] = j
        found |= own
    out[m] = r.group_rid[first + k]
    return out


# -- gateway routes: crossing the gateways -----------------------------------------------------
def cross(net: Network, rid: int, route: EffectiveRoute, dst: int, path_len: int,
          family: int = 4) -> tuple[tuple[D, str] | None, list[int], int, dict[str, Any]]:
    """Reference form for a gateway row (not a Route Server row): (the end (disposition,
    label) or None to continue, the gateway nodes appended to the path, the subnet the packet
    continues in (-1 when it ends), the hop dict). `path_len`: nodes on the path so far.
    `family` 6: the gateway's learned paths and static sites (IPv4) are not looked up; an
    IPv4-only gateway (`IngressTables.ipv4_only`) ends it GATEWAY_IPV4_ONLY."""
    from dataplane.engine.compile import MAX_HOPS

    r = net.ingress.routes
    label = net.route_labels[rid]
    gw = int(net.route_gateway[rid])
    hop: dict[str, Any] = {"step": "gateway", "transit": route.transit_link is not None}
    if gw < 0:
        hop["result"] = "NoGateway"
        return (D.NO_ROUTE, label), [], -1, hop
    hop["at"] = net.node_names[gw]
    if route.next_hop_ip:
        hop["instance"] = str(route.next_hop_ip[0])
    if family == 6 and gw in net.ingress.ipv4_only:
        hop["result"] = "IPv4Only"
        return (D.GATEWAY_IPV4_ONLY, net.ingress.ipv4_only[gw]), [gw], -1, hop
    if rid in r.members:
        path, dest = [gw, *r.via(rid)], int(r.dest_vnet[rid])
        entry, egress, where = int(r.entry_subnet[rid]), r.egress[rid], r.site[rid]
    else:  # a user route to the gateway: the gateway forwards by what it learned
        found = net.ingress.learned_at(gw, dst) if family == 4 else None
        path, dest, entry, egress, where = ([gw], -1, -1, None, None) if found is None else (
            [gw, *found.via], found.dest_vnet, found.entry_subnet, found.egress, found.site)
    if len(path) > 1:
        hop["via"] = [net.node_names[n] for n in path[1:]]
    if path_len + len(path) >= MAX_HOPS + 2:
        hop["result"] = "HopLimitExceeded"
        return (D.LOOP, "hop limit"), [], -1, hop
    if dest >= 0:
        hop["toVnet"] = net.vnet_names[dest]
        hop["result"] = "VnetToVnet" if entry >= 0 else "NoGatewaySubnet"
        if entry < 0:
            return (D.NEXT_HOP_UNREACHABLE, label), path, -1, hop
        return None, path, entry, hop
    if egress:
        hop["connection"] = egress
        if where is not None:
            hop[where[0]] = where[1]
    else:  # a static site prefix names the connection
        site = net.ingress.exit_site(gw, dst) if family == 4 else None
        if site is not None:
            hop.update({"connection": site.connection, site.site_key: site.site})
        elif family == 4 and rid not in r.members and not net.ingress.covers(gw, dst):
            # a user route, and nothing behind the gateway covers dst
            hop["result"] = "NoSiteCovers"
            return (D.EXITS_ON_PREMISES, uncovered_label(net, gw, label)), path, -1, hop
    return (D.EXITS_ON_PREMISES, label), path, -1, hop


def uncovered_label(net: Network, gateway_node: int, route_label: str) -> str:
    """The deciding label of a packet a user route sends to a gateway when no local network
    gateway prefix and no learned route of that gateway covers its destination (forced
    tunnelling without a Default Site or a BGP default route): it still leaves for
    on-premises here, and the label says what Azure needs ("About forced tunneling for
    site-to-site", https://learn.microsoft.com/azure/vpn-gateway/about-site-to-site-tunneling:
    a Default Site or a 0.0.0.0/0 advertised over BGP; a Default Site, `gatewayDefaultSite`,
    is not read here)."""
    return (f"{route_label} ({net.node_names[gateway_node]}: no local network gateway "
            "prefix or learned route covers the destination; Azure tunnels it only with a "
            "Default Site or a BGP default route: 'About forced tunneling for site-to-site')")


def nva_exit(net: Network, rid: int, app: int, current: int) -> dict[str, Any] | None:
    """Reference form of `route-server-nva-egress`: the hop when a Route Server row leads the
    packet to the NVA it is at (it leaves through it), else None."""
    r = net.ingress.routes
    if app < 0 or app != current or not bool(r.to_nva[rid]):
        return None
    return {"step": "gateway", "at": net.node_names[app], "kind": "RouteServerPeer",
            "connection": r.egress[rid], "result": "LeavesThroughNva"}


def hop_np(bp: Any, c: Any, idx: np.ndarray, rid: np.ndarray, nh: np.ndarray,
           nodes: np.ndarray, pos: np.ndarray, subnet: np.ndarray, disp: np.ndarray,
           dec: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Batch form of `cross` (rows whose next-hop code is the gateway's) and of `nva_exit`;
    returns the mask (over idx) of rows left to the other stages. Rows entering a VNet over
    VNet-to-VNet stay active in its GatewaySubnet at the last gateway."""
    from dataplane.engine.compile import NH_GATEWAY

    net = bp.net
    r = net.ingress.routes
    width = nodes.shape[1]
    keep = np.ones(idx.size, bool)
    out = r.to_nva[rid] if r.to_nva.size and r.to_nva.any() else None
    if out is not None and out.any():
        app = net.route_appliance[rid[out]]
        here = np.flatnonzero(out)[(app >= 0) & (app == nodes[idx[out], pos[idx[out]] - 1])]
        _stop(idx[here], D.EXITS_ON_PREMISES, bp.route_label[rid[here]], disp, dec, active)
        keep[here] = False
    m = nh == NH_GATEWAY
    if not m.any():
        return keep
    keep &= ~m
    gw = net.route_gateway[rid]
    none = m & (gw < 0)
    _stop(idx[none], D.NO_ROUTE, bp.route_label[rid[none]], disp, dec, active)
    m &= gw >= 0
    if net.ingress.ipv4_only and m.any():  # IPv6 rows at an IPv4-only gateway (reference cross)
        six = m & (c.family[idx] == 6)
        for g, text in net.ingress.ipv4_only.items():
            stop = six & (gw == g)
            if stop.any():
                nodes[idx[stop], pos[idx[stop]]] = g
                pos[idx[stop]] += 1
                _stop(idx[stop], D.GATEWAY_IPV4_ONLY, bp.labels(text), disp, dec, active)
                m &= ~stop
    sel, srid, sgw = idx[m], rid[m], gw[m]
    nvia, vias, dest, entry = _crossings(net, srid, sgw, np.where(  # IPv4 learned paths:
        c.family[sel] == 6, -1, c.dst[sel]))  # never an IPv6 row's (reference `cross`)
    over = pos[sel] + 1 + nvia >= width
    _stop(sel[over], D.LOOP, bp.l_hoplimit, disp, dec, active)
    sel, srid, sgw, nvia, vias, dest, entry = (
        x[~over] for x in (sel, srid, sgw, nvia, vias, dest, entry))
    nodes[sel, pos[sel]] = sgw
    for j in range(vias.shape[1]):
        has = nvia > j
        nodes[sel[has], pos[sel[has]] + 1 + j] = vias[has, j]
    pos[sel] += 1 + nvia
    dest = dest >= 0
    label = bp.route_label[srid]  # a copy (fancy index): relabelled below
    bare = np.flatnonzero(~dest & ~r.learned_row[srid] & (c.family[sel] == 4))
    bare = bare[~net.ingress.covers_np(sgw[bare], c.dst[sel[bare]])]  # a user route no site
    if bare.size:  # or learned route covers (reference cross)
        for g, rid_ in set(zip(sgw[bare].tolist(), srid[bare].tolist(), strict=True)):
            label[bare[(sgw[bare] == g) & (srid[bare] == rid_)]] = bp.labels(
                uncovered_label(net, g, net.route_labels[rid_]))
    _stop(sel[~dest], D.EXITS_ON_PREMISES, label[~dest], disp, dec, active)
    lost = dest & (entry < 0)
    _stop(sel[lost], D.NEXT_HOP_UNREACHABLE, bp.route_label[srid[lost]], disp, dec, active)
    go = dest & (entry >= 0)
    subnet[sel[go]] = entry[go]
    return keep


def _crossings(net: Network, rid: np.ndarray, gw: np.ndarray, dst: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Batch form of the path choice in `cross`, per row of a gateway route `rid` at local
    gateway node `gw` to address `dst`: (remote gateways crossed (n,), their nodes (n, k),
    destination VNet (n,), entry subnet (n,)); a user route follows what the gateway learned
    (`IngressTables.learned_at`)."""
    r = net.ingress.routes
    nvia = (r.via_off[rid + 1] - r.via_off[rid]).astype(np.int64)
    dest = r.dest_vnet[rid].astype(np.int64)
    entry = r.entry_subnet[rid].astype(np.int64)
    user = ~r.learned_row[rid]
    at = np.unique(gw[user]).tolist()
    widest = max([int(nvia.max()) if nvia.size else 0]
                 + [len(x.via) for g in at for x in net.ingress.learned.get(g, ())])
    vias = np.zeros((rid.size, widest), np.int64)
    for j in range(int(nvia.max()) if nvia.size else 0):
        has = nvia > j
        vias[has, j] = r.via_node[r.via_off[rid[has]] + j]
    done = ~user
    for g in at:
        for x in net.ingress.learned.get(g, ()):  # most specific first
            hit = ~done & (gw == g) & (dst >= x.prefix_first) & (dst <= x.prefix_last)
            nvia[hit], dest[hit], entry[hit] = len(x.via), x.dest_vnet, x.entry_subnet
            vias[np.ix_(hit, np.arange(len(x.via)))] = np.array(x.via, np.int64)
            done |= hit
    return nvia, vias, dest, entry


def _stop(sel: np.ndarray, d: D, label: np.ndarray | int, disp: np.ndarray, dec: np.ndarray,
          active: np.ndarray) -> None:
    disp[sel] = d
    dec[sel] = label
    active[sel] = False
