"""Azure Firewall application rules: which rule decides a flow, given the name it asks for.

Takes a Topology and an AzureFirewall. `application_rules` flattens the firewall's application
rules into evaluation order: its classic `applicationRuleCollections` by priority, or, when the
input holds its Firewall Policy, the policy chain's ApplicationRule rules (parent policy first,
then rule collection groups and collections by priority: control/firewall_rules.py has the same
order for network rules). `decide(rules, source, protocol, port, name)` returns the first rule
that matches, or None (the firewall then denies by default, "Azure Firewall rule processing
logic", https://learn.microsoft.com/azure/firewall/rule-processing: application rules are
evaluated after network rules; no match -> deny).

A rule matches when a source matches (addresses or IP groups), one of its protocol:port pairs is
the flow's (`Http` for an HTTP/1.x Host header, `Https` for a TLS server name, `Mssql` for the
SQL pre-login), and a target FQDN matches the name ("Azure Firewall FAQ",
https://learn.microsoft.com/azure/firewall/firewall-faq, "How do wildcards work in target URLs
and target FQDNs in application rules?": a wildcard only at the left; `*.contoso.com` matches
any subdomain, several levels deep, but not `contoso.com` itself; `*contoso.com` matches both
and also `mycontoso.com`; `*` matches every name). Names compare case-insensitively, a trailing
dot and a `:port` after an HTTP host are dropped.
Not evaluated (each a named caveat in `caveats`; the firewall stage then answers "unknown",
naming it, wherever the rule could decide a flow): FQDN tags ("Azure Firewall FQDN tags",
https://learn.microsoft.com/azure/firewall/fqdn-tags, "Current FQDN tags": Microsoft maintains
the FQDNs of each tag and changes them; customers cannot see or set them -- no table is kept
here, since a dated copy would silently go stale), web categories and target URLs ("Azure
Firewall Premium features", https://learn.microsoft.com/azure/firewall/premium-features, "Web
categories", "URL filtering": URL paths are seen only through TLS inspection), service tags
and IP groups missing from the input. `notes`: what does not change which rule matches but
can change the outcome, said on every answer crossing the firewall: `terminateTLS` (Premium
TLS inspection: the firewall terminates the TLS session and IDPS may drop what the rule
allows; same page, "TLS inspection"); `Mssql:port` pairs (caveat firewall-mssql): the pairs
are kept but the SQL pre-login is not parsed, so the firewall stage answers "unknown", naming
it, where such a rule could allow a flow ("Configure Azure Firewall application rules with SQL
FQDNs", https://learn.microsoft.com/azure/firewall/sql-fqdn-filtering: SQL FQDN filtering
works in proxy mode only, port 1433 by default; redirect-mode connections need the Sql
service tag in network rules).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import methodcaller

import numpy as np

from dataplane.control.firewall_rules import policy_chain
from dataplane.model import ANY, AzureFirewall, Prefix, Topology, id_key


@dataclass(frozen=True)
class ApplicationRule:
    """One application rule in evaluation order; `label` is firewall/collection/rule."""

    label: str
    allow: bool
    sources: tuple[Prefix | str, ...]
    protocols: tuple[tuple[str, int], ...]  # (http | https | mssql, port)
    target_fqdns: tuple[str, ...]
    caveats: tuple[str, ...] = ()  # what the rule names and is not evaluated (module contract)
    notes: tuple[str, ...] = ()  # said on every answer, the match unchanged (TLS, MSSQL)

    @property
    def unevaluated(self) -> str:
        """What of this rule is not evaluated, short, without the rule's name and the page
        ('' when all is): each caveat is 'name: where: what (page)'."""
        return "; ".join(c.split(": ", 2)[-1].split(" (", 1)[0] for c in self.caveats)


class FqdnMatcher:
    """A rule's target FQDNs compiled once: `matcher(name)` is whether any target matches the
    name by the firewall FAQ's wildcard rule (see the module contract)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        norm = _normals(patterns)
        self.any = "*" in norm
        self.exact = frozenset(p for p in norm if not p.startswith("*"))
        self.suffixes = tuple(p[1:] for p in norm if p.startswith("*") and p != "*")
        # "*.x" needs a label before ".x" (the name ".x" itself is no match); "*x" matches x too
        self._dotted = frozenset(s for s in self.suffixes if s.startswith("."))
        self._undotted = tuple(s for s in self.suffixes if not s.startswith("."))

    def __call__(self, name: str) -> bool:
        return bool(self.normal([_normal(name)])[0])

    def normal(self, names: Sequence[str]) -> np.ndarray:
        """bool[n]: which of `names` (each already stripped of spaces and a trailing dot and
        lower-cased: `normal_name`) a target matches; a pass over the names per kind of
        target, each test a C-level str or set method."""
        n = len(names)
        if self.any:
            return np.ones(n, bool)
        out = np.fromiter(map(self.exact.__contains__, names), bool, n)
        if self.suffixes:
            ends = np.fromiter(map(methodcaller("endswith", self.suffixes), names), bool, n)
            if self._dotted:
                bare = np.fromiter(map(self._dotted.__contains__, names), bool, n)
                if self._undotted:
                    bare &= ~np.fromiter(map(methodcaller("endswith", self._undotted), names),
                                         bool, n)
                ends &= ~bare
            out |= ends
        return out


