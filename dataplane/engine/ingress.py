"""The network's edges: traffic entering from on-premises, the Internet or the Azure load
balancer's probe address, and Internet routes that select a non-routable destination.

Takes: a Topology and the engine's node/VNet/subnet indices (compile.py). Emits
`IngressTables` and the batch stages the dispatcher calls (`enter_stage` once per batch,
`edge_stage`/`transit_stage` per hop; delivery through the dispatcher's `deliver`,
stages/deliver.py); reference.py uses the
same tables and labels. A packet whose source is no emulated NIC is classified, in order:
1 on-premises: the source lies in a LocalNetworkGateway's prefixes behind a connection of a
  VPN/ExpressRoute gateway (first such connection in topology order). It enters at that
  gateway and is routed with the effective routes of its VNet's GatewaySubnet (so UDRs on
  the GatewaySubnet, e.g. to a hub NVA or an ILB, apply; docs/azure-behaviour.md §3.2, 3.4). From the
  gateway it may cross a peering only into a VNet that uses this gateway through gateway
  transit (spoke link useRemoteGateways + hub link allowGatewayTransit, both Connected; 4.1,
  4.4), otherwise TRANSIT_BLOCKED (Azure does not advertise that VNet to on-premises);
  allowForwardedTraffic is not required for gateway transit (it governs NVA-forwarded
  traffic; an appliance next hop in another VNet is checked as ordinary peering traffic).
  No NSG applies at the gateway; the destination's inbound NSG does (subnet, NIC).
  Without a GatewaySubnet in the model the packet stays UNMAPPED.
2 the AzureLoadBalancer probe source 168.63.129.16 (2.3) to an emulated NIC address: the
  destination's inbound NSG decides (default rule AllowAzureLoadBalancerInBound, 2.2).
3 the Internet (a public source outside every VNet) to an emulated NIC address. The model
  holds public IP references, not their addresses, so we take the packet as already
  translated (NSGs run after inbound NAT, 2.1): it is delivered through the NIC's inbound
  NSG only when the IP configuration holding the address has a public IP attached;
  otherwise it stays UNMAPPED, labelled "ingress internet: VM has no public IP" (Azure would
  not deliver it; in a replay the source is often just an unmapped endpoint). Replies to a flow the VM opened (stateful, established) are
  delivered without a public IP (default outbound access / SNAT). Load-balancer public
  frontends and NAT gateways are not modelled.
Anything else stays UNMAPPED. Ingress paths start at the gateway node (on-premises) or at
the destination NIC (probe, Internet: arrival time = capture time).
Internet edge (assumption `internet-non-routable`): a route with next hop Internet that
selects a destination in the non-Internet space (control/tags.NOT_INTERNET: RFC 1918,
RFC 6598, loopback, link-local, multicast, reserved; 2.3 "RFC1918 space is not in Internet")
leaves the VNet but is dropped at Azure's edge: NON_ROUTABLE, deciding the route. The None
system routes normally catch RFC 1918 first (3.1); this arises with a user route to Internet,
or with the other reserved ranges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from dataplane.control.tags import NOT_INTERNET
from dataplane.dispositions import Disposition as D
from dataplane.engine.stages import peering
from dataplane.model import LocalNetworkGateway, Topology, id_key

if TYPE_CHECKING:  # pragma: no cover
    from dataplane.engine.compile import Network

PROBE_IP = (168 << 24) | (63 << 16) | (129 << 8) | 16
INGRESS_ASSUMPTIONS = (
    "ingress-onprem: a packet from a local network gateway's prefixes enters at the VPN "
    "gateway and is routed with the GatewaySubnet's routes; it reaches a peered VNet only "
    "through gateway transit (useRemoteGateways/allowGatewayTransit), without needing "
    "allowForwardedTraffic.",
    "ingress-internet: public IP addresses are not modelled; a packet from the Internet to a "
    "VM's private address is taken as already translated and is delivered only when that IP "
    "configuration has a public IP (else it stays UNMAPPED, labelled 'no public IP'), or "
    "when it answers a flow the VM opened.",
    "internet-non-routable: a route with next hop Internet that selects a non-Internet "
    "destination (RFC 1918, RFC 6598, loopback, link-local, multicast) is dropped at the "
    "Azure edge (NON_ROUTABLE).",
)


@dataclass
class Site:
    prefix_first: int
    prefix_last: int
    gateway_node: int
    connection: str
    site: str
    prefix: str


@dataclass
class IngressTables:
    sites: list[Site] = field(default_factory=list)
    entry_subnet: dict[int, int] = field(default_factory=dict)   # gateway node -> subnet
    serves: dict[int, frozenset[int]] = field(default_factory=dict)  # gateway node -> VNets
    public: frozenset[int] = frozenset()   # private addresses with a public IP attached
    nonroutable_lo: np.ndarray = field(default_factory=lambda: np.array(
        [p.first for p in NOT_INTERNET], np.int64))
    nonroutable_hi: np.ndarray = field(default_factory=lambda: np.array(
        [p.last for p in NOT_INTERNET], np.int64))

    def site_of(self, src: int) -> Site | None:
        return next((s for s in self.sites if s.prefix_first <= src <= s.prefix_last), None)

    def exit_site(self, gateway_node: int, dst: int) -> Site | None:
        return next((s for s in self.sites if s.gateway_node == gateway_node
                     and s.prefix_first <= dst <= s.prefix_last), None)

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
        for prefix in site.address_prefixes:
            if prefix.version == 4:
                out.sites.append(Site(prefix.first, prefix.last, node, conn.name, site.name,
                                      str(prefix)))
    for gw in topology.virtual_network_gateways:
        node = gateway_nodes[id_key(gw.id)]
        vnet = topology.get(gw.virtual_network)
        for sub in getattr(vnet, "subnets", ()):
            if sub.name.lower() == "gatewaysubnet" and id_key(sub.id) in subnet_index:
                out.entry_subnet[node] = subnet_index[id_key(sub.id)]
        served = set()
        for v in topology.virtual_networks:
            if any(id_key(r.gateway.id) == id_key(gw.id) for r in reachable_gateways(topology, v)):
                served.add(vnet_index[id_key(v.id)])
        out.serves[node] = frozenset(served)
    out.public = frozenset(
        c.private_ip_address.value for nic in topology.network_interfaces
        for c in nic.ip_configurations
        if c.public_ip_address and c.private_ip_address is not None
        and c.private_ip_address.version == 4)
    return out


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


def _in_vnets(net: Network, ip: int) -> bool:
    return any(bool(((lo <= ip) & (ip <= hi)).any()) for lo, hi in zip(
        net.vnet_lo, net.vnet_hi, strict=True))


def label_probe() -> str:
    return "probe AzureLoadBalancer 168.63.129.16"


def label_internet(net: Network, nic: int, reply: bool = False) -> str:
    """`reply`: the address has no public IP; only a reply of a flow the VM opened gets in."""
    if reply:
        return f"ingress internet to {net.node_names[nic]} (reply of a flow it opened)"
    return f"ingress internet to {net.node_names[nic]} (public IP)"


def label_not_exposed(net: Network, nic: int) -> str:
    return f"ingress internet: {net.node_names[nic]} has no public IP (source not mapped)"


# -- batch stages --------------------------------------------------------------------------
def enter_stage(bp: Any, c: Any, est: np.ndarray, disp: np.ndarray, dec: np.ndarray,
                nodes: np.ndarray, pos: np.ndarray, active: np.ndarray, subnet: np.ndarray
                ) -> None:
    """Once per batch, before the hop loop: packets marked UNMAPPED are classified; on-premises
    ones become active at their gateway with the GatewaySubnet as current subnet; probe and
    Internet ones are decided here (inbound NSG at the destination)."""
    net = bp.net
    ing = net.ingress
    un = np.flatnonzero(disp == D.UNMAPPED)
    if un.size == 0:
        return
    src = c.src[un]
    gw = np.full(un.size, -1, np.int64)
    for s in reversed(ing.sites):  # the first site in topology order wins
        if s.gateway_node in ing.entry_subnet:
            gw[(src >= s.prefix_first) & (src <= s.prefix_last)] = s.gateway_node
        else:
            gw[(src >= s.prefix_first) & (src <= s.prefix_last)] = -2
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
        exposed = public | est[p]
        closed = p[~exposed]
        for nic in np.unique(t[~exposed]).tolist():
            q = closed[t[~exposed] == nic]  # stays UNMAPPED, with the reason as its label
            dec[q] = bp.labels(label_not_exposed(net, nic))
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
    miss = target < 0
    disp[idx[miss]] = D.NO_DESTINATION
    active[idx[miss]] = False
    idx, rid, a, b, prev, target = (x[~miss] for x in (idx, rid, a, b, prev, target))
    ok = peering.decide_np(bp.net, bp.labels, bp.peer_label, c.src[idx], idx, a, b, prev,
                           np.ones(idx.size, bool), disp, dec, active)
    idx, rid, target = idx[ok], rid[ok], target[ok]
    bp.deliver(c, est, idx, target.astype(np.int32), 0, nodes, pos, disp, dec, active)
    dec[idx[disp[idx] == D.DELIVERED]] = bp.route_label[rid[disp[idx] == D.DELIVERED]]
