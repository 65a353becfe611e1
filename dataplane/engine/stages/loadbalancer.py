"""Stage: internal and public load balancers -- reference and batch forms side by side.

Frontends, rules, backend choice. The dispatchers (engine/reference.py, engine/batch.py) run
the peering stage into the frontend's VNet before this stage and, for a balanced packet, the
nat stage (DNAT to the chosen backend) and the deliver stage after it; this stage only
decides (drop or backend) and never calls another stage.
Reference forms: `decide_frontend` (a packet addressed to a frontend) and `decide_next_hop`
(a UDR whose next hop is a frontend) -> `Choice`. Batch forms: `frontends_np` and
`next_hop_np` over rows, drops written into the disposition/label columns.

Takes: a Topology (model.LoadBalancer, NIC ip configurations' loadBalancerBackendAddressPools)
and the engine's VNet index. Emits `LBTables`: one `Frontend` per private frontend IP
configuration keyed (VNet, address), its rules with their backend NICs.
Semantics (issue 5; docs/azure-behaviour.md §4.4 for the SKU rule):
* a packet whose destination is a frontend address (routed there as VnetLocal or over a
  peering, so reachable from the VNet and from peered VNets) is matched against the rules in
  order: protocol Tcp/Udp with frontendPort == destination port, protocol All with a port
  (TCP or UDP), or HA ports (All, frontendPort 0: every protocol and port). No rule ->
  LB_NO_RULE; a rule whose pool has no NIC -> LB_NO_BACKEND;
* a Basic SKU frontend is not reachable across global peering (the sending VNet and the
  frontend's VNet in different regions; 4.4) -> LB_BASIC_GLOBAL; Standard is;
* a backend VM's own flow to the frontend that the hash maps back to that VM fails:
  LB_HAIRPIN ("Azure Load Balancer components", https://learn.microsoft.com/azure/
  load-balancer/components, "Limitations": "if an outbound flow from a VM in the backend pool
  attempts a flow to frontend of the internal Load Balancer in which pool it resides and is
  mapped back to itself, both legs of the flow don't match and the flow fails");
* the backend is `pool[flow_hash(5-tuple) % len(pool)]` (below); the destination address
  becomes the backend NIC's address and, unless the rule is HA ports or its backendPort is 0,
  the destination port becomes backendPort (DNAT; floating IP is not modelled); the inbound
  NSG at the backend sees the translated 5-tuple and the packet is DELIVERED with the deciding
  label "lb NAME/RULE";
* a UDR whose VirtualAppliance next-hop IP is a frontend (an ILB in front of NVAs, the hub
  design): the same rule match and hash choose a backend NVA, which then receives the packet
  unchanged (no DNAT: the packet is not addressed to the frontend) and forwards it like any
  appliance. compile.py gives every (route, backend) pair a synthetic route id so the batch
  appliance stage runs unchanged;
* the AzureLoadBalancer probe source 168.63.129.16 is an ingress source (stages/gateway.py),
  allowed by the default rule AllowAzureLoadBalancerInBound (2.2); a probe reaches a backend
  of a public load balancer the same way ("Azure Load Balancer health probes",
  https://learn.microsoft.com/azure/load-balancer/load-balancer-custom-probe-overview, "Probe
  source IP address": probes come from 168.63.129.16, which an NSG must not block).
Public load balancers (issue 14): a frontend with a public IP (control/public_addresses.py
gives its address) is reached from outside every VNet (a packet from no emulated NIC; the
dispatchers call `decide_public` / `public_np` before the instance public IP DNAT). Its rules
are the load-balancing rules and the inbound NAT rules of that frontend ("Inbound NAT rules",
https://learn.microsoft.com/azure/load-balancer/inbound-nat-rules, "Inbound NAT rule V1": a
frontend port forwarded to one virtual machine's backend port; "V2": a frontend port range
over a backend pool, one port per instance). The pool form of an inbound
NAT rule (frontendPortRangeStart..End over a backend pool) gives the pool's members, in
topology order, the frontend ports start, start+1, ... up to the range's end (assumption
`lb-nat-pool-order`: Azure assigns the ports to instances but does not document the order).
Same hash, DNAT and rule match as internal frontends; then the backend's inbound NSG decides.
SKU ("Azure Load Balancer SKUs", https://learn.microsoft.com/azure/load-balancer/skus,
"SKU comparison", Secure by default: Standard is "closed to inbound flows unless allowed by a
network security group", Basic is "open by default"): a new flow balanced by a Standard
frontend to a backend without an NSG on its NIC nor its subnet ends PUBLIC_IP_CLOSED; Basic
delivers it (the backend's NSG, when present, still decides; Basic was retired on 30 September
2025 but still reads in old templates). Replies are un-NATed by the
connection table: they leave from the frontend address and port (engine/conntrack.py).
Floating IP and outbound rules in packets are not modelled here (control/caveats.py).
IPv6 (issue 17): an internal frontend with an IPv6 private address (privateIPAddressVersion
IPv6, a dual-stack load balancer) balances IPv6 packets to the IPv6 ip configurations of its
pool's NICs with the same rules, HA ports, hash, DNAT and un-DNAT of replies ("Overview of
IPv6 for Azure Virtual Network", https://learn.microsoft.com/azure/virtual-network/
ip-services/ipv6-overview, "Capabilities": "IPv6 support for ... Standard Load Balancer
(public and internal)", internal IPv6 load balancing; "Deploy an IPv6 dual-stack application
using Standard Internal Load Balancer in Azure", https://learn.microsoft.com/azure/
load-balancer/ipv6-dual-stack-standard-internal-load-balancer-powershell: an IPv6 frontend
and an IPv6 backend pool fed by the NICs' IPv6 ip configurations, one rule per family). An
IPv6 frontend answers IPv6 packets only; a rule of an IPv6 frontend picks the IPv6
addresses of its pool members (`LBTables.at6`, `Frontend.family`). A public frontend whose
public IP is IPv6 (`LBTables.by_public6`, `at_public6`) does the same for new flows from
outside the VNets, with its inbound NAT rules, as an IPv4 public frontend does (reference
`_ingress6` -> `decide_public`; batch `_public6` -> `frontends_np`): "Deploy an IPv6 dual
stack application in Azure virtual network - PowerShell", https://learn.microsoft.com/azure/
load-balancer/virtual-network-ipv4-ipv6-dual-stack-standard-load-balancer-powershell.
Hash (assumption `lb-hash`): Azure documents a 5-tuple hash (source/destination address and
port, protocol) but not the function. We use a deterministic, symmetric one: the two
endpoints (address << 16 | port; ports 0 for protocols other than TCP/UDP) are ordered, then
mixed with the 32-bit MurmurHash3 finaliser (`_fmix`): h = fmix(fmix(fmix(lo_ip ^ proto) ^
lo_port ^ hi_port << 16) ^ hi_ip). Symmetric, so a flow's reply through the same ILB reaches
the same NVA (flow symmetry). `flow_hash` (Python ints) and `flow_hash_np` (numpy uint64)
are the same function; the reference pipeline uses the first, the batch stage the second.
An IPv6 address is first folded to 32 bits (`fold6`: its four 32-bit words mixed in turn by
`_fmix`; `fold6_np` over the two 64-bit halves), then hashed as above: still symmetric.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from dataplane.control.public_addresses import public_address
from dataplane.dispositions import Disposition as D
from dataplane.model import Subnet, Topology, id_key

if TYPE_CHECKING:  # pragma: no cover
    from dataplane.engine.compile import Network

M32 = 0xFFFFFFFF
PROTO_ALL = 0
LB_ASSUMPTIONS = (
    "lb-hash: the backend is pool[h % len(pool)] with h a symmetric MurmurHash3-finalised "
    "hash of the 5-tuple (Azure documents a 5-tuple hash, not its function); a flow and its "
    "reply pick the same backend.",
    "lb-dnat: traffic to a frontend is DNATed to the backend address and backendPort (HA "
    "ports keep the port); the backend's inbound NSG sees the translated 5-tuple; floating "
    "IP, outbound rules and health-probe state are not modelled (every pool member is up).",
    "lb-nat-pool-order: an inbound NAT rule in the pool form (frontendPortRangeStart..End "
    "over a backend pool) maps frontend port start+i to the i-th pool member in topology order "
    "(Azure assigns one port per instance, the order is not documented).",
    "lb-hash-ipv6: an IPv6 5-tuple is hashed as the IPv4 one after folding each address to "
    "32 bits (its four words MurmurHash3-mixed in turn); symmetric like lb-hash.",
    "lb-basic-global: a Basic SKU frontend is not reachable from a VNet in another region "
    "(global peering, docs/azure-behaviour.md §4.4); Standard is.",
)


# -- the hash ------------------------------------------------------------------------------
def _fmix(h: int) -> int:
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & M32
    h ^= h >> 16
    return h


def flow_hash(src: int, dst: int, proto: int, sport: int, dport: int) -> int:
    if proto not in (6, 17):
        sport = dport = 0
    a, b = (src << 16) | sport, (dst << 16) | dport
    lo, hi = (a, b) if a <= b else (b, a)
    h = _fmix(((lo >> 16) ^ proto) & M32)
    h = _fmix(h ^ (lo & 0xFFFF) ^ ((hi & 0xFFFF) << 16))
    return _fmix(h ^ ((hi >> 16) & M32))


def fold6(address: int) -> int:
    """A 128-bit IPv6 address folded to 32 bits (module docstring, lb-hash-ipv6)."""
    h = 6
    for shift in (96, 64, 32, 0):
        h = _fmix(h ^ ((address >> shift) & M32))
    return h


def flow_hash_of(family: int, src: int, dst: int, proto: int, sport: int, dport: int) -> int:
    """`flow_hash` of a packet of either family (IPv6 addresses folded, `fold6`)."""
    if family == 6:
        return flow_hash(fold6(src), fold6(dst), proto, sport, dport)
    return flow_hash(src, dst, proto, sport, dport)


def _fmix_np(h: np.ndarray) -> np.ndarray:
    m = np.uint64(M32)
    h = h ^ (h >> np.uint64(16))
    h = (h * np.uint64(0x85EBCA6B)) & m
    h = h ^ (h >> np.uint64(13))
    h = (h * np.uint64(0xC2B2AE35)) & m
    return h ^ (h >> np.uint64(16))


def flow_hash_np(src: np.ndarray, dst: np.ndarray, proto: np.ndarray, sport: np.ndarray,
                 dport: np.ndarray) -> np.ndarray:
    u = np.uint64
    ported = (proto == 6) | (proto == 17)
    sp = np.where(ported, sport, 0).astype(u)
    dp = np.where(ported, dport, 0).astype(u)
    a = (src.astype(u) << u(16)) | sp
    b = (dst.astype(u) << u(16)) | dp
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    h = _fmix_np(((lo >> u(16)) ^ proto.astype(u)) & u(M32))
    h = _fmix_np(h ^ (lo & u(0xFFFF)) ^ ((hi & u(0xFFFF)) << u(16)))
    return _fmix_np(h ^ ((hi >> u(16)) & u(M32)))


def fold6_np(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """`fold6` over addresses given as uint64 halves (uint64 result < 2**32)."""
    u, m = np.uint64, np.uint64(M32)
    h = np.full(hi.size, 6, dtype=u)
    for half in (hi.astype(u), lo.astype(u)):
        h = _fmix_np(h ^ (half >> u(32)))
        h = _fmix_np(h ^ (half & m))
    return h


# -- tables --------------------------------------------------------------------------------
@dataclass
class Rule:
    name: str
    proto: int          # 6, 17 or PROTO_ALL
    frontend_port: int  # 0 with PROTO_ALL = HA ports
    backend_port: int
    backends: np.ndarray  # int32 NIC indices, topology order
    backend_ips: np.ndarray  # int64 the pool ip configuration's address (object ints: IPv6)
    backend_hi: np.ndarray = field(init=False)  # uint64 halves of backend_ips (hi 0: IPv4)
    backend_lo: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        values = [int(v) for v in self.backend_ips.tolist()]
        self.backend_hi = np.array([v >> 64 for v in values], dtype=np.uint64)
        self.backend_lo = np.array([v & (1 << 64) - 1 for v in values], dtype=np.uint64)

    @property
    def ha_ports(self) -> bool:
        return self.proto == PROTO_ALL and self.frontend_port == 0

    def matches(self, proto: int, dport: int) -> bool:
        if self.ha_ports:
            return True
        if self.proto == PROTO_ALL:
            return proto in (6, 17) and dport == self.frontend_port
        return proto == self.proto and dport == self.frontend_port

    def matches_np(self, proto: np.ndarray, dport: np.ndarray) -> np.ndarray:
        if self.ha_ports:
            return np.ones(proto.size, bool)
        if self.proto == PROTO_ALL:
            return ((proto == 6) | (proto == 17)) & (dport == self.frontend_port)
        return (proto == self.proto) & (dport == self.frontend_port)

    def translate_port(self, dport: int) -> int:
        return dport if self.ha_ports or not self.backend_port else self.backend_port

    def translate_port_np(self, proto: np.ndarray, dport: np.ndarray) -> np.ndarray:
        if self.ha_ports or not self.backend_port:
            return dport
        ported = (proto == 6) | (proto == 17)
        return np.where(ported, self.backend_port, dport)


@dataclass
class Frontend:
    lb: str
    sku: str
    vnet: int
    ip: int
    rules: list[Rule]
    family: int = 4  # 6: an IPv6 private frontend (module docstring)

    @property
    def basic(self) -> bool:
        return self.sku.lower() == "basic"

    def rule_for(self, proto: int, dport: int) -> Rule | None:
        return next((r for r in self.rules if r.matches(proto, dport)), None)


@dataclass
class LBTables:
    frontends: list[Frontend] = field(default_factory=list)
    by_key: dict[tuple[int, int], int] = field(default_factory=dict)
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    vals: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    # public frontends (vnet -1): public address -> frontend index, sorted arrays for batches
    by_public: dict[int, int] = field(default_factory=dict)
    public_keys: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    public_vals: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    nic_guarded: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # NSG on NIC/subnet
    by_key6: dict[tuple[int, int], int] = field(default_factory=dict)  # (VNet, IPv6) -> index
    by_public6: dict[int, int] = field(default_factory=dict)  # public IPv6 -> frontend index

    def at_public6(self, ip: int) -> int:
        """The public IPv6 frontend answering on `ip` (128-bit int), -1 when none."""
        return self.by_public6.get(ip, -1)

    def at6(self, vnet: int, ip: int) -> int:
        """The IPv6 private frontend answering on `ip` (128-bit int) in VNet `vnet`, -1."""
        return self.by_key6.get((vnet, ip), -1)

    def at6_np(self, vnet: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        """int32 frontend index of IPv6 destinations (uint64 halves) per VNet, -1 when none."""
        if not self.by_key6:
            return np.full(vnet.size, -1, np.int32)
        return np.array([self.by_key6.get((v, h << 64 | x), -1) for v, h, x in zip(
            vnet.tolist(), hi.tolist(), lo.tolist(), strict=True)], dtype=np.int32)

    def at(self, vnet: int, ip: int) -> int:
        return self.by_key.get((vnet, ip), -1)

    def at_public(self, ip: int) -> int:
        """The public frontend answering on address `ip`, -1 when none."""
        return self.by_public.get(ip, -1)

    def at_public_np(self, ip: np.ndarray) -> np.ndarray:
        if self.public_keys.size == 0:
            return np.full(ip.size, -1, np.int32)
        at = np.minimum(np.searchsorted(self.public_keys, ip), self.public_keys.size - 1)
        return np.where(self.public_keys[at] == ip, self.public_vals[at], -1).astype(np.int32)

    def at_np(self, vnet: np.ndarray, ip: np.ndarray) -> np.ndarray:
        if self.keys.size == 0:
            return np.full(ip.size, -1, np.int32)
        k = (vnet.astype(np.int64) << 32) | ip.astype(np.int64)
        at = np.minimum(np.searchsorted(self.keys, k), self.keys.size - 1)
        return np.where((self.keys[at] == k) & (vnet >= 0), self.vals[at], -1)


def build_tables(topology: Topology, vnet_index: dict[str, int],
                 taken: set[tuple[int, int]]) -> LBTables:
    """Frontends with a private address in a known VNet; `taken` (VNet, address) pairs held
    by NICs win over a frontend with the same address (an invalid configuration)."""
    nics = topology.network_interfaces
    members: dict[int, dict[str, list[tuple[int, int]]]] = {4: {}, 6: {}}  # family -> pools
    for i, nic in enumerate(nics):
        for config in nic.ip_configurations:
            ip = config.private_ip_address
            if ip is None or ip.version not in (4, 6):
                continue
            for pool in config.load_balancer_backend_address_pools:
                members[ip.version].setdefault(id_key(pool), []).append((i, ip.value))
    out = LBTables()
    for lb in topology.load_balancers:
        for fe in lb.frontend_ip_configurations:
            ip = fe.private_ip_address
            if ip is None or ip.version not in (4, 6) or not fe.subnet:
                continue
            vnet = topology.vnet_of_subnet(fe.subnet)
            vi = vnet_index.get(id_key(vnet.id), -1) if vnet is not None else -1
            table = out.by_key if ip.version == 4 else out.by_key6
            if vi < 0 or (ip.version == 4 and (vi, ip.value) in taken) or \
                    (vi, ip.value) in table:
                continue
            pools = members[ip.version]  # an IPv6 frontend balances to IPv6 configurations
            rules = [_rule(r.name, r.protocol, r.frontend_port, r.backend_port,
                           _union(pools, r.all_backend_address_pools), ip.version)
                     for r in lb.load_balancing_rules
                     if id_key(r.frontend_ip_configuration) == id_key(fe.id)]
            table[(vi, ip.value)] = len(out.frontends)
            out.frontends.append(Frontend(lb.name, lb.sku or "Standard", vi, ip.value, rules,
                                          ip.version))
    keys = sorted(out.by_key)
    out.keys = np.array([(v << 32) | a for v, a in keys], dtype=np.int64)
    out.vals = np.array([out.by_key[k] for k in keys], dtype=np.int32)
    _public_frontends(topology, members, out)
    return out


def _union(members: dict[str, list[tuple[int, int]]], pools: tuple[str, ...]
           ) -> list[tuple[int, int]]:
    """The members (NIC, address) of all `pools`, each once, in pool order: a rule with
    several pools (`backendAddressPools`, model.LoadBalancingRule) balances over the union."""
    return list(dict.fromkeys(m for p in pools for m in members.get(id_key(p), [])))


def _rule(name: str, protocol: str, frontend_port: int, backend_port: int,
          pool: list[tuple[int, int]], family: int = 4) -> Rule:
    proto = {"tcp": 6, "udp": 17}.get(protocol.lower(), PROTO_ALL)
    return Rule(name, proto, int(frontend_port), int(backend_port),
                np.array([m[0] for m in pool], dtype=np.int32),
                np.array([m[1] for m in pool], dtype=np.int64 if family == 4 else object))


def _public_frontends(topology: Topology,
                      family_members: dict[int, dict[str, list[tuple[int, int]]]],
                      out: LBTables) -> None:
    """Frontends with a public IP: load-balancing rules, then inbound NAT rules (one backend
    each; the pool form one Rule per member, module docstring). An IPv6 public IP's frontend
    (issue 17: "Deploy an IPv6 dual stack application in Azure virtual network", Standard
    load balancer with an IPv6 frontend) balances to the IPv6 ip configurations of its pools
    (`by_public6`); an IPv4 one to the IPv4 configurations (`by_public`)."""
    nics = topology.network_interfaces
    family_configs: dict[int, dict[str, tuple[int, int]]] = {4: {}, 6: {}}
    guarded = np.zeros(len(nics), bool)
    for i, nic in enumerate(nics):
        for config in nic.ip_configurations:
            ip = config.private_ip_address
            if ip is not None and ip.version in (4, 6):
                family_configs[ip.version][id_key(f"{nic.id}/ipConfigurations/{config.name}")] \
                    = (i, ip.value)
            subnet = topology.get(config.subnet) if config.subnet else None
            guarded[i] |= bool(nic.network_security_group) or (
                isinstance(subnet, Subnet) and bool(subnet.network_security_group))
    out.nic_guarded = guarded
    for lb in topology.load_balancers:
        for fe in lb.frontend_ip_configurations:
            address = public_address(topology, fe.public_ip_address)
            table = out.by_public if address is None or address.version == 4 \
                else out.by_public6
            if address is None or address.value in table:
                continue
            members, configs = family_members[address.version], family_configs[address.version]
            mine = [r for r in lb.load_balancing_rules
                    if id_key(r.frontend_ip_configuration) == id_key(fe.id)]
            family = address.version
            rules = [_rule(r.name, r.protocol, r.frontend_port, r.backend_port,
                           _union(members, r.all_backend_address_pools), family)
                     for r in mine]
            for r in lb.inbound_nat_rules:
                if id_key(r.frontend_ip_configuration) != id_key(fe.id):
                    continue
                if r.backend_ip_configuration:
                    one = configs.get(id_key(r.backend_ip_configuration))
                    rules.append(_rule(r.name, r.protocol, r.frontend_port, r.backend_port,
                                       [one] if one else [], family))
                elif r.backend_address_pool:
                    pool = members.get(id_key(r.backend_address_pool), [])
                    span = r.frontend_port_range_end - r.frontend_port_range_start + 1
                    rules += [_rule(r.name, r.protocol, r.frontend_port_range_start + k,
                                    r.backend_port, [m], family)
                              for k, m in enumerate(pool[:span])]
            table[address.value] = len(out.frontends)
            out.frontends.append(Frontend(lb.name, lb.sku or "Standard", -1, address.value,
                                          rules, family))
    keys = sorted(out.by_public)
    out.public_keys = np.array(keys, dtype=np.int64)
    out.public_vals = np.array([out.by_public[k] for k in keys], dtype=np.int32)


# -- shared decisions (reference and batch read the same labels) ---------------------------
def basic_global(net: Network, fe: Frontend, from_vnet: int) -> bool:
    return fe.basic and from_vnet != fe.vnet and \
        int(net.vnet_region[from_vnet]) != int(net.vnet_region[fe.vnet])


def label_basic(fe: Frontend) -> str:
    return f"lb {fe.lb}: Basic SKU frontend not reachable across global peering"


def label_no_rule(fe: Frontend) -> str:
    return f"lb {fe.lb}: no load-balancing rule matches"


def label_no_backend(fe: Frontend, rule: Rule) -> str:
    return f"lb {fe.lb}/{rule.name}: empty backend pool"


def label_hairpin(fe: Frontend, rule: Rule) -> str:
    return f"lb {fe.lb}/{rule.name}: mapped back to the sending backend (hairpin)"


def label_rule(fe: Frontend, rule: Rule) -> str:
    return f"lb {fe.lb}/{rule.name}"


def label_closed(fe: Frontend) -> str:
    return (f"lb {fe.lb} (Standard): closed to inbound, no NSG on the backend's NIC or "
            "subnet allows it")


def closed_to(net: Network, fe: Frontend, backend: int) -> bool:
    """A Standard public frontend's new flow to a backend without any NSG (module docstring)."""
    return fe.vnet < 0 and not fe.basic and not bool(net.lb.nic_guarded[backend])


