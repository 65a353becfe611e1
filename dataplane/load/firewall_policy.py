"""Firewall Policy resources -> model (FirewallPolicy).

Takes the resource dicts of `Microsoft.Network/firewallPolicies` (its `ruleCollectionGroups` or
`ruleGroups` children already folded into its properties by resources._merge_children). Two
schemas are read into one model:
* current (API 2020-05-01 and later; "Azure Firewall Policy rule sets",
  https://learn.microsoft.com/azure/firewall/policy-rule-sets): rule collection groups with a
  priority, holding `FirewallPolicyFilterRuleCollection` (action Allow/Deny) and
  `FirewallPolicyNatRuleCollection` (action DNAT) collections with a priority, holding rules of
  `ruleType` NetworkRule, ApplicationRule or NatRule;
* the 2019-06-01 preview still found in public templates: `firewallPolicies/ruleGroups` with
  `FirewallPolicyFilterRule` (a priority, an action and `ruleConditions` of type
  NetworkRuleCondition / ApplicationRuleCondition) and `FirewallPolicyNatRule` (one
  `ruleCondition`, `translatedAddress`, `translatedPort`). Each such rule becomes a collection of
  the current schema with the same priority and action, its conditions its rules (named by the
  condition's `name`: a label reads group/rule/condition, as the template nests them).
Values that a template can only know at deployment (the evaluator's `<runtime: ...>` text, e.g. a
public IP's address) or builds from a parameter given no value (load/arm/placeholders.py: an
FQDN made of an Application Gateway's name, say) are kept in `unresolved`, never read as an
address, a service tag or a name: answers name them in a caveat.
Errors name the file, the resource and the property. A rule collection group (or preview rule
group) written as its own resource (`Microsoft.Network/firewallPolicies/ruleCollectionGroups`
named "pol/rcg", folded into policy 'pol' by the loader) is named as itself: its file, its name,
its type and the property path inside it (`_group_where`), never the policy's merged path.
Priorities (`_priority`): a rule collection group's and a rule collection's priority must lie in
100-65000, as Azure's schema requires ("Microsoft.Network firewallPolicies/ruleCollectionGroups"
ARM template reference, https://learn.microsoft.com/azure/templates/microsoft.network/
firewallpolicies/rulecollectiongroups, `priority`: "Constraints: Min value = 100, Max value =
65000", for the group and for FirewallPolicyFilterRuleCollection / FirewallPolicyNatRuleCollection;
"Azure Firewall Policy rule sets", https://learn.microsoft.com/azure/firewall/policy-rule-sets,
"Rule collection groups": groups are processed by priority); anything else is an InputError.
The preview schema's priorities are read as written (its 2019-06-01 range is not checked).
"""

from __future__ import annotations

from typing import Any

from dataplane.errors import InputError
from dataplane.load.arm.placeholders import names_in
from dataplane.load.resources import (
    Where,
    _get,
    _int,
    _items,
    _location,
    _props,
    _ref,
    _Where,
    address_match,
    application_port,
    application_protocol,
    application_targets,
    collection_priority,
    dnat_destinations,
    firewall_action,
    firewall_protocols,
    nat_target,
    port_ranges,
    snat_private_ranges,
    translated_port,
)
from dataplane.model import (
    ApplicationProtocol,
    FirewallPolicy,
    FirewallPolicyRule,
    FirewallPolicyRuleCollection,
    FirewallPolicyRuleCollectionGroup,
)

RUNTIME = "<runtime"
_CHILD_TYPES = ("microsoft.network/firewallpolicies/rulecollectiongroups",
                "microsoft.network/firewallpolicies/rulegroups")  # resources.CHILDREN


class _ChildWhere(Where):
    """The location of a value inside a rule collection group (or preview rule group) written
    as its own resource: errors name that resource, its type and its policy."""

    def __init__(self, child: dict[str, Any], source: str, policy: str) -> None:
        super().__init__(child, source)
        self.kind = str(child.get("type", ""))
        self.policy = policy
        own = str(child.get("name") or "").rsplit("/", 1)[-1]
        if own:  # named as the template names it: 'pol/rcg' (an evaluated name may be 'rcg')
            self.resource = f"{policy}/{own}"

    def error(self, prop: str, message: str) -> InputError:
        return InputError(f"{message} (a {self.kind} resource, child of policy "
                          f"'{self.policy}')", file=self.source, resource=self.resource,
                          property=prop)


