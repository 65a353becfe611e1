"""Stage: the public edge for IPv6 -- instance-level public IPv6 in and out, the IPv6 Internet rule.

Contract. Takes a compiled Network (engine/compile.py); `tables(net)` builds, once, from the
NICs' IPv6 IP configurations (control/outbound6.py):
* inbound (`ingress`, batch `ingress_np`): an IPv6 packet from outside every VNet
  - to an instance-level public IPv6 address (control/public_addresses.py; chosen offline in
    2001:db8:e0::/48 when the input lacks it) is DNATed to the IP configuration's private IPv6
    address (1:1, ports kept) and delivered through that NIC's inbound NSG, as IPv4 is
    (stages/public_edge.py `inbound`); a Standard public IP with no NSG on the NIC nor its
    subnet is closed: PUBLIC_IP_CLOSED ("Public IP addresses", https://learn.microsoft.com/
    azure/virtual-network/ip-services/public-ip-addresses, "SKU");
  - to the private IPv6 address of such a configuration is taken as captured after that
    translation (the IPv4 rule of stages/gateway.py, assumption `ingress-internet`);
  - answering a flow the VM opened (a conntrack entry) reaches its NIC without NSG, the
    public address translated back by the same 1:1 mapping;
  (a new flow to a public load balancer's IPv6 frontend is the load balancer's:
  stages/loadbalancer.py, before this stage);
  - a new flow (no conntrack entry) to a NAT gateway's IPv6 public address ends
    NAT_OUTBOUND_ONLY with the IPv4 case's label (stages/public_edge.py `outbound_only_label`):
    "NAT gateway provides outbound connectivity only; inbound traffic is allowed only as the
    response to an outbound flow" ("Azure NAT Gateway resource", https://learn.microsoft.com/
    azure/nat-gateway/nat-gateway-resource; the page does not restrict it to IPv4, and
    StandardV2 takes IPv6 public IPs: "Azure NAT Gateway SKUs", https://learn.microsoft.com/
    azure/nat-gateway/nat-sku). A Standard NAT gateway given IPv6 addresses is a `check`
    error (control/validate.py); its addresses are answered the same way;
  - from a source outside 2000::/3 (not an Internet address), or anything else: UNMAPPED,
    labelled as before (reference.IPV6_INGRESS_LABEL).
* outbound (`egress`, batch `egress_np`), at an Internet route for an IPv6 destination inside
  2000::/3: a new flow leaving a NIC whose IPv6 IP configurations have no IPv6 outbound method
  (control/outbound6.py: no NAT gateway IPv6 public IP or prefix, no instance public IPv6, no
  public load balancer IPv6 frontend) ends
  NO_IPV6_INTERNET: "IPv6 connectivity to the Internet is only established when you explicitly
  request it in your deployment" ("What is IPv6 for Azure Virtual Network?",
  https://learn.microsoft.com/azure/virtual-network/ip-services/ipv6-overview, "Benefits").
  A new flow sent by the NIC from the private address of a configuration with an instance
  public IPv6 leaves with that public address as its source (port kept); through a load
  balancer's IPv6 frontend, or through its subnet's NAT gateway (StandardV2 IPv6 public IPs,
  outbound6.py precedence 1), with that frontend's or NAT gateway's first IPv6 address and a
  SNAT port (as IPv4, stages/public_edge.py `snat_port_np`, over the addresses folded to 32
  bits; assumption `ipv6-internet-egress`; a NAT gateway with IPv6 prefixes only has no known
  address: the packet leaves keeping its source); its replies are un-SNATed by the connection table (reference
  `_ingress6`, batch `_ingress6`). Replies (tracked flows) are never stopped.
  The rule is applied at the node that sends the packet to the Internet, so a packet an NVA
  forwards meets the NVA NIC's IPv6 outbound method (none: NO_IPV6_INTERNET labelled with the
  NVA); a dual-stack Azure Firewall (IPv6 private address) forwarding IPv6 to the Internet
  needs a public IPv6 address among its ip configurations' public IPs ("Deploy Azure Firewall
  in dual stack mode (preview)", https://learn.microsoft.com/azure/firewall/
  deploy-dual-stack-firewall, "Supported scenarios and limitations": IPv6 address spaces,
  "public IPv6 addresses", UDRs and network rules; assumption `firewall-ipv6-internet`), else
  NO_IPV6_INTERNET labelled with the firewall. What a forwarding node translates is not
  modelled: a forwarded packet that passes leaves keeping its source (IPV6_EGRESS).
Reference and batch forms take the same tables, so they agree by construction of the lookups.
"""