def choose(fe: Frontend, proto: int, src: int, sport: int, dst: int, dport: int
           ) -> tuple[D | None, str, Rule | None, int]:
    """Reference: (drop disposition or None, label, rule, backend position in the pool)."""
    rule = fe.rule_for(proto, dport)
    if rule is None:
        return D.LB_NO_RULE, label_no_rule(fe), None, -1
    if rule.backends.size == 0:
        return D.LB_NO_BACKEND, label_no_backend(fe, rule), rule, -1
    k = flow_hash_of(fe.family, src, dst, proto, sport, dport) % int(rule.backends.size)
    return None, label_rule(fe, rule), rule, k


def lb_hop(net: Network, fe: Frontend, rule: Rule | None, k: int, p: Any,
           result: str, translated: tuple[int, int] | None = None) -> dict[str, Any]:
    hop: dict[str, Any] = {"step": "loadbalancer", "at": fe.lb, "sku": fe.sku,
                           "frontend": _ip(fe.ip, fe.family), "rule": rule.name if rule else None,
                           "result": result}
    if rule is not None and k >= 0:
        hop.update(backend=net.node_names[int(rule.backends[k])],
                   backendIp=_ip(int(rule.backend_ips[k]), fe.family),
                   pool=int(rule.backends.size),
                   hash=flow_hash_of(fe.family, p.src, p.dst, p.proto, p.sport, p.dport))
        if translated is not None:
            hop["translated"] = {"destinationIp": _ip(translated[0], fe.family),
                                 "destinationPort": translated[1]}
    return hop


