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
Not evaluated, each a named caveat on the firewall's answers: DNAT rules (inbound translation),
values known only at deployment, threat
intelligence in Deny mode, and Premium IDPS/TLS inspection (FQDNs, service tags and missing IP
groups in network rules: the engine's firewall stage).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dataplane.errors import InputError
from dataplane.model import (
    AzureFirewall,
    FirewallNetworkRule,
    FirewallPolicy,
    FirewallPolicyRule,
    FirewallRuleCollection,
    Topology,
    id_key,
)


@dataclass(frozen=True)
class FirewallRules:
    network_rule_collections: tuple[FirewallRuleCollection, ...]
    caveats: tuple[str, ...]


def policy_chain(topology: Topology, firewall: AzureFirewall) -> list[FirewallPolicy]:
    """The firewall's policy and its ancestors present in the input, the root-most parent
    first (a policy missing from the input ends the chain: see `firewall_rules`).

    Raises InputError when parents form a cycle (ARM cannot deploy one)."""
    chain: list[FirewallPolicy] = []
    ref = firewall.firewall_policy
    seen: set[str] = set()
    while ref:
        if id_key(ref) in seen:
            raise InputError(f"firewall policy '{ref.rsplit('/', 1)[-1]}' is its own ancestor "
                             "(basePolicy cycle)", resource=firewall.name,
                             property="properties.firewallPolicy.id")
        seen.add(id_key(ref))
        policy = next((p for p in topology.firewall_policies if id_key(p.id) == id_key(ref)), None)
        if policy is None:
            break
        chain.append(policy)
        ref = policy.base_policy
    return chain[::-1]


def _missing_policies(topology: Topology, firewall: AzureFirewall) -> list[str]:
    known = {id_key(p.id) for p in topology.firewall_policies}
    refs = [firewall.firewall_policy] + [p.base_policy for p in policy_chain(topology, firewall)]
    return [r.rsplit("/", 1)[-1] for r in refs if r and id_key(r) not in known]


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
    caveats = [f"firewall-policy: firewall {firewall.name} uses Firewall Policy '{name}', which "
               "is not in the input: its rules are not applied"
               for name in _missing_policies(topology, firewall)]
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
                    caveats.append(f"firewall-policy-dnat: {where}: DNAT rules (inbound to the firewall's public "
                                   "addresses) are not applied")
                    continue
                network = [r for r in coll.rules if r.rule_type == "NetworkRule"]
                if network:
                    rules = tuple(_network_rule(r, f"{where}/{r.name}", caveats)
                                  for r in network)
                    out.append(FirewallRuleCollection(name=f"{group.name}/{coll.name}",
                                                      priority=len(out), action=coll.action,
                                                      rules=rules))
    return FirewallRules(tuple(out), tuple(caveats))