from __future__ import annotations

import ipaddress
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from dataplane.control.outbound import INSTANCE_PUBLIC_IP, NONE
from dataplane.control.outbound6 import outbound_access6
from dataplane.control.public_addresses import closed_to_inbound, public_address
from dataplane.engine.stages.loadbalancer import fold6, fold6_np
from dataplane.engine.stages.public_edge import (
    closed_label,
    nonroutable6,
    outbound_only_label,
    snat_port_np,
)

LOW64 = (1 << 64) - 1
IPV6_EGRESS = (
    "ipv6-internet-egress: an IPv6 flow reaches the Internet only from a NIC whose IPv6 ip "
    "configuration has a public IPv6 address, sits behind a public load balancer's IPv6 "
    "frontend or in a subnet whose NAT gateway has IPv6 public IPs or prefixes (else "
    "NO_IPV6_INTERNET, ipv6-overview 'only established when you explicitly request it'); its "
    "source becomes that address: an instance public IPv6 1:1 with the port kept, a load "
    "balancer frontend or NAT gateway with a SNAT port (snat-port, addresses folded as in "
    "lb-hash-ipv6); a packet an NVA or firewall forwards leaves keeping its source (their "
    "translation is not modelled)")


@dataclass(frozen=True)
class Edge6Tables:
    """`dnat`: public IPv6 -> (private IPv6, NIC node, closed, public IP name); `exposed`:
    private IPv6 of a configuration with a public IPv6 -> (NIC node, closed, name); `snat`:
    private IPv6 -> (public IPv6, port kept: an instance public IPv6; else a load balancer
    frontend's, with a SNAT port); per node `no_internet` (bool) and its label;
    `outbound_only`: a NAT gateway's public IPv6 -> the NAT gateway's name."""

    dnat: dict[int, tuple[int, int, bool, str]]
    exposed: dict[int, tuple[int, bool, str]]
    snat: dict[int, tuple[int, bool]]
    no_internet: np.ndarray
    no_internet_label: tuple[str, ...]
    outbound_only: dict[int, str]


_TABLES: weakref.WeakKeyDictionary[Any, Edge6Tables] = weakref.WeakKeyDictionary()


FIREWALL_IPV6_INTERNET = (
    "firewall-ipv6-internet: a dual-stack Azure Firewall sends IPv6 to the Internet only when "
    "one of its ip configurations has a public IPv6 address (deploy-dual-stack-firewall lists "
    "public IPv6 addresses among what the preview configures; Microsoft does not say what a "
    "dual-stack firewall without one does: taken as no IPv6 Internet path, as for a VM, "
    "ipv6-overview 'only established when you explicitly request it'); the address it "
    "translates forwarded IPv6 to is not modelled (the packet keeps its source)")


def no_internet_label(nic_name: str) -> str:
    return (f"outbound IPv6 none: {nic_name} has no public IPv6 address, no public load "
            "balancer IPv6 frontend and no NAT gateway IPv6 address (IPv6 Internet only when "
            "the deployment requests it)")


def firewall_no_internet_label(name: str) -> str:
    return (f"outbound IPv6 none: azure firewall {name} is dual stack without a public IPv6 "
            "address (firewall-ipv6-internet)")


