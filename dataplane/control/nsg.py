"""Effective security rules of a NIC and their evaluation for one flow.

Takes: a Topology and a NIC (plus, to evaluate, a `Flow`: protocol number, addresses, ports).
Emits: `NicSecurity` (the subnet-level and NIC-level `EffectiveNsg`, each with its rules sorted
by priority, tags and ASGs expanded to prefixes) and `Verdict` (access, deciding rule name,
per-level decisions). Follows docs/azure-behaviour.md section 2: rule properties (2.1), the six
default rules (2.2), service tags (2.3, see tags.py), evaluation order (2.4): inbound subnet
NSG then NIC NSG, outbound NIC NSG then subnet NSG; first match by priority; every level must
allow; no NSG at a level allows at that level.

Stateful (2.1): a verdict is for a NEW flow; return traffic of an allowed flow passes without
rule evaluation. That flow table is the packet pipeline's job, not this module's.
Ports only apply to TCP and UDP; a flow of another protocol (ICMP, ESP, AH) matches a rule's
ports only when the rule allows all ports (assumption `ports-portless-protocols`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dataplane.control.routes import nic_subnet
from dataplane.control.tags import TagResolver, TagScope, scope_of, summarize_prefixes
from dataplane.model import (
    ALL_PORTS,
    ANY,
    NetworkInterface,
    NetworkSecurityGroup,
    PortRange,
    SecurityRule,
    Topology,
    VirtualNetwork,
    id_key,
)
from dataplane.net import IPAddress, Prefix

PROTOCOL_NUMBERS = {"tcp": 6, "udp": 17, "icmp": 1, "esp": 50, "ah": 51}
ANY_PROTOCOL = -1
_PORTED = (6, 17)


def protocol_number(name: str) -> int:
    """'Tcp' / 'TCP' / '*' / 'Any' / 'All' -> IP protocol number (-1 = any)."""
    key = name.lower()
    if key in ("*", "any", "all"):
        return ANY_PROTOCOL
    return PROTOCOL_NUMBERS[key]


def _default(name: str, priority: int, direction: str, access: str, source: str,
             destination: str, description: str) -> SecurityRule:
    return SecurityRule(name, priority, direction, access, ANY, (source,), (ALL_PORTS,),
                        (destination,), (ALL_PORTS,), description=description, is_default=True)


# 2.2: names, priorities, prefixes and ARM descriptions exactly as the API spells them.
DEFAULT_SECURITY_RULES = (
    _default("AllowVnetInBound", 65000, "Inbound", "Allow", "VirtualNetwork", "VirtualNetwork",
             "Allow inbound traffic from all VMs in VNET"),
    _default("AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow", "AzureLoadBalancer",
             "*", "Allow inbound traffic from azure load balancer"),
    _default("DenyAllInBound", 65500, "Inbound", "Deny", "*", "*",
             "Deny all inbound traffic"),
    _default("AllowVnetOutBound", 65000, "Outbound", "Allow", "VirtualNetwork", "VirtualNetwork",
             "Allow outbound traffic from all VMs to all VMs in VNET"),
    _default("AllowInternetOutBound", 65001, "Outbound", "Allow", "*", "Internet",
             "Allow outbound traffic from all VMs to Internet"),
    _default("DenyAllOutBound", 65500, "Outbound", "Deny", "*", "*",
             "Deny all outbound traffic"),
)


@dataclass(frozen=True)
class Flow:
    """One new flow: IP protocol number, source and destination address and port."""

    protocol: int
    source: IPAddress
    source_port: int
    destination: IPAddress
    destination_port: int


@dataclass(frozen=True)
class EffectiveRule:
    name: str  # "securityRules/NAME" | "defaultSecurityRules/NAME"
    priority: int
    direction: str
    access: str
    protocol: int  # -1 = any
    source_any: bool
    source_prefixes: tuple[Prefix, ...]  # expanded (tags, ASGs), summarized
    source_ports: tuple[PortRange, ...]
    destination_any: bool
    destination_prefixes: tuple[Prefix, ...]
    destination_ports: tuple[PortRange, ...]
    rule: SecurityRule

    def matches(self, flow: Flow) -> bool:
        if self.protocol != ANY_PROTOCOL and self.protocol != flow.protocol:
            return False
        if not self.source_any and not any(p.contains_address(flow.source)
                                           for p in self.source_prefixes):
            return False
        if not self.destination_any and not any(p.contains_address(flow.destination)
                                                for p in self.destination_prefixes):
            return False
        return (_ports_match(self.source_ports, flow.source_port, flow.protocol)
                and _ports_match(self.destination_ports, flow.destination_port, flow.protocol))

    def as_dict(self) -> dict[str, object]:
        """One entry of `az network nic list-effective-nsg` effectiveSecurityRules."""
        r = self.rule
        src = [str(a) for a in r.source_address_prefixes] or [
            _id_name(a) for a in r.source_application_security_groups]
        dst = [str(a) for a in r.destination_address_prefixes] or [
            _id_name(a) for a in r.destination_application_security_groups]
        sports = [str(p) if p != ALL_PORTS else "0-65535" for p in self.source_ports]
        dports = [str(p) if p != ALL_PORTS else "0-65535" for p in self.destination_ports]
        return {
            "name": self.name,
            "protocol": "All" if r.protocol == ANY else r.protocol,
            "sourcePortRange": sports[0] if len(sports) == 1 else None,
            "destinationPortRange": dports[0] if len(dports) == 1 else None,
            "sourcePortRanges": sports,
            "destinationPortRanges": dports,
            "sourceAddressPrefix": src[0] if len(src) == 1 else None,
            "destinationAddressPrefix": dst[0] if len(dst) == 1 else None,
            "sourceAddressPrefixes": src,
            "destinationAddressPrefixes": dst,
            "expandedSourceAddressPrefix": (["0.0.0.0/0"] if self.source_any
                                            else [str(p) for p in self.source_prefixes]),
            "expandedDestinationAddressPrefix": (["0.0.0.0/0"] if self.destination_any
                                                 else [str(p) for p in self.destination_prefixes]),
            "sourceApplicationSecurityGroups": [_id_name(a) for a in
                                                r.source_application_security_groups],
            "destinationApplicationSecurityGroups": [_id_name(a) for a in
                                                     r.destination_application_security_groups],
            "access": self.access,
            "priority": self.priority,
            "direction": self.direction,
        }


@dataclass(frozen=True)
class EffectiveNsg:
    """One NSG at one level ("subnet" | "networkInterface") as it applies in one VNet."""

    nsg: NetworkSecurityGroup
    level: str
    association_id: str
    inbound: tuple[EffectiveRule, ...]
    outbound: tuple[EffectiveRule, ...]

    def rules(self, direction: str) -> tuple[EffectiveRule, ...]:
        return self.inbound if direction == "Inbound" else self.outbound

    def first_match(self, direction: str, flow: Flow) -> EffectiveRule | None:
        return next((r for r in self.rules(direction) if r.matches(flow)), None)


@dataclass(frozen=True)
class NicSecurity:
    nic: NetworkInterface
    subnet: EffectiveNsg | None
    interface: EffectiveNsg | None
    # the VirtualNetwork tag's scope and the compiler that expanded the rules (for the caveat
    # lines of control/vnet_tag_routes.py); not part of the value
    scope: TagScope | None = field(default=None, compare=False, repr=False)
    compiler: RuleCompiler | None = field(default=None, compare=False, repr=False)

    def levels(self, direction: str) -> tuple[tuple[str, EffectiveNsg | None], ...]:
        """2.4: inbound subnet then NIC; outbound NIC then subnet."""
        if direction == "Inbound":
            return (("subnet", self.subnet), ("networkInterface", self.interface))
        return (("networkInterface", self.interface), ("subnet", self.subnet))


@dataclass(frozen=True)
class LevelDecision:
    level: str
    nsg: str | None  # NSG id; None when no NSG at this level
    access: str
    rule: str | None


@dataclass(frozen=True)
class Verdict:
    access: str
    rule_name: str | None  # the deciding rule: the denying one, else the last allowing one
    levels: tuple[LevelDecision, ...]


def _id_name(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1]


def _ports_match(ranges: tuple[PortRange, ...], port: int, protocol: int) -> bool:
    if protocol not in _PORTED:
        return all(r == ALL_PORTS for r in ranges)
    return any(r.low <= port <= r.high for r in ranges)


def match_key(matches: tuple) -> tuple:
    """Address matches (Prefix or tag string) as plain tuples: hashed and compared in C."""
    return tuple([m if m.__class__ is str else (m.version, m.network, m.length)
                  for m in matches])


def asg_members(topology: Topology) -> dict[str, tuple[Prefix, ...]]:
    """ASG id key -> host prefixes of the IP configurations that are its members."""
    members: dict[str, list[Prefix]] = {}
    for nic in topology.network_interfaces:
        for config in nic.ip_configurations:
            if config.private_ip_address is None:
                continue
            ip = config.private_ip_address
            host = Prefix(ip.version, ip.value, 32 if ip.version == 4 else 128)
            for asg in config.application_security_groups:
                members.setdefault(id_key(asg), []).append(host)
    return {k: summarize_prefixes(v) for k, v in members.items()}


class RuleCompiler:
    """Expands NSGs for the tag scopes (VNet + subnet route table, tags.TagScope) of one
    topology; caches tag and ASG resolution. Where a parameter says `vnet`, a TagScope or a
    VirtualNetwork (scope without route table) is accepted: only `.id` and the tag resolver
    read it."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.tags = TagResolver(topology)
        self.asgs = asg_members(topology)
        # (match_key, ASGs) -> expanded side, or -1 when a tag is named: then the side depends
        # on the VNet and lives under (VNet key, (match_key, ASGs)). Prefixes and ASGs do not.
        self._sides: dict[tuple, tuple[bool, tuple[Prefix, ...]] | int] = {}

    def side(self, vnet: VirtualNetwork, matches: tuple, asgs: tuple[str, ...]
             ) -> tuple[bool, tuple[Prefix, ...]]:
        """One address side of a rule, expanded (tags for `vnet`, ASGs), memoised."""
        key = (match_key(matches), asgs)
        found = self._sides.get(key)
        if found is None:
            if any(m.__class__ is str and m != ANY for m in matches):
                found = self._sides[key] = -1
            else:
                found = self._sides[key] = self._side(vnet, matches, asgs)
                return found
        if found == -1:
            key = (vnet.id.lower(), key)
            found = self._sides.get(key)
            if found is None:
                found = self._sides[key] = self._side(vnet, matches, asgs)
        return found  # type: ignore[return-value]

    def _side(self, vnet: VirtualNetwork, matches: tuple, asgs: tuple[str, ...]
              ) -> tuple[bool, tuple[Prefix, ...]]:
        if not asgs and (not matches or any(m == ANY for m in matches)):
            return True, ()
        parts: list[Prefix] = []
        for m in matches:
            if isinstance(m, Prefix):
                parts.append(m)
            else:
                parts.extend(self.tags.resolve(vnet, m) or ())  # unknown tag matches nothing
        for asg in asgs:
            parts.extend(self.asgs.get(id_key(asg), ()))
        return False, (summarize_prefixes(parts) if len(parts) > 1 else tuple(parts))

    def expand(self, rule: SecurityRule, vnet: VirtualNetwork) -> EffectiveRule:
        src_any, src = self.side(vnet, rule.source_address_prefixes,
                                 rule.source_application_security_groups)
        dst_any, dst = self.side(vnet, rule.destination_address_prefixes,
                                 rule.destination_application_security_groups)
        kind = "defaultSecurityRules" if rule.is_default else "securityRules"
        return EffectiveRule(f"{kind}/{rule.name}", rule.priority, rule.direction, rule.access,
                             protocol_number(rule.protocol), src_any, src,
                             rule.source_port_ranges or (ALL_PORTS,), dst_any, dst,
                             rule.destination_port_ranges or (ALL_PORTS,), rule)

    def effective_nsg(self, nsg: NetworkSecurityGroup, vnet: VirtualNetwork, level: str,
                      association_id: str) -> EffectiveNsg:
        custom = [r for r in nsg.security_rules if not r.is_default]
        rules = [self.expand(r, vnet) for r in (*custom, *DEFAULT_SECURITY_RULES)]
        ordered = sorted(rules, key=lambda r: r.priority)
        return EffectiveNsg(nsg, level, association_id,
                            tuple(r for r in ordered if r.direction == "Inbound"),
                            tuple(r for r in ordered if r.direction == "Outbound"))

    def nic_security(self, nic: NetworkInterface) -> NicSecurity:
        subnet = nic_subnet(self.topology, nic)
        vnet = self.topology.vnet_of_subnet(subnet.id)
        assert vnet is not None
        scope = scope_of(self.topology, vnet, subnet.id)  # the VirtualNetwork tag's scope
        sub_nsg = self.topology.get(subnet.network_security_group)
        nic_nsg = self.topology.get(nic.network_security_group)
        return NicSecurity(
            nic,
            self.effective_nsg(sub_nsg, scope, "subnet", subnet.id)
            if isinstance(sub_nsg, NetworkSecurityGroup) else None,
            self.effective_nsg(nic_nsg, scope, "networkInterface", nic.id)
            if isinstance(nic_nsg, NetworkSecurityGroup) else None, scope, self)


def nic_security(topology: Topology, nic: NetworkInterface) -> NicSecurity:
    return RuleCompiler(topology).nic_security(nic)


def evaluate(security: NicSecurity, direction: str, flow: Flow) -> Verdict:
    """2.4: levels in order; a Deny ends evaluation; no NSG at a level allows there."""
    decisions: list[LevelDecision] = []
    deciding: str | None = None
    for level, eff in security.levels(direction):
        if eff is None:
            decisions.append(LevelDecision(level, None, "Allow", None))
            continue
        rule = eff.first_match(direction, flow)
        access = rule.access if rule else "Deny"
        name = rule.name if rule else None
        decisions.append(LevelDecision(level, eff.nsg.id, access, name))
        deciding = name
        if access == "Deny":
            return Verdict("Deny", deciding, tuple(decisions))
    return Verdict("Allow", deciding, tuple(decisions))