def _ip(v: int, family: int = 4) -> str:
    return str(ipaddress.ip_address(v if family == 4 else ipaddress.IPv6Address(v)))


# -- reference form --------------------------------------------------------------------------
class Choice(NamedTuple):
    """A load balancer's answer for one packet: `drop` (disposition, label) or None; `label`
    the deciding label when balanced; `hop` what explain renders; `backend` the chosen NIC
    (-1 on a drop); `to` (backend address, port) the DNAT sets (None: no translation)."""

    drop: tuple[D, str] | None
    label: str
    hop: dict[str, Any]
    backend: int
    to: tuple[int, int] | None


def decide_frontend(net: Network, fe: Frontend, from_vnet: int, p: Any) -> Choice:
    """A packet (any NamedTuple with nic, src, dst, proto, sport, dport) addressed to frontend
    `fe` from VNet `from_vnet`: SKU rule, rule match, backend hash, hairpin."""
    if basic_global(net, fe, from_vnet):
        return Choice((D.LB_BASIC_GLOBAL, label_basic(fe)), "", lb_hop(
            net, fe, None, -1, p, "BasicSkuAcrossGlobalPeering"), -1, None)
    drop, label, rule, k = choose(fe, p.proto, p.src, p.sport, p.dst, p.dport)
    if drop is not None:
        return Choice((drop, label), "", lb_hop(net, fe, rule, k, p, drop.name), -1, None)
    assert rule is not None
    backend = int(rule.backends[k])
    if backend == p.nic:  # mapped back to the sending backend (module contract, hairpin)
        return Choice((D.LB_HAIRPIN, label_hairpin(fe, rule)), "", lb_hop(
            net, fe, rule, k, p, "Hairpin"), -1, None)
    to = (int(rule.backend_ips[k]), rule.translate_port(p.dport))
    return Choice(None, label, lb_hop(net, fe, rule, k, p, "Balanced", to), backend, to)


