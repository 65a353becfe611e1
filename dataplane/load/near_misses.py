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
names read there (load/resources.py, load/firewall_policy.py, load/public_edge.py): firewalls,
policy rule collection groups, NSGs, route tables, VNets, NICs, load balancers, virtual network
gateways, local network gateways, connections, public IPs, NAT gateways, private endpoints.
AZURE_NOT_READ lists the properties Azure defines that are a spelling away from a read one
(`loadBalancers.inboundNatPools`): real properties, never reported as a near miss (those that
can change a verdict are caveated by load/unread.py).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from typing import Any

from dataplane.errors import PROPERTY_NEAR_MISS

_FW_RULE_COLLECTION = ("priority", "action", "rules")
_ADDRESS = ("sourceAddresses", "sourceIpGroups")
_BGP = ("asn", "bgpPeeringAddress", "peerWeight", "bgpPeeringAddresses")
_BGP_INSTANCE = ("ipconfigurationId", "defaultBgpIpAddresses", "customBgpIpAddresses",
                 "tunnelIpAddresses")
_RCG_READ = {  # load/firewall_policy.py _current_group, _rule
    "properties": ("priority", "ruleCollections"),
    "properties.ruleCollections[]": ("name", "priority", "action", "rules", "ruleCollectionType"),
    "properties.ruleCollections[].rules[]": (
        "name", "ruleType", *_ADDRESS, "ipProtocols", "protocols", "targetFqdns", "fqdnTags",
        "webCategories", "targetUrls", "terminateTLS", "destinationAddresses",
        "destinationPorts", "destinationIpGroups", "destinationFqdns", "translatedAddress",
        "translatedPort", "translatedFqdn"),
}
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
    # A rule collection group as its own resource (folded into its policy's properties by the
    # loader, resources._merge_children, and taken out again here: `_unfolded`), and inline.
    "microsoft.network/firewallpolicies/rulecollectiongroups": _RCG_READ,
    "microsoft.network/firewallpolicies": {
        f"properties.ruleCollectionGroups[].{path}": names for path, names in _RCG_READ.items()},
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
    # load/resources.py _load_balancer
    "microsoft.network/loadbalancers": {
        "properties": ("frontendIPConfigurations", "backendAddressPools", "loadBalancingRules",
                       "inboundNatRules", "outboundRules"),
        "properties.frontendIPConfigurations[].properties": (
            "privateIPAddress", "subnet", "publicIPAddress", "privateIPAddressVersion"),
        "properties.loadBalancingRules[].properties": (
            "frontendIPConfiguration", "backendAddressPool", "backendAddressPools", "protocol",
            "frontendPort", "backendPort", "probe", "enableFloatingIP", "disableOutboundSnat"),
        "properties.inboundNatRules[].properties": (
            "frontendIPConfiguration", "protocol", "frontendPort", "backendPort",
            "backendIPConfiguration", "backendAddressPool", "frontendPortRangeStart",
            "frontendPortRangeEnd"),
        "properties.outboundRules[].properties": (
            "frontendIPConfigurations", "backendAddressPool", "protocol",
            "allocatedOutboundPorts"),
    },
    # load/resources.py _gateway, _local_gateway, _connection, _bgp_settings
    "microsoft.network/virtualnetworkgateways": {
        "properties": ("ipConfigurations", "gatewayType", "vpnType", "enableBgp", "activeActive",
                       "bgpSettings", "sku"),
        "properties.ipConfigurations[].properties": ("subnet",),
        "properties.bgpSettings": _BGP,
        "properties.bgpSettings.bgpPeeringAddresses[]": _BGP_INSTANCE,
    },
    "microsoft.network/localnetworkgateways": {
        "properties": ("localNetworkAddressSpace", "gatewayIpAddress", "bgpSettings"),
        "properties.localNetworkAddressSpace": ("addressPrefixes",),
        "properties.bgpSettings": _BGP,
        "properties.bgpSettings.bgpPeeringAddresses[]": _BGP_INSTANCE,
    },
    "microsoft.network/connections": {
        "properties": ("virtualNetworkGateway1", "virtualNetworkGateway2",
                       "localNetworkGateway2", "connectionType", "enableBgp", "peer"),
    },
    # load/public_edge.py public_ip_address, nat_gateway, private_endpoint
    "microsoft.network/publicipaddresses": {
        "properties": ("publicIPAddressVersion", "publicIPAllocationMethod", "ipAddress",
                       "publicIPPrefix"),
    },
    "microsoft.network/natgateways": {
        "properties": ("publicIpAddresses", "publicIpPrefixes", "idleTimeoutInMinutes",
                       "publicIpAddressesV6", "publicIpPrefixesV6"),
    },
    "microsoft.network/privateendpoints": {
        "properties": ("subnet", "ipConfigurations", "customDnsConfigs", "networkInterfaces",
                       "privateLinkServiceConnections", "manualPrivateLinkServiceConnections"),
        "properties.ipConfigurations[].properties": ("privateIPAddress",),
        "properties.customDnsConfigs[]": ("ipAddresses",),
        "properties.privateLinkServiceConnections[].properties": (
            "privateLinkServiceId", "groupIds"),
        "properties.manualPrivateLinkServiceConnections[].properties": (
            "privateLinkServiceId", "groupIds"),
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

# Properties Azure's schema defines that are a spelling away from one READ lists at the same place
# but are not read: never a near miss (which of them can change a verdict is a modelling question,
# not a typo). Microsoft's REST API reference, each page's "Request Body" section:
# "Load Balancers - Create Or Update",
#   https://learn.microsoft.com/rest/api/virtualnetwork/load-balancers/create-or-update
# "Nat Gateways - Create Or Update",
#   https://learn.microsoft.com/rest/api/virtualnetwork/nat-gateways/create-or-update
# "Network Interfaces - Create Or Update",
#   https://learn.microsoft.com/rest/api/virtualnetwork/network-interfaces/create-or-update
# "Virtual Networks - Create Or Update",
#   https://learn.microsoft.com/rest/api/virtualnetwork/virtual-networks/create-or-update
AZURE_NOT_READ: dict[str, dict[str, tuple[str, ...]]] = {
    "microsoft.network/loadbalancers": {
        "properties": ("inboundNatPools",),
    },
    "microsoft.network/networkinterfaces": {
        "properties": ("tapConfigurations", "dscpConfiguration"),
    },
    "microsoft.network/virtualnetworks": {
        "properties.subnets[].properties": ("serviceEndpointPolicies",),
        "properties.virtualNetworkPeerings[].properties": ("remoteVirtualNetworkEncryption",),
    },
}


def near_miss_findings(resources: Iterable[dict[str, Any]], source: str = ""
                       ) -> list[tuple[str, str, str]]:
    """(PROPERTY_NEAR_MISS, message, resource id) for every near miss in `resources` (resource
    dicts as resources_to_topology takes them); the message names the file, the resource, the
    property path and the name it is close to."""
    out = []
    for raw in _unfolded(resources):
        if not isinstance(raw, dict):
            continue
        kind = str(raw.get("type", "")).lower()
        places = READ.get(kind)
        for path, names in (places or {}).items():
            valid = {n.lower() for n in AZURE_NOT_READ.get(kind, {}).get(path, ())}
            for where, obj, _owner in objects_at(raw, path.split(".")):
                for key in obj:
                    close = None if str(key).lower() in valid else _close(str(key), names)
                    if close is not None:
                        out.append((PROPERTY_NEAR_MISS, _message(raw, source, where, str(key),
                                                                 close), str(raw.get("id", ""))))
    return out


_POLICY = "microsoft.network/firewallpolicies"
_POLICY_CHILDREN = {"rulecollectiongroups": "ruleCollectionGroups", "rulegroups": "ruleGroups"}


def _unfolded(resources: Iterable[Any]) -> Iterator[Any]:
    """`resources` with each Firewall Policy's folded child resources (rule collection groups
    written as their own resources, resources._merge_children) taken out again: the policy
    without them, then each child as itself (named 'pol/rcg', its own type, file and paths),
    so a near miss inside a child names the child, not the policy's merged path."""
    for raw in resources:
        if not (isinstance(raw, dict) and str(raw.get("type", "")).lower() == _POLICY
                and isinstance(raw.get("properties"), dict)):
            yield raw
            continue
        props, children = dict(raw["properties"]), []
        for suffix, prop in _POLICY_CHILDREN.items():
            items = props.get(prop)
            if not isinstance(items, list):
                continue
            kind = f"{_POLICY}/{suffix}"
            mine = [c for c in items if isinstance(c, dict)
                    and str(c.get("type", "")).lower() == kind]
            props[prop] = [c for c in items if not any(c is m for m in mine)]
            children += [{**c, "name": f"{raw.get('name', '?')}/"
                          f"{str(c.get('name') or '?').rsplit('/', 1)[-1]}"} for c in mine]
        yield {**raw, "properties": props}
        yield from children


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


def objects_at(obj: Any, path: list[str], where: str = "", owner: Any = None
               ) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """The dicts at `path` below `obj`, each with its location ('properties.rules[2]') and the
    list element it lies in (the subnet dict for `properties.subnets[].properties`; None above
    any list). Used by load/unread.py too."""
    if not isinstance(obj, dict):
        return
    if not path:
        yield where, obj, owner
        return
    step, rest = path[0], path[1:]
    if step == "properties":  # ARM nests, az flattens
        inner = obj.get("properties")
        if isinstance(inner, dict):
            yield from objects_at(inner, rest, f"{where}.properties" if where else "properties",
                                  owner)
        else:
            yield from objects_at(obj, rest, where, owner)
        return
    name, many = step.removesuffix("[]"), step.endswith("[]")
    value = next((v for k, v in obj.items() if str(k).lower() == name.lower()), None)
    at = f"{where}.{name}" if where else name
    if many and isinstance(value, list):
        for index, item in enumerate(value):
            yield from objects_at(item, rest, f"{at}[{index}]", item)
    elif not many:
        yield from objects_at(value, rest, at, owner)