def _normals(texts: Iterable[str]) -> list[str]:
    return [t.strip().rstrip(".").lower() for t in texts]


def _normal(text: str) -> str:
    return _normals((text,))[0]


def normal_name(name: str, protocol: str) -> str:
    """The name a rule compares: `request_name`, stripped, no trailing dot, lower case."""
    return normal_names((name,), (protocol.lower(),))[0]


def normal_names(names: Sequence[str], protocols: Sequence[str]) -> list[str]:
    """`normal_name` of each of `names` with its protocol ('https', 'http' or '', lower case:
    engine/payload.py FlowName.protocol), in one pass (the batch engine normalises a batch's
    new names at once, without a Python call per name)."""
    return _normals(_request_names(names, protocols))


def fqdn_matches(pattern: str, name: str) -> bool:
    """The firewall FAQ's wildcard rule for one target (see the module contract)."""
    return FqdnMatcher((pattern,))(name)


def request_name(name: str, protocol: str) -> str:
    """The name a rule matches: an HTTP Host without its port (RFC 9110 7.2)."""
    return _request_names((name,), (protocol.lower(),))[0]


def _request_names(names: Sequence[str], protocols: Sequence[str]) -> list[str]:
    """`request_name` of each name with its (lower-case) protocol, in one pass."""
    texts = [n.strip() for n in names]
    return [t.split(":", 1)[0] if p == "http" and t.count(":") == 1 and not t.startswith("[")
            else t for t, p in zip(texts, protocols, strict=True)]


def _protocol(text: str) -> tuple[str, int] | None:
    kind, _, port = text.partition(":")
    return (kind.strip().lower(), int(port)) if port.strip().isdigit() else None


def _sources(topology: Topology, addresses: Iterable, groups: Iterable[str], where: str,
             caveats: list[str]) -> tuple[Prefix | str, ...]:
    by_id = {id_key(g.id): g for g in topology.ip_groups}
    out: list[Prefix | str] = []
    for address in addresses:
        if isinstance(address, Prefix) or address == ANY:
            out.append(address)
        else:
            caveats.append(f"firewall-service-tag: {where}: source '{address}', a service "
                           "tag, is not resolved")
    for ref in groups:
        group = by_id.get(id_key(ref))
        if group is None:
            caveats.append(f"firewall-ipgroup-missing: {where}: IP group "
                           f"'{ref.rsplit('/', 1)[-1]}' is not in the input")
        else:
            out += group.ip_addresses
    return tuple(out)


FQDN_TAGS_PAGE = ("'Azure Firewall FQDN tags', https://learn.microsoft.com/azure/firewall/"
                  "fqdn-tags, 'Current FQDN tags'")
PREMIUM_PAGE = ("'Azure Firewall Premium features', https://learn.microsoft.com/azure/firewall/"
                "premium-features")


def _unevaluated(where: str, tags: Iterable[str], categories: Iterable[str] = (),
                 urls: Iterable[str] = ()) -> list[str]:
    """Named caveats, one per kind of target the rule names and the emulator cannot match."""
    out = []
    if tags := list(tags):
        out.append(f"firewall-fqdn-tag: {where}: FQDN tags {', '.join(tags)} are not "
                   f"evaluated (their FQDNs are Microsoft's and change: {FQDN_TAGS_PAGE})")
    if categories := list(categories):
        out.append(f"firewall-web-category: {where}: web categories {', '.join(categories)} "
                   f"are not evaluated ({PREMIUM_PAGE}, 'Web categories')")
    if urls := list(urls):
        out.append(f"firewall-target-url: {where}: target URLs {', '.join(urls)} are not "
                   f"evaluated (URL paths need Premium TLS inspection: {PREMIUM_PAGE}, "
                   "'URL filtering')")
    return out


