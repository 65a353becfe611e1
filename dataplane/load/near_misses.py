"""ARM/az properties that look like a misspelling of one the loader reads: warnings, not errors.

ARM resources carry many properties this project does not model, so an unknown property is never
refused. But on an object we model, a property a spelling away from one we read (an application
rule's `targetFQDN` next to `targetFqdns`, a route's `nextHopIPAdress`) is most likely the user's
typo: Azure's Network resource provider does not read it either, so the deployed resource lacks
what the user meant, and our model of it lacks it the same way. We say so rather than stay silent.

    near_miss_findings(resources, source) -> [(PROPERTY_NEAR_MISS, message, resource id)]

Each finding becomes a `check` warning (control/validate.py) and a named caveat on the resource's
answers (control/caveats.py `topology_caveats`), key `near-miss:RESOURCE:PROPERTY PATH`. A
near miss is a key that is not read at that place (case-insensitive, as ARM property names are)
but whose lower-case spelling is within difflib's 0.8 ratio of one that is.

READ lists, per modelled resource type, the objects checked (a path of property names, `[]` for
each element of a list, `properties` standing for ARM's nesting or az's flattening) and the
names read there (load/resources.py, load/firewall_policy.py).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from typing import Any

from dataplane.errors import PROPERTY_NEAR_MISS

_FW_RULE_COLLECTION = ("priority", "action", "rules")
_ADDRESS = ("sourceAddresses", "sourceIpGroups")
READ: dict[str, dict[str, tuple[str, ...]]] = {
    "microsoft.network/azurefirewalls": {
        "properties": ("ipConfigurations", "networkRuleCollections", "natRuleCollections",
                       "applicationRuleCollections", "firewallPolicy", "threatIntelMode",
                       "additionalProperties", "sku"),
        "properties.networkRuleCollections[].properties": _FW_RULE_COLLECTION,
        "properties.natRuleCollections[].properties": _FW_RULE_COLLECTION,
        "properties.applicationRuleCollections[].properties": _FW_RULE_COLLECTION,
        "properties.networkRuleCollections[].properties.rules[]": (
            "name", "protocols", *_ADDRESS, "destinationAddresses", "destinationPorts",
            "destinationIpGroups", "destinationFqdns"),
        "properties.natRuleCollections[].properties.rules[]": (
            "name", "protocols", *_ADDRESS, "destinationAddresses", "destinationPorts",
            "translatedAddress", "translatedPort"),
        "properties.applicationRuleCollections[].properties.rules[]": (
            "name", *_ADDRESS, "protocols", "targetFqdns", "fqdnTags"),
    },
    "microsoft.network/firewallpolicies/rulecollectiongroups": {
        "properties": ("priority", "ruleCollections"),
        "properties.ruleCollections[]": ("name", "priority", "action", "rules",
                                         "ruleCollectionType"),
        "properties.ruleCollections[].rules[]": (
            "name", "ruleType", *_ADDRESS, "protocols", "targetFqdns", "fqdnTags",
            "destinationAddresses", "destinationPorts", "destinationIpGroups",
            "destinationFqdns", "translatedAddress", "translatedPort", "translatedFqdn"),
    },
    "microsoft.network/networksecuritygroups": {
        "properties": ("securityRules",),
        "properties.securityRules[].properties": (
            "priority", "direction", "access", "protocol", "sourceAddressPrefix",
            "sourceAddressPrefixes", "destinationAddressPrefix", "destinationAddressPrefixes",
            "sourcePortRange", "sourcePortRanges", "destinationPortRange",
            "destinationPortRanges", "sourceApplicationSecurityGroups",
            "destinationApplicationSecurityGroups"),
    },
    "microsoft.network/routetables": {
        "properties": ("routes", "disableBgpRoutePropagation"),
        "properties.routes[].properties": ("addressPrefix", "nextHopType", "nextHopIpAddress"),
    },
    "microsoft.network/virtualnetworks": {
        "properties": ("addressSpace", "subnets", "virtualNetworkPeerings"),
        "properties.subnets[].properties": (
            "addressPrefix", "addressPrefixes", "networkSecurityGroup", "routeTable",
            "serviceEndpoints", "natGateway", "privateEndpointNetworkPolicies",
            "defaultOutboundAccess"),
        "properties.virtualNetworkPeerings[].properties": (
            "remoteVirtualNetwork", "allowVirtualNetworkAccess", "allowForwardedTraffic",
            "allowGatewayTransit", "useRemoteGateways", "peeringState"),
    },
    "microsoft.network/networkinterfaces": {
        "properties": ("ipConfigurations", "enableIPForwarding", "networkSecurityGroup",
                       "virtualMachine"),
        "properties.ipConfigurations[].properties": (
            "subnet", "privateIPAddress", "privateIPAllocationMethod", "privateIPAddressVersion",
            "primary", "applicationSecurityGroups", "publicIPAddress",
            "loadBalancerBackendAddressPools"),
    },
}


def near_miss_findings(resources: Iterable[dict[str, Any]], source: str = ""
                       ) -> list[tuple[str, str, str]]:
    """(PROPERTY_NEAR_MISS, message, resource id) for every near miss in `resources` (resource
    dicts as resources_to_topology takes them); the message names the file, the resource, the
    property path and the name it is close to."""
    out = []
    for raw in resources:
        if not isinstance(raw, dict):
            continue
        places = READ.get(str(raw.get("type", "")).lower())
        for path, names in (places or {}).items():
            for where, obj in _objects(raw, path.split(".")):
                for key in obj:
                    close = _close(str(key), names)
                    if close is not None:
                        out.append((PROPERTY_NEAR_MISS, _message(raw, source, where, str(key),
                                                                 close), str(raw.get("id", ""))))
    return out


def _close(key: str, names: tuple[str, ...]) -> str | None:
    lowered = {n.lower(): n for n in names}
    if key.lower() in lowered:
        return None
    match = difflib.get_close_matches(key.lower(), list(lowered), n=1, cutoff=0.8)
    return lowered[match[0]] if match else None


def _message(raw: dict[str, Any], source: str, where: str, key: str, close: str) -> str:
    file = str(raw.get("source") or source)
    return (f"{file + ': ' if file else ''}resource '{raw.get('name', '?')}': property "
            f"'{where}.{key}' is not read (did you mean '{close}'?); Azure ignores it too, so "
            "the resource is modelled without it")


def _objects(obj: Any, path: list[str], where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """The dicts at `path` below `obj`, each with its location ('properties.rules[2]')."""
    if not isinstance(obj, dict):
        return
    if not path:
        yield where, obj
        return
    step, rest = path[0], path[1:]
    if step == "properties":  # ARM nests, az flattens
        inner = obj.get("properties")
        if isinstance(inner, dict):
            yield from _objects(inner, rest, f"{where}.properties" if where else "properties")
        else:
            yield from _objects(obj, rest, where)
        return
    name, many = step.removesuffix("[]"), step.endswith("[]")
    value = next((v for k, v in obj.items() if str(k).lower() == name.lower()), None)
    at = f"{where}.{name}" if where else name
    if many and isinstance(value, list):
        for index, item in enumerate(value):
            yield from _objects(item, rest, f"{at}[{index}]")
    elif not many:
        yield from _objects(value, rest, at)
