"""The shape of each modelled resource, checked once at the edge, by kind.

Expects: one resolved resource dict (template output, az dump item or scenario resource) whose
`type` the model converts (resources.py TOP_LEVEL). Properties may sit under `properties` (ARM,
Resource Graph) or flattened at the top (`az ... -o json`), at every level, as resources.py
reads them; names match case-insensitively.
Emits: nothing when every property the converter reads has the kind it expects: an object, a
list of objects, a list of scalars, a sub-resource reference ({"id": "..."} or an id string) or
a scalar (string, number, bool); integers fit 64 bits.
Raises: InputError naming the file, the resource and the property path
(e.g. "properties.ipConfigurations[0]: expected an object, got string 'x'").
Why here: the converters trust these kinds; one table per resource type replaces checks at each
call site, so a string ip configuration, an integer networkInterfaces, a string where a rule
expects a list (once read character by character) or a 2**63 priority cannot reach them.
Properties the model ignores are not checked (Azure validates them, we do not read them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from dataplane.errors import InputError

SCALAR, TEXT, REF = "scalar", "text", "ref"
SCALARS = [SCALAR]          # a list of scalars
REFS = [REF]                # a list of sub-resource references
Shape = str | list | dict   # SCALAR | TEXT | REF | [item shape] | {property: shape} (an object)

_PREFIXES = {"addressPrefixes": SCALARS}
_SUBNET = {"addressPrefix": SCALAR, "addressPrefixes": SCALARS, "networkSecurityGroup": REF,
           "routeTable": REF, "serviceEndpoints": list, "natGateway": REF,
           "privateEndpointNetworkPolicies": SCALAR, "defaultOutboundAccess": SCALAR}
_PEERING = {"remoteVirtualNetwork": REF, "remoteAddressSpace": _PREFIXES,
            "remoteVirtualNetworkAddressSpace": _PREFIXES, "peeringState": SCALAR,
            "peeringSyncLevel": SCALAR}
_RULE = {"priority": SCALAR, "direction": SCALAR, "access": SCALAR, "protocol": SCALAR,
         "sourceAddressPrefix": SCALAR, "sourceAddressPrefixes": SCALARS,
         "destinationAddressPrefix": SCALAR, "destinationAddressPrefixes": SCALARS,
         "sourcePortRange": SCALAR, "sourcePortRanges": SCALARS,
         "destinationPortRange": SCALAR, "destinationPortRanges": SCALARS,
         "sourceApplicationSecurityGroups": REFS, "destinationApplicationSecurityGroups": REFS,
         "description": SCALAR}
_ROUTE = {"addressPrefix": SCALAR, "nextHopType": SCALAR, "nextHopIpAddress": SCALAR}
_IP_CONFIGURATION = {"subnet": REF, "privateIPAddress": SCALAR, "publicIPAddress": REF,
                     "privateIPAllocationMethod": SCALAR, "primary": SCALAR,
                     "loadBalancerBackendAddressPools": REFS, "applicationSecurityGroups": REFS}
_FIREWALL_RULE = {"protocols": SCALARS, "sourceAddresses": SCALARS,
                  "destinationAddresses": SCALARS, "destinationPorts": SCALARS}

NET = "microsoft.network/"
SHAPES: dict[str, dict[str, Shape]] = {
    NET + "virtualnetworks": {"addressSpace": _PREFIXES, "subnets": [_SUBNET],
                              "virtualNetworkPeerings": [_PEERING]},
    "microsoft.classicnetwork/virtualnetworks": {"addressSpace": _PREFIXES,
                                                 "subnets": [_SUBNET]},
    NET + "networksecuritygroups": {"securityRules": [_RULE]},
    NET + "routetables": {"routes": [_ROUTE]},
    NET + "networkinterfaces": {"ipConfigurations": [_IP_CONFIGURATION],
                                "networkSecurityGroup": REF, "virtualMachine": REF},
    "microsoft.compute/virtualmachines": {"hardwareProfile": {"vmSize": SCALAR},
                                          "networkProfile": {"networkInterfaces": REFS},
                                          "egressCapBps": SCALAR},
    NET + "virtualnetworkgateways": {"ipConfigurations": [{"subnet": REF}],
                                     "bgpSettings": dict},
    NET + "localnetworkgateways": {"localNetworkAddressSpace": _PREFIXES,
                                   "bgpSettings": {"bgpPeeringAddress": SCALAR},
                                   "gatewayIpAddress": SCALAR},
    NET + "connections": {"virtualNetworkGateway1": REF, "virtualNetworkGateway2": REF,
                          "localNetworkGateway2": REF},
    NET + "loadbalancers": {
        "frontendIPConfigurations": [{"subnet": REF, "publicIPAddress": REF,
                                      "privateIPAddress": SCALAR}],
        "backendAddressPools": [{"loadBalancerBackendAddresses": [{
            "ipAddress": SCALAR, "virtualNetwork": REF, "subnet": REF}]}],
        "loadBalancingRules": [{"frontendIPConfiguration": REF, "backendAddressPool": REF,
                                "backendAddressPools": REFS, "probe": REF, "protocol": SCALAR, "frontendPort": SCALAR,
                                "backendPort": SCALAR, "disableOutboundSnat": SCALAR}],
        "inboundNatRules": [{"frontendIPConfiguration": REF, "protocol": SCALAR,
                             "frontendPort": SCALAR, "backendPort": SCALAR,
                             "backendIPConfiguration": REF, "backendAddressPool": REF,
                             "frontendPortRangeStart": SCALAR, "frontendPortRangeEnd": SCALAR}],
        "outboundRules": [{"frontendIPConfigurations": REFS, "backendAddressPool": REF,
                           "protocol": SCALAR, "allocatedOutboundPorts": SCALAR}]},
    NET + "publicipaddresses": {"sku": {"name": SCALAR}, "publicIPAddressVersion": SCALAR,
                                "publicIPAllocationMethod": SCALAR, "ipAddress": SCALAR,
                                "publicIPPrefix": REF},
    NET + "natgateways": {"publicIpAddresses": REFS, "publicIpPrefixes": REFS,
                          "idleTimeoutInMinutes": SCALAR, "publicIpAddressesV6": REFS,
                          "publicIpPrefixesV6": REFS},
    NET + "privateendpoints": {
        "subnet": REF, "networkInterfaces": REFS,
        "ipConfigurations": [{"privateIPAddress": SCALAR}],
        "customDnsConfigs": [{"ipAddresses": SCALARS}],
        "privateLinkServiceConnections": [{"privateLinkServiceId": SCALAR, "groupIds": SCALARS}],
        "manualPrivateLinkServiceConnections": [{"privateLinkServiceId": SCALAR,
                                                 "groupIds": SCALARS}]},
    NET + "azurefirewalls": {"ipConfigurations": [{"subnet": REF, "privateIPAddress": SCALAR}],
                             "networkRuleCollections": [{"priority": SCALAR,
                                                         "rules": [_FIREWALL_RULE]}],
                             "threatIntelMode": SCALAR},
    "microsoft.authorization/roleassignments": {"actions": SCALARS, "principalId": SCALAR},
    # read by the template evaluator itself (nested and linked deployments)
    "microsoft.resources/deployments": {"expressionEvaluationOptions": {"scope": SCALAR},
                                        "parameters": dict, "parametersLink": dict,
                                        "templateLink": dict, "template": dict},
}
_TOP = {"id": TEXT, "name": TEXT, "type": TEXT, "location": SCALAR}
_INT64 = (-(2**63), 2**63 - 1)


def check_shape(raw: Mapping[str, Any], source: str) -> None:
    """InputError (file, resource, property) when a read property has the wrong kind."""
    shape = SHAPES.get(str(raw.get("type", "")).lower())
    if shape is None:
        return
    resource = str(raw.get("name") if isinstance(raw.get("name"), str) else raw.get("id"))
    file = str(raw.get("source") or source).partition("#")[0] or None
    properties = raw.get("properties")
    if properties is not None and not isinstance(properties, Mapping):
        raise InputError(f"expected an object, got {_kind(properties)}", file=file,
                         resource=resource, property="properties")
    name = raw.get("name")
    if isinstance(name, str) and (not name.strip() or any(c in name for c in "/\\\0")):
        # "Naming rules and restrictions for Azure resources" (learn.microsoft.com/azure/
        # azure-resource-manager/management/resource-name-rules): no '/' or '\\' in the names
        # of these resources; a dump's name is the id's last segment.
        raise InputError(f"'{name}' is not a valid resource name (empty, or holds '/', '\\' "
                         "or NUL)", file=file, resource=resource, property="name")
    problem = _walk(raw, {**_TOP, **shape}, "", top=True)
    if problem is not None:
        where, message = problem
        raise InputError(message, file=file, resource=resource, property=where)


def _lookup(obj: Mapping[str, Any], key: str) -> tuple[bool, Any, str]:
    """ARM's case-insensitive lookup in `properties` first, then at the top (az flattens)."""
    inner = obj.get("properties")
    for holder, prefix in ((inner, "properties."), (obj, "")):
        if isinstance(holder, Mapping):
            for k, v in holder.items():
                if isinstance(k, str) and k.lower() == key.lower():
                    return True, v, f"{prefix}{k}"
    return False, None, key


