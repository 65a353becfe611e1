"""The network rules an Azure Firewall evaluates, in Azure's order, and what the model leaves out.

Takes a Topology and one AzureFirewall. Emits `FirewallRules`: the firewall's network rule
collections flattened into evaluation order (each `FirewallRuleCollection.priority` is its
position; names are `group/collection` for a policy), and the caveats for everything that can
change the firewall's verdicts but is not evaluated here. `effective_firewall` returns the
firewall with those collections, the form the engine's firewall stage consumes for both classic
rules and a Firewall Policy (one evaluator serves both).

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
Network rules match protocol, source (addresses and IP groups), destination (addresses and IP
groups) and destination port. Not evaluated here, each a named caveat on the firewall's answers:
DNAT rules (inbound translation), application rules (FQDN targets, decided by SNI/Host),
network rules' destination FQDNs (resolved by the firewall's DNS proxy at run time), service tags
in firewall rules, IP groups absent from the input, values known only at deployment, threat
intelligence in Deny mode, and Premium IDPS/TLS inspection.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dataplane.errors import InputError
from dataplane.model import (
    ANY,
    AddressMatch,
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
    """The firewall's policy and its ancestors, the root-most parent first.

    Raises InputError when a policy named by the firewall or a `basePolicy` is missing from the
    input, or when parents form a cycle."""
    chain: list[FirewallPolicy] = []
    ref = firewall.firewall_policy
    seen: set[str] = set()
    prop = "properties.firewallPolicy.id"
    while ref:
        if id_key(ref) in seen:
            raise InputError(f"firewall policy '{ref.rsplit('/', 1)[-1]}' is its own ancestor "
                             "(basePolicy cycle)", resource=firewall.name, property=prop)
        seen.add(id_key(ref))
        policy = next((p for p in topology.firewall_policies if id_key(p.id) == id_key(ref)), None)
        if policy is None:
            raise InputError(f"firewall policy '{ref}' is not in the input", resource=firewall.name,
                             property=prop)
        chain.append(policy)
        ref, prop = policy.base_policy, f"{policy.name}: properties.basePolicy.id"
    return chain[::-1]


def _expand(rule: FirewallPolicyRule, where: str, topology: Topology,
            caveats: list[str]) -> FirewallNetworkRule:
    groups = {id_key(g.id): g for g in topology.ip_groups}

    def side(addresses: tuple[AddressMatch, ...], ip_groups: tuple[str, ...],
             what: str) -> tuple[AddressMatch, ...]:
        out: list[AddressMatch] = []
        for address in addresses:
            if isinstance(address, str) and address != ANY:
                caveats.append(f"{where}: service tag '{address}' in {what} is not resolved for "
                               "firewall rules; the rule matches no address through it")
            else:
                out.append(address)
        for ref in ip_groups:
            group = groups.get(id_key(ref))
            if group is None:
                caveats.append(f"{where}: IP group '{ref.rsplit('/', 1)[-1]}' ({what}) is not in "
                               "the input; the rule matches no address through it")
            else:
                out += group.ip_addresses
        return tuple(out)

    if rule.destination_fqdns:
        caveats.append(f"{where}: destination FQDNs {', '.join(rule.destination_fqdns)} are "
                       "resolved by the firewall's DNS proxy at run time and are not evaluated; "
                       "the rule matches no address through them")
    if rule.unresolved:
        caveats.append(f"{where}: {', '.join(rule.unresolved)} known only at deployment; "
                       "the rule matches no address through them")
    return FirewallNetworkRule(
        name=rule.name, protocols=rule.ip_protocols or ("Any",),
        source_addresses=side(rule.source_addresses, rule.source_ip_groups, "source"),
        destination_addresses=side(rule.destination_addresses, rule.destination_ip_groups,
                                   "destination"),
        destination_ports=rule.destination_ports)


def firewall_rules(topology: Topology, firewall: AzureFirewall) -> FirewallRules:
    """The firewall's network rules in evaluation order, with caveats (see the module contract).

    Raises InputError when the firewall names a policy that is not in the input."""
    if not firewall.firewall_policy:
        ordered = sorted(firewall.network_rule_collections, key=lambda c: c.priority)
        return FirewallRules(tuple(replace(c, priority=i) for i, c in enumerate(ordered)), ())
    caveats: list[str] = []
    if firewall.network_rule_collections:
        caveats.append(f"firewall {firewall.name} has both classic rules and a Firewall Policy; "
                       "Azure uses the policy: the classic rules are ignored")
    out: list[FirewallRuleCollection] = []
    for policy in policy_chain(topology, firewall):
        if policy.threat_intel_mode.lower() == "deny":
            caveats.append(f"policy {policy.name}: threat intelligence in Deny mode drops flows "
                           "to and from known-malicious addresses before any rule; not evaluated")
        if policy.sku_tier.lower() == "premium":
            caveats.append(f"policy {policy.name}: Premium IDPS and TLS inspection can drop "
                           "flows the rules allow; not evaluated")
        for group in sorted(policy.rule_collection_groups, key=lambda g: g.priority):
            for coll in sorted(group.rule_collections, key=lambda c: c.priority):
                where = f"policy {policy.name}/{group.name}/{coll.name}"
                if coll.collection_type == "Nat":
                    caveats.append(f"{where}: DNAT rules (inbound to the firewall's public "
                                   "addresses) are not applied")
                    continue
                network = [r for r in coll.rules if r.rule_type == "NetworkRule"]
                if len(network) < len(coll.rules):
                    caveats.append(f"{where}: application rules ({coll.action}, decided by TLS "
                                   "SNI or HTTP Host after network rules) are not evaluated; "
                                   "flows they would decide end at later rules or the default "
                                   "deny")
                if network:
                    rules = tuple(_expand(r, f"{where}/{r.name}", topology, caveats)
                                  for r in network)
                    out.append(FirewallRuleCollection(name=f"{group.name}/{coll.name}",
                                                      priority=len(out), action=coll.action,
                                                      rules=rules))
    return FirewallRules(tuple(out), tuple(caveats))


def effective_firewall(topology: Topology, firewall: AzureFirewall) -> AzureFirewall:
    """The firewall with the network rule collections Azure evaluates, in order."""
    return replace(firewall,
                   network_rule_collections=firewall_rules(topology, firewall).network_rule_collections)