def tables(net: Any) -> Edge6Tables:
    """The IPv6 public-edge tables of a compiled Network, built once."""
    found = _TABLES.get(net)
    if found is not None:
        return found
    topology = net.topology
    dnat: dict[int, tuple[int, int, bool, str]] = {}
    exposed: dict[int, tuple[int, bool, str]] = {}
    snat: dict[int, tuple[int, bool]] = {}
    n_nodes = len(net.node_names)
    no_internet = np.zeros(n_nodes, dtype=bool)
    labels = [""] * n_nodes
    for i, nic in enumerate(net.nics):
        configs = [c for c in nic.ip_configurations if c.private_ip_address is not None
                   and c.private_ip_address.version == 6]
        if net.node_subnet[i] < 0 or not configs:
            continue
        methods = [outbound_access6(topology, nic, c) for c in configs]
        if all(m.method == NONE for m in methods):
            no_internet[i] = True
            labels[i] = no_internet_label(net.node_names[i])
        for config, method in zip(configs, methods, strict=True):
            if method.method == NONE or not method.public_addresses:  # NAT prefixes only
                continue
            private = config.private_ip_address.value  # type: ignore[union-attr]
            public = method.public_addresses[0].value
            instance = method.method == INSTANCE_PUBLIC_IP
            snat.setdefault(private, (public, instance))
            if not instance:  # a load balancer's frontend: its rules decide inbound
                continue
            closed = closed_to_inbound(topology, nic, config)
            name = str(method.resource).rsplit("/", 1)[-1]
            dnat.setdefault(public, (private, i, closed, name))
            exposed.setdefault(private, (i, closed, name))
    for k, fw in enumerate(net.firewalls):  # FIREWALL_IPV6_INTERNET
        node = len(net.nics) + k
        if fw.private_ip_address6 is None or node >= n_nodes:
            continue
        versions = {getattr(public_address(topology, pip), "version", 0)
                    for pip in fw.public_ip_addresses}
        if 6 not in versions:
            no_internet[node] = True
            labels[node] = firewall_no_internet_label(fw.name)
    outbound_only = {a.value: nat.name for nat in topology.nat_gateways
                     for a in (public_address(topology, pip) for pip in (
                         *nat.public_ip_addresses_v6, *nat.public_ip_addresses))
                     if a is not None and a.version == 6}
    found = Edge6Tables(dnat, exposed, snat, no_internet, tuple(labels), outbound_only)
    _TABLES[net] = found
    return found


# -- reference form ------------------------------------------------------------------------------
def ingress(net: Any, p: Any, established: bool
            ) -> tuple[str, Any, int, dict[str, Any] | None, str]:
    """Classify an IPv6 packet from outside the VNets: (kind, packet, NIC node, DNAT hop or
    None, label). kind: 'closed' (PUBLIC_IP_CLOSED, label), 'outbound-only'
    (NAT_OUTBOUND_ONLY: a new flow to a NAT gateway's address, its hop and label), 'public'
    (to the NIC through its inbound NSG unless established; the packet
    DNATed when it was addressed to the public IPv6), 'reply' (a tracked flow's reply to a NIC
    without public IPv6), 'unmapped'."""
    t = tables(net)
    if nonroutable6(p.src):
        return "unmapped", p, -1, None, ""
    nat = t.outbound_only.get(p.dst)
    if nat is not None and not established:
        return "outbound-only", p, -1, {"step": "nat", "at": nat, "kind": "NAT gateway",
                                        "result": "OutboundOnly"}, outbound_only_label(nat)
    hop = None
    row = t.dnat.get(p.dst)
    if row is not None:
        private, _nic, closed, name = row
        hop = {"step": "nat", "at": name, "kind": "DNAT (public IP)",
               "original": {"destinationIp": _ip6(p.dst)},
               "translated": {"destinationIp": _ip6(private)}}
        if closed and not established:
            return "closed", p, -1, {**hop, "result": "ClosedToInbound"}, closed_label(name)
        p = p._replace(dst=private)
    target = net.ip6_nic.get(p.dst, -1)
    seen = t.exposed.get(p.dst)
    if target < 0 or (seen is None and not established):
        return "unmapped", p, -1, None, ""
    if seen is not None and seen[1] and not established:  # taken as translated: still closed
        return "closed", p, -1, None, closed_label(seen[2])
    return ("public" if seen is not None else "reply"), p, target, hop, ""


def no_internet(net: Any, node: int, established: bool) -> str:
    """The NO_IPV6_INTERNET label of a new IPv6 flow leaving `node` for the Internet, or ''."""
    t = tables(net)
    if established or not 0 <= node < t.no_internet.size or not t.no_internet[node]:
        return ""
    return t.no_internet_label[node]