def decide_public(net: Network, fe: Frontend, p: Any) -> Choice:
    """A new flow from outside every VNet to public frontend `fe` (module docstring): the rule
    match and hash of `decide_frontend`, then the SKU's inbound default (PUBLIC_IP_CLOSED for
    an unguarded backend of a Standard frontend). A packet answering a tracked flow (the reply
    to a flow SNATed to this address) is the connection table's, not the dispatchers' call
    here."""
    choice = decide_frontend(net, fe, fe.vnet, p)
    if choice.drop is None and closed_to(net, fe, choice.backend):
        return Choice((D.PUBLIC_IP_CLOSED, label_closed(fe)), "",
                      {**choice.hop, "result": "ClosedToInbound"}, -1, None)
    return choice


def decide_next_hop(net: Network, fe: Frontend, from_vnet: int, p: Any) -> Choice:
    """A UDR whose VirtualAppliance next hop is frontend `fe`: the backend appliance the
    packet goes to, unchanged (no DNAT)."""
    if basic_global(net, fe, from_vnet):
        return Choice((D.LB_BASIC_GLOBAL, label_basic(fe)), "", lb_hop(
            net, fe, None, -1, p, "BasicSkuAcrossGlobalPeering"), -1, None)
    drop, label, rule, k = choose(fe, p.proto, p.src, p.sport, p.dst, p.dport)
    hop = lb_hop(net, fe, rule, k, p, drop.name if drop is not None else "NextHopBackend")
    if drop is not None:
        return Choice((drop, label), "", hop, -1, None)
    assert rule is not None
    return Choice(None, label, hop, int(rule.backends[k]), None)


