"""Stage: Azure Firewall (classic rule collections) -- reference and batch forms side by side.

Contract. Takes a compiled firewall (`compile_firewall`: the network rules of its classic
collections or of its Firewall Policy chain flattened in processing order by
control/firewall_rules.py, addresses as integer intervals, caveats) and packets at the firewall: the reference form one
`(proto, src, dst, dport, session)` at a time, the batch form columns. Emits allow/deny and
the deciding label ("firewall NAME/COLLECTION/RULE", "firewall NAME/default-deny");
`session` packets (replies of a flow this firewall allowed, engine/conntrack.py) are allowed
without rule evaluation ("Azure Firewall Standard features",
https://learn.microsoft.com/azure/firewall/features, "Network traffic filtering rules":
fully stateful).
Rule processing ("Azure Firewall rule processing logic",
https://learn.microsoft.com/azure/firewall/rule-processing, "Classic rules"): network rule
collections by priority (low number first), rules in order, the first match decides; no
match -> deny. A rule matches when its protocol (TCP, UDP, ICMP, Any), a source (addresses or
the addresses of its `sourceIpGroups`), a destination (addresses, `destinationIpGroups`,
`destinationFqdns`) and, for TCP/UDP, a destination port match. A rule reads only what it
names: no address defaults to "*".
What cannot be evaluated matches nothing and puts a named caveat on every answer that crosses
this firewall (never silence): FQDNs in network rules (resolved by the firewall's DNS proxy;
"Azure Firewall Standard features", "FQDN in network rules"), IP groups absent from the
topology, service tags in destinations, NAT (DNAT) rule collections (DNAT from the
firewall's public addresses is not modelled yet), application rule collections (evaluated
after network rules, "Azure Firewall rule processing logic"; not evaluated yet: a packet
denied by default here could be allowed by them), and what a Firewall Policy holds beyond
network rules (control/firewall_rules.py: DNAT, application rules, threat intelligence in
Deny mode, Premium inspection, values known only at deployment).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dataplane.control.application_rules import application_rules
from dataplane.control.firewall_rules import firewall_rules
from dataplane.control.nsg import ANY_PROTOCOL, protocol_number
from dataplane.model import AzureFirewall, Prefix, Topology, id_key

FIREWALL_ASSUMPTIONS = (
    "firewall-classic: classic network rule collections are evaluated by priority, first "
    "match, default deny (Azure Firewall rule processing logic); a Firewall Policy's network "
    "rules likewise, parent policy first, then rule collection groups and collections by "
    "priority; caveats name what is not evaluated (FQDNs, missing IP groups, service tags, "
    "NAT and application rules, threat intelligence in Deny mode).",
)


@dataclass(frozen=True)
class FirewallRule:
    label: str
    allow: bool
    protocols: frozenset[int]  # ANY_PROTOCOL for Any
    src_lo: np.ndarray  # int64 interval starts (IPv4)
    src_hi: np.ndarray
    dst_lo: np.ndarray
    dst_hi: np.ndarray
    port_lo: np.ndarray  # int32 destination port ranges
    port_hi: np.ndarray

    def matches(self, proto: int, src: int, dst: int, dport: int) -> bool:
        if ANY_PROTOCOL not in self.protocols and proto not in self.protocols:
            return False
        if not ((self.src_lo <= src) & (src <= self.src_hi)).any():
            return False
        if not ((self.dst_lo <= dst) & (dst <= self.dst_hi)).any():
            return False
        return proto not in (6, 17) or bool(
            ((self.port_lo <= dport) & (dport <= self.port_hi)).any())

    def matches_np(self, proto: np.ndarray, src: np.ndarray, dst: np.ndarray,
                   dport: np.ndarray) -> np.ndarray:
        m = np.ones(proto.size, bool) if ANY_PROTOCOL in self.protocols else np.isin(
            proto, list(self.protocols))
        m &= _within(src, self.src_lo, self.src_hi) & _within(dst, self.dst_lo, self.dst_hi)
        ported = (proto == 6) | (proto == 17)
        return m & (~ported | _within(dport, self.port_lo, self.port_hi))


@dataclass(frozen=True)
class MayAllow:
    """An Allow application rule, as far as it can be judged without the name a flow asks for:
    TCP, its source intervals and its ports (control/application_rules.py)."""

    label: str
    src_lo: np.ndarray
    src_hi: np.ndarray
    ports: np.ndarray

    def matches(self, proto: int, src: int, dport: int) -> bool:
        return proto == 6 and bool(((self.src_lo <= src) & (src <= self.src_hi)).any()) \
            and dport in self.ports

    def matches_np(self, proto: np.ndarray, src: np.ndarray, dport: np.ndarray) -> np.ndarray:
        return (proto == 6) & _within(src, self.src_lo, self.src_hi) & np.isin(dport, self.ports)


@dataclass(frozen=True)
class CompiledFirewall:
    name: str
    rules: tuple[FirewallRule, ...]
    caveats: tuple[str, ...]
    may_allow: tuple[MayAllow, ...] = ()

    @property
    def default_label(self) -> str:
        return f"firewall {self.name}/default-deny"

    def undecided_label(self, rule: MayAllow) -> str:
        """Default deny where an application rule could still allow the flow (issue 12)."""
        return f"{self.default_label} (application rule {rule.label} may allow it: not evaluated)"

    # -- reference form --
    def decide(self, proto: int, src: int, dst: int, dport: int, session: bool
               ) -> tuple[bool, str | None]:
        """(allowed, deciding rule label; None for a session)."""
        if session:
            return True, None
        for rule in self.rules:
            if rule.matches(proto, src, dst, dport):
                return rule.allow, rule.label
        for app in self.may_allow:
            if app.matches(proto, src, dport):
                return False, self.undecided_label(app)
        return False, self.default_label

    # -- batch form --
    def decide_np(self, proto: np.ndarray, src: np.ndarray, dst: np.ndarray, dport: np.ndarray,
                  session: np.ndarray) -> tuple[np.ndarray, list[str], np.ndarray]:
        """(allowed bool[n], labels, label index int32[n] into labels; -1 for sessions)."""
        n = proto.size
        allow = session.copy()
        which = np.full(n, -1, dtype=np.int32)
        open_ = ~session
        labels = [self.default_label]
        which[open_] = 0
        for rule in self.rules:
            if not open_.any():
                break
            m = open_ & rule.matches_np(proto, src, dst, dport)
            if m.any():
                allow[m] = rule.allow
                which[m] = len(labels)
                labels.append(rule.label)
                open_ &= ~m
        for app in self.may_allow:
            if not open_.any():
                break
            m = open_ & app.matches_np(proto, src, dport)
            if m.any():
                which[m] = len(labels)
                labels.append(self.undecided_label(app))
                open_ &= ~m
        return allow, labels, which


def compile_firewall(topology: Topology, fw: AzureFirewall) -> CompiledFirewall:
    caveats: list[str] = []
    groups = {id_key(g.id): g for g in topology.ip_groups}

    def intervals(addresses: tuple, group_ids: tuple[str, ...], where: str, fqdns: tuple = ()
                  ) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = [], []
        for a in addresses:
            if a == "*":
                lo.append(0)
                hi.append((1 << 32) - 1)
            elif isinstance(a, Prefix):
                if a.version == 4:
                    lo.append(a.first)
                    hi.append(a.last)
            else:
                caveats.append(f"firewall-service-tag: firewall {fw.name} rule {where} names "
                               f"'{a}', not resolved here; it matches no address")
        for gid in group_ids:
            g = groups.get(id_key(gid))
            if g is None:
                caveats.append(f"firewall-ipgroup-missing: firewall {fw.name} rule {where} "
                               f"uses IP group '{gid.rsplit('/', 1)[-1]}', which is not in the "
                               "topology; it matches no address")
                continue
            for p in g.ip_addresses:
                if p.version == 4:
                    lo.append(p.first)
                    hi.append(p.last)
        if fqdns:
            caveats.append(f"firewall-fqdn: firewall {fw.name} rule {where} uses "
                           f"destinationFqdns ({', '.join(fqdns)}), resolved by the firewall's "
                           "DNS proxy in Azure; not resolved here, they match no address")
        return np.array(lo, dtype=np.int64), np.array(hi, dtype=np.int64)

    effective = firewall_rules(topology, fw)  # classic rules or the policy chain, in order
    caveats += effective.caveats
    rules = []
    for coll in effective.network_rule_collections:
        for r in coll.rules:
            where = f"{coll.name}/{r.name}"
            protos = frozenset(ANY_PROTOCOL if x.lower() == "any" else protocol_number(x)
                               for x in r.protocols)
            s_lo, s_hi = intervals(r.source_addresses, r.source_ip_groups, where)
            d_lo, d_hi = intervals(r.destination_addresses, r.destination_ip_groups, where,
                                   r.destination_fqdns)
            rules.append(FirewallRule(
                f"firewall {fw.name}/{where}", coll.action.lower() == "allow", protos,
                s_lo, s_hi, d_lo, d_hi,
                np.array([p.low for p in r.destination_ports], dtype=np.int32),
                np.array([p.high for p in r.destination_ports], dtype=np.int32)))
    if fw.nat_rule_collections:
        names = ", ".join(c.name for c in fw.nat_rule_collections)
        caveats.append(f"firewall-nat-rules: firewall {fw.name} has NAT rule collections "
                       f"({names}); DNAT from its public addresses is not modelled")
    if fw.application_rule_collections:
        names = ", ".join(c.name for c in fw.application_rule_collections)
        caveats.append(f"firewall-application-rules: firewall {fw.name} has application rule "
                       f"collections ({names}), processed after network rules and not "
                       "evaluated here: a packet denied by default could be allowed by them")
    may_allow = []
    for app in application_rules(topology, fw):
        if not app.allow:
            continue
        lo, hi = intervals(tuple(a for a in app.sources), (), app.label)
        ports = np.array(sorted({port for _, port in app.protocols}), dtype=np.int32)
        if lo.size and ports.size and app.target_fqdns:
            may_allow.append(MayAllow(app.label.removeprefix(f"firewall {fw.name}/"), lo, hi,
                                      ports))
    return CompiledFirewall(fw.name, tuple(rules), tuple(dict.fromkeys(caveats)),
                            tuple(may_allow))


def _within(v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    if lo.size == 0:
        return np.zeros(v.size, bool)
    return ((v[:, None] >= lo[None, :]) & (v[:, None] <= hi[None, :])).any(1)


__all__ = ["FIREWALL_ASSUMPTIONS", "CompiledFirewall", "FirewallRule", "MayAllow",
           "compile_firewall"]
