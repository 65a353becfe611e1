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
Application rules (policy ApplicationRule rules and classic `applicationRuleCollections`,
control/application_rules.py) come after network rules: a network rule match stops processing
("Azure Firewall rule processing logic", https://learn.microsoft.com/azure/firewall-manager/
rule-processing, "Network rules and applications rules": network rules first, "if a match is
found in network rules, then application rules aren't processed"; then, for HTTP/HTTPS,
application rules; no match -> denied by default). A TCP flow no network
rule decides is matched, in order, on its source, its protocol:port (Https for a TLS server
name, Http for an HTTP Host) and a target FQDN against its server name (engine/payload.py; FQDN
wildcards per the Azure Firewall FAQ); the first match decides, else deny. When the name is
not known (`FlowName.unknown`: not in the capture, cut, split beyond the limit; no --sni/--host
for a synthetic flow) and an Allow application rule could match the flow's source and port,
the verdict is `unknown` (disposition FIREWALL_NAME_UNKNOWN), naming the rule: never a guess.
A rule naming what is not evaluated (FQDN tags, web categories, deployment-time values) that
could match makes the verdict unknown too. A complete first payload without a name (TLS
without SNI, HTTP without Host, neither) is denied (assumption firewall-app-no-name).
Only a flow to a port one of this firewall's application rules names reaches them
(`application_ports`); a server's reply (from such a port) never does.
Handshake (assumption firewall-app-handshake): Azure Firewall's proxy completes the TCP
handshake before it reads the name; the emulator gives every packet of the flow, SYN,
SYN-ACK and ACK included, the flow's verdict, so outputs (packets.csv, per-VM pcaps) agree:
client packets through their flow's name (engine/payload.py), the server's replies through the
session an allowed flow opened (engine/conntrack.py) or, for a flow the application-rule part
dropped (`Verdict.application_part`), the pending session it recorded (engine/pending.py).
Mssql pairs (caveat firewall-mssql): a flow an Allow Mssql rule could allow is unknown,
whether its first payload holds no name (a TDS PRELOGIN) or a TLS SNI (TDS 8.0): Microsoft
does not say what an Mssql rule matches its target FQDNs against (docs/azure-behaviour.md
§12.2).
What cannot be evaluated matches nothing and puts a named caveat on every answer that crosses
this firewall (never silence): FQDNs in network rules (resolved by the firewall's DNS proxy;
"Azure Firewall Standard features", "FQDN in network rules"), IP groups absent from the
topology, tag names Azure does not have, and what a Firewall Policy holds beyond its rules
(control/firewall_rules.py: threat intelligence in Deny mode, Premium inspection, values
known only at deployment). Service tags ("Azure Firewall service tags",
https://learn.microsoft.com/azure/firewall/service-tags) match their prefixes, IPv4 and IPv6,
resolved as for NSGs (control/firewall_addresses.py, control/tags.py; the built-in set carries
the caveat `service-tag-prefixes-not-loaded`).
IPv6 (issue 17): Microsoft documents IPv6 on Azure Firewall as a preview ("Deploy Azure
Firewall in dual stack mode (preview)", https://learn.microsoft.com/azure/firewall/
deploy-dual-stack-firewall, "Supported scenarios and limitations": dual stack only, "Azure
Firewall fully supports IPv6 traffic in network rules", DNS proxy). IPv6 packets at the
firewall (`decide6`, `decide6_np`; addresses as 128-bit ints / uint64 halves) are matched
against the same network rules in the same order on their IPv6 prefixes (`src6`, `dst6`;
"*" is every IPv6 address), sessions allowed as for IPv4; no match: default deny. An IPv6 TCP
flow no network rule decides whose port an application rule names ends IPV6_NOT_MODELLED
(`ipv6_app_label`: application rules are not documented for IPv6); IPv6 flows are not
translated (no SNAT modelled). A dual-stack firewall (an IPv6 private address) carries the
caveat `firewall-ipv6-preview` on every answer that crosses it (`IPV6_PREVIEW_CAVEAT`).
Translation (DNAT rules first, SNAT of allowed flows; `nat`) is engine/stages/firewall_nat.py;
the dispatchers apply it around this stage's verdict (`application_np` tells which verdicts
came from an application rule: those are always SNATed).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from dataplane.acl import AclClassifier, AclRule
from dataplane.control.application_rules import (
    FqdnMatcher,
    application_rules,
    request_name,
)
from dataplane.control.firewall_addresses import FirewallAddresses
from dataplane.control.firewall_rules import firewall_rules
from dataplane.control.firewall_tunnel import caveat as tunnel_caveat
from dataplane.control.firewall_tunnel import unmanaged_tunnel
from dataplane.control.nsg import ANY_PROTOCOL, protocol_number
from dataplane.engine.payload import ABSENT, HTTP, HTTPS, NOT_SEEN, UNKNOWN, FlowName, NameTable
from dataplane.engine.stages.firewall_nat import FirewallNat, compile_nat
from dataplane.model import AzureFirewall, Topology, id_key

MSSQL = "the SQL pre-login of an Mssql rule is not parsed"
ALL6 = ((0, (1 << 128) - 1),)  # "*" in an IPv6 row
M64 = (1 << 64) - 1
IPV6_PREVIEW_CAVEAT = (
    "firewall-ipv6-preview: firewall {name} is dual stack; Azure Firewall IPv6 support is a "
    "preview (Deploy Azure Firewall in dual stack mode (preview), "
    "https://learn.microsoft.com/azure/firewall/deploy-dual-stack-firewall): IPv6 packets are "
    "decided by its network rules only (application and DNAT rules: IPV6_NOT_MODELLED) and "
    "leave without source translation; its IPv6 address is taken as the first IPv6 "
    "privateIPAddress of its ip configurations (assumed: no dual-stack firewall template "
    "was found to check the shape against)")
FIREWALL_ASSUMPTIONS = (
    "firewall-own-address: a new flow to an Azure Firewall's own private address is the "
    "firewall's to answer, not to forward: with DNS proxy on, TCP/UDP port 53 is answered by "
    "the proxy (EXITS_PLATFORM; 'Azure Firewall DNS settings', DNS proxy: the firewall "
    "'listens to requests on port 53'; the proxy answers before any DNAT rule, and the query "
    "it sends on is not modelled), else its DNAT rules, else its default deny.",
    "firewall-classic: classic network rule collections are evaluated by priority, first "
    "match, default deny (Azure Firewall rule processing logic); a Firewall Policy's network "
    "rules likewise, parent policy first, then rule collection groups and collections by "
    "priority; DNAT rules are evaluated first (engine/stages/firewall_nat.py); caveats name "
    "what is not evaluated (FQDNs, missing IP groups, service tags, threat intelligence in "
    "Deny mode).",
    "firewall-app-handshake: a TCP flow an application rule decides is decided as a whole: "
    "its handshake packets (which Azure Firewall's proxy answers before it reads the server "
    "name) carry the verdict of the flow's first payload (engine/payload.py); the server's "
    "replies pass on the session of an allowed flow, and take the verdict of the latest "
    "client packet of a flow the application rules denied or could not decide (a pending "
    "application-rule session, engine/pending.py; it only rewrites a drop at that firewall).",
    "firewall-app-no-name: a flow whose complete first payload holds no server name (TLS "
    "without SNI, HTTP without Host, neither TLS nor HTTP) matches no application rule and is "
    "denied (Microsoft documents matching on SNI and Host only).",
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
    src6: tuple[tuple[int, int], ...] = ()  # IPv6 (first, last) intervals (128-bit ints)
    dst6: tuple[tuple[int, int], ...] = ()

    def _service(self, proto: int, dport: int) -> bool:
        if ANY_PROTOCOL not in self.protocols and proto not in self.protocols:
            return False
        return proto not in (6, 17) or bool(
            ((self.port_lo <= dport) & (dport <= self.port_hi)).any())

    def matches(self, proto: int, src: int, dst: int, dport: int) -> bool:
        if not ((self.src_lo <= src) & (src <= self.src_hi)).any():
            return False
        if not ((self.dst_lo <= dst) & (dst <= self.dst_hi)).any():
            return False
        return self._service(proto, dport)

    def matches6(self, proto: int, src: int, dst: int, dport: int) -> bool:
        """`matches` for an IPv6 packet (128-bit addresses) on the IPv6 intervals."""
        return any(a <= src <= b for a, b in self.src6) and \
            any(a <= dst <= b for a, b in self.dst6) and self._service(proto, dport)

    def matches6_np(self, proto: np.ndarray, shi: np.ndarray, slo: np.ndarray,
                    dhi: np.ndarray, dlo: np.ndarray, dport: np.ndarray) -> np.ndarray:
        """`matches6` over rows (addresses as uint64 halves)."""
        m = _in6_np(shi, slo, self.src6) & _in6_np(dhi, dlo, self.dst6)
        if ANY_PROTOCOL not in self.protocols:
            m &= np.isin(proto, sorted(self.protocols))
        ported = (proto == 6) | (proto == 17)
        return m & (~ported | _within(dport, self.port_lo, self.port_hi))


@dataclass(frozen=True)
class AppRule:
    """An application rule compiled (control/application_rules.py): its source intervals,
    ports per protocol, target FQDNs; `opaque` when it names what is not evaluated (FQDN tags,
    web categories, values known only at deployment)."""

    label: str
    allow: bool
    src_lo: np.ndarray
    src_hi: np.ndarray
    https_ports: np.ndarray  # int32
    http_ports: np.ndarray
    mssql_ports: np.ndarray
    targets: FqdnMatcher
    opaque: str = ""  # what the rule names and is not evaluated ('' when all is)

    def ports(self, protocol: str) -> np.ndarray:
        return {"https": self.https_ports, "http": self.http_ports,
                "mssql": self.mssql_ports}[protocol]

    @property
    def all_ports(self) -> np.ndarray:
        return np.concatenate((self.https_ports, self.http_ports, self.mssql_ports))

    def names(self, name: FlowName) -> bool:
        """Whether a target FQDN matches the flow's (known) name."""
        return self.targets(request_name(name.name, name.protocol))

    def source(self, src: int) -> bool:
        return bool(((self.src_lo <= src) & (src <= self.src_hi)).any())

    def source_np(self, src: np.ndarray) -> np.ndarray:
        return _within(src, self.src_lo, self.src_hi)


@dataclass(frozen=True)
class Verdict:
    """The firewall's answer for one packet: `unknown` when an application rule could allow
    the flow and its server name is not known (disposition FIREWALL_NAME_UNKNOWN)."""

    allowed: bool
    label: str | None
    unknown: bool = False
    not_modelled: bool = False  # IPv6 through application rules (IPV6_NOT_MODELLED)
    application_part: bool = False  # decided by the application rules (the flow's name)


DNS_PORT = 53


@dataclass(frozen=True)
class CompiledFirewall:
    name: str
    rules: tuple[FirewallRule, ...]
    caveats: tuple[str, ...]
    app_rules: tuple[AppRule, ...] = ()
    nat: FirewallNat | None = None  # DNAT rules, SNAT (stages/firewall_nat.py)
    ip_groups: tuple[tuple[str, tuple[tuple[int, int], ...]], ...] = ()  # (id key, intervals)
    dns_proxy: bool = False  # DNS proxy on (policy dnsSettings.enableProxy / classic property)

    @cached_property
    def groups(self) -> dict[str, tuple[tuple[int, int], ...]]:
        return dict(self.ip_groups)

    @cached_property
    def app_labels(self) -> frozenset[str]:
        return frozenset(a.label for a in self.app_rules)

    @cached_property
    def application_ports(self) -> frozenset[int]:
        """The destination ports this firewall's application rules name: only a TCP flow to
        one of them is decided by its server name (a server's reply, from such a port,
        carries its flow's name too: engine/payload.py, but no application rule reads it)."""
        return frozenset(int(p) for a in self.app_rules for p in a.all_ports.tolist())

    @cached_property
    def _application_ports_np(self) -> np.ndarray:
        return np.array(sorted(self.application_ports), dtype=np.int32)

    def application_np(self, labels: list[str], which: np.ndarray) -> np.ndarray:
        """bool[n]: rows whose verdict (decide_np's labels / which) is an application rule's."""
        is_app = np.array([x in self.app_labels for x in labels] + [False])
        return is_app[np.where(which >= 0, which, len(labels))]

    def dns_proxy_answers(self, proto: int, dst: int, dport: int) -> bool:
        """A new flow to this firewall's own private address that its DNS proxy answers: TCP
        or UDP to port 53 with DNS proxy on ("Azure Firewall DNS settings",
        https://learn.microsoft.com/azure/firewall/dns-settings, "DNS proxy": "Azure Firewall
        listens to requests on port 53", the clients' DNS server set to the firewall's private
        IP address). Assumption `firewall-own-address`: the proxy answers before any DNAT rule
        (it owns port 53 of that address); its reply and the query it sends on are not modelled."""
        return (self.dns_proxy and self.nat is not None and dst == self.nat.private
                and proto in (6, 17) and dport == DNS_PORT)

    def dns_proxy_np(self, proto: np.ndarray, dst: np.ndarray, dport: np.ndarray) -> np.ndarray:
        """Batch form of `dns_proxy_answers` (bool per row)."""
        if not self.dns_proxy or self.nat is None:
            return np.zeros(proto.size, bool)
        return (dst == self.nat.private) & ((proto == 6) | (proto == 17)) & (dport == DNS_PORT)

    @property
    def dns_proxy_label(self) -> str:
        return (f"firewall {self.name}/dns-proxy (its DNS proxy answers on its private address, "
                "port 53: 'Azure Firewall DNS settings', dns-settings)")

    @property
    def no_dnat_label(self) -> str:
        return f"{self.default_label} (no DNAT rule matches)"

    @property
    def default_label(self) -> str:
        return f"firewall {self.name}/default-deny"

    @property
    def unmatched_label(self) -> str:
        return f"{self.default_label} (no application rule matches the flow's server name)"

    def absent_label(self, name: FlowName) -> str:
        return f"{self.default_label} (first payload is {name.describe()}: no application " \
               "rule can match it)"

    def unknown_label(self, rule: AppRule, why: str) -> str:
        return f"firewall {self.name}: application rule {rule.label.removeprefix(f'firewall {self.name}/')} " \
               f"may allow it; {why}"

    @property
    def ipv6_app_label(self) -> str:
        return (f"azure firewall {self.name}: IPv6 through application rules not modelled "
                "(preview: IPv6 in network rules only)")

    def _ipv6_app(self, dport: int) -> bool:
        return any(dport in app.all_ports for app in self.app_rules)

    def decide6(self, proto: int, src: int, dst: int, dport: int, session: bool) -> Verdict:
        """The verdict for one IPv6 packet (128-bit addresses; module docstring)."""
        if session:
            return Verdict(True, None)
        for rule in self.rules:
            if rule.matches6(proto, src, dst, dport):
                return Verdict(rule.allow, rule.label)
        if proto == 6 and self._ipv6_app(dport):
            return Verdict(False, self.ipv6_app_label, not_modelled=True)
        return Verdict(False, self.default_label)

    def decide6_np(self, proto: np.ndarray, shi: np.ndarray, slo: np.ndarray, dhi: np.ndarray,
                   dlo: np.ndarray, dport: np.ndarray, session: np.ndarray
                   ) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
        """Batch `decide6`: (allowed bool[n], labels, label index int32[n] into labels (-1
        for sessions), not-modelled bool[n])."""
        n = proto.size
        allow = session.copy()
        which = np.where(session, -1, 0).astype(np.int32)
        labels = [self.default_label, self.ipv6_app_label]
        open_ = ~session
        for rule in self.rules:
            if not open_.any():
                break
            m = open_ & rule.matches6_np(proto, shi, slo, dhi, dlo, dport)
            if m.any():
                allow[m] = rule.allow
                which[m] = len(labels)
                labels.append(rule.label)
                open_ &= ~m
        ports = np.concatenate([a.all_ports for a in self.app_rules]) if self.app_rules \
            else np.zeros(0, np.int32)
        nm = open_ & (proto == 6) & np.isin(dport, ports) if n else np.zeros(0, bool)
        which[nm] = 1
        return allow, labels, which, nm

    @cached_property
    def _network_classifier(self) -> tuple[AclClassifier, np.ndarray]:
        return network_rule_classifier(self.rules)

    def classify(self, proto: np.ndarray, src: np.ndarray, dst: np.ndarray, dport: np.ndarray
                 ) -> np.ndarray:
        """int32[n]: the index in `rules` of each row's first matching network rule, -1 when
        none matches (the batch form of `FirewallRule.matches` over all rules in order).
        Columns of n IPv4 packets: proto, src/dst (integer addresses), destination port."""
        classifier, owner = self._network_classifier
        ported = ((proto == 6) | (proto == 17)).astype(np.uint16)  # the sport column: see below
        first = classifier.classify(src.astype(np.uint32), dst.astype(np.uint32), ported,
                                    dport.astype(np.uint16), proto.astype(np.uint8))
        return owner[first]  # owner[-1] is -1: no match

    # -- reference form --
    def decide(self, proto: int, src: int, dst: int, dport: int, session: bool,
               name: FlowName = NOT_SEEN) -> Verdict:
        """The verdict for one packet; `name` is its flow's (engine/payload.py)."""
        if session:
            return Verdict(True, None)
        for rule in self.rules:
            if rule.matches(proto, src, dst, dport):
                return Verdict(rule.allow, rule.label)
        if proto != 6 or dport not in self.application_ports:  # no name can matter
            return Verdict(False, self.default_label)
        if name.protocol:
            for app in self.app_rules:  # in order; an opaque rule that may match: unknown
                if dport in app.ports(name.protocol) and app.source(src):
                    if app.opaque:
                        return Verdict(False, self.unknown_label(app, app.opaque), True,
                                       application_part=True)
                    if app.names(name):
                        return Verdict(app.allow, app.label, application_part=True)
                elif app.allow and dport in app.mssql_ports and app.source(src):  # TDS 8: TLS
                    return Verdict(False, self.unknown_label(app, MSSQL), True,
                                   application_part=True)
            return Verdict(False, self.unmatched_label, application_part=True)
        if name.absent:
            for app in self.app_rules:
                if app.allow and dport in app.mssql_ports and app.source(src):
                    return Verdict(False, self.unknown_label(app, MSSQL), True,
                                   application_part=True)
            return Verdict(False, self.absent_label(name), application_part=True)
        for app in self.app_rules:
            if app.allow and dport in app.all_ports and app.source(src):
                return Verdict(False, self.unknown_label(app, name.describe()), True,
                               application_part=True)
        return Verdict(False, self.default_label)

    # -- batch form --
    def decide_np(self, proto: np.ndarray, src: np.ndarray, dst: np.ndarray, dport: np.ndarray,
                  session: np.ndarray, name_id: np.ndarray | None = None,
                  names: NameTable | None = None, application_part: np.ndarray | None = None
                  ) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
        """(allowed bool[n], labels, label index int32[n] into labels (-1 for sessions),
        unknown bool[n]); `name_id` int32[n]: each row's flow name in `names`
        (engine/payload.py NameTable; None: every flow NOT_SEEN); `application_part`, when
        given, a bool[n] filled with each row's Verdict.application_part."""
        n = proto.size
        allow = session.copy()
        unknown = np.zeros(n, bool)
        which = np.full(n, -1, dtype=np.int32)
        open_ = ~session
        labels = [self.default_label]
        which[open_] = 0

        def settle(m: np.ndarray, allowed: bool, label: str, undecided: bool = False) -> None:
            allow[m] = allowed
            unknown[m] = undecided
            which[m] = len(labels)
            labels.append(label)
            open_[m] = False

        rows = np.flatnonzero(open_)
        if self.rules and rows.size:  # every network rule at once, first match (see classify)
            hit = np.full(n, -1, np.int32)
            hit[rows] = self.classify(proto[rows], src[rows], dst[rows], dport[rows])
            for r in np.unique(hit[rows]).tolist():
                if r >= 0:
                    settle(hit == r, self.rules[r].allow, self.rules[r].label)
        first_app = len(labels)  # the labels settled from here on: the application part
        tcp = open_ & (proto == 6)  # to a port an application rule names (as in decide)
        if tcp.any():
            tcp &= np.isin(dport, self._application_ports_np)
        if not tcp.any():
            return self._parts(allow, labels, which, unknown, first_app, application_part)
        table = names if names is not None else NameTable()
        ids = np.zeros(n, np.int64) if name_id is None else name_id.astype(np.int64)
        k = np.where(tcp, table.codes[np.where(tcp, ids, 0)], -1)  # NameTable.codes
        for code, protocol in ((HTTPS, "https"), (HTTP, "http")):
            r = np.flatnonzero(tcp & (k == code))  # the protocol's rows, worked on as a subset
            d, s, i = dport[r], src[r], ids[r]
            for app in self.app_rules if r.size else ():
                o = open_[r]
                if not o.any():
                    break
                m = o & np.isin(d, app.ports(protocol))
                within = app.source_np(s)
                if app.allow and (q := o & ~m & np.isin(d, app.mssql_ports) & within).any():
                    settle(r[q], False, self.unknown_label(app, MSSQL), True)  # decide: TDS 8
                if not (m := m & within).any():
                    continue
                if app.opaque:
                    settle(r[m], False, self.unknown_label(app, app.opaque), True)
                    continue
                if (m := m & table.matches(app.targets)[i]).any():  # per name, once
                    settle(r[m], app.allow, app.label)
            if r.size and (m := open_[r]).any():
                settle(r[m], False, self.unmatched_label)
        absent = open_ & (k == ABSENT)
        for app in self.app_rules if absent.any() else ():
            m = absent & open_ & np.isin(dport, app.mssql_ports)
            if app.allow and (m := m & app.source_np(src)).any():
                settle(m, False, self.unknown_label(app, MSSQL), True)
        for i in np.unique(ids[absent & open_]).tolist():
            settle(absent & open_ & (ids == i), False, self.absent_label(table.names[i]))
        undecided = open_ & (k == UNKNOWN)
        for app in self.app_rules if undecided.any() else ():
            m = undecided & open_ & np.isin(dport, app.all_ports)
            if not app.allow or not (m := m & app.source_np(src)).any():
                continue
            for i in np.unique(ids[m]).tolist():
                settle(m & (ids == i), False, self.unknown_label(app, table.names[i].describe()),
                       True)
        return self._parts(allow, labels, which, unknown, first_app, application_part)

    @staticmethod
    def _parts(allow: np.ndarray, labels: list[str], which: np.ndarray, unknown: np.ndarray,
               first_app: int, application_part: np.ndarray | None
               ) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
        """decide_np's answer; the labels from `first_app` on are the application part's."""
        if application_part is not None:
            application_part[:] = which >= first_app
        return allow, labels, which, unknown


def compile_firewall(topology: Topology, fw: AzureFirewall) -> CompiledFirewall:
    caveats: list[str] = []
    resolver = FirewallAddresses(topology, fw)  # service tags as for NSGs, IP groups, FQDNs

    def intervals(addresses: tuple, group_ids: tuple[str, ...], where: str, fqdns: tuple = (),
                  six: list[tuple[int, int]] | None = None, source: bool = False
                  ) -> tuple[np.ndarray, np.ndarray]:
        """IPv4 (lo, hi) arrays; the IPv6 intervals are appended to `six` when given.
        Service tags: "Azure Firewall service tags",
        https://learn.microsoft.com/azure/firewall/service-tags (control/firewall_addresses.py)."""
        side = resolver.side(addresses, group_ids, where, fqdns, source)
        v6 = six if six is not None else []
        lo = [p.first for p in side.prefixes if p.version == 4]
        hi = [p.last for p in side.prefixes if p.version == 4]
        v6 += [(p.first, p.last) for p in side.prefixes if p.version == 6]
        if side.any_address:
            lo.append(0)
            hi.append((1 << 32) - 1)
            v6.append(ALL6[0])
        return np.array(lo, dtype=np.int64), np.array(hi, dtype=np.int64)

    effective = firewall_rules(topology, fw)  # classic rules or the policy chain, in order
    caveats += effective.caveats
    rules = []
    for coll in effective.network_rule_collections:
        for r in coll.rules:
            where = f"{coll.name}/{r.name}"
            protos = frozenset(ANY_PROTOCOL if x.lower() == "any" else protocol_number(x)
                               for x in r.protocols)
            s6: list[tuple[int, int]] = []
            d6: list[tuple[int, int]] = []
            s_lo, s_hi = intervals(r.source_addresses, r.source_ip_groups, where, six=s6,
                                   source=True)
            d_lo, d_hi = intervals(r.destination_addresses, r.destination_ip_groups, where,
                                   r.destination_fqdns, six=d6)
            rules.append(FirewallRule(
                f"firewall {fw.name}/{where}", coll.action.lower() == "allow", protos,
                s_lo, s_hi, d_lo, d_hi,
                np.array([p.low for p in r.destination_ports], dtype=np.int32),
                np.array([p.high for p in r.destination_ports], dtype=np.int32),
                tuple(s6), tuple(d6)))
    app_rules = []
    for app in application_rules(topology, fw):
        caveats.extend((*app.caveats, *app.notes))
        lo, hi = intervals(tuple(a for a in app.sources), (), app.label, source=True)
        ports = {kind: np.array(sorted({port for k, port in app.protocols if k == kind}),
                                dtype=np.int32) for kind in ("https", "http", "mssql")}
        app_rules.append(AppRule(app.label, app.allow, lo, hi, ports["https"], ports["http"],
                                 ports["mssql"], FqdnMatcher(app.target_fqdns),
                                 app.unevaluated))
    caveats += resolver.all_caveats()
    nat = compile_nat(topology, fw)
    caveats += nat.caveats
    tunnel = unmanaged_tunnel(topology, fw)  # control/firewall_tunnel.py
    if tunnel is not None:
        caveats.append(tunnel_caveat(fw, tunnel))
    if fw.private_ip_address6 is not None:  # dual stack: a preview (module docstring)
        caveats.append(IPV6_PREVIEW_CAVEAT.format(name=fw.name))
    ip_groups = tuple((id_key(g.id), tuple((p.first, p.last) for p in g.ip_addresses
                                           if p.version == 4)) for g in topology.ip_groups)
    return CompiledFirewall(fw.name, tuple(rules), tuple(dict.fromkeys(caveats)),
                            tuple(app_rules), nat, ip_groups, resolver.proxied)


def network_rule_classifier(rules: tuple[FirewallRule, ...]
                            ) -> tuple[AclClassifier, np.ndarray]:
    """The network rules as one first-match classifier (dataplane/acl.py, the NSGs' compiled
    bit-vector classifier; its plain-Python twin under DATAPLANE_PURE_PYTHON=1) and `owner`
    int32[k + 1]: the firewall rule each classifier rule came from. A firewall rule names a set of
    protocols and checks ports only for TCP and UDP, so it becomes one classifier rule per
    protocol, in its place in the order; the classifier's source-port dimension carries
    whether the packet is TCP/UDP (1) or not (0; firewall rules never name source ports),
    which lets protocol Any check ports on TCP/UDP rows only. Empty address or port sets match
    nothing, as in `FirewallRule.matches`. `owner` ends with -1, so `owner[first]` maps the
    classifier's -1 (no match) to -1."""
    acl: list[AclRule] = []
    owner: list[int] = []
    for i, rule in enumerate(rules):
        src = tuple(zip(rule.src_lo.tolist(), rule.src_hi.tolist(), strict=True))
        dst = tuple(zip(rule.dst_lo.tolist(), rule.dst_hi.tolist(), strict=True))
        ports = tuple((max(lo, 0), min(hi, 65535)) for lo, hi in zip(
            rule.port_lo.tolist(), rule.port_hi.tolist(), strict=True)
            if max(lo, 0) <= min(hi, 65535))  # the part a port can be in
        if ANY_PROTOCOL in rule.protocols:
            forms = [AclRule(src, dst, ((1, 1),), ports), AclRule(src, dst, ((0, 0),))]
        else:
            forms = [AclRule(src, dst, None, ports if p in (6, 17) else None, p)
                     for p in sorted(rule.protocols) if 0 <= p <= 255]
        acl += forms
        owner += [i] * len(forms)
    return AclClassifier(acl), np.array(owner + [-1], dtype=np.int32)


def application_ports(firewalls: tuple[CompiledFirewall, ...]) -> np.ndarray:
    """int32 destination ports any application rule of these firewalls names: the only TCP
    flows whose server name can change a verdict (engine/payload.py reads only those)."""
    ports = [app.all_ports for fw in firewalls for app in fw.app_rules]
    return np.unique(np.concatenate(ports)).astype(np.int32) if ports else np.zeros(0, np.int32)


def _in6_np(hi: np.ndarray, lo: np.ndarray, intervals: tuple[tuple[int, int], ...]
            ) -> np.ndarray:
    """Rows whose address (uint64 halves) lies in one of the 128-bit `intervals`."""
    m = np.zeros(hi.size, bool)
    u = np.uint64
    for a, b in intervals:
        ah, al, bh, bl = u(a >> 64), u(a & M64), u(b >> 64), u(b & M64)
        m |= ((hi > ah) | ((hi == ah) & (lo >= al))) & ((hi < bh) | ((hi == bh) & (lo <= bl)))
    return m


def _within(v: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    if lo.size == 0:
        return np.zeros(v.size, bool)
    return ((v[:, None] >= lo[None, :]) & (v[:, None] <= hi[None, :])).any(1)


__all__ = ["FIREWALL_ASSUMPTIONS", "IPV6_PREVIEW_CAVEAT", "AppRule", "CompiledFirewall",
           "application_ports", "network_rule_classifier",
           "FirewallRule", "Verdict",
           "compile_firewall"]
