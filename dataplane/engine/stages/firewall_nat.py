"""Stage: Azure Firewall address translation (DNAT and SNAT) -- reference and batch forms.

Contract. Takes one firewall's `FirewallNat` (built once by `compile_nat` from the topology:
its DNAT rules in processing order, control/firewall_rules.py `nat_rules`; its public
addresses, control/public_addresses.py; its SNAT private ranges, control/firewall_snat.py; its
instance addresses) and packets at that firewall. Emits translations; the dispatchers
(engine/reference.py, engine/batch.py) move the packets and the connection table
(engine/conntrack.py) un-translates the replies.

DNAT (`dnat`, `dnat_np`): a new flow whose destination is one of the firewall's addresses is
matched against the DNAT rules in order, first match ("Azure Firewall rule processing logic",
https://learn.microsoft.com/azure/firewall/rule-processing, "Rule processing using classic
rules" and "Rule processing using Firewall Policy": DNAT rules are processed first, before
network and application rules; a DNAT rule "implicitly" adds the network rule that allows the
translated traffic, so a DNAT-matched flow needs no network rule). A match translates the
destination to the rule's translated address and port. No match: the firewall's default deny.
DNAT source (assumption `firewall-dnat-snat`): the DNATed flow's source is also translated to
one of the firewall's instance addresses in the AzureFirewallSubnet (port from the flow hash),
so that the backend's replies return through the firewall whatever its subnet's routes; field
notes and Microsoft's answers describe this, the rule-processing page does not say it; it is
this emulator's choice, printed with every answer crossing a firewall with DNAT rules.
SNAT (`snat_source`, `snat_np`): a new flow a network rule allows is SNATed when its
destination is outside the firewall's private ranges; one an application rule allows is
always SNATed ("Azure Firewall SNAT private IP address ranges",
https://learn.microsoft.com/azure/firewall/snat-private-range: network rules are not SNATed
to IANA RFC 1918 / RFC 6598 destinations; "Application rules are always SNATed using a
transparent proxy"; Internet-bound traffic through forced tunnelling and non-private ranges are
SNATed "to one of the firewall's private IP addresses in AzureFirewallSubnet"). The new source
is a firewall public address when the firewall's subnet routes the destination to the Internet
and the firewall has a public IP; otherwise an instance address.
Addresses and ports (assumptions `firewall-instance-address`, `firewall-snat-port`): the
firewall's `autoscaleConfiguration.minCapacity` instances when the input sets it ("Azure
Firewall prescaling", https://learn.microsoft.com/azure/firewall/prescaling: capacity units
"always provisioned", 2 to 50), else two (Microsoft's minimum, "Scale SNAT ports with Azure
NAT Gateway",
https://learn.microsoft.com/azure/firewall/integrate-with-nat-gateway: "2,496 SNAT ports per
public IP address configured per backend virtual machine scale set instance (Minimum of two
instances)") at the AzureFirewallSubnet addresses right after the firewall's private address;
the instance and the public address (Azure "randomly selects the source public IP address",
same page) are functions of the flow's original 5-tuple (a 64-bit mix), so a flow gets the
same translation in every batch split. The SNAT port: the decision carries the 5-tuple's hash
port (`snat_np`), the start of the flow's allocation; the connection table gives each live
flow its own port when its entry opens (engine/snat_ports.py: the hash port when free in the
flow's reply-key space -- SNAT address, destination, protocol, destination port -- else the
next free port up, wrapping; an idled-out flow frees its port; allocation in capture order,
whatever the batch split), and the flow's packets leave with that port. The stages after the
SNAT (a later firewall, a load balancer's or gateway's flow hash, NSG source ports, explain
hops) read the hash port: the port is state, not a decision (a flow that never opens an entry
keeps the hash port). DNAT's source translation keeps its hash port (no allocation: two such
flows on one tuple, conntrack-first-wins).
SNAT port exhaustion (`snat_key`, `snat_limit`; assumption `firewall-snat-port`): a new flow
(one whose original 5-tuple has no connection-table entry) SNATed at a firewall needs a port
of its (firewall, SNAT address, instance, protocol, destination address, destination port);
when that key already has `snat_limit` live entries (engine/conntrack.py, idle expiry) at the
packet's time the flow is dropped at the firewall: FIREWALL_SNAT_EXHAUSTED. Limits: 2,496
ports per public IP per instance ("Scale SNAT ports with Azure NAT Gateway",
https://learn.microsoft.com/azure/firewall/integrate-with-nat-gateway: "2,496 SNAT ports per
public IP address configured per backend virtual machine scale set instance"); an instance
address (private SNAT) has the whole dynamic range, PORT_COUNT (Microsoft gives no number).
Ports are counted at the first firewall that SNATs the flow, per destination IP:port and
protocol (a port is reused towards other destinations): a later firewall that SNATs the flow
again takes no port of its own pools; DNAT's source translation (firewall-dnat-snat) takes no
port at all (Microsoft documents no count for either: the assumption says so). A flow whose
entry exists keeps its port, also when its entry expired and its forward direction re-opens
it.
Replies (assumption `firewall-reply-return`, engine/conntrack.py `source_restore`): a reply
addressed to an instance address or a public address of a firewall holding the flow's session
goes to that firewall, is restored there (destination: the flow's original source; source: the
original destination when DNATed) and is routed on from the firewall's subnet, so its path and
timing include the firewall. On its way to the firewall it is the packet its sender wrote: a
peering it crosses checks that source (allowForwardedTraffic), and a reply dropped before the
firewall keeps its addresses. A reply from on-premises to an instance address (a flow SNATed on
its way out through forced tunnelling) enters at its site's gateway and goes to the firewall
the same way. A TCP/UDP flow two or more firewalls DNATed in turn (chained
private DNAT) is restored firewall by firewall (`dnat_chain`): each firewall rewrites the reply
into the reverse of the tuple it received, so the reply goes on to the previous firewall's
instance address and is restored there, back to the original source (caveat
`firewall-dnat-chain` names the modelling on the forward answers).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from dataplane.control.firewall_rules import DnatRule, nat_rules
from dataplane.control.firewall_snat import SnatRanges, snat_ranges
from dataplane.control.nsg import ANY_PROTOCOL
from dataplane.control.public_addresses import public_address
from dataplane.kernels.pipeline_py import mix64
from dataplane.model import AzureFirewall, Topology, id_key

INSTANCES = 2  # Microsoft's minimum instance count, unless minCapacity (module contract)
PORT_FIRST, PORT_COUNT = 1024, 65536 - 1024
FIREWALL_NAT_ASSUMPTIONS = (
    "firewall-dnat-snat: a flow an Azure Firewall DNATs also has its source translated to one "
    "of the firewall's instance addresses in AzureFirewallSubnet (in Azure this brings the "
    "backend's replies back to the firewall; here see firewall-reply-return); Microsoft's "
    "rule-processing page does not say it (engine/stages/firewall_nat.py).",
    "firewall-instance-address: an Azure Firewall has its autoscaleConfiguration.minCapacity "
    "instances ('Azure Firewall prescaling'), else two (Microsoft's minimum); they sit at "
    "the AzureFirewallSubnet addresses right after its private address; the instance and the "
    "public address of a flow are functions of its original 5-tuple, the same in every batch "
    "split (Azure chooses them at run time).",
    "firewall-snat-port: a new flow SNATed by an Azure Firewall takes its own port when its "
    "connection-table entry opens (in capture order): the port a hash of its 5-tuple picks "
    "when no live flow to the same destination IP:port holds it on that address, else the "
    "next free port up (Microsoft does not say which port a connection gets); a flow idle "
    "past the timeout frees its port, and should its forward direction resume after a later "
    "flow took the port, it keeps the port and its replies go to the later flow; stages "
    "after the SNAT (a later firewall, load-balancer and gateway flow hashes, NSG source "
    "ports) see the hash port. The port counts against the pool (public IP "
    "or instance address, instance, protocol, destination IP:port); with 2,496 live flows per "
    "public IP per instance ('Scale SNAT ports with Azure NAT Gateway', https://"
    "learn.microsoft.com/azure/firewall/integrate-with-nat-gateway) -- 64,512 per instance "
    "address, for which Microsoft gives no number -- the next new flow is dropped "
    "(FIREWALL_SNAT_EXHAUSTED) until an entry idles out (conntrack-idle; TCP FIN/RST free "
    "nothing); counted at the first firewall that SNATs the flow, over its instances "
    "(firewall-instance-address; scale-out beyond minCapacity is not modelled): a flow a "
    "second firewall SNATs again draws no port of that firewall's pools, so a later "
    "firewall's pools are never exhausted by such flows; DNAT's source translation to an "
    "instance address draws no port of any pool (Microsoft documents no port count for it): "
    "inbound DNAT flows never end FIREWALL_SNAT_EXHAUSTED and do not use up ports of the "
    "outbound flows. Microsoft is silent on both; chosen here.",
    "firewall-reply-return: a reply addressed to a firewall's own address (an instance "
    "address its SNAT or DNAT used, or a public address) of a flow whose session it holds "
    "goes to that firewall (peering checked, no route lookup at the sender), is restored there "
    "from the connection table (destination: the flow's original source; source: its original "
    "destination when DNATed) and routed on from the firewall's subnet; a TCP/UDP flow "
    "several firewalls DNATed in turn is restored firewall by firewall, each undoing its own "
    "translation (recomputed from the original 5-tuple), the reply passing each firewall's "
    "instance address on its way back.",
)


SNAT_PORTS_PER_PUBLIC_IP = 2496  # per instance ("Scale SNAT ports with Azure NAT Gateway")
INSTANCE_SNAT_PORTS = PORT_COUNT  # per instance address (assumption firewall-snat-port)
SnatKey = tuple[int, int, int, int, int, int]  # (firewall, address, instance, proto, dst, dport)


@dataclass(frozen=True)
class FirewallNat:
    """One firewall's translation tables. Addresses are IPv4 integers (int64 arrays)."""

    name: str
    private: int  # the firewall's private address (-1: unknown)
    public: np.ndarray  # its public addresses, in ipConfigurations order
    instances: np.ndarray  # its instance addresses (empty without a private address)
    ranges: SnatRanges
    rules: tuple[DnatRule, ...]
    caveats: tuple[str, ...]

    @cached_property
    def addresses(self) -> np.ndarray:
        """The firewall's own addresses, where a new flow is the firewall's to answer (not a
        flow it forwards): the public addresses and the private one -- its DNS proxy
        (stages/firewall.py `dns_proxy_answers`), then its DNAT rules, else its default deny
        (address_owners keeps the same rule)."""
        own = self.public.tolist() + ([self.private] if self.private >= 0 else [])
        return np.array(sorted(set(own)), dtype=np.int64)

    # -- reference form --
    def dnat(self, proto: int, src: int, dst: int, dport: int,
             groups: dict[str, tuple[tuple[int, int], ...]]) -> int:
        """Index in `rules` of the first DNAT rule matching the packet, -1 when none."""
        for i, r in enumerate(self.rules):
            if r.translated_address is None or dst not in r.destinations:
                continue
            if ANY_PROTOCOL not in r.protocols and proto not in r.protocols:
                continue
            if proto in (6, 17) and not any(lo <= dport <= hi for lo, hi in r.ports):
                continue
            sources = r.sources + tuple(x for g in r.source_ip_groups
                                        for x in groups.get(id_key(g), ()))
            if any(lo <= src <= hi for lo, hi in sources):
                return i
        return -1

    def snat_source(self, internet: bool, src: int, dst: int, proto: int, sport: int,
                    dport: int) -> tuple[int, int]:
        """(address, port) a translated flow leaves the firewall with (module contract)."""
        addr, port = self.snat_np(np.array([internet]), *(np.array([v], dtype=np.int64) for v in
                                                          (src, dst, proto, sport, dport)))
        return int(addr[0]), int(port[0])

    def snat_key(self, firewall: int, address: int, src: int, dst: int, proto: int, sport: int,
                 dport: int) -> SnatKey:
        """The port pool a new flow SNATed to `address` draws from (module contract); the
        5-tuple is the flow's as it reached the firewall."""
        inst = self.instance_np(*(np.array([v], dtype=np.int64)
                                  for v in (src, dst, proto, sport, dport)))
        return (firewall, address, int(inst[0]), proto, dst, dport if proto in (6, 17) else 0)

    def snat_limit(self, address: int) -> int:
        """Ports of one pool: SNAT_PORTS_PER_PUBLIC_IP for a public address, else
        INSTANCE_SNAT_PORTS."""
        return SNAT_PORTS_PER_PUBLIC_IP if address in self.public.tolist() else \
            INSTANCE_SNAT_PORTS

    def needs_snat(self, dst: int, application: bool) -> bool:
        return bool(application or not self.ranges.private(dst)) and self.instances.size > 0

    # -- batch form --
    def dnat_np(self, proto: np.ndarray, src: np.ndarray, dst: np.ndarray, dport: np.ndarray,
                groups: dict[str, tuple[tuple[int, int], ...]]) -> np.ndarray:
        """int32[n]: the first matching DNAT rule per row, -1 when none."""
        out = np.full(proto.size, -1, dtype=np.int32)
        for i, r in enumerate(self.rules):
            open_ = out < 0
            if r.translated_address is None or not open_.any():
                continue
            m = open_ & np.isin(dst, np.array(r.destinations, dtype=np.int64))
            if ANY_PROTOCOL not in r.protocols:
                m &= np.isin(proto, np.array(sorted(r.protocols), dtype=np.int64))
            ported = (proto == 6) | (proto == 17)
            in_port = np.zeros(proto.size, bool)
            for lo, hi in r.ports:
                in_port |= (dport >= lo) & (dport <= hi)
            m &= ~ported | in_port
            sources = r.sources + tuple(x for g in r.source_ip_groups
                                        for x in groups.get(id_key(g), ()))
            in_src = np.zeros(proto.size, bool)
            for lo, hi in sources:
                in_src |= (src >= lo) & (src <= hi)
            out[m & in_src] = i
        return out

    def needs_snat_np(self, dst: np.ndarray, application: np.ndarray) -> np.ndarray:
        if self.instances.size == 0:
            return np.zeros(dst.size, bool)
        private = np.zeros(dst.size, bool)
        for lo, hi in self.ranges.intervals:
            private |= (dst >= lo) & (dst <= hi)
        return application | ~private

    @staticmethod
    def _hash(src: np.ndarray, dst: np.ndarray, proto: np.ndarray, sport: np.ndarray,
              dport: np.ndarray) -> np.ndarray:
        """uint64[n]: the mix of each 5-tuple every translation choice reads."""
        u = np.uint64
        a = (np.asarray(src).astype(u) << u(32)) | np.asarray(dst).astype(u)
        b = (np.asarray(proto).astype(u) << u(32)) | (np.asarray(sport).astype(u) << u(16)) ^ \
            np.asarray(dport).astype(u)
        return mix64(a, b)

    def instance_np(self, src: np.ndarray, dst: np.ndarray, proto: np.ndarray,
                    sport: np.ndarray, dport: np.ndarray) -> np.ndarray:
        """int64[n]: the instance (0..instances-1) each 5-tuple's flow is on (snat_np's)."""
        return (self._hash(src, dst, proto, sport, dport) % np.uint64(
            self.instances.size or INSTANCES)).astype(np.int64)

    def snat_np(self, internet: np.ndarray, src: np.ndarray, dst: np.ndarray, proto: np.ndarray,
                sport: np.ndarray, dport: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(address int64[n], port int32[n]): the translated source of each original 5-tuple;
        a public address where `internet` and the firewall has one, else an instance address;
        the port kept for protocols without ports."""
        u = np.uint64
        h = self._hash(src, dst, proto, sport, dport)
        port = (PORT_FIRST + (h >> u(8)) % u(PORT_COUNT)).astype(np.int32)
        ported = (proto == 6) | (proto == 17)
        port = np.where(ported, port, np.asarray(sport)).astype(np.int32)
        inst = self.instances[(h % u(self.instances.size or INSTANCES)).astype(np.int64)] \
            if self.instances.size else \
            np.full(src.size, -1, np.int64)
        if self.public.size:
            # the address from the hash's next digit (h // instances): independent of the
            # instance (h % instances), so every (address, instance) pool is used -- with the
            # same digit, address k would always pair with instance k (new-user trial)
            spread = h // u(self.instances.size or INSTANCES)
            pub = self.public[(spread % u(self.public.size)).astype(np.int64)]
            return np.where(internet, pub, inst).astype(np.int64), port
        return inst.astype(np.int64), port


def address_owners(net: Any) -> tuple[dict[int, int], dict[int, int]]:
    """({public address: firewall index}, {private address: firewall index}) of a compiled
    Network's firewalls (engine/compile.py `firewall_rules`). A new flow to a firewall's private
    address reaches the firewall: its DNAT rules (private-IP DNAT), its DNS proxy
    (stages/firewall.py `dns_proxy_answers`), else its default deny -- the firewall receives it
    whether or not a rule names the address."""
    public: dict[int, int] = {}
    private: dict[int, int] = {}
    for i, fw in enumerate(net.firewall_rules):
        for a in fw.nat.public.tolist():
            public.setdefault(int(a), i)
        if fw.nat.private >= 0:
            private.setdefault(fw.nat.private, i)
    return public, private


def private_target(private: dict[int, int], net: Any, dst: int, vnet: int) -> int:
    """The firewall (index) whose private-IP DNAT a new IPv4 flow to `dst` reaches over a
    VnetLocal/peering route into VNet `vnet`: `dst` is that firewall's private address, one of
    its DNAT rules names it (`address_owners`' `private`) and the firewall is in `vnet`; -1
    otherwise. Also from a gateway (on-premises over VPN/ExpressRoute, or VNet-to-VNet): the
    packet reaches the firewall, not gateway transit's delivery ("Tutorial: Deploy Azure
    Firewall private IP DNAT for overlapped and nonroutable networks",
    https://learn.microsoft.com/azure/firewall/tutorial-private-ip-dnat, "Scenario overview":
    "Non-routable networks ... such as accessing on-premises resources through Azure
    Firewall"; the peering checks are gateway transit's, stages/peering.py)."""
    f = private.get(dst, -1)
    return f if f >= 0 and int(net.node_vnet[f + len(net.nics)]) == vnet else -1


def private_target_np(private: dict[int, int], net: Any, dst: np.ndarray, vnet: np.ndarray
                      ) -> np.ndarray:
    """Batch form of `private_target`: int32[n], -1 where none."""
    f = owner_np(private, dst)
    held = f >= 0
    f[held & (net.node_vnet[np.maximum(f, 0) + len(net.nics)] != vnet)] = -1
    return f


def instance_owners(net: Any) -> dict[int, int]:
    """{instance address: firewall index} of a compiled Network's firewalls (the addresses
    their SNAT and DNAT source translation use; replies to them go to that firewall)."""
    out: dict[int, int] = {}
    for i, fw in enumerate(net.firewall_rules):
        for a in fw.nat.instances.tolist():
            out.setdefault(int(a), i)
    return out


def owner_np(owners: dict[int, int], dst: np.ndarray) -> np.ndarray:
    """int32[n]: the firewall index owning each destination (`address_owners`), -1 none."""
    if not owners:
        return np.full(dst.size, -1, np.int32)
    keys = np.array(sorted(owners), dtype=np.int64)
    vals = np.array([owners[k] for k in keys.tolist()], dtype=np.int32)
    at = np.minimum(np.searchsorted(keys, dst), keys.size - 1)
    return np.where(keys[at] == dst, vals[at], -1).astype(np.int32)


def dnat_chain(firewalls: Any, public: dict[int, int], private: dict[int, int],
               original: tuple[int, int, int, int, int], session_fw: frozenset[int]
               ) -> dict[int, tuple[int, int, int, int, int]]:
    """{firewall index: the flow's 5-tuple (src, dst, proto, sport, dport; ports 0 unless
    TCP/UDP) as it arrived at that firewall} for a TCP/UDP flow two or more firewalls DNATed
    in turn (chained private-IP DNAT); {} for a flow at most one firewall DNATed (its replies
    are restored from the connection table's original key in one step) and for other
    protocols (caveat `firewall-dnat-chain`).

    `firewalls`: a compiled Network's `firewall_rules` (`.nat`, `.groups`); `public`/`private`:
    `address_owners`; `session_fw`: the firewall indexes holding the flow's session. The chain
    is recomputed from the original 5-tuple with the same functions the forward walk uses
    (`FirewallNat.dnat`, `snat_source`): every firewall's choice is a function of the tuple it
    received, so each hop's tuple is known without storing it (assumption
    `firewall-reply-return`: a reply is restored firewall by firewall, each firewall undoing
    its own translation, as each Azure Firewall keeps its own session)."""
    out: dict[int, tuple[int, int, int, int, int]] = {}
    key = original
    if original[2] not in (6, 17):  # keys drop the ports the forward hash read: not chained
        return out
    while True:
        src, dst, proto, sport, dport = key
        f = public.get(dst, private.get(dst, -1))
        if f < 0 or f not in session_fw or f in out:
            break
        fw = firewalls[f]
        i = fw.nat.dnat(proto, src, dst, dport, fw.groups)
        if i < 0:
            break
        out[f] = key
        rule = fw.nat.rules[i]
        address, port = fw.nat.snat_source(False, src, dst, proto, sport, dport)
        ported = proto in (6, 17)
        key = (address, int(rule.translated_address), proto, port if ported else 0,
               rule.translated_port if ported else 0)
    return out if len(out) > 1 else {}


def restore_hop(at: str, p: Any, key: tuple[int, int, int, int, int]) -> dict[str, Any]:
    """The explain hop of a chained flow's reply restored at firewall `at` to reverse(`key`)
    (`dnat_chain`): source and destination both change."""
    return {"step": "nat", "at": at, "kind": "restore (firewall, chained DNAT)",
            "original": {"sourceIp": _ip(p.src), "sourcePort": p.sport,
                         "destinationIp": _ip(p.dst), "destinationPort": p.dport},
            "translated": {"sourceIp": _ip(key[1]), "sourcePort": key[4],
                           "destinationIp": _ip(key[0]), "destinationPort": key[3]}}


def dnat_hop(fw: FirewallNat, rule: DnatRule, p: Any, to: tuple[int, int, int, int]
             ) -> dict[str, Any]:
    """The explain hop of a DNAT at the firewall (to: new src, dst, sport, dport)."""
    return {"step": "nat", "at": fw.name, "kind": "DNAT (firewall)", "rule": rule.label,
            "original": {"sourceIp": _ip(p.src), "sourcePort": p.sport,
                         "destinationIp": _ip(p.dst), "destinationPort": p.dport},
            "translated": {"sourceIp": _ip(to[0]), "sourcePort": to[2],
                           "destinationIp": _ip(to[1]), "destinationPort": to[3]}}


def snat_hop(fw: FirewallNat, p: Any, address: int, port: int, application: bool
             ) -> dict[str, Any]:
    """The explain hop of a SNAT at the firewall."""
    return {"step": "nat", "at": fw.name, "kind": "SNAT (firewall" +
            (", application rule)" if application else ")"),
            "original": {"sourceIp": _ip(p.src), "sourcePort": p.sport},
            "translated": {"sourceIp": _ip(address), "sourcePort": port}}


def exhausted_label(fw: FirewallNat, address: int) -> str:
    """The deciding label of a flow dropped for SNAT ports (module contract)."""
    kind = "public IP" if address in fw.public.tolist() else "instance address"
    return (f"firewall {fw.name}/SNAT ports exhausted ({fw.snat_limit(address):,} per {kind} "
            "per instance to one destination IP:port)")


def compile_nat(topology: Topology, fw: AzureFirewall) -> FirewallNat:
    """The firewall's translation tables (module contract). Raises InputError (from
    control/firewall_rules.py, control/firewall_snat.py) for values that cannot be read."""
    public = []
    for ref in fw.public_ip_addresses:
        address = public_address(topology, ref)
        if address is not None and address.version == 4:
            public.append(address.value)
    private = fw.private_ip_address.value if fw.private_ip_address is not None else -1
    count = fw.min_capacity or INSTANCES  # "Azure Firewall prescaling": minCapacity
    instances = np.array([private + 1 + k for k in range(count)] if private >= 0 else [],
                         dtype=np.int64)
    found = nat_rules(topology, fw)
    ranges = snat_ranges(topology, fw)
    caveats = list(found.caveats) + list(ranges.caveats)
    if found.rules and not public:
        caveats.append(f"firewall-dnat-no-public-ip: firewall {fw.name} has DNAT rules and no "
                       "public IP in the input; only its private address can be a DNAT "
                       "destination")
    if (fw.sku_tier or "").lower() == "basic" and any(private in r.destinations
                                                      for r in found.rules if private >= 0):
        caveats.append(f"firewall-private-dnat-basic: firewall {fw.name} is Basic and a DNAT "
                       f"rule names its private address {_ip(private)}; Microsoft offers "
                       "private IP DNAT on Standard and Premium only ('Tutorial: Deploy Azure "
                       "Firewall private IP DNAT for overlapped and nonroutable networks', "
                       "https://learn.microsoft.com/azure/firewall/tutorial-private-ip-dnat, "
                       "'Prerequisites'): the rule is applied here as written, Azure would not "
                       "accept it")
    held = {c.private_ip_address.value for n in topology.network_interfaces
            for c in n.ip_configurations if c.private_ip_address is not None} | {
        f.private_ip_address.value for lb in topology.load_balancers
        for f in lb.frontend_ip_configurations if f.private_ip_address is not None} | {
        f.private_ip_address.value for f in topology.azure_firewalls
        if f.private_ip_address is not None}
    others = {f.private_ip_address.value: f.name for f in topology.azure_firewalls
              if f.private_ip_address is not None and f.name != fw.name}
    for r in found.rules:
        if r.translated_address in others:
            caveats.append(f"firewall-dnat-chain: {r.label} translates to firewall "
                           f"{others[r.translated_address]}, which translates again: the "
                           "replies of such TCP/UDP flows are restored firewall by firewall, "
                           "each firewall's translation recomputed from the flow's original "
                           "5-tuple (assumption firewall-reply-return); replies of other "
                           "protocols are restored in one step at the first firewall they "
                           "return to")
        if r.translated_address is not None and r.translated_address not in held:
            caveats.append(f"firewall-dnat-target: {r.label} translates to {_ip(r.translated_address)}, "
                           "which no emulated NIC, load balancer or firewall holds (an Application "
                           "Gateway or another resource not modelled): its flows end where the "
                           "routes leave them")
    return FirewallNat(fw.name, private, np.array(public, dtype=np.int64), instances,
                       ranges, found.rules, tuple(caveats))


def _ip(v: int) -> str:
    return ".".join(str((v >> s) & 255) for s in (24, 16, 8, 0))


__all__ = ["FIREWALL_NAT_ASSUMPTIONS", "FirewallNat", "INSTANCE_SNAT_PORTS",
           "SNAT_PORTS_PER_PUBLIC_IP", "SnatKey", "address_owners", "compile_nat", "dnat_chain",
           "dnat_hop", "exhausted_label", "instance_owners", "owner_np", "private_target",
           "private_target_np", "restore_hop", "snat_hop"]
