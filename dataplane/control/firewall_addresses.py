"""The addresses one Azure Firewall network rule names, resolved as far as they can be offline.

Takes: a Topology and an AzureFirewall; per rule side, the addresses as loaded (Prefix, "*"
or a name), IP group ids and, for destinations, FQDNs. Emits `FirewallAddresses.side(...)` ->
`Side` (the prefixes the side matches, IPv4 and IPv6, "*" as `any_address`) and records in
`caveats` (texts "key: ...", on every answer that crosses the firewall) and `unresolved`
(`Unresolved`: what `dataplane check` lists as warnings, control/validate.py) what matches no
address. Used by the engine's firewall stage (engine/stages/firewall.py `compile_firewall`)
and by validation, so both read a rule the same way.

* Service tags ("Azure Firewall service tags", https://learn.microsoft.com/azure/firewall/
  service-tags: "Azure Firewall supports the following Service Tags for use in Azure Firewall
  network rules: Tags for various Microsoft and Azure services listed in Virtual network service
  tags"): resolved by the NSGs' resolver (control/tags.py `TagResolver`: Microsoft's file from
  `--service-tags FILE` / VNET_DATAPLANE_SERVICE_TAGS, else the built-in representative set with
  the caveat `service-tag-prefixes-not-loaded`, the same line NSG answers carry), IPv4 and IPv6.
  The page describes tags in the destination field; a tag in a source is resolved the same
  way and carries the caveat `firewall-service-tag-source` (Microsoft is silent on it).
  VirtualNetwork, Internet and AzureLoadBalancer are defined relative to a NIC's VNet and
  route table; the overview's table ("Virtual network service tags",
  https://learn.microsoft.com/azure/virtual-network/service-tags-overview, "Available service
  tags", the Azure Firewall column) does not mark them usable in Azure Firewall rules
  (assumption, table read from the page's published version, not checked against a deployment):
  they match no address, caveat `firewall-service-tag`.
  A name Azure does not have (servicetags.py `is_known_tag`) matches no address, caveat
  `firewall-service-tag-unknown` with the close names, as an NSG rule naming it would
  (SecurityRuleInvalidAddressPrefix there).
* IP groups absent from the topology: caveat `firewall-ipgroup-missing`.
* FQDNs in network rules: caveat `firewall-fqdn` ("Azure Firewall DNS settings",
  https://learn.microsoft.com/azure/firewall/dns-settings, "DNS proxy": they need DNS proxy).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dataplane.control.firewall_rules import firewall_rules, policy_chain
from dataplane.control.servicetags import close_tags
from dataplane.control.tags import TagResolver, TagScope, canonical_tag, scope_of
from dataplane.model import AzureFirewall, Prefix, Topology, id_key

SCOPED_TAGS = ("virtualnetwork", "internet", "azureloadbalancer")  # defined per NIC scope


@dataclass(frozen=True)
class Unresolved:
    """One item of a firewall rule that matches no address (a `dataplane check` warning)."""

    code: str  # FirewallRuleFqdnNotResolved | FirewallRuleServiceTagUnknown | ...
    rule: str  # COLLECTION/RULE
    item: str
    message: str


@dataclass
class Side:
    any_address: bool = False
    prefixes: list[Prefix] = field(default_factory=list)


class FirewallAddresses:
    """Resolves the address sides of one firewall's rules (module contract)."""

    def __init__(self, topology: Topology, firewall: AzureFirewall,
                 tags: TagResolver | None = None) -> None:
        self.topology, self.firewall = topology, firewall
        self.tags = tags if tags is not None else TagResolver(topology)
        self.groups = {id_key(g.id): g for g in topology.ip_groups}
        chain = policy_chain(topology, firewall)
        self.policy = bool(chain)
        self.proxied = (any(p.dns_proxy_enabled for p in chain) if chain
                        else firewall.dns_proxy_enabled)
        vnet = topology.vnet_of_subnet(firewall.subnet) if firewall.subnet else None
        self.scope: TagScope | None = (scope_of(topology, vnet, firewall.subnet)
                                       if vnet is not None else None)
        self.caveats: list[str] = []
        self.unresolved: list[Unresolved] = []

    def _note(self, caveat: str, code: str, where: str, item: str, message: str) -> None:
        self.caveats.append(caveat)
        self.unresolved.append(Unresolved(code, where, item, message))

    def side(self, addresses: tuple, group_ids: tuple[str, ...], where: str,
             fqdns: tuple = (), source: bool = False) -> Side:
        out = Side()
        name = self.firewall.name
        for a in addresses:
            if a == "*":
                out.any_address = True
            elif isinstance(a, Prefix):
                out.prefixes.append(a)
            else:
                out.prefixes += self._tag(str(a), where, source)
        for gid in group_ids:
            g = self.groups.get(id_key(gid))
            if g is None:
                short = gid.rsplit("/", 1)[-1]
                self._note(f"firewall-ipgroup-missing: firewall {name} rule {where} uses IP "
                           f"group '{short}', which is not in the topology; it matches no "
                           "address", "FirewallRuleIpGroupMissing", where, short,
                           f"Firewall {name} rule {where} uses IP group '{short}', which is "
                           "not in the topology: it matches no address.")
                continue
            out.prefixes += list(g.ip_addresses)
        if fqdns:
            how = ("resolved by the firewall's DNS proxy in Azure" if self.proxied else
                   "which Azure resolves only with DNS proxy enabled ('Azure Firewall DNS "
                   "settings', dns-settings), and no policy of this firewall enables it"
                   if self.policy else "which Azure resolves only with DNS proxy enabled "
                   "('Azure Firewall DNS settings', dns-settings), and the firewall's "
                   "additionalProperties 'Network.DNS.EnableProxy' does not enable it")
            self._note(f"firewall-fqdn: firewall {name} rule {where} uses destinationFqdns "
                       f"({', '.join(fqdns)}), {how}; not resolved here, they match no address",
                       "FirewallRuleFqdnNotResolved", where, ", ".join(fqdns),
                       f"Firewall {name} rule {where} uses destinationFqdns "
                       f"({', '.join(fqdns)}), {how}: the emulator matches no address "
                       "through them.")
        return out

    def _tag(self, text: str, where: str, source: bool) -> list[Prefix]:
        """A service tag's prefixes (module contract), [] with a caveat when none apply."""
        name = self.firewall.name
        if canonical_tag(text) in SCOPED_TAGS or self.scope is None:
            self._note(f"firewall-service-tag: firewall {name} rule {where} names '{text}', "
                       "which Azure defines per NIC scope and the service tags overview does "
                       "not mark usable in Azure Firewall rules; it matches no address",
                       "FirewallRuleServiceTagNotSupported", where, text,
                       f"Firewall {name} rule {where} names service tag '{text}', which is "
                       "not usable in Azure Firewall rules: it matches no address.")
            return []
        found = self.tags.resolve(self.scope, text)
        if found is None:
            close = close_tags(text, self.topology.service_tags)
            hint = f" (close names: {', '.join(close)})" if close else ""
            self._note(f"firewall-service-tag-unknown: firewall {name} rule {where} names "
                       f"'{text}', which is no address, range or service tag Azure has{hint}; "
                       "it matches no address", "FirewallRuleServiceTagUnknown", where, text,
                       f"Firewall {name} rule {where} names '{text}', which is no address, "
                       f"range or service tag Azure has{hint}: it matches no address.")
            return []
        if source:
            self.caveats.append(
                f"firewall-service-tag-source: firewall {name} rule {where} names service tag "
                f"'{text}' as a source; 'Azure Firewall service tags' (https://learn.microsoft."
                "com/azure/firewall/service-tags) describes tags in destinations only; it is "
                "matched here on the tag's prefixes as a destination would be")
        return list(found)

    def all_caveats(self) -> list[str]:
        """The recorded caveats, then the built-in-prefix-set lines of the tags used."""
        return [*self.caveats, *self.tags.caveats()]


def unresolved_items(topology: Topology, firewall: AzureFirewall) -> list[Unresolved]:
    """What the firewall's network rules name that matches no address (validation)."""
    resolver = FirewallAddresses(topology, firewall)
    for coll in firewall_rules(topology, firewall).network_rule_collections:
        for r in coll.rules:
            where = f"{coll.name}/{r.name}"
            resolver.side(r.source_addresses, r.source_ip_groups, where, source=True)
            resolver.side(r.destination_addresses, r.destination_ip_groups, where,
                          r.destination_fqdns)
    return resolver.unresolved