def snat(net: Any, node: int, p: Any, established: bool) -> tuple[Any, dict[str, Any] | None]:
    """(packet, hop or None): a new IPv6 flow sent by `node` from a private IPv6 with an IPv6
    outbound method leaves with its public address: an instance public IPv6's with the port
    kept, a load balancer frontend's with a SNAT port (TCP/UDP; assumption `snat-port`, the
    IPv4 hash over the addresses folded to 32 bits, lb-hash-ipv6)."""
    found = tables(net).snat.get(p.src) if not established and node == p.nic else None
    if found is None:
        return p, None
    public, keeps_port = found
    port = p.sport
    if p.proto in (6, 17) and not keeps_port:
        port = int(snat_port_np(*(np.array([v], np.int64) for v in (
            fold6(p.src), fold6(p.dst), p.proto, p.sport, p.dport)))[0])
    hop = {"step": "nat", "at": net.node_names[node], "kind": "SNAT",
           "original": {"sourceIp": _ip6(p.src), "sourcePort": p.sport},
           "translated": {"sourceIp": _ip6(public), "sourcePort": port}}
    return p._replace(src=public, sport=port), hop


# -- batch form ----------------------------------------------------------------------------------
def _keys(hi: np.ndarray, lo: np.ndarray) -> list[int]:
    return [int(h) << 64 | int(x) for h, x in zip(hi.tolist(), lo.tolist(), strict=True)]


def egress_np(net: Any, c: Any, idx: np.ndarray, node: np.ndarray, est: np.ndarray,
              handles: Any) -> np.ndarray:
    """IPv6 rows `idx` (leaving for the Internet from `node`, aligned): returns the mask over
    idx of new flows ending NO_IPV6_INTERNET; SNATs in place (halves, and the public
    address's handle in `src`, engine/address_handles.py) the new flows the reference
    form `snat` translates."""
    t = tables(net)
    new = ~est[idx]
    shut = new & (node >= 0) & (node < t.no_internet.size)
    shut[shut] = t.no_internet[node[shut]]
    go = new & ~shut & (node == c.nic[idx])
    if t.snat and go.any():
        rows = idx[go]
        found = [t.snat.get(k) for k in _keys(c.src_hi[rows], c.src_lo[rows])]
        hit = np.array([f is not None for f in found], bool)
        if hit.any():
            rows = rows[hit]
            value = [f for f in found if f is not None]
            hi = np.array([v[0] >> 64 for v in value], np.uint64)
            lo = np.array([v[0] & LOW64 for v in value], np.uint64)
            ported = ((c.proto[rows] == 6) | (c.proto[rows] == 17)) & ~np.array(
                [v[1] for v in value], bool)
            if ported.any():  # a load balancer frontend's SNAT port (reference `snat`)
                port = snat_port_np(
                    fold6_np(c.src_hi[rows], c.src_lo[rows]).astype(np.int64),
                    fold6_np(c.dst_hi[rows], c.dst_lo[rows]).astype(np.int64),
                    c.proto[rows], c.sport[rows], c.dport[rows])
                c.sport[rows] = np.where(ported, port, c.sport[rows])
            c.src_hi[rows], c.src_lo[rows] = hi, lo
            c.src[rows] = handles.handle_np(hi, lo)
    return shut


def ingress_np(net: Any, c: Any, rows: np.ndarray, est: np.ndarray, handles: Any
               ) -> tuple[list[tuple[str, int, int, str]], np.ndarray]:
    """Batch form of `ingress` over IPv6 rows from outside: per row (kind, row, NIC, label)
    as `ingress` classifies it; DNATs in place the rows addressed to a public IPv6 that get
    in (halves, and the private address's handle in `dst`). Returns the list and the rows."""
    out = []
    for r, src, dst in zip(rows.tolist(), _keys(c.src_hi[rows], c.src_lo[rows]),
                           _keys(c.dst_hi[rows], c.dst_lo[rows]), strict=True):
        p = _Addr(src, dst)
        kind, q, target, _hop, label = ingress(net, p, bool(est[r]))
        if kind in ("public", "reply") and q.dst != dst:
            c.dst_hi[r], c.dst_lo[r] = q.dst >> 64, q.dst & LOW64
            c.dst[r] = int(handles.handle_np(np.array([q.dst >> 64], np.uint64),
                                             np.array([q.dst & LOW64], np.uint64))[0])
        out.append((kind, r, target, label))
    return out, rows


@dataclass(frozen=True)
class _Addr:
    src: int
    dst: int

    def _replace(self, dst: int) -> _Addr:
        return _Addr(self.src, dst)


def _ip6(v: int) -> str:
    return str(ipaddress.IPv6Address(v))


__all__ = ["FIREWALL_IPV6_INTERNET", "IPV6_EGRESS", "Edge6Tables", "firewall_no_internet_label", "egress_np", "ingress", "ingress_np",
           "no_internet", "no_internet_label", "snat", "tables"]