def _group_where(group: Any, where: _Where, at: str) -> tuple[_Where, str]:
    """(where, property path prefix) for errors in one element of a policy's
    ruleCollectionGroups / ruleGroups: the child resource itself when the loader folded a
    separate resource in (resources._merge_children keeps its dict, `type` and `source`
    included), else the policy at `at`."""
    if isinstance(group, dict) and str(group.get("type", "")).lower() in _CHILD_TYPES:
        return _ChildWhere(group, where.source, where.resource), ""
    return where, at


def _path(at: str, rest: str) -> str:
    return f"{at}.{rest}" if at else rest


def _priority(obj: dict[str, Any], where: _Where, prop: str) -> int:
    """`obj`'s priority (a rule collection group's properties or a rule collection): an integer
    in 100-65000 (module contract: Azure's schema constraint), InputError naming `prop`
    otherwise; 0 when absent (as before: an az dump's sub-resource reference carries none)."""
    value = _get(obj, "priority")
    return 0 if value is None else collection_priority(value, where, prop)


def _unknown(text: str) -> bool:
    """A value known only at deployment, or built from a parameter given no value."""
    return text.startswith(RUNTIME) or bool(names_in(text))


def _strings(obj: dict[str, Any], name: str, where: _Where, at: str) -> tuple[str, ...]:
    return tuple(str(v) for v in _items(obj, name, where, at))