# -- batch form ------------------------------------------------------------------------------
def frontends_np(net: Network, labels: Any, c: Any, sel: np.ndarray, fe: np.ndarray,
                 from_vnet: np.ndarray, disp: np.ndarray, dec: np.ndarray, active: np.ndarray
                 ) -> tuple[np.ndarray, ...]:
    """Rows `sel` (indices into the columns `c`) addressed to frontends `fe` from VNets
    `from_vnet` (aligned). Drops (LB_BASIC_GLOBAL, LB_NO_RULE, LB_NO_BACKEND, LB_HAIRPIN) are
    written into disp/dec/active; returns the balanced rows with their backend NIC (int32),
    DNAT address (int64, IPv4 frontends; 0 for IPv6) and port (int32), deciding label index
    (int32) and the DNAT address as uint64 halves (hi, lo; both families), aligned."""
    out: list[tuple[np.ndarray, ...]] = []
    for f in np.unique(fe).tolist():
        front = net.lb.frontends[f]
        s = fe == f
        rows_f, sv = sel[s], from_vnet[s]
        if front.basic:
            bad = np.array([basic_global(net, front, int(v)) for v in sv.tolist()], bool)
            _end(rows_f[bad], D.LB_BASIC_GLOBAL, labels(label_basic(front)), disp, dec, active)
            rows_f = rows_f[~bad]
        if rows_f.size == 0:
            continue
        proto, dport = c.proto[rows_f], c.dport[rows_f]
        open_ = np.ones(rows_f.size, bool)
        for rule in front.rules:
            hit = open_ & rule.matches_np(proto, dport)
            open_ &= ~hit
            if not hit.any():
                continue
            rs = rows_f[hit]
            if rule.backends.size == 0:
                _end(rs, D.LB_NO_BACKEND, labels(label_no_backend(front, rule)), disp, dec,
                     active)
                continue
            h = rows_hash_np(front, c, rs)
            k = (h % np.uint64(rule.backends.size)).astype(np.int64)
            hair = rule.backends[k] == c.nic[rs]  # a backend's own flow mapped back to it
            if hair.any():
                _end(rs[hair], D.LB_HAIRPIN, labels(label_hairpin(front, rule)), disp, dec,
                     active)
                rs, k = rs[~hair], k[~hair]
            ip = rule.backend_ips[k] if front.family == 4 else np.zeros(rs.size, np.int64)
            out.append((rs, rule.backends[k].astype(np.int32), ip.astype(np.int64),
                        rule.translate_port_np(c.proto[rs], c.dport[rs]).astype(np.int32),
                        np.full(rs.size, labels(label_rule(front, rule)), np.int32),
                        rule.backend_hi[k], rule.backend_lo[k]))
        _end(rows_f[open_], D.LB_NO_RULE, labels(label_no_rule(front)), disp, dec, active)
    if not out:
        return (np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int64),
                np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.uint64),
                np.zeros(0, np.uint64))
    return tuple(np.concatenate(cols) for cols in zip(*out, strict=True))