def _walk(value: Any, shape: Shape, path: str, top: bool = False
          ) -> tuple[str, str] | None:
    if value is None:
        return None  # absent: the converter applies its default or reports it
    if shape == SCALAR:
        if isinstance(value, list | Mapping):
            return path, f"expected a single value, got {_kind(value)}"
        if isinstance(value, int) and not _INT64[0] <= value <= _INT64[1]:
            return path, f"integer {_short(value)} is outside the 64-bit range"
        if isinstance(value, float) and not math.isfinite(value):
            return path, f"expected a finite number, got {value!r}"
        return None
    if shape == TEXT:
        return None if isinstance(value, str) else (path, f"expected a string, got "
                                                           f"{_kind(value)}")
    if shape == REF:
        if isinstance(value, Mapping):
            return _walk(value.get("id"), SCALAR, f"{path}.id")
        return _walk(value, SCALAR, path)
    if shape is list or shape is dict:
        wanted = "a list" if shape is list else "an object"
        ok = isinstance(value, list if shape is list else Mapping)
        return None if ok else (path, f"expected {wanted}, got {_kind(value)}")
    if isinstance(shape, list):
        if not isinstance(value, list):
            return path, f"expected a list, got {_kind(value)}"
        for i, item in enumerate(value):
            found = _walk(item, shape[0], f"{path}[{i}]")
            if found is not None:
                return found
        return None
    if not isinstance(value, Mapping):
        return path, f"expected an object, got {_kind(value)}"
    inner = value.get("properties")
    if inner is not None and not isinstance(inner, Mapping):
        return f"{path}.properties".lstrip("."), f"expected an object, got {_kind(inner)}"
    checks = shape if top else {**shape, "id": TEXT, "name": SCALAR}
    for key, inner in checks.items():
        present, item, written = _lookup(value, key)
        if present:
            found = _walk(item, inner, f"{path}.{written}" if path else written)
            if found is not None:
                return found
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _kind(value: Any) -> str:
    name = {str: "string", bool: "bool", int: "int", float: "number", list: "list"}.get(
        type(value), "object" if isinstance(value, Mapping) else type(value).__name__)
    return f"{name} {_short(value)}"


__all__ = ["SHAPES", "check_shape"]