def _names(obj: dict[str, Any], name: str, where: _Where, at: str
           ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(FQDNs known offline, the unknown ones as written)."""
    values = _strings(obj, name, where, at)
    return (tuple(v for v in values if not _unknown(v)), tuple(v for v in values if _unknown(v)))


def _addresses(obj: dict[str, Any], name: str, where: _Where, at: str) -> tuple[tuple, tuple]:
    """(addresses as AddressMatch, unresolved runtime texts)."""
    known, unresolved = [], []
    for i, value in enumerate(_items(obj, name, where, at)):
        text = str(value)
        if _unknown(text):
            unresolved.append(text)
        else:
            known.append(address_match(text, where, f"{at}.{name}[{i}]"))
    return tuple(known), tuple(unresolved)


def _protocols(obj: dict[str, Any], where: _Where, at: str) -> tuple[ApplicationProtocol, ...]:
    out = []
    for i, item in enumerate(_items(obj, "protocols", where, at)):
        if not isinstance(item, dict):
            raise where.error(f"{at}.protocols[{i}]", "expected {protocolType, port}")
        out.append(ApplicationProtocol(application_protocol(
            _get(item, "protocolType", default=""), where, f"{at}.protocols[{i}].protocolType"),
                                       application_port(_get(item, "port", default=0), where,
                                                        f"{at}.protocols[{i}].port")))
    return tuple(out)


def _rule(raw: dict[str, Any], rule_type: str, where: _Where, at: str) -> FirewallPolicyRule:
    sources, unresolved_s = _addresses(raw, "sourceAddresses", where, at)
    destinations, unresolved_d = _addresses(raw, "destinationAddresses", where, at)
    ports = _items(raw, "destinationPorts", where, at)
    translated = str(_get(raw, "translatedAddress", default=""))
    targets, unresolved_t = _names(raw, "targetFqdns", where, at)
    fqdns, unresolved_f = _names(raw, "destinationFqdns", where, at)
    if rule_type == "NatRule":
        nat_target(translated, _get(raw, "translatedFqdn", default=""), where, at)
        dnat_destinations(tuple("*" if _unknown(str(v)) else str(v) for v in  # runtime: kept
                                _items(raw, "destinationAddresses", where, at)), where,
                          f"{at}.destinationAddresses")
    if rule_type == "ApplicationRule":
        application_targets(targets + unresolved_t, _strings(raw, "fqdnTags", where, at)
                            + _strings(raw, "webCategories", where, at)
                            + _strings(raw, "targetUrls", where, at), where, at)
    unresolved = (unresolved_s + unresolved_d + unresolved_t + unresolved_f
                  + ((translated,) if _unknown(translated) else ()))
    return FirewallPolicyRule(
        name=str(_get(raw, "name", default="")), rule_type=rule_type,
        ip_protocols=firewall_protocols(_get(raw, "ipProtocols", default=[]), where,
                                        f"{at}.ipProtocols"),
        source_addresses=sources, source_ip_groups=_strings(raw, "sourceIpGroups", where, at),
        destination_addresses=destinations,
        destination_ip_groups=_strings(raw, "destinationIpGroups", where, at),
        destination_fqdns=fqdns,
        destination_ports=port_ranges(ports, where, f"{at}.destinationPorts") if ports else (),
        target_fqdns=targets,
        fqdn_tags=_strings(raw, "fqdnTags", where, at),
        web_categories=_strings(raw, "webCategories", where, at),
        protocols=_protocols(raw, where, at),
        target_urls=_strings(raw, "targetUrls", where, at),
        terminate_tls=str(_get(raw, "terminateTLS", default=False)).lower() == "true",
        translated_address="" if _unknown(translated) else translated,
        translated_port=translated_port(_get(raw, "translatedPort", default=""), where,
                                        f"{at}.translatedPort"),
        translated_fqdn=str(_get(raw, "translatedFqdn", default="")),
        unresolved=unresolved)


_COLLECTION_TYPES = ("firewallpolicyfilterrulecollection", "firewallpolicynatrulecollection")
_CURRENT_RULE_TYPES = {"networkrule": "NetworkRule", "applicationrule": "ApplicationRule",
                       "natrule": "NatRule"}
_CONDITION_TYPES = {"networkrulecondition": "NetworkRule",
                    "applicationrulecondition": "ApplicationRule"}


def _action(raw: dict[str, Any], where: _Where, at: str) -> str:
    """A filter collection's (or preview filter rule's) action: Allow or Deny (Allow when
    absent); anything else is an InputError, as Azure rejects it."""
    action = _get(raw, "action", default={})
    value = _get(action, "type", default="") if isinstance(action, dict) else action
    return firewall_action(value or "Allow", ("Allow", "Deny"), where, f"{at}.action.type")


def _current_group(raw: dict[str, Any], where: _Where, at: str) -> FirewallPolicyRuleCollectionGroup:
    where, at = _group_where(raw, where, at)
    props = _props(raw)
    collections = []
    for i, coll in enumerate(_items(props, "ruleCollections", where, _path(at, "properties"))):
        here = _path(at, f"properties.ruleCollections[{i}]")
        kind = str(_get(coll, "ruleCollectionType", default="")).lower()
        if kind and kind not in _COLLECTION_TYPES:  # ARM's discriminator: two values
            raise where.error(f"{here}.ruleCollectionType", "expected "
                              "FirewallPolicyFilterRuleCollection or "
                              f"FirewallPolicyNatRuleCollection, got "
                              f"{_get(coll, 'ruleCollectionType')!r}")
        nat = "nat" in kind
        rules = []
        for j, rule in enumerate(_items(coll, "rules", where, here)):
            rule_type = _CURRENT_RULE_TYPES.get(str(_get(rule, "ruleType", default="")).lower())
            if rule_type is None:
                raise where.error(f"{here}.rules[{j}].ruleType",
                                  "expected NetworkRule, ApplicationRule or NatRule, got "
                                  f"{_get(rule, 'ruleType')!r}")
            if kind and (rule_type == "NatRule") != nat:  # a NAT collection holds NAT rules
                raise where.error(f"{here}.rules[{j}].ruleType", f"a {_get(rule, 'ruleType')} "
                                  f"in a {_get(coll, 'ruleCollectionType')} (NatRule belongs in "
                                  "a FirewallPolicyNatRuleCollection, NetworkRule and "
                                  "ApplicationRule in a FirewallPolicyFilterRuleCollection)")
            rules.append(_rule(rule, rule_type, where, f"{here}.rules[{j}]"))
        collections.append(FirewallPolicyRuleCollection(
            name=str(_get(coll, "name", default="")),
            priority=_priority(coll, where, f"{here}.priority"),
            collection_type="Nat" if nat else "Filter",
            action="Dnat" if nat else _action(coll, where, here), rules=tuple(rules)))
    return FirewallPolicyRuleCollectionGroup(
        name=str(_get(raw, "name", default="")).rsplit("/", 1)[-1],
        priority=_priority(props, where, _path(at, "properties.priority")),
        rule_collections=tuple(collections))


def _preview_group(raw: dict[str, Any], where: _Where, at: str) -> FirewallPolicyRuleCollectionGroup:
    """2019-06-01 `ruleGroups`: each rule becomes a collection of the current schema."""
    where, at = _group_where(raw, where, at)
    props = _props(raw)
    collections = []
    for i, rule in enumerate(_items(props, "rules", where, _path(at, "properties"))):
        here = _path(at, f"properties.rules[{i}]")
        kind = str(_get(rule, "ruleType", default="")).lower()
        priority = _int(_get(rule, "priority", default=0), where, f"{here}.priority")
        name = str(_get(rule, "name", default=""))
        if kind == "firewallpolicynatrule":
            condition = _get(rule, "ruleCondition", default={})
            merged = {**condition,  # the rule names the collection, its condition the rule
                      "name": str(_get(condition, "name", default="") or name),
                      "translatedAddress": _get(rule, "translatedAddress", default=""),
                      "translatedPort": _get(rule, "translatedPort", default="")}
            collections.append(FirewallPolicyRuleCollection(
                name, priority, "Nat", "Dnat", (_rule(merged, "NatRule", where, here),)))
        elif kind == "firewallpolicyfilterrule":
            rules = []
            for j, cond in enumerate(_items(rule, "ruleConditions", where, here)):
                ctype = _CONDITION_TYPES.get(str(_get(cond, "ruleConditionType", default="")).lower())
                if ctype is None:
                    raise where.error(f"{here}.ruleConditions[{j}].ruleConditionType",
                                      "expected NetworkRuleCondition or ApplicationRuleCondition")
                rules.append(_rule(cond, ctype, where, f"{here}.ruleConditions[{j}]"))
            collections.append(FirewallPolicyRuleCollection(name, priority, "Filter",
                                                            _action(rule, where, here),
                                                            tuple(rules)))
        else:
            raise where.error(f"{here}.ruleType", "expected FirewallPolicyFilterRule or "
                              f"FirewallPolicyNatRule, got {_get(rule, 'ruleType')!r}")
    return FirewallPolicyRuleCollectionGroup(
        name=str(_get(raw, "name", default="")).rsplit("/", 1)[-1],
        priority=_int(_get(props, "priority", default=0), where, _path(at, "properties.priority")),
        rule_collections=tuple(collections))


def firewall_policy(raw: dict[str, Any], where: _Where) -> FirewallPolicy:
    p = _props(raw)
    groups = [_current_group(g, where, f"properties.ruleCollectionGroups[{i}]")
              for i, g in enumerate(_items(p, "ruleCollectionGroups", where))]
    groups += [_preview_group(g, where, f"properties.ruleGroups[{i}]")
               for i, g in enumerate(_items(p, "ruleGroups", where))]
    sku = _get(p, "sku", default={})
    dns = _get(p, "dnsSettings", default={})
    return FirewallPolicy(
        id=raw["id"], name=raw["name"], location=_location(raw),
        rule_collection_groups=tuple(groups), base_policy=_ref(_get(p, "basePolicy")),
        threat_intel_mode=str(_get(p, "threatIntelMode", default="Alert")),
        sku_tier=str(_get(sku, "tier", default="Standard")) if isinstance(sku, dict) else "Standard",
        dns_proxy_enabled=bool(_get(dns, "enableProxy", default=False))
        if isinstance(dns, dict) else False,
        sku_tier_given=isinstance(sku, dict) and _get(sku, "tier") is not None,
        intrusion_detection_mode=_idps_mode(p),
        tls_inspection=_get(_get(p, "transportSecurity", default={}) or {},
                            "certificateAuthority") is not None,
        snat_private_ranges=_snat_ranges(p, where), snat_auto_learn=_auto_learn(p, where),
        source=where.source)


def _snat_ranges(p: dict[str, Any], where: _Where) -> tuple[str, ...]:
    """`properties.snat.privateRanges` (a list of "IANAPrivateRanges", prefixes, addresses);
    () when the policy does not set it (an empty list: the default) (control/firewall_snat.py reads the values)."""
    snat = _get(p, "snat", default={}) or {}
    if not isinstance(snat, dict):
        raise where.error("properties.snat", f"expected an object, got {snat!r}")
    ranges = _get(snat, "privateRanges", default=None)
    if ranges is None:
        return ()
    if not isinstance(ranges, list):
        raise where.error("properties.snat.privateRanges", f"expected a list, got {ranges!r}")
    return snat_private_ranges(tuple(str(x).strip() for x in ranges), where,
                               "properties.snat.privateRanges")


def _auto_learn(p: dict[str, Any], where: _Where) -> str | None:
    """`properties.snat.autoLearnPrivateRanges` (Enabled | Disabled), None when absent
    (control/firewall_snat.py names its caveat)."""
    snat = _get(p, "snat", default={}) or {}
    value = _get(snat, "autoLearnPrivateRanges") if isinstance(snat, dict) else None
    if value is None:
        return None
    if str(value).lower() not in ("enabled", "disabled"):
        raise where.error("properties.snat.autoLearnPrivateRanges",
                          f"expected Enabled or Disabled, got {value!r}")
    return "Enabled" if str(value).lower() == "enabled" else "Disabled"


def _idps_mode(p: dict[str, Any]) -> str | None:
    """`properties.intrusionDetection.mode` (Off | Alert | Deny; Premium only), None if absent."""
    idps = _get(p, "intrusionDetection", default={})
    mode = _get(idps, "mode") if isinstance(idps, dict) else None
    return None if mode is None else str(mode)