def _notes(where: str, terminate: bool, protocols: Iterable[tuple[str, int]]
           ) -> tuple[str, ...]:
    """Named caveats that leave which rule matches as modelled (module contract)."""
    out = []
    if terminate:
        out.append(f"firewall-tls-inspection: {where}: terminateTLS: Premium TLS inspection "
                   "terminates the flow's TLS at the firewall and IDPS may act on the "
                   "decrypted traffic; neither is modelled, the rule matches on the server "
                   f"name only ({PREMIUM_PAGE}, 'TLS inspection')")
    if ports := sorted({port for kind, port in protocols if kind == "mssql"}):
        out.append(f"firewall-mssql: {where}: Mssql:{', Mssql:'.join(map(str, ports))}: the SQL "
                   "pre-login is not parsed; a flow this rule could allow there is "
                   "FIREWALL_NAME_UNKNOWN (SQL FQDN filtering works in proxy mode only: "
                   "'Configure Azure Firewall application rules with SQL FQDNs', "
                   "https://learn.microsoft.com/azure/firewall/sql-fqdn-filtering)")
    return tuple(out)


def application_rules(topology: Topology, firewall: AzureFirewall) -> tuple[ApplicationRule, ...]:
    """The firewall's application rules in evaluation order (see the module contract)."""
    out: list[ApplicationRule] = []
    chain = policy_chain(topology, firewall)
    if not chain:
        for coll in sorted(firewall.application_rule_collections, key=lambda c: c.priority):
            for rule in coll.rules:
                where = f"firewall {firewall.name}/{coll.name}/{rule.name}"
                caveats = _unevaluated(where, rule.fqdn_tags)
                sources = _sources(topology, rule.source_addresses, rule.source_ip_groups, where,
                                   caveats)
                protocols = tuple(p for p in map(_protocol, rule.protocols) if p)
                out.append(ApplicationRule(where, coll.action.lower() == "allow", sources,
                                           protocols, rule.target_fqdns, tuple(caveats),
                                           _notes(where, False, protocols)))
        return tuple(out)
    for policy in chain:
        for group in sorted(policy.rule_collection_groups, key=lambda g: g.priority):
            for coll in sorted(group.rule_collections, key=lambda c: c.priority):
                for rule in coll.rules:
                    if rule.rule_type != "ApplicationRule":
                        continue
                    where = f"firewall {firewall.name}/{group.name}/{coll.name}/{rule.name}"
                    caveats = _unevaluated(where, rule.fqdn_tags, rule.web_categories,
                                           rule.target_urls)
                    if rule.unresolved:
                        caveats.append(f"firewall-runtime-value: {where}: "
                                       f"{', '.join(rule.unresolved)} not known offline; the "
                                       "rule matches nothing through them")
                    sources = _sources(topology, rule.source_addresses, rule.source_ip_groups,
                                       where, caveats)
                    protocols = tuple((p.protocol_type.lower(), p.port) for p in rule.protocols)
                    out.append(ApplicationRule(where, coll.action.lower() == "allow", sources,
                                               protocols, rule.target_fqdns, tuple(caveats),
                                               _notes(where, rule.terminate_tls, protocols)))
    return tuple(out)


def _source_matches(sources: tuple[Prefix | str, ...], address: int, version: int) -> bool:
    return any(s == ANY or (isinstance(s, Prefix) and s.version == version
                            and s.first <= address <= s.last) for s in sources)


def decide(rules: Iterable[ApplicationRule], source: int, protocol: str, port: int, name: str,
           version: int = 4) -> ApplicationRule | None:
    """The first rule matching a flow from `source` (an integer address of IP `version`) that
    asks for `name` over `protocol` (Http | Https | Mssql) to `port`; None when none does."""
    wanted = (protocol.lower(), port)
    asked = request_name(name, protocol)
    for rule in rules:
        if (wanted in rule.protocols and _source_matches(rule.sources, source, version)
                and FqdnMatcher(rule.target_fqdns)(asked)):
            return rule
    return None