def rows_hash_np(front: Frontend, c: Any, rs: np.ndarray) -> np.ndarray:
    """`flow_hash_of` over rows `rs` of columns `c` (IPv6 frontends hash the halves)."""
    if front.family == 6:
        return flow_hash_np(fold6_np(c.src_hi[rs], c.src_lo[rs]),
                            fold6_np(c.dst_hi[rs], c.dst_lo[rs]), c.proto[rs], c.sport[rs],
                            c.dport[rs])
    return flow_hash_np(c.src[rs], c.dst[rs], c.proto[rs], c.sport[rs], c.dport[rs])


def public_np(net: Network, labels: Any, c: Any, rows: np.ndarray, disp: np.ndarray,
              dec: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, ...]:
    """Rows `rows` (new flows from no emulated NIC) addressed to a public frontend: drops
    (LB_NO_RULE, LB_NO_BACKEND, PUBLIC_IP_CLOSED) written into disp/dec; returns the balanced
    rows with their backend NIC (int32), DNAT address (int64) and port (int32), and deciding
    label index (int32), aligned -- the dispatcher translates and delivers them."""
    fe = net.lb.at_public_np(c.dst[rows])
    sel, fe = rows[fe >= 0], fe[fe >= 0]
    if sel.size == 0:
        return (sel, np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0, np.int32),
                np.zeros(0, np.int32))
    out, backend, ip, port, label, _, _ = frontends_np(
        net, labels, c, sel, fe, np.full(sel.size, -1, np.int32), disp, dec, active)
    of = net.lb.at_public_np(c.dst[out])
    basic = np.array([net.lb.frontends[f].basic for f in of.tolist()], bool)
    shut = ~basic & ~net.lb.nic_guarded[backend]
    for f in np.unique(of[shut]).tolist():
        _end(out[shut & (of == f)], D.PUBLIC_IP_CLOSED, labels(label_closed(
            net.lb.frontends[f])), disp, dec, active)
    keep = ~shut
    return out[keep], backend[keep], ip[keep], port[keep], label[keep]


