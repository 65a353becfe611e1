"""Stage: the public edge -- private endpoints, public IPs inbound, outbound access (both forms).

Contract. Takes a packet whose Active route (stages/route.py) has next hop type
InterfaceEndpoint (control/routes.py: a private endpoint's /32 in its VNet and directly peered
VNets). Ends it with Disposition.PRIVATE_ENDPOINT, deciding label `endpoint_label`: the
endpoint and the private link resource it reaches (privateLinkServiceId and groupIds), as
"What is a private endpoint?" (https://learn.microsoft.com/azure/private-link/
private-endpoint-overview, "Private endpoint properties") describes the connection. What the
service then does (its own firewall, the service's answer) is outside the virtual network and
not emulated; name resolution (private DNS zones) is out of scope: the packet's destination
address is taken as written.
Network security groups: with privateEndpointNetworkPolicies Disabled (the default) the
endpoint's subnet NSG does not apply to it ("Manage network policies for private endpoints",
https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy). When
the policy is enabled for NSGs and the subnet has one, that NSG is not evaluated here yet: the
label says so (a named caveat on every such packet).
Reference form `reach` (one packet, a hop dict for explain); batch form `reach_np` (the
packets of one hop whose next hop code is NH_ENDPOINT). Peering checks on the way to an
endpoint in a peered VNet are the caller's (the same as for any peered destination).

Inbound to an instance public IP (`inbound`, `inbound_np`): a packet from outside every VNet
whose destination is the address of a public IP on a NIC's IP configuration
(control/public_addresses.py) is DNATed to that configuration's private address; replies are
un-NATed by the connection table (engine/conntrack.py, the load balancer's mechanism). NSGs
then decide as for any Internet packet (they run after inbound NAT: "Network security
groups", https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview,
"Security rules"). A Standard public IP is closed to inbound until an NSG allows it: with no
NSG on the NIC nor its subnet the packet ends PUBLIC_IP_CLOSED; a Basic one is open ("Public
IP addresses", https://learn.microsoft.com/azure/virtual-network/ip-services/
public-ip-addresses, "SKU": Standard "secure by default and closed to inbound traffic",
Basic "open by default"). A packet addressed to the private address directly is the ingress
stage's (stages/gateway.py, "taken as already translated"; the same closed rule applies there).
Outbound (`outbound_label`, `exit_np`): a new flow leaving for the Internet from a NIC whose
outbound method (control/outbound.py) is `None` -- a private subnet, nothing explicit -- ends
NO_OUTBOUND_ACCESS ("Default outbound access in Azure", https://learn.microsoft.com/azure/
virtual-network/ip-services/default-outbound-access).
Source translation (`snat`, `snat_np`): a new flow (no conntrack entry) leaving for the Internet
from a NIC takes the source of its outbound method: an instance public IP's address with the
port kept (the NIC's 1:1 address: "Source Network Address Translation (SNAT) for outbound
connections", https://learn.microsoft.com/azure/load-balancer/load-balancer-outbound-connections,
"Public IP address assigned to the VM"); a NAT gateway's, a load balancer outbound rule's or a
load-balancing rule's first public address with a SNAT port (assumption `snat-port`: Azure
picks ports from a pool we cannot know; here 1024 + a hash of the flow's 5-tuple modulo 64512,
the same in every batch split; port exhaustion is not modelled). Default outbound access keeps
the private source: its address is Microsoft's and "subject to change" (same page as above;
named in the exit hop). Only a packet leaving from the NIC it was sent from is translated: one
an appliance or firewall forwarded keeps the source it arrived with (their own outbound
translation is not modelled; assumption `snat-port`).
Replies from the Internet to the public address:port are un-SNATed by the connection table
(engine/conntrack.py). An unsolicited packet from the Internet to a NAT gateway's public address
ends NAT_OUTBOUND_ONLY: NAT gateway provides outbound connectivity only; inbound traffic is
allowed only as the response to an outbound flow ("Azure NAT Gateway resource",
https://learn.microsoft.com/azure/nat-gateway/nat-gateway-resource; "What is Azure NAT
Gateway?", https://learn.microsoft.com/azure/nat-gateway/nat-overview).
IPv6 Internet egress and ingress: stages/public_edge6.py (instance public IPv6 SNAT/DNAT, the
rule that IPv6 Internet needs a requested public IPv6, assumption `ipv6-internet-egress`). Here:
`nonroutable6`, `nonroutable6_np`: a destination outside 2000::/3 (global unicast: the Internet
tag's IPv6 range, control/program.py) through an Internet route ends NON_ROUTABLE, as IPv4
non-routable space does (stages/gateway.py).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dataplane.control.outbound import (
    DEFAULT_OUTBOUND,
    INSTANCE_PUBLIC_IP,
    NONE,
    outbound_access,
)
from dataplane.control.public_addresses import closed_to_inbound, public_address
from dataplane.control.routes import EffectiveRoute
from dataplane.engine.conntrack import SNAT_PORT_COUNT, SNAT_PORT_FIRST
from dataplane.model import NatGateway, PrivateEndpoint, PublicIPAddress, Subnet, Topology

NSG_POLICIES = ("Enabled", "NetworkSecurityGroupEnabled")


def endpoint_label(topology: Topology, route: EffectiveRoute) -> str:
    """'private endpoint NAME -> TARGET (groupIds)' for a route with `private_endpoint` set,
    plus the NSG caveat when the endpoint's subnet applies an NSG the engine does not
    evaluate here."""
    endpoint = topology.get(route.private_endpoint)
    if not isinstance(endpoint, PrivateEndpoint):
        return f"route System {route.address_prefix} InterfaceEndpoint"
    text = f"private endpoint {endpoint.name} -> {endpoint.target or 'no connection'}"
    subnet = topology.get(endpoint.subnet)
    if (isinstance(subnet, Subnet) and subnet.network_security_group
            and subnet.private_endpoint_network_policies in NSG_POLICIES):
        text += (f" (caveat: NSG {subnet.network_security_group.rsplit('/', 1)[-1]} of its "
                 "subnet applies to the endpoint and is not evaluated)")
    return text


# -- reference form --------------------------------------------------------------------------
def reach(route: EffectiveRoute, label: str) -> dict[str, Any]:
    """The explain hop of a packet handed to a private endpoint."""
    return {"step": "private-endpoint", "at": route.private_endpoint,
            "result": "PrivateEndpoint", "privateLinkService": label}


# -- batch form ------------------------------------------------------------------------------
def reach_np(end: Callable[[np.ndarray, Any, np.ndarray], None], disposition: Any,
             idx: np.ndarray, rid: np.ndarray, route_label: np.ndarray) -> None:
    """End packets `idx` (at routes `rid`) with `disposition` and their endpoint labels."""
    if idx.size:
        end(idx, disposition, route_label[rid])


@dataclass(frozen=True)
class EdgeTables:
    """Per compiled network: instance public IPs sorted by address (`public_keys`), their
    private address, NIC node, closed flag (Standard without any NSG) and name; per node,
    whether a new Internet-bound flow leaving it has no outbound access (`no_outbound`)."""

    public_keys: np.ndarray  # int64, sorted
    private: np.ndarray  # int64
    nic: np.ndarray  # int32 node
    closed: np.ndarray  # bool
    names: tuple[str, ...]
    no_outbound: np.ndarray  # bool per node
    no_outbound_label: tuple[str, ...]  # per node ('' where access exists)
    outbound_text: tuple[str, ...]  # per node: 'Method name (addresses)' for explain
    snat_ip: np.ndarray  # int64 per node: the translated source address, -1 none
    snat_keeps_port: np.ndarray  # bool per node: an instance public IP (1:1, port kept)
    outbound_only_keys: np.ndarray  # int64, sorted: NAT gateway public addresses
    outbound_only_names: tuple[str, ...]  # the NAT gateway of each


_TABLES: weakref.WeakKeyDictionary[Any, EdgeTables] = weakref.WeakKeyDictionary()


def tables(net: Any) -> EdgeTables:
    """The public-edge tables of a compiled Network (engine/compile.py), built once."""
    found = _TABLES.get(net)
    if found is not None:
        return found
    topology = net.topology
    rows = []
    for i, nic in enumerate(net.nics):
        for config in nic.ip_configurations:
            pip = topology.get(config.public_ip_address)
            address = public_address(topology, pip) if isinstance(pip, PublicIPAddress) else None
            if address is None or address.version != 4 or config.private_ip_address is None \
                    or config.private_ip_address.version != 4:
                continue
            rows.append((address.value, config.private_ip_address.value, i,
                         closed_to_inbound(topology, nic, config), pip.name))  # type: ignore[union-attr]
    rows.sort()
    n_nodes = len(net.node_names)
    no_out = np.zeros(n_nodes, dtype=bool)
    labels, texts = [""] * n_nodes, [""] * n_nodes
    snat_ip = np.full(n_nodes, -1, dtype=np.int64)
    keeps_port = np.zeros(n_nodes, dtype=bool)
    for i, nic in enumerate(net.nics):
        if net.node_subnet[i] < 0:
            continue
        out = outbound_access(topology, nic)
        if out.method == NONE:
            no_out[i] = True
            labels[i] = outbound_label(topology, nic)
        name = f" {out.resource.rsplit('/', 1)[-1]}" if out.resource else ""
        addresses = ", ".join(str(a) for a in out.public_addresses) or "address not known"
        if out.method not in (NONE, DEFAULT_OUTBOUND) and out.public_addresses:
            snat_ip[i] = out.public_addresses[0].value
            keeps_port[i] = out.method == INSTANCE_PUBLIC_IP
        kept = "" if snat_ip[i] >= 0 else "; the engine keeps the private source"
        texts[i] = f"{out.method}{name} ({addresses}{kept})" if out.method != NONE else ""
    only = sorted({(a.value, nat.name) for nat in topology.nat_gateways
                   if isinstance(nat, NatGateway)
                   for a in (public_address(topology, p) for p in nat.public_ip_addresses)
                   if a is not None and a.version == 4})
    found = EdgeTables(
        public_keys=np.array([r[0] for r in rows], dtype=np.int64),
        private=np.array([r[1] for r in rows], dtype=np.int64),
        nic=np.array([r[2] for r in rows], dtype=np.int32),
        closed=np.array([r[3] for r in rows], dtype=bool),
        names=tuple(r[4] for r in rows), no_outbound=no_out, no_outbound_label=tuple(labels),
        outbound_text=tuple(texts), snat_ip=snat_ip, snat_keeps_port=keeps_port,
        outbound_only_keys=np.array([o[0] for o in only], dtype=np.int64),
        outbound_only_names=tuple(o[1] for o in only))
    _TABLES[net] = found
    return found


def closed_label(name: str) -> str:
    return f"public IP {name} (Standard): closed to inbound, no NSG allows it"


def outbound_label(topology: Topology, nic: Any) -> str:
    config = next((c for c in nic.ip_configurations if c.primary), nic.ip_configurations[0])
    return (f"outbound none: subnet {config.subnet.rsplit('/', 1)[-1]} is private "
            "(defaultOutboundAccess false) and no NAT gateway, public IP or load balancer "
            "gives it outbound access")


def outbound_only_label(name: str) -> str:
    return (f"NAT gateway {name}: outbound only, no flow from the VNet to answer "
            "(unsolicited inbound is dropped)")


def _find(t: EdgeTables, dst: np.ndarray, keys: np.ndarray | None = None) -> np.ndarray:
    """Row of `keys` (default t.public_keys, sorted) holding each dst (-1 where none)."""
    keys = t.public_keys if keys is None else keys
    if keys.size == 0:
        return np.full(dst.size, -1, dtype=np.int64)
    at = np.searchsorted(keys, dst)
    atc = np.minimum(at, keys.size - 1)
    return np.where(keys[atc] == dst, atc, -1)


def snat_port_np(src: np.ndarray, dst: np.ndarray, proto: np.ndarray, sport: np.ndarray,
                 dport: np.ndarray) -> np.ndarray:
    """int32[n] SNAT ports in [1024, 65535] from the original 5-tuples (assumption
    `snat-port`): a 64-bit multiplicative hash, the same for a flow in any batch."""
    u = np.uint64
    h = (np.asarray(src).astype(u) * u(0x9E3779B97F4A7C15)) ^ (
        np.asarray(dst).astype(u) * u(0xC2B2AE3D27D4EB4F))
    h ^= ((np.asarray(proto).astype(u) << u(32)) | (np.asarray(sport).astype(u) << u(16))
          ^ np.asarray(dport).astype(u)) * u(0x165667B19E3779F9)
    h ^= h >> u(29)
    return (SNAT_PORT_FIRST + h % u(SNAT_PORT_COUNT)).astype(np.int32)


# -- reference form (inbound, outbound) --------------------------------------------------------
def inbound(net: Any, p: Any, established: bool) -> tuple[Any, dict[str, Any] | None, str]:
    """(packet, hop or None, closed label or ''): DNAT of a packet to an instance public IP;
    an unsolicited packet to a NAT gateway's address gets the outbound-only label (the caller
    tells the two apart by the hop's result)."""
    t = tables(net)
    row = int(_find(t, np.array([p.dst], dtype=np.int64))[0])
    if row < 0:
        only = int(_find(t, np.array([p.dst], dtype=np.int64), t.outbound_only_keys)[0])
        if only >= 0 and not established:
            name = t.outbound_only_names[only]
            return p, {"step": "nat", "at": name, "kind": "NAT gateway",
                       "result": "OutboundOnly"}, outbound_only_label(name)
        return p, None, ""
    hop = {"step": "nat", "at": t.names[row], "kind": "DNAT (public IP)",
           "original": {"destinationIp": _ip(p.dst)},
           "translated": {"destinationIp": _ip(int(t.private[row]))}}
    if t.closed[row] and not established:
        return p, {**hop, "result": "ClosedToInbound"}, closed_label(t.names[row])
    return p._replace(dst=int(t.private[row])), hop, ""


