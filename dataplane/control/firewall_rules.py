"""The network rules an Azure Firewall evaluates, in Azure's order, and what the model leaves out.

Takes a Topology and one AzureFirewall. Emits `FirewallRules`: the firewall's network rule
collections flattened into evaluation order (each `FirewallRuleCollection.priority` is its
position; names are `group/collection` for a policy), in the classic rules' shape, and the
caveats for what a policy holds beyond network rules. The engine's firewall stage
(engine/stages/firewall.py) compiles these for classic rules and a Firewall Policy alike.

Azure's order ("Azure Firewall rule processing logic",
https://learn.microsoft.com/azure/firewall/rule-processing, sections "Rule processing using
classic rules" and "Rule processing using Firewall Policy"; "Azure Firewall Policy rule sets",
https://learn.microsoft.com/azure/firewall/policy-rule-sets):
* classic: rule collections by priority (100 lowest number first to 65,000), by rule type: NAT,
  then network, then application; rules are terminating; no match -> denied by default;
* policy: DNAT rules first, then network rules, then application rules; within each type, rule
  collection groups by priority, then rule collections by priority; rule collection groups
  inherited from a parent policy (`basePolicy`) always come before the child's, whatever their
  priority ("Rule processing using Firewall Policy": "rules inherited from a parent policy always
  take precedence").
Application rules are flattened in the same order by control/application_rules.py and
evaluated by the engine's firewall stage after network rules.
DNAT rules (`nat_rules`): classic `natRuleCollections` and policy NAT rule collections (current
FirewallPolicyNatRuleCollection, 2019 preview FirewallPolicyNatRule) flattened in the same
order into `DnatRule`s (typed: protocols, source intervals, destination addresses and ports,
translated address and port), evaluated first by the engine (engine/stages/firewall_nat.py).
A destination written as `reference(PUBLIC_IP).ipAddress` (known only at deployment) is that
public IP's address (control/public_addresses.py; assumption `firewall-dnat-runtime-address`);
a translated FQDN is a caveat (resolved by Azure at run time; the rule matches nothing).
Not evaluated, each a named caveat on the firewall's answers: values known only at deployment, threat
intelligence in Deny mode, and Premium IDPS/TLS inspection (FQDNs, service tags and missing IP
groups in network rules: the engine's firewall stage).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from dataplane.control.nsg import ANY_PROTOCOL, protocol_number
from dataplane.control.public_addresses import public_address
from dataplane.errors import InputError
from dataplane.model import (
    AzureFirewall,
    FirewallNetworkRule,
    FirewallPolicy,
    FirewallPolicyRule,
    FirewallRuleCollection,
    Prefix,
    Topology,
    id_key,
    id_name,
)
from dataplane.net import parse_prefix


@dataclass(frozen=True)
class FirewallRules:
    network_rule_collections: tuple[FirewallRuleCollection, ...]
    caveats: tuple[str, ...]


def policy_chain(topology: Topology, firewall: AzureFirewall) -> list[FirewallPolicy]:
    """The firewall's policy and its ancestors present in the input, the root-most parent
    first (a policy missing from the input ends the chain: see `firewall_rules`).

    Raises InputError when parents form a cycle (ARM cannot deploy one): it names the file
    declaring the policy whose basePolicy closes the cycle, that policy and property, and the
    policies of the cycle in order."""
    chain: list[FirewallPolicy] = []
    ref = firewall.firewall_policy
    seen: dict[str, int] = {}  # id key -> its position in `chain`
    while ref:
        if id_key(ref) in seen:
            cycle = [p.name for p in chain[seen[id_key(ref)]:]] + [id_name(ref)]
            last = chain[-1]
            raise InputError(
                "basePolicy cycle: firewall policies " + " -> ".join(f"'{n}'" for n in cycle)
                + f" (each is its own ancestor; ARM cannot deploy one); firewall "
                f"'{firewall.name}' uses '{chain[0].name}'", file=last.source or None,
                resource=last.name, property="properties.basePolicy.id")
        seen[id_key(ref)] = len(chain)
        policy = next((p for p in topology.firewall_policies if id_key(p.id) == id_key(ref)), None)
        if policy is None:
            break
        chain.append(policy)
        ref = policy.base_policy
    return chain[::-1]


def missing_policies(topology: Topology, firewall: AzureFirewall) -> list[str]:
    """One sentence per Firewall Policy the firewall, or a policy of its chain as its
    basePolicy, names that the input does not hold: what is missing and what the answers then
    apply ("Azure Firewall Policy rule sets", https://learn.microsoft.com/azure/firewall/
    policy-rule-sets: a parent policy's rule collection groups are processed before the
    child's)."""
    known = {id_key(p.id) for p in topology.firewall_policies}
    out = []
    if firewall.firewall_policy and id_key(firewall.firewall_policy) not in known:
        out.append(f"firewall {firewall.name} uses Firewall Policy "
                   f"'{id_name(firewall.firewall_policy)}', which is not in the input: its rules "
                   "are not applied (every flow through the firewall is answered by the default "
                   "deny)")
    for child in policy_chain(topology, firewall):
        if child.base_policy and id_key(child.base_policy) not in known:
            out.append(f"firewall {firewall.name}'s Firewall Policy '{child.name}' has "
                       f"basePolicy '{id_name(child.base_policy)}', which is not in the input: "
                       "the parent's rules, which Azure processes before the child's, are not "
                       f"applied (answers use the rules of '{child.name}' and its ancestors in "
                       "the input only)")
    return out


def _network_rule(rule: FirewallPolicyRule, where: str, caveats: list[str]) -> FirewallNetworkRule:
    """A policy network rule in the classic rule's shape (the engine's firewall stage resolves
    IP groups and names FQDNs and service tags it cannot evaluate)."""
    if rule.unresolved:
        caveats.append(f"firewall-runtime-value: {where}: {', '.join(rule.unresolved)} known only at deployment; "
                       "the rule matches no address through them")
    return FirewallNetworkRule(
        name=rule.name, protocols=rule.ip_protocols or ("Any",),
        source_addresses=rule.source_addresses, destination_addresses=rule.destination_addresses,
        destination_ports=rule.destination_ports, source_ip_groups=rule.source_ip_groups,
        destination_ip_groups=rule.destination_ip_groups, destination_fqdns=rule.destination_fqdns)


def firewall_rules(topology: Topology, firewall: AzureFirewall) -> FirewallRules:
    """The firewall's network rules in evaluation order, with caveats (see the module contract):
    its policy chain's when the input holds its policy, else its classic rules (a policy named
    but missing from the input is a caveat: its rules are not applied).

    Raises InputError for a basePolicy cycle."""
    caveats = [f"firewall-policy: {missing}" for missing in missing_policies(topology, firewall)]
    chain = policy_chain(topology, firewall)
    if not chain:
        ordered = sorted(firewall.network_rule_collections, key=lambda c: c.priority)
        return FirewallRules(tuple(replace(c, priority=i) for i, c in enumerate(ordered)),
                             tuple(caveats))
    if firewall.network_rule_collections:
        caveats.append(f"firewall-policy-and-classic: firewall {firewall.name} has classic rules "
                       "and a Firewall Policy; the policy's rules are applied, the classic ones "
                       "are not")
    out: list[FirewallRuleCollection] = []
    for policy in chain:
        if policy.threat_intel_mode.lower() == "deny":
            caveats.append(f"firewall-threat-intel: policy {policy.name}: threat intelligence in Deny mode drops flows "
                           "to and from known-malicious addresses before any rule; not evaluated")
        if policy.sku_tier.lower() == "premium":
            caveats.append(f"firewall-premium: policy {policy.name}: Premium IDPS and TLS inspection can drop "
                           "flows the rules allow; not evaluated")
        for group in sorted(policy.rule_collection_groups, key=lambda g: g.priority):
            for coll in sorted(group.rule_collections, key=lambda c: c.priority):
                where = f"policy {policy.name}/{group.name}/{coll.name}"
                if coll.collection_type == "Nat":
                    continue  # nat_rules
                network = [r for r in coll.rules if r.rule_type == "NetworkRule"]
                if network:
                    rules = tuple(_network_rule(r, f"{where}/{r.name}", caveats)
                                  for r in network)
                    out.append(FirewallRuleCollection(name=f"{group.name}/{coll.name}",
                                                      priority=len(out), action=coll.action,
                                                      rules=rules))
    return FirewallRules(tuple(out), tuple(caveats))


@dataclass(frozen=True)
class DnatRule:
    """One DNAT rule, typed: `protocols` IP protocol numbers (ANY_PROTOCOL for Any), `sources`
    IPv4 (first, last) intervals, `source_ip_groups` ids, `destinations` IPv4 addresses (the
    firewall's public or private address), `ports` (low, high) destination ports,
    `translated_address` (IPv4 integer; None: a translated FQDN, not resolved) and
    `translated_port`."""

    label: str
    protocols: frozenset[int]
    sources: tuple[tuple[int, int], ...]
    source_ip_groups: tuple[str, ...]
    destinations: tuple[int, ...]
    ports: tuple[tuple[int, int], ...]
    translated_address: int | None
    translated_port: int


@dataclass(frozen=True)
class FirewallNatRules:
    rules: tuple[DnatRule, ...]
    caveats: tuple[str, ...]


_REFERENCE = re.compile(r"reference\(\s*(?:resourceId\([^)]*?,\s*)?'([^']+)'", re.I)


def _address(text: str, topology: Topology, where: str, firewall: str, prop: str,
             caveats: list[str]) -> list[tuple[int, int]]:
    """A DNAT address as written -> IPv4 intervals ([] for what cannot be read offline)."""
    text = str(text).strip()
    if text == "*":
        return [(0, (1 << 32) - 1)]
    ref = _REFERENCE.search(text)
    if ref is not None:
        name = ref.group(1).rsplit("/", 1)[-1].lower()
        pip = next((p for p in topology.public_ip_addresses if p.name.lower() == name), None)
        address = public_address(topology, pip) if pip is not None else None
        if address is not None and address.version == 4:
            caveats.append(f"firewall-dnat-runtime-address: {where}: '{text}' is taken as public "
                           f"IP {pip.name}'s address {address}")
            return [(address.value, address.value)]
        caveats.append(f"firewall-runtime-value: {where}: '{text}' known only at deployment; "
                       "the rule matches no address through it")
        return []
    try:
        p = parse_prefix(text, strict=False)
    except InputError:
        if "-" in text:  # a range a-b
            lo, _, hi = text.partition("-")
            try:
                a, b = parse_prefix(lo.strip()), parse_prefix(hi.strip())
            except InputError:
                raise InputError(f"DNAT address '{text}' is not an address, prefix or range",
                                 resource=firewall, property=prop) from None
            return [(a.first, b.last)] if a.version == b.version == 4 else []
        caveats.append(f"firewall-service-tag: {where}: '{text}' is not resolved here; it "
                       "matches no address")
        return []
    return [(p.first, p.last)] if p.version == 4 else []


def _ports(values: tuple, firewall: str, prop: str) -> tuple[tuple[int, int], ...]:
    out = []
    for v in values:
        if hasattr(v, "low"):
            out.append((v.low, v.high))
            continue
        for part in str(v).split(","):
            part = part.strip()
            if part in ("*", ""):
                out.append((0, 65535))
                continue
            lo, _, hi = part.partition("-")
            try:
                a, b = int(lo), int(hi or lo)
            except ValueError:
                raise InputError(f"DNAT port '{part}' is not a port or port range",
                                 resource=firewall, property=prop) from None
            out.append((a, b))
    return tuple(out)


def _dnat(topology: Topology, firewall: AzureFirewall, where: str, rule_name: str,
          protocols: tuple[str, ...], sources: tuple, source_ip_groups: tuple[str, ...],
          destinations: tuple, ports: tuple, translated_address: str, translated_port: str,
          translated_fqdn: str, caveats: list[str]) -> DnatRule:
    prop = f"{where} ({rule_name})"
    src: list[tuple[int, int]] = []
    for a in sources:
        if isinstance(a, Prefix):
            if a.version == 4:
                src.append((a.first, a.last))
        else:
            src += _address(str(a), topology, f"{where}/{rule_name}", firewall.name, prop, caveats)
    dst: list[int] = []
    for a in destinations:
        for lo, hi in (_address(str(a), topology, f"{where}/{rule_name}", firewall.name, prop,
                                caveats) if not isinstance(a, Prefix) else
                       ([(a.first, a.last)] if a.version == 4 else [])):
            dst += [lo] if lo == hi else []  # a DNAT destination is one address of the firewall
    translated: int | None = None
    if translated_address:
        to = _address(translated_address, topology, f"{where}/{rule_name}", firewall.name,
                      prop, caveats)
        translated = to[0][0] if to and to[0][0] == to[0][1] else None
    elif translated_fqdn:
        caveats.append(f"firewall-dnat-fqdn: {where}/{rule_name}: translated FQDN "
                       f"'{translated_fqdn}' is resolved by Azure at run time, not here; the "
                       "rule matches no packet")
    try:
        port = int(str(translated_port).strip())
    except ValueError:
        raise InputError(f"DNAT rule '{rule_name}' has translatedPort {translated_port!r}, not a "
                         "port", resource=firewall.name, property=prop) from None
    protos = frozenset(ANY_PROTOCOL if x.lower() == "any" else protocol_number(x)
                       for x in protocols or ("Any",))
    return DnatRule(f"firewall {firewall.name}/{where}/{rule_name}", protos, tuple(src),
                    tuple(source_ip_groups), tuple(dst), _ports(ports, firewall.name, prop),
                    translated if translated is not None and translated_address else None, port)


def nat_rules(topology: Topology, firewall: AzureFirewall) -> FirewallNatRules:
    """The firewall's DNAT rules in evaluation order (its policy chain's when the input holds
    its policy, else its classic natRuleCollections; module contract), with caveats.

    Raises InputError naming the firewall for a port or address that cannot be read."""
    caveats: list[str] = []
    out: list[DnatRule] = []
    chain = policy_chain(topology, firewall)
    if not chain:
        for coll in sorted(firewall.nat_rule_collections, key=lambda c: c.priority):
            for r in coll.rules:
                out.append(_dnat(topology, firewall, coll.name, r.name, r.protocols,
                                 r.source_addresses, r.source_ip_groups,
                                 r.destination_addresses, r.destination_ports,
                                 r.translated_address or "", r.translated_port or "", "",
                                 caveats))
        return FirewallNatRules(tuple(out), tuple(caveats))
    for policy in chain:
        for group in sorted(policy.rule_collection_groups, key=lambda g: g.priority):
            for coll in sorted(group.rule_collections, key=lambda c: c.priority):
                if coll.collection_type != "Nat":
                    continue
                for r in coll.rules:
                    if r.rule_type != "NatRule":
                        continue
                    dsts = tuple(r.destination_addresses) + tuple(
                        u for u in r.unresolved if _REFERENCE.search(u))
                    out.append(_dnat(topology, firewall, f"{group.name}/{coll.name}", r.name,
                                     r.ip_protocols, r.source_addresses, r.source_ip_groups,
                                     dsts, r.destination_ports, r.translated_address,
                                     r.translated_port, r.translated_fqdn, caveats))
    return FirewallNatRules(tuple(out), tuple(caveats))