def next_hop_np(net: Network, labels: Any, c: Any, idx: np.ndarray, rid: np.ndarray,
                vnet: np.ndarray, m: np.ndarray, disp: np.ndarray, dec: np.ndarray,
                active: np.ndarray) -> np.ndarray:
    """An ILB frontend as a UDR next hop, rows idx[m]: rewrite `rid` (in place) to the chosen
    backend's synthetic route (compile.py `lb_synth`); drops written; returns the mask (over
    idx) of rows that continue as appliance traffic."""
    ok = np.zeros(idx.size, bool)
    fe_of = net.route_fe[rid]
    for f in np.unique(fe_of[m]).tolist():
        front = net.lb.frontends[f]
        s = np.flatnonzero(m & (fe_of == f))
        if front.basic:
            bad = np.array([basic_global(net, front, int(v)) for v in vnet[s].tolist()], bool)
            _end(idx[s[bad]], D.LB_BASIC_GLOBAL, labels(label_basic(front)), disp, dec, active)
            s = s[~bad]
        sel = idx[s]
        open_ = np.ones(s.size, bool)
        for rule in front.rules:
            hit = open_ & rule.matches_np(c.proto[sel], c.dport[sel])
            open_ &= ~hit
            if not hit.any():
                continue
            if rule.backends.size == 0:
                _end(sel[hit], D.LB_NO_BACKEND, labels(label_no_backend(front, rule)), disp,
                     dec, active)
                continue
            hs = s[hit]
            rs = idx[hs]
            h = rows_hash_np(front, c, rs)
            k = (h % np.uint64(rule.backends.size)).astype(np.int64)
            backend = rule.backends[k]
            for j, (r, b) in enumerate(zip(rid[hs].tolist(), backend.tolist(), strict=True)):
                rid[hs[j]] = net.lb_synth[(r, b)]
            ok[hs] = True
        _end(sel[open_], D.LB_NO_RULE, labels(label_no_rule(front)), disp, dec, active)
    return ok


def _end(sel: np.ndarray, d: D, label: int, disp: np.ndarray, dec: np.ndarray,
         active: np.ndarray) -> None:
    disp[sel] = d
    dec[sel] = label
    active[sel] = False


__all__ = ["LB_ASSUMPTIONS", "Choice", "Frontend", "LBTables", "Rule", "basic_global",
           "build_tables", "choose", "closed_to", "decide_frontend", "decide_next_hop",
           "decide_public", "label_closed", "public_np", "flow_hash",
           "flow_hash_np", "flow_hash_of", "fold6", "fold6_np", "rows_hash_np", "frontends_np", "lb_hop", "next_hop_np"]