def outbound_text(net: Any, node: int) -> str:
    """'Method resource (addresses; ...)' of the outbound method at `node`, '' if none."""
    t = tables(net)
    return t.outbound_text[node] if 0 <= node < len(t.outbound_text) else ""


def snat(net: Any, node: int, p: Any, established: bool) -> tuple[Any, dict[str, Any] | None]:
    """(packet, hop or None): a new flow leaving `node` for the Internet takes its outbound
    method's source address (and SNAT port unless an instance public IP; module docstring)."""
    t = tables(net)
    if established or node != p.nic or not 0 <= node < t.snat_ip.size or t.snat_ip[node] < 0:
        return p, None
    port = p.sport
    if p.proto in (6, 17) and not t.snat_keeps_port[node]:
        port = int(snat_port_np(*(np.array([v]) for v in (p.src, p.dst, p.proto, p.sport,
                                                            p.dport)))[0])
    hop = {"step": "nat", "at": net.node_names[node], "kind": "SNAT",
           "original": {"sourceIp": _ip(p.src), "sourcePort": p.sport},
           "translated": {"sourceIp": _ip(int(t.snat_ip[node])), "sourcePort": port}}
    return p._replace(src=int(t.snat_ip[node]), sport=port), hop


def no_outbound(net: Any, node: int, established: bool) -> str:
    """The NO_OUTBOUND_ACCESS label of a new flow leaving `node` for the Internet, or ''."""
    t = tables(net)
    if established or node >= t.no_outbound.size or not t.no_outbound[node]:
        return ""
    return t.no_outbound_label[node]


# -- batch form (inbound, outbound) -------------------------------------------------------------
def outbound_only_np(net: Any, c: Any, rows: np.ndarray, est: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(indices of `rows` -- packets from no NIC -- that are unsolicited to a NAT gateway's
    address, ending NAT_OUTBOUND_ONLY; their row in t.outbound_only_names for the label)."""
    t = tables(net)
    found = _find(t, c.dst[rows], t.outbound_only_keys)
    hit = (found >= 0) & ~est[rows]
    return rows[hit], found[hit]


def snat_np(net: Any, c: Any, idx: np.ndarray, node: np.ndarray, est: np.ndarray) -> None:
    """SNAT in place of `idx` (packets leaving for the Internet from `node`) that are new
    flows of a node with a translated source (the reference form `snat`)."""
    t = tables(net)
    ok = (node >= 0) & (node < t.snat_ip.size) & ~est[idx] & (node == c.nic[idx])
    ok[ok] = t.snat_ip[node[ok]] >= 0
    rows, at = idx[ok], node[ok]
    if rows.size == 0:
        return
    ported = ((c.proto[rows] == 6) | (c.proto[rows] == 17)) & ~t.snat_keeps_port[at]
    port = snat_port_np(c.src[rows], c.dst[rows], c.proto[rows], c.sport[rows], c.dport[rows])
    c.sport[rows] = np.where(ported, port, c.sport[rows])
    c.src[rows] = t.snat_ip[at]


def inbound_np(net: Any, c: Any, rows: np.ndarray, est: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """DNAT in place of `rows` (indices of packets from no NIC) addressed to a public IP;
    returns (indices ending PUBLIC_IP_CLOSED, their public IP row for the label)."""
    t = tables(net)
    if t.public_keys.size == 0:
        return rows[:0], rows[:0]
    found = _find(t, c.dst[rows])
    hit = found >= 0
    closed = hit & t.closed[np.maximum(found, 0)] & ~est[rows]
    go = hit & ~closed
    c.dst[rows[go]] = t.private[found[go]]
    return rows[closed], found[closed]


def exit_np(net: Any, idx: np.ndarray, node: np.ndarray, est: np.ndarray) -> np.ndarray:
    """Mask over `idx` (packets leaving for the Internet from `node`) of new flows without
    outbound access."""
    t = tables(net)
    return (node >= 0) & t.no_outbound[np.maximum(node, 0)] & ~est[idx]


def _ip(v: int) -> str:
    return ".".join(str((v >> s) & 255) for s in (24, 16, 8, 0))


GLOBAL_UNICAST6_TOP3 = 0b001  # 2000::/3


def nonroutable6(dst: int) -> bool:
    """An IPv6 destination outside 2000::/3, which the Internet does not route."""
    return dst >> 125 != GLOBAL_UNICAST6_TOP3


def nonroutable6_np(hi: np.ndarray) -> np.ndarray:
    """`nonroutable6` per row (uint64 high halves)."""
    return (np.asarray(hi, np.uint64) >> np.uint64(61)) != GLOBAL_UNICAST6_TOP3


__all__ = ["EdgeTables", "closed_label", "endpoint_label", "exit_np", "nonroutable6",
           "nonroutable6_np",
           "inbound", "inbound_np", "no_outbound", "outbound_label", "outbound_only_label",
           "outbound_only_np", "outbound_text", "reach", "reach_np", "snat", "snat_np",
           "snat_port_np", "tables"]
