"""Resolved ARM resources -> Topology: the one converter every loader ends in.

Takes resource dicts as ARM and `az` print them: {"type", "name", "id", "location",
"properties": {...}} (Resource Graph, templates after evaluation) or with the properties
flattened into the top level (`az network vnet list -o json`). Child resources may be inline
(subnets inside a VNet) or separate (`.../virtualNetworks/subnets`), and are merged by id.

Emits a Topology. Every malformed property raises InputError naming the resource and the
property path; references to resources that are not present become load findings
(InvalidResourceReference), not crashes; unknown types are kept in `unknown_resources`.
Peering state: a dump's `peeringState` is kept as Azure reported it; a template has none, so it
is derived (a link with its counterpart present is Connected, alone it is Initiated;
docs/azure-behaviour.md §4.2).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from dataplane.errors import InputError
from dataplane.load.arm.placeholders import refuse_read_placeholders
from dataplane.load.near_misses import near_miss_findings
from dataplane.load.related import referenced_ids, related_resources
from dataplane.load.shapes import check_shape
from dataplane.load.unread import unread_findings
from dataplane.model import (
    ALL_PORTS,
    ANY,
    AZURE_DEFAULT_ASN,
    AddressMatch,
    ApplicationSecurityGroup,
    AzureFirewall,
    BackendAddressPool,
    BgpConnection,
    BgpSettings,
    Connection,
    FirewallApplicationRule,
    FirewallApplicationRuleCollection,
    FirewallNatRule,
    FirewallNatRuleCollection,
    FirewallNetworkRule,
    FirewallRuleCollection,
    FrontendIPConfiguration,
    InboundNatRule,
    IPConfiguration,
    IpConfigurationBgpPeeringAddress,
    IpGroup,
    LoadBalancer,
    LoadBalancingRule,
    LocalNetworkGateway,
    NetworkInterface,
    NetworkSecurityGroup,
    OutboundRule,
    PortRange,
    RoleAssignment,
    Route,
    RouteTable,
    SecurityRule,
    Subnet,
    Topology,
    UnknownResource,
    VirtualHub,
    VirtualMachine,
    VirtualNetwork,
    VirtualNetworkGateway,
    VirtualNetworkPeering,
    id_key,
)
from dataplane.net import IPAddress, Prefix, host_bits_fixed, parse_ip, parse_prefix

NET = "microsoft.network/"
SERVICE_TAG_ALIASES = {  # classic spellings (docs/azure-behaviour.md §2.3)
    "internet": "Internet", "virtualnetwork": "VirtualNetwork",
    "azureloadbalancer": "AzureLoadBalancer", "virtual_network": "VirtualNetwork",
    "azure_loadbalancer": "AzureLoadBalancer",
}
# Built-in role definition GUIDs (Azure RBAC built-in roles) we recognise by id.
BUILTIN_ROLES = {
    "4d97b98b-1d4f-4787-a291-c67834d212e7": "Network Contributor",
    "b34d265f-36f7-4a0d-a4d4-e158ca92e90f": "Classic Network Contributor",
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
}


class Where:
    """Location of the value being converted, for error messages: `Where(resource dict,
    source file name)`; `error(property, message)` is the InputError naming all three."""

    def __init__(self, resource: dict[str, Any], source: str) -> None:
        self.resource = str(resource.get("name") or resource.get("id") or "?")
        self.source = str(resource.get("source") or source)

    def error(self, prop: str, message: str) -> InputError:
        return InputError(message, file=self.source, resource=self.resource, property=prop)


_Where = Where  # the loaders' own name for it


def _props(obj: Any) -> dict[str, Any]:
    """ARM nests under 'properties'; az CLI flattens them. Accept both."""
    if not isinstance(obj, dict):
        return {}
    inner = obj.get("properties")
    return inner if isinstance(inner, dict) else obj


def _get(obj: dict[str, Any], *names: str, default: Any = None) -> Any:
    """Case-insensitive property lookup (ARM property names are case-insensitive)."""
    lowered = {k.lower(): v for k, v in obj.items()} if isinstance(obj, dict) else {}
    for name in names:
        if name.lower() in lowered and lowered[name.lower()] is not None:
            return lowered[name.lower()]
    return default


def _ref(value: Any) -> str | None:
    """A sub-resource reference {"id": "..."} (or a bare id string) -> id."""
    if isinstance(value, dict):
        value = _get(value, "id")
    return str(value) if value else None


def _list(value: Any, where: _Where, prop: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise where.error(prop, f"expected a list, got {type(value).__name__}")
    return value


def _items(obj: dict[str, Any], name: str, where: _Where, at: str = "properties") -> list[Any]:
    """The list-valued property `at.name` (absent = empty); anything else is an InputError."""
    return _list(_get(obj, name), where, f"{at}.{name}")


def _bool(value: Any, where: _Where, prop: str, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise where.error(prop, f"expected true or false, got {value!r}")


def _int(value: Any, where: _Where, prop: str) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(value)
    except (TypeError, ValueError):
        raise where.error(prop, f"expected an integer, got {value!r}") from None


def _prefix(value: Any, where: _Where, prop: str) -> Prefix:
    """Parse a prefix; host bits are masked here and reported by validation (InvalidCIDRNotation)."""
    if not isinstance(value, str):
        raise where.error(prop, f"expected an address prefix string, got {value!r}")
    try:
        return parse_prefix(value, strict=False)
    except InputError as error:
        raise where.error(prop, error.message) from None


def _ip(value: Any, where: _Where, prop: str) -> IPAddress | None:
    if value in (None, ""):
        return None
    try:
        return parse_ip(value)
    except InputError as error:
        raise where.error(prop, error.message) from None


def _prefixes(values: Any, where: _Where, prop: str) -> tuple[tuple[Prefix, ...], tuple[str, ...]]:
    raw = [str(v) for v in _list(values, where, prop)]
    return tuple(_prefix(v, where, f"{prop}[{i}]") for i, v in enumerate(raw)), tuple(raw)


def address_match(value: str, where: _Where, prop: str) -> Prefix | str:
    """'*' | service tag | CIDR | address -> model AddressMatch."""
    text = str(value).strip()
    if text in ("*", "Any", "any"):
        return ANY
    if text and (text[0].isdigit() or ":" in text):
        return _prefix(text, where, prop)
    return SERVICE_TAG_ALIASES.get(text.lower(), text)


FIREWALL_PROTOCOLS = {"tcp": "TCP", "udp": "UDP", "icmp": "ICMP", "any": "Any"}
# Rule-collection actions and application-rule protocols as ARM's enums have them
# (AzureFirewallRCActionType Allow/Deny, AzureFirewallNatRCActionType Dnat/Snat,
# FirewallPolicyFilterRuleCollectionActionType Allow/Deny; AzureFirewallApplicationRule
# ProtocolType / FirewallPolicyRuleApplicationProtocolType Http/Https/Mssql): Azure rejects
# anything else at deployment, so a typo here is an input error, never a silent deny.
FIREWALL_ACTIONS = {"allow": "Allow", "deny": "Deny", "dnat": "Dnat", "snat": "Snat"}
APPLICATION_PROTOCOLS = {"http": "Http", "https": "Https", "mssql": "Mssql"}


def firewall_action(value: Any, allowed: tuple[str, ...], where: _Where, prop: str) -> str:
    """A rule collection's action in Azure's spelling; InputError naming `prop` otherwise."""
    name = FIREWALL_ACTIONS.get(str(value).strip().lower())
    if name not in allowed:
        raise where.error(prop, f"action {value!r} is not {' or '.join(allowed)}")
    return name


COLLECTION_PRIORITY_MIN, COLLECTION_PRIORITY_MAX = 100, 65_000


def collection_priority(value: Any, where: _Where, prop: str) -> int:
    """An Azure Firewall rule collection's (or rule collection group's) priority: an integer
    in 100-65000, as Azure's schema requires of classic network/application/NAT rule
    collections ("Microsoft.Network azureFirewalls" ARM template reference,
    https://learn.microsoft.com/azure/templates/microsoft.network/azurefirewalls, `priority`:
    "Constraints: Min value = 100, Max value = 65000") and of Firewall Policy groups and
    collections (load/firewall_policy.py); InputError naming `prop` otherwise."""
    priority = _int(value, where, prop)
    if not COLLECTION_PRIORITY_MIN <= priority <= COLLECTION_PRIORITY_MAX:
        raise where.error(prop, f"priority {priority} is outside Azure's range "
                          f"{COLLECTION_PRIORITY_MIN}-{COLLECTION_PRIORITY_MAX}")
    return priority


APPLICATION_PORT_MAX = 64_000  # "Port number for the protocol, cannot be greater than 64000"
# (AzureFirewallApplicationRuleProtocol / FirewallPolicyRuleApplicationProtocol, ARM reference)


def application_port(value: Any, where: _Where, prop: str) -> int:
    """An application rule protocol's port, 0-64000 as ARM's schema allows; InputError else."""
    port = _int(value, where, prop)
    if not 0 <= port <= APPLICATION_PORT_MAX:
        raise where.error(prop, f"application rule port {port} is outside 0-{APPLICATION_PORT_MAX}")
    return port


def nat_target(address: Any, fqdn: Any, where: _Where, at: str) -> None:
    """A DNAT rule translates to `translatedAddress` or `translatedFqdn`: Azure refuses a NAT
    rule with neither ("Firewall Policy Rule Collection Groups - Create Or Update",
    https://learn.microsoft.com/rest/api/firewall/firewall-policy-rule-collection-groups/
    create-or-update, NatRule: translatedAddress / translatedFqdn). InputError naming
    `{at}.translatedAddress` otherwise (the rule would silently match nothing)."""
    if str(address or "").strip() or str(fqdn or "").strip():
        return
    raise where.error(f"{at}.translatedAddress",
                      "a NAT rule needs translatedAddress (or translatedFqdn); it has neither")


def dnat_destinations(values: tuple[str, ...], where: _Where, prop: str) -> tuple[str, ...]:
    """A classic DNAT rule's destinationAddresses as written, each readable as
    control/firewall_rules.py reads it (AzureFirewallNatRule destinationAddresses, "Azure
    Firewall" REST reference: addresses, ranges, prefixes, service tags): '*', an address or
    prefix, a range 'a-b' of two addresses, a runtime reference to a public IP (templates) or
    a name without '-' (a service tag: a caveat there). Anything else -- a public IP's name
    such as 'fw-pip' -- is an InputError naming `prop[i]` here, at load, not at the first
    answer that compiles the rule."""
    for i, value in enumerate(values):
        text, at = value.strip(), f"{prop}[{i}]"
        if text == "*" or "reference(" in text.lower():
            continue
        if "-" in text:
            lo, _, hi = text.partition("-")
            try:
                parse_prefix(lo.strip()), parse_prefix(hi.strip())
            except InputError:
                raise where.error(at, f"DNAT address {text!r} is not an address, prefix, range "
                                  "(a-b) or service tag (a public IP is named by its address, "
                                  "or in a scenario by its public_ips entry)") from None
        elif text[:1].isdigit() or ":" in text:
            _prefix(text, where, at)
    return values


def translated_port(value: Any, where: _Where, prop: str) -> str:
    """A DNAT rule's translatedPort as written ("" when absent), a port 1-65535 otherwise;
    InputError naming `prop` (a TCP/UDP port is 16 bits: RFC 793 / RFC 768 headers; the ARM
    schema types it as a string, so Azure's own range check is not in the template)."""
    if value is None or str(value).strip() == "":
        return ""
    port = _int(str(value).strip(), where, prop)
    if not 1 <= port <= 65_535:
        raise where.error(prop, f"translated port {port} is outside 1-65535")
    return str(port)


def snat_private_ranges(values: tuple[str, ...], where: _Where, prop: str) -> tuple[str, ...]:
    """SNAT private ranges as written: each "IANAPrivateRanges", an address prefix or an
    address (control/firewall_snat.py reads their meaning); InputError naming `prop[i]` for
    anything else, so `check` refuses what a later answer could not read."""
    for i, text in enumerate(values):
        if text.lower() == "ianaprivateranges":
            continue
        try:
            parse_prefix(text if "/" in text else f"{text}/{128 if ':' in text else 32}",
                         strict=False)
        except InputError as e:
            raise where.error(f"{prop}[{i}]", f"SNAT private range {text!r} is not an address "
                              f"prefix or address ({e.message})") from None
    return values


def application_targets(fqdns: tuple[str, ...], others: tuple[str, ...], where: _Where,
                        prop: str) -> None:
    """An application rule names what it allows: target FQDNs (none empty) or, in `others`,
    FQDN tags (policy rules also web categories or target URLs); Azure refuses a rule with
    none, and an empty FQDN would silently match nothing here; a wildcard anywhere but the
    left (`www.*.com`) is refused as Azure refuses it. InputError naming `prop`."""
    for i, fqdn in enumerate(fqdns):
        if not fqdn.strip():
            raise where.error(f"{prop}.targetFqdns[{i}]", "an empty target FQDN")
        # A wildcard only at the left ("Azure Firewall FAQ", https://learn.microsoft.com/azure/
        # firewall/firewall-faq, "How do wildcards work in target URLs and target FQDNs in
        # application rules?"): Azure refuses `www.*.com` or `contoso.*` as a target FQDN.
        if "*" in fqdn.strip()[1:]:
            raise where.error(f"{prop}.targetFqdns[{i}]", f"target FQDN '{fqdn}': Azure "
                              "Firewall takes a wildcard only at the left ('*.contoso.com', "
                              "'*contoso.com' or '*')")
    if not fqdns and not others:
        raise where.error(prop, "an application rule needs targetFqdns or fqdnTags (policy "
                          "rules: or webCategories / targetUrls)")


def application_protocol(value: Any, where: _Where, prop: str) -> str:
    """An application rule's protocolType (Http, Https, Mssql); InputError otherwise."""
    name = APPLICATION_PROTOCOLS.get(str(value).strip().lower())
    if name is None:
        raise where.error(prop, f"application protocol {value!r} is not Http, Https or Mssql")
    return name


def firewall_protocols(values: Any, where: _Where, prop: str) -> tuple[str, ...]:
    """A firewall network rule's protocols: TCP, UDP, ICMP or Any (ARM's AzureFirewallNetwork
    RuleProtocol / FirewallPolicyRuleNetworkProtocol enums), in any case."""
    out = []
    for i, value in enumerate(_list(values, where, prop)):
        name = FIREWALL_PROTOCOLS.get(str(value).strip().lower())
        if name is None:
            raise where.error(f"{prop}[{i}]", f"firewall protocol {value!r} is not TCP, UDP, ICMP "
                                               "or Any")
        out.append(name)
    return tuple(out)


def port_ranges(values: Iterable[Any], where: _Where, prop: str) -> tuple[PortRange, ...]:
    """'*', '80', '1000-2000', '80, 443' and lists of those -> PortRange tuple."""
    out: list[PortRange] = []
    for item in values:
        for part in str(item).split(","):
            part = part.strip()
            if part in ("*", ""):
                out.append(ALL_PORTS)
                continue
            low, _, high = part.partition("-")
            try:
                lo, hi = int(low), int(high or low)
            except ValueError:
                raise where.error(prop, f"'{part}' is not a port or port range") from None
            if not (0 <= lo <= hi <= 65535):
                raise where.error(prop, f"port range '{part}' is outside 0-65535")
            out.append(PortRange(lo, hi))
    return tuple(out) or (ALL_PORTS,)


def _singular_or_plural(props: dict[str, Any], singular: str, plural: str) -> list[Any]:
    """NSG rules carry `sourceAddressPrefix` or `sourceAddressPrefixes` (2.1 augmented rules)."""
    many = _get(props, plural)
    if many:
        return list(many)
    one = _get(props, singular)
    return [one] if one not in (None, "") else []


# --- per-type converters ------------------------------------------------------------------------


def security_rule(raw: dict[str, Any], where: _Where, prop: str) -> SecurityRule:
    p = _props(raw)
    name = str(_get(raw, "name", default=""))
    srcs = _singular_or_plural(p, "sourceAddressPrefix", "sourceAddressPrefixes")
    dsts = _singular_or_plural(p, "destinationAddressPrefix", "destinationAddressPrefixes")
    src_asgs = tuple(_ref(a) or "" for a in _items(p, "sourceApplicationSecurityGroups", where, prop))
    dst_asgs = tuple(_ref(a) or ""
                     for a in _items(p, "destinationApplicationSecurityGroups", where, prop))
    protocol = str(_get(p, "protocol", default="*"))
    canonical = {x.lower(): x for x in ("Tcp", "Udp", "Icmp", "Esp", "Ah", "*")}
    canonical["any"] = "*"
    if protocol.lower() not in canonical:
        raise where.error(f"{prop}.protocol", f"unknown protocol '{protocol}'")
    direction = str(_get(p, "direction", default=""))
    access = str(_get(p, "access", default=""))
    if direction.capitalize() not in ("Inbound", "Outbound"):
        raise where.error(f"{prop}.direction", f"expected Inbound or Outbound, got '{direction}'")
    if access.capitalize() not in ("Allow", "Deny"):
        raise where.error(f"{prop}.access", f"expected Allow or Deny, got '{access}'")
    return SecurityRule(
        name=name,
        priority=_int(_get(p, "priority"), where, f"{prop}.priority"),
        direction=direction.capitalize(),
        access=access.capitalize(),
        protocol=canonical[protocol.lower()],
        source_address_prefixes=tuple(
            address_match(s, where, f"{prop}.sourceAddressPrefix") for s in srcs
        ) or ((ANY,) if not src_asgs else ()),
        source_port_ranges=port_ranges(
            _singular_or_plural(p, "sourcePortRange", "sourcePortRanges"), where,
            f"{prop}.sourcePortRange"),
        destination_address_prefixes=tuple(
            address_match(d, where, f"{prop}.destinationAddressPrefix") for d in dsts
        ) or ((ANY,) if not dst_asgs else ()),
        destination_port_ranges=port_ranges(
            _singular_or_plural(p, "destinationPortRange", "destinationPortRanges"), where,
            f"{prop}.destinationPortRange"),
        source_application_security_groups=src_asgs,
        destination_application_security_groups=dst_asgs,
        description=str(_get(p, "description", default="")),
    )


def _subnet(raw: dict[str, Any], vnet_id: str, where: _Where, prop: str) -> Subnet:
    p = _props(raw)
    name = str(_get(raw, "name", default=""))
    values = _get(p, "addressPrefixes") or ([_get(p, "addressPrefix")]
                                           if _get(p, "addressPrefix") else [])
    if not values:
        raise where.error(f"{prop}.addressPrefix", f"subnet '{name}' has no address prefix")
    prefixes, raw_text = _prefixes(values, where, f"{prop}.addressPrefix")
    endpoints = tuple(str(_get(e, "service", default=e)) if isinstance(e, dict) else str(e)
                      for e in _items(p, "serviceEndpoints", where, prop))
    return Subnet(
        id=_get(raw, "id") or f"{vnet_id}/subnets/{name}",
        name=name,
        address_prefixes=prefixes,
        network_security_group=_ref(_get(p, "networkSecurityGroup")),
        route_table=_ref(_get(p, "routeTable")),
        service_endpoints=endpoints,
        raw_address_prefixes=raw_text,
        nat_gateway=_ref(_get(p, "natGateway")),
        private_endpoint_network_policies=_network_policies(
            _get(p, "privateEndpointNetworkPolicies"), where,
            f"{prop}.privateEndpointNetworkPolicies"),
        default_outbound_access=None if _get(p, "defaultOutboundAccess") is None else _bool(
            _get(p, "defaultOutboundAccess"), where, f"{prop}.defaultOutboundAccess"),
    )


NETWORK_POLICIES = ("Disabled", "Enabled", "NetworkSecurityGroupEnabled", "RouteTableEnabled")


def _network_policies(value: Any, where: _Where, prop: str) -> str:
    """privateEndpointNetworkPolicies (default Disabled: "Manage network policies for private
    endpoints", https://learn.microsoft.com/azure/private-link/disable-private-endpoint-
    network-policy: "By default, network policies are disabled for a subnet")."""
    if value in (None, ""):
        return "Disabled"
    found = next((v for v in NETWORK_POLICIES if v.lower() == str(value).lower()), None)
    if found is None:
        raise where.error(prop, f"expected one of {', '.join(NETWORK_POLICIES)}, got {value!r}")
    return found


def _peering(raw: dict[str, Any], vnet_id: str, where: _Where, prop: str) -> VirtualNetworkPeering:
    p = _props(raw)
    name = str(_get(raw, "name", default=""))
    remote = _ref(_get(p, "remoteVirtualNetwork"))
    if not remote:
        raise where.error(f"{prop}.remoteVirtualNetwork.id", f"peering '{name}' names no remote VNet")
    remote_space_obj = _get(p, "remoteAddressSpace") or _get(p, "remoteVirtualNetworkAddressSpace")
    remote_space: tuple[Prefix, ...] = ()
    if isinstance(remote_space_obj, dict) and _get(remote_space_obj, "addressPrefixes"):
        remote_space, _ = _prefixes(_get(remote_space_obj, "addressPrefixes"), where,
                                    f"{prop}.remoteAddressSpace.addressPrefixes")
    return VirtualNetworkPeering(
        id=_get(raw, "id") or f"{vnet_id}/virtualNetworkPeerings/{name}",
        name=name,
        virtual_network=vnet_id,
        remote_virtual_network=remote,
        allow_virtual_network_access=_bool(_get(p, "allowVirtualNetworkAccess"), where,
                                           f"{prop}.allowVirtualNetworkAccess", True),
        allow_forwarded_traffic=_bool(_get(p, "allowForwardedTraffic"), where,
                                      f"{prop}.allowForwardedTraffic"),
        allow_gateway_transit=_bool(_get(p, "allowGatewayTransit"), where,
                                    f"{prop}.allowGatewayTransit"),
        use_remote_gateways=_bool(_get(p, "useRemoteGateways"), where,
                                  f"{prop}.useRemoteGateways"),
        peering_state=str(_get(p, "peeringState", default="")),  # "" = derive later
        peering_sync_level=str(_get(p, "peeringSyncLevel", default="FullyInSync")),
        remote_address_space=remote_space,
        do_not_verify_remote_gateways=_bool(_get(p, "doNotVerifyRemoteGateways"), where,
                                            f"{prop}.doNotVerifyRemoteGateways"),
    )


def _vnet(raw: dict[str, Any], where: _Where, classic: bool = False) -> VirtualNetwork:
    p = _props(raw)
    vnet_id = raw["id"]
    space, raw_space = _prefixes(_get(_get(p, "addressSpace", default={}), "addressPrefixes"),
                                 where, "properties.addressSpace.addressPrefixes")
    subnets = tuple(_subnet(s, vnet_id, where, f"properties.subnets[{i}]")
                    for i, s in enumerate(_list(_get(p, "subnets"), where, "properties.subnets")))
    links = tuple(_peering(s, vnet_id, where, f"properties.virtualNetworkPeerings[{i}]")
                  for i, s in enumerate(_list(_get(p, "virtualNetworkPeerings"), where,
                                              "properties.virtualNetworkPeerings")))
    return VirtualNetwork(id=vnet_id, name=raw["name"], location=_location(raw),
                          address_space=space, subnets=subnets, virtual_network_peerings=links,
                          classic=classic, raw_address_space=raw_space)


def _nsg(raw: dict[str, Any], where: _Where) -> NetworkSecurityGroup:
    p = _props(raw)
    rules = tuple(security_rule(r, where, f"properties.securityRules[{i}]")
                  for i, r in enumerate(_list(_get(p, "securityRules"), where,
                                              "properties.securityRules")))
    return NetworkSecurityGroup(id=raw["id"], name=raw["name"], location=_location(raw),
                                security_rules=rules,
                                flush_connection=_bool(_get(p, "flushConnection"), where,
                                                       "properties.flushConnection"))


def _route(raw: dict[str, Any], where: _Where, prop: str) -> Route:
    p = _props(raw)
    hop = str(_get(p, "nextHopType", default=""))
    canonical = {h.lower(): h for h in ("VirtualNetworkGateway", "VnetLocal", "Internet",
                                        "VirtualAppliance", "None")}
    if hop.lower() not in canonical:
        raise where.error(f"{prop}.nextHopType", f"'{hop}' is not a next hop type a route can "
                          "use (VirtualNetworkGateway, VnetLocal, Internet, VirtualAppliance, None)")
    prefix_text = str(_get(p, "addressPrefix", default=""))
    return Route(
        name=str(_get(raw, "name", default="")),
        address_prefix=address_match(prefix_text, where, f"{prop}.addressPrefix"),
        next_hop_type=canonical[hop.lower()],
        next_hop_ip_address=_ip(_get(p, "nextHopIpAddress"), where, f"{prop}.nextHopIpAddress"),
    )


def _route_table(raw: dict[str, Any], where: _Where) -> RouteTable:
    p = _props(raw)
    routes = tuple(_route(r, where, f"properties.routes[{i}]")
                   for i, r in enumerate(_list(_get(p, "routes"), where, "properties.routes")))
    return RouteTable(id=raw["id"], name=raw["name"], location=_location(raw), routes=routes,
                      disable_bgp_route_propagation=_bool(
                          _get(p, "disableBgpRoutePropagation"), where,
                          "properties.disableBgpRoutePropagation"))


def _ip_version(p: dict[str, Any], address: IPAddress | None, where: _Where, prop: str) -> str:
    """privateIPAddressVersion (IPv4 when absent, as ARM defaults it) and its agreement with
    the address: an IPv6 configuration holds an IPv6 address ("Create an Azure Virtual
    Machine with a dual-stack network using the Azure CLI",
    https://learn.microsoft.com/azure/virtual-network/ip-services/create-vm-dual-stack-ipv6-cli,
    "Create IPv6 IP configuration")."""
    raw = _get(p, "privateIPAddressVersion", default="IPv4")
    version = {"ipv4": "IPv4", "ipv6": "IPv6"}.get(str(raw).lower())
    if version is None:
        raise where.error(f"{prop}.privateIPAddressVersion", f"'{raw}' is not IPv4 or IPv6")
    if address is not None and address.version != int(version[-1]):
        raise where.error(f"{prop}.privateIPAddress",
                          f"{address} is not an {version} address (privateIPAddressVersion "
                          f"{version})")
    return version


def _ip_configuration(raw: dict[str, Any], where: _Where, prop: str, first: bool) -> IPConfiguration:
    p = _props(raw)
    subnet = _ref(_get(p, "subnet"))
    if not subnet:
        raise where.error(f"{prop}.subnet.id", "IP configuration names no subnet")
    address = _ip(_get(p, "privateIPAddress"), where, f"{prop}.privateIPAddress")
    return IPConfiguration(
        name=str(_get(raw, "name", default="ipconfig")),
        subnet=subnet,
        private_ip_address=address,
        private_ip_address_version=_ip_version(p, address, where, prop),
        private_ip_allocation_method=str(_get(p, "privateIPAllocationMethod", default="Dynamic")),
        primary=_bool(_get(p, "primary"), where, f"{prop}.primary", first),
        application_security_groups=tuple(
            _ref(a) or "" for a in _items(p, "applicationSecurityGroups", where, prop)),
        load_balancer_backend_address_pools=tuple(
            _ref(a) or "" for a in _items(p, "loadBalancerBackendAddressPools", where, prop)),
        public_ip_address=_ref(_get(p, "publicIPAddress")),
    )


def _nic(raw: dict[str, Any], where: _Where) -> NetworkInterface:
    p = _props(raw)
    configs = _list(_get(p, "ipConfigurations"), where, "properties.ipConfigurations")
    if not configs:
        raise where.error("properties.ipConfigurations", "network interface has no IP configuration")
    return NetworkInterface(
        id=raw["id"], name=raw["name"], location=_location(raw),
        ip_configurations=tuple(
            _ip_configuration(c, where, f"properties.ipConfigurations[{i}]", i == 0)
            for i, c in enumerate(configs)),
        network_security_group=_ref(_get(p, "networkSecurityGroup")),
        enable_ip_forwarding=_bool(_get(p, "enableIPForwarding"), where,
                                   "properties.enableIPForwarding"),
        enable_accelerated_networking=_bool(_get(p, "enableAcceleratedNetworking"), where,
                                            "properties.enableAcceleratedNetworking"),
        virtual_machine=_ref(_get(p, "virtualMachine")),
    )


def _vm(raw: dict[str, Any], where: _Where) -> VirtualMachine:
    p = _props(raw)
    size = _get(_get(p, "hardwareProfile", default={}), "vmSize", default="")
    nics = _get(_get(p, "networkProfile", default={}), "networkInterfaces", default=[])
    cap = _get(raw, "egressCapBps")
    return VirtualMachine(id=raw["id"], name=raw["name"], location=_location(raw),
                          vm_size=str(size),
                          network_interfaces=tuple(_ref(n) or "" for n in nics),
                          egress_cap_bps=None if cap is None else _int(cap, where, "egressCapBps"))


RUNTIME = "<runtime:"  # a value only Azure knows at deployment (load/arm/functions.py)


def _ips(value: Any, where: _Where, prop: str) -> tuple[IPAddress, ...]:
    """An address list, or one string of comma-separated addresses ("10.0.0.4,10.0.0.5").
    A template's runtime placeholder (reference(gateway).bgpSettings.bgpPeeringAddress) is an
    address not known offline: left out (the evaluator reports it as an assumption)."""
    if isinstance(value, str) and value.startswith(RUNTIME):
        return ()
    items = value.split(",") if isinstance(value, str) else _list(value, where, prop)
    out = [_ip(str(v).strip(), where, f"{prop}[{i}]") for i, v in enumerate(items)
           if not str(v).startswith(RUNTIME)]
    return tuple(a for a in out if a is not None)


def _bgp_settings(p: dict[str, Any], where: _Where) -> BgpSettings | None:
    """properties.bgpSettings (None when absent): asn, bgpPeeringAddress, peerWeight and the
    per-instance bgpPeeringAddresses (default, custom APIPA and tunnel addresses)."""
    raw = _get(p, "bgpSettings")
    if raw is None:
        return None
    prop = "properties.bgpSettings"
    if not isinstance(raw, dict):
        raise where.error(prop, f"expected an object, got {type(raw).__name__}")
    asn = _get(raw, "asn")
    instances = []
    for i, item in enumerate(_items(raw, "bgpPeeringAddresses", where, prop)):
        at = f"{prop}.bgpPeeringAddresses[{i}]"
        if not isinstance(item, dict):
            raise where.error(at, "expected an object")
        instances.append(IpConfigurationBgpPeeringAddress(
            ipconfiguration_id=str(_get(item, "ipconfigurationId", default="")),
            default_bgp_ip_addresses=_ips(_get(item, "defaultBgpIpAddresses", default=[]),
                                          where, f"{at}.defaultBgpIpAddresses"),
            custom_bgp_ip_addresses=_ips(_get(item, "customBgpIpAddresses", default=[]),
                                         where, f"{at}.customBgpIpAddresses"),
            tunnel_ip_addresses=_ips(_get(item, "tunnelIpAddresses", default=[]), where,
                                     f"{at}.tunnelIpAddresses")))
    known = asn is not None and not str(asn).startswith(RUNTIME)  # else Azure's default
    return BgpSettings(
        asn=_int(asn, where, f"{prop}.asn") if known else AZURE_DEFAULT_ASN,
        bgp_peering_address=_ips(_get(raw, "bgpPeeringAddress", default=""), where,
                                 f"{prop}.bgpPeeringAddress"),
        peer_weight=_int(_get(raw, "peerWeight", default=0), where, f"{prop}.peerWeight"),
        bgp_peering_addresses=tuple(instances))


def _gateway(raw: dict[str, Any], where: _Where) -> VirtualNetworkGateway:
    p = _props(raw)
    configs = _items(p, "ipConfigurations", where)
    subnet = next((_ref(_get(_props(c), "subnet")) for c in configs
                   if _ref(_get(_props(c), "subnet"))), None)
    if not subnet:
        raise where.error("properties.ipConfigurations[0].properties.subnet.id",
                          "gateway names no GatewaySubnet")
    vnet_id = subnet.rsplit("/subnets/", 1)[0]
    sku = _get(p, "sku", default=None) or _get(raw, "sku", default={})
    return VirtualNetworkGateway(
        id=raw["id"], name=raw["name"], location=_location(raw),
        gateway_type=str(_get(p, "gatewayType", default="Vpn")), virtual_network=vnet_id,
        sku=str(_get(sku, "name", default="VpnGw1")) if isinstance(sku, dict) else str(sku),
        vpn_type=str(_get(p, "vpnType", default="RouteBased")),
        enable_bgp=_bool(_get(p, "enableBgp"), where, "properties.enableBgp"),
        active_active=_bool(_get(p, "activeActive"), where, "properties.activeActive"),
        bgp_settings=_bgp_settings(p, where),
        ip_configurations=tuple(str(_get(c, "name", default=f"ipconfig{i}"))
                                for i, c in enumerate(configs)),
    )


def _local_gateway(raw: dict[str, Any], where: _Where) -> LocalNetworkGateway:
    p = _props(raw)
    space = _get(_get(p, "localNetworkAddressSpace", default={}), "addressPrefixes", default=[])
    prefixes, _ = _prefixes(space, where, "properties.localNetworkAddressSpace.addressPrefixes")
    bgp = _get(p, "bgpSettings", default={}) or {}
    return LocalNetworkGateway(id=raw["id"], name=raw["name"], location=_location(raw),
                               address_prefixes=prefixes,
                               gateway_ip_address=str(_get(p, "gatewayIpAddress", default="")),
                               bgp_peering_address=str(_get(bgp, "bgpPeeringAddress", default="")),
                               bgp_settings=_bgp_settings(p, where))


def _connection(raw: dict[str, Any], where: _Where) -> Connection:
    p = _props(raw)
    gw1 = _ref(_get(p, "virtualNetworkGateway1"))
    if not gw1:
        raise where.error("properties.virtualNetworkGateway1.id", "connection names no gateway")
    return Connection(id=raw["id"], name=raw["name"], location=_location(raw),
                      connection_type=str(_get(p, "connectionType", default="IPsec")),
                      virtual_network_gateway1=gw1,
                      virtual_network_gateway2=_ref(_get(p, "virtualNetworkGateway2")),
                      local_network_gateway2=_ref(_get(p, "localNetworkGateway2")),
                      enable_bgp=_bool(_get(p, "enableBgp"), where, "properties.enableBgp"),
                      peer=_ref(_get(p, "peer")))


def _virtual_hub(raw: dict[str, Any], where: _Where) -> VirtualHub:
    """virtualHubs with ipConfigurations and bgpConnections (inline or as child resources)."""
    p = _props(raw)
    configs = _items(p, "ipConfigurations", where)
    subnet = next((_ref(_get(_props(c), "subnet")) for c in configs
                   if _ref(_get(_props(c), "subnet"))), None)
    peers = []
    for i, c in enumerate(_items(p, "bgpConnections", where)):
        cp = _props(c)
        at = f"properties.bgpConnections[{i}].properties"
        name = str(_get(c, "name", default=f"bgpConnection{i}"))
        peers.append(BgpConnection(
            id=str(_get(c, "id", default="") or f"{raw['id']}/bgpConnections/{name}"),
            name=name, peer_ip=_ip(_get(cp, "peerIp"), where, f"{at}.peerIp"),
            peer_asn=_int(_get(cp, "peerAsn", default=0), where, f"{at}.peerAsn")))
    asn = _get(p, "virtualRouterAsn")
    return VirtualHub(
        id=raw["id"], name=raw["name"], location=_location(raw), subnet=subnet,
        virtual_wan=_ref(_get(p, "virtualWan")),
        allow_branch_to_branch_traffic=_bool(_get(p, "allowBranchToBranchTraffic"), where,
                                             "properties.allowBranchToBranchTraffic"),
        virtual_router_asn=AZURE_DEFAULT_ASN if asn is None else _int(
            asn, where, "properties.virtualRouterAsn"),
        virtual_router_ips=_ips(_get(p, "virtualRouterIps", default=[]), where,
                                "properties.virtualRouterIps"),
        bgp_connections=tuple(peers))


def _frontend_version(frontend: dict[str, Any], where: _Where, prop: str) -> str:
    """A frontend's IP version: its address's when given (inputs that leave out
    privateIPAddressVersion beside an IPv6 address load as before), else
    privateIPAddressVersion (IPv4 when absent): load/public_edge.py allocates from that pool."""
    address = _ip(_get(_props(frontend), "privateIPAddress"), where, f"{prop}.privateIPAddress")
    if address is not None:
        return f"IPv{address.version}"
    return _ip_version(_props(frontend), None, where, prop)


def backend_addresses(pool: dict[str, Any], where: _Where, prop: str
                      ) -> tuple[tuple[str, IPAddress], ...]:
    """An IP-based pool's `loadBalancerBackendAddresses[]`: (virtualNetwork or subnet id,
    ipAddress) for each entry with an address ("Backend pool management",
    https://learn.microsoft.com/azure/load-balancer/backend-pool-management, "Configure backend
    pool by IP address and virtual network"); entries without one (an az dump lists a NIC-based
    pool's members by networkInterfaceIPConfiguration) are the NICs' own references."""
    out = []
    for j, entry in enumerate(_items(_props(pool), "loadBalancerBackendAddresses", where,
                                     f"{prop}.properties")):
        at = f"{prop}.properties.loadBalancerBackendAddresses[{j}]"
        ep = _props(entry)
        address = _ip(_get(ep, "ipAddress"), where, f"{at}.ipAddress")
        if address is None:
            continue
        scope = _ref(_get(ep, "virtualNetwork")) or _ref(_get(ep, "subnet"))
        if not scope:
            raise where.error(f"{at}.virtualNetwork.id", "a backend address names no virtual "
                              "network or subnet")
        out.append((scope, address))
    return tuple(out)


def _load_balancer(raw: dict[str, Any], where: _Where) -> LoadBalancer:
    p = _props(raw)
    lb_id = raw["id"]
    frontends = tuple(
        FrontendIPConfiguration(
            id=_get(f, "id") or f"{lb_id}/frontendIPConfigurations/{_get(f, 'name')}",
            name=str(_get(f, "name", default="")),
            private_ip_address=_ip(_get(_props(f), "privateIPAddress"), where,
                                   f"properties.frontendIPConfigurations[{i}].privateIPAddress"),
            subnet=_ref(_get(_props(f), "subnet")),
            public_ip_address=_ref(_get(_props(f), "publicIPAddress")),
            private_ip_address_version=_frontend_version(
                f, where, f"properties.frontendIPConfigurations[{i}]"))
        for i, f in enumerate(_items(p, "frontendIPConfigurations", where)))
    pools = tuple(BackendAddressPool(
        id=_get(b, "id") or f"{lb_id}/backendAddressPools/{_get(b, 'name')}",
        name=str(_get(b, "name", default="")),
        load_balancer_backend_addresses=backend_addresses(
            b, where, f"properties.backendAddressPools[{i}]"))
        for i, b in enumerate(_items(p, "backendAddressPools", where)))
    rules = []
    for i, r in enumerate(_items(p, "loadBalancingRules", where)):
        rp = _props(r)
        prop = f"properties.loadBalancingRules[{i}]"
        rules.append(LoadBalancingRule(
            name=str(_get(r, "name", default="")),
            frontend_ip_configuration=_ref(_get(rp, "frontendIPConfiguration")) or "",
            backend_address_pool=_ref(_get(rp, "backendAddressPool")) or "",
            backend_address_pools=tuple(
                _ref(b) or "" for b in _items(rp, "backendAddressPools", where, prop)),
            protocol=str(_get(rp, "protocol", default="All")),
            frontend_port=_int(_get(rp, "frontendPort", default=0), where, f"{prop}.frontendPort"),
            backend_port=_int(_get(rp, "backendPort", default=0), where, f"{prop}.backendPort"),
            probe=_ref(_get(rp, "probe")),
            enable_floating_ip=_bool(_get(rp, "enableFloatingIP"), where,
                                     f"{prop}.enableFloatingIP"),
            disable_outbound_snat=_bool(_get(rp, "disableOutboundSnat"), where,
                                        f"{prop}.disableOutboundSnat")))
    nat_rules = []
    for i, r in enumerate(_items(p, "inboundNatRules", where)):
        rp = _props(r)
        prop = f"properties.inboundNatRules[{i}]"
        nat_rules.append(InboundNatRule(
            name=str(_get(r, "name", default="")),
            frontend_ip_configuration=_ref(_get(rp, "frontendIPConfiguration")) or "",
            protocol=str(_get(rp, "protocol", default="Tcp")),
            frontend_port=_int(_get(rp, "frontendPort", default=0), where, f"{prop}.frontendPort"),
            backend_port=_int(_get(rp, "backendPort", default=0), where, f"{prop}.backendPort"),
            backend_ip_configuration=_ref(_get(rp, "backendIPConfiguration")),
            backend_address_pool=_ref(_get(rp, "backendAddressPool")),
            frontend_port_range_start=_int(_get(rp, "frontendPortRangeStart", default=0), where,
                                           f"{prop}.frontendPortRangeStart"),
            frontend_port_range_end=_int(_get(rp, "frontendPortRangeEnd", default=0), where,
                                         f"{prop}.frontendPortRangeEnd")))
    outbound = []
    for i, r in enumerate(_items(p, "outboundRules", where)):
        rp = _props(r)
        prop = f"properties.outboundRules[{i}]"
        outbound.append(OutboundRule(
            name=str(_get(r, "name", default="")),
            frontend_ip_configurations=tuple(
                _ref(f) or "" for f in _items(rp, "frontendIPConfigurations", where, prop)),
            backend_address_pool=_ref(_get(rp, "backendAddressPool")) or "",
            protocol=str(_get(rp, "protocol", default="All")),
            allocated_outbound_ports=_int(_get(rp, "allocatedOutboundPorts", default=0), where,
                                          f"{prop}.allocatedOutboundPorts")))
    sku = _get(raw, "sku", default={})
    return LoadBalancer(id=lb_id, name=raw["name"], location=_location(raw),
                        sku=str(_get(sku, "name", default="Basic")) if isinstance(sku, dict)
                        else str(sku),
                        frontend_ip_configurations=frontends, backend_address_pools=pools,
                        load_balancing_rules=tuple(rules), inbound_nat_rules=tuple(nat_rules),
                        outbound_rules=tuple(outbound))


def _strings(obj: dict[str, Any], name: str) -> tuple[str, ...]:
    value = _get(obj, name, default=[])
    return tuple(str(x) for x in (value if isinstance(value, list) else [value]))


def _firewall(raw: dict[str, Any], where: _Where) -> AzureFirewall:
    """Classic rule collections. A rule reads only what it names: a missing
    destinationAddresses (a rule with destinationFqdns or IP groups instead) matches no
    address, never "*" ("Azure Firewall rule processing logic",
    https://learn.microsoft.com/azure/firewall/rule-processing)."""
    p = _props(raw)
    configs = _items(p, "ipConfigurations", where)
    first = _props(configs[0]) if configs else {}

    def sources(r: dict[str, Any], at: str) -> tuple[AddressMatch, ...]:
        return tuple(address_match(a, where, f"{at}.sourceAddresses")
                     for a in _get(r, "sourceAddresses", default=[]))

    def network(r: dict[str, Any], at: str) -> FirewallNetworkRule:
        return FirewallNetworkRule(
            name=str(_get(r, "name", default="")),
            protocols=firewall_protocols(_get(r, "protocols", default=["Any"]), where,
                                         f"{at}.protocols"),
            source_addresses=sources(r, at),
            destination_addresses=tuple(address_match(a, where, f"{at}.destinationAddresses")
                                        for a in _get(r, "destinationAddresses", default=[])),
            destination_ports=port_ranges(_get(r, "destinationPorts", default=["*"]), where,
                                          f"{at}.destinationPorts"),
            source_ip_groups=_strings(r, "sourceIpGroups"),
            destination_ip_groups=_strings(r, "destinationIpGroups"),
            destination_fqdns=_strings(r, "destinationFqdns"))

    def nat_rule(r: dict[str, Any], at: str) -> FirewallNatRule:
        nat_target(_get(r, "translatedAddress", default=""),
                   _get(r, "translatedFqdn", default=""), where, at)
        return FirewallNatRule(
            name=str(_get(r, "name", default="")), protocols=_strings(r, "protocols"),
            source_addresses=sources(r, at),
            destination_addresses=dnat_destinations(_strings(r, "destinationAddresses"), where,
                                                    f"{at}.destinationAddresses"),
            destination_ports=_strings(r, "destinationPorts"),
            translated_address=_get(r, "translatedAddress"),
            translated_port=translated_port(_get(r, "translatedPort", default=""), where,
                                            f"{at}.translatedPort"),
            source_ip_groups=_strings(r, "sourceIpGroups"))

    def app_protocol(x: Any, at: str) -> str:
        """'Https:443' from {protocolType, port} (a plain string as written)."""
        if not isinstance(x, dict):
            return str(x)
        kind = application_protocol(_get(x, "protocolType", default=""), where,
                                    f"{at}.protocolType")
        port = _get(x, "port", default=None)
        return f"{kind}:" + ("" if port is None else
                             str(application_port(port, where, f"{at}.port")))

    def application(r: dict[str, Any], at: str) -> FirewallApplicationRule:
        targets, tags = _strings(r, "targetFqdns"), _strings(r, "fqdnTags")
        application_targets(targets, tags, where, at)
        return FirewallApplicationRule(
            name=str(_get(r, "name", default="")), source_addresses=sources(r, at),
            protocols=tuple(app_protocol(x, f"{at}.protocols[{i}]")
                            for i, x in enumerate(_get(r, "protocols", default=[]))),
            target_fqdns=targets, fqdn_tags=tags,
            source_ip_groups=_strings(r, "sourceIpGroups"))

    def collections(key: str, kind: Callable[..., Any], default_action: str,
                    rule: Callable[[dict[str, Any], str], Any],
                    actions: tuple[str, ...] = ("Allow", "Deny")) -> tuple[Any, ...]:
        """A classic rule-collection list: name, priority, action and rules, as ARM has them."""
        out = []
        for i, c in enumerate(_items(p, key, where)):
            cp = _props(c)
            prop = f"properties.{key}[{i}]"
            action = _get(cp, "action", default={})
            action = _get(action, "type", default=default_action) \
                if isinstance(action, dict) else action
            out.append(kind(
                name=str(_get(c, "name", default="")),
                priority=collection_priority(_get(cp, "priority", default=100), where,
                                             f"{prop}.properties.priority"),
                action=firewall_action(action, actions, where, f"{prop}.properties.action.type"),
                rules=tuple(rule(r, f"{prop}.properties.rules[{j}]")
                            for j, r in enumerate(_items(cp, "rules", where, prop)))))
        return tuple(out)

    network_collections = collections("networkRuleCollections", FirewallRuleCollection, "Allow",
                                      network)
    nat = collections("natRuleCollections", FirewallNatRuleCollection, "Dnat", nat_rule,
                      ("Dnat", "Snat"))
    app = collections("applicationRuleCollections", FirewallApplicationRuleCollection, "Allow",
                      application)
    # a dual-stack firewall (preview, "Deploy Azure Firewall in dual stack mode (preview)",
    # https://learn.microsoft.com/azure/firewall/deploy-dual-stack-firewall): the first IPv4
    # and the first IPv6 privateIPAddress of its ip configurations
    private = [a for i, c in enumerate(configs) if (a := _ip(_get(_props(c), "privateIPAddress"),
               where, f"properties.ipConfigurations[{i}].privateIPAddress")) is not None]
    return AzureFirewall(id=raw["id"], name=raw["name"], location=_location(raw),
                         subnet=_ref(_get(first, "subnet")),
                         private_ip_address=next((a for a in private if a.version == 4), None),
                         private_ip_address6=next((a for a in private if a.version == 6), None),
                         network_rule_collections=network_collections,
                         threat_intel_mode=str(_get(p, "threatIntelMode", default="Alert")),
                         nat_rule_collections=nat, application_rule_collections=app,
                         firewall_policy=_ref(_get(p, "firewallPolicy")),
                         sku_tier=_sku_tier(p, raw, where),
                         public_ip_addresses=tuple(
                             ref for c in configs
                             if (ref := _ref(_get(_props(c), "publicIPAddress"))) is not None),
                         snat_private_ranges=_snat_ranges(p, where),
                         min_capacity=_min_capacity(p, where),
                         dns_proxy_enabled=_dns_proxy(p, where),
                         management_ip_configuration=bool(
                             _get(p, "managementIpConfiguration", default=None)))


def _min_capacity(p: dict[str, Any], where: _Where) -> int | None:
    """`properties.autoscaleConfiguration.minCapacity` (capacity units, 2 to 50: "Azure
    Firewall prescaling", https://learn.microsoft.com/azure/firewall/prescaling), None when
    absent; engine/stages/firewall_nat.py counts SNAT ports per instance with it."""
    scale = _get(p, "autoscaleConfiguration", default={}) or {}
    value = _get(scale, "minCapacity") if isinstance(scale, dict) else None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= 50:
        raise where.error("properties.autoscaleConfiguration.minCapacity",
                          f"expected an integer from 2 to 50, got {value!r}")
    return value


def _additional(p: dict[str, Any], where: _Where, key: str) -> Any:
    """Classic `additionalProperties[key]` (key case-insensitive); None when not set."""
    extra = _get(p, "additionalProperties", default={}) or {}
    if not isinstance(extra, dict):
        raise where.error("properties.additionalProperties", f"expected an object, got {extra!r}")
    return next((v for k, v in extra.items() if k.lower() == key.lower()), None)


def _dns_proxy(p: dict[str, Any], where: _Where) -> bool:
    """Classic `additionalProperties["Network.DNS.EnableProxy"]`: "true" turns the firewall's
    DNS proxy on (what a Firewall Policy's dnsSettings.enableProxy does; New-AzFirewall
    -EnableDnsProxy writes it, Azure PowerShell "New-AzFirewall",
    https://learn.microsoft.com/powershell/module/az.network/new-azfirewall); FQDNs in network
    rules resolve only with it ("Azure Firewall DNS settings",
    https://learn.microsoft.com/azure/firewall/dns-settings, "DNS proxy")."""
    value = _additional(p, where, "Network.DNS.EnableProxy")
    if value is None:
        return False
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise where.error('properties.additionalProperties["Network.DNS.EnableProxy"]',
                          f"expected \"true\" or \"false\", got {value!r}")
    return text == "true"


def _snat_ranges(p: dict[str, Any], where: _Where) -> tuple[str, ...]:
    """Classic `additionalProperties["Network.SNAT.PrivateRanges"]`: a comma-separated string
    ("IANAPrivateRanges", prefixes, addresses); () when the firewall does not set it
    (control/firewall_snat.py reads the values)."""
    value = _additional(p, where, "Network.SNAT.PrivateRanges")
    if value is None:
        return ()
    if not isinstance(value, str):
        raise where.error('properties.additionalProperties["Network.SNAT.PrivateRanges"]',
                          f"expected a comma-separated string, got {value!r}")
    return snat_private_ranges(tuple(x.strip() for x in value.split(",") if x.strip()), where,
                               'properties.additionalProperties["Network.SNAT.PrivateRanges"]')


def _sku_tier(p: dict[str, Any], raw: dict[str, Any], where: _Where) -> str | None:
    """`properties.sku.tier` (az dumps may put `sku` beside the properties); None when absent."""
    sku = _get(p, "sku", default=None) or _get(raw, "sku", default=None)
    if sku is None:
        return None
    if not isinstance(sku, dict):
        raise where.error("properties.sku", f"expected an object with a tier, got {sku!r}")
    tier = _get(sku, "tier", default=None)
    return None if tier is None else str(tier)


def _ip_group(raw: dict[str, Any], where: _Where) -> IpGroup:
    """ipAddresses: addresses, CIDRs and ranges ("10.0.0.1-10.0.0.9", split into prefixes)."""
    out: list[Prefix] = []
    for i, a in enumerate(_list(_get(_props(raw), "ipAddresses", default=[]), where,
                                "properties.ipAddresses")):
        text = str(a).strip()
        low, sep, high = text.partition("-")
        if sep:
            try:
                nets = ipaddress.summarize_address_range(ipaddress.ip_address(low.strip()),
                                                         ipaddress.ip_address(high.strip()))
            except (ValueError, TypeError) as e:
                raise where.error(f"properties.ipAddresses[{i}]",
                                  f"'{text}' is not an address range ({e})") from None
            out += [_prefix(str(n), where, f"properties.ipAddresses[{i}]") for n in nets]
        else:
            out.append(_prefix(text, where, f"properties.ipAddresses[{i}]"))
    return IpGroup(id=raw["id"], name=raw["name"], location=_location(raw),
                   ip_addresses=tuple(out))


def _asg(raw: dict[str, Any], where: _Where) -> ApplicationSecurityGroup:
    return ApplicationSecurityGroup(id=raw["id"], name=raw["name"], location=_location(raw))


def _role_assignment(raw: dict[str, Any], where: _Where) -> RoleAssignment:
    p = _props(raw)
    definition = str(_get(p, "roleDefinitionId", default=_get(p, "roleDefinitionName", default="")))
    role = BUILTIN_ROLES.get(definition.rsplit("/", 1)[-1].lower(), definition)
    return RoleAssignment(principal=str(_get(p, "principalId", default="")), role=role,
                          scope=str(_get(p, "scope", default=_get(raw, "scope", default=""))),
                          actions=tuple(str(a) for a in _items(p, "actions", where)))


def _location(raw: dict[str, Any]) -> str:
    return str(raw.get("location") or "").replace(" ", "").lower()


# Converters in their own files import the helpers above (so this import comes after them).
from dataplane.load.backend_addresses import ip_based_pool_members  # noqa: E402
from dataplane.load.firewall_policy import firewall_policy  # noqa: E402
from dataplane.load.public_edge import (  # noqa: E402
    nat_gateway,
    private_endpoint,
    private_endpoint_addresses,
    public_ip_address,
)

Converter = Callable[[dict[str, Any], _Where], object]
TOP_LEVEL: dict[str, tuple[str, Converter]] = {
    NET + "virtualnetworks": ("virtual_networks", _vnet),
    NET + "networksecuritygroups": ("network_security_groups", _nsg),
    NET + "applicationsecuritygroups": ("application_security_groups", _asg),
    NET + "routetables": ("route_tables", _route_table),
    NET + "networkinterfaces": ("network_interfaces", _nic),
    "microsoft.compute/virtualmachines": ("virtual_machines", _vm),
    NET + "virtualnetworkgateways": ("virtual_network_gateways", _gateway),
    NET + "localnetworkgateways": ("local_network_gateways", _local_gateway),
    NET + "connections": ("connections", _connection),
    NET + "loadbalancers": ("load_balancers", _load_balancer),
    NET + "azurefirewalls": ("azure_firewalls", _firewall),
    NET + "firewallpolicies": ("firewall_policies", firewall_policy),
    NET + "ipgroups": ("ip_groups", _ip_group),
    NET + "virtualhubs": ("virtual_hubs", _virtual_hub),
    NET + "publicipaddresses": ("public_ip_addresses", public_ip_address),
    NET + "natgateways": ("nat_gateways", nat_gateway),
    NET + "privateendpoints": ("private_endpoints", private_endpoint),
    "microsoft.classicnetwork/virtualnetworks": (
        "virtual_networks", lambda raw, where: _vnet(raw, where, classic=True)),
    "microsoft.authorization/roleassignments": ("role_assignments", _role_assignment),
}
# Types whose public IPs the model uses (control/outbound.py, engine/stages/public_edge.py,
# engine/stages/firewall_nat.py); a public IP only other types use stays unknown. Issue 16
# adds virtualNetworkGateways here when its engine uses the addresses.
PUBLIC_IP_USERS = frozenset({NET + "networkinterfaces", NET + "loadbalancers",
                             NET + "natgateways", NET + "azurefirewalls"})
# Child types merged into their parent's properties before conversion: type -> list property.
CHILDREN = {
    NET + "virtualnetworks/subnets": "subnets",
    NET + "virtualnetworks/virtualnetworkpeerings": "virtualNetworkPeerings",
    NET + "networksecuritygroups/securityrules": "securityRules",
    NET + "routetables/routes": "routes",
    NET + "firewallpolicies/rulecollectiongroups": "ruleCollectionGroups",
    NET + "firewallpolicies/rulegroups": "ruleGroups",  # the 2019-06-01 preview schema
    NET + "virtualhubs/ipconfigurations": "ipConfigurations",
    NET + "virtualhubs/bgpconnections": "bgpConnections",
}


def _merge_children(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fold separate child resources into copies of their parents (by parent id)."""
    parents: dict[str, dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    children: list[tuple[str, dict[str, Any]]] = []
    for res in resources:
        kind = str(res.get("type", "")).lower()
        if kind in CHILDREN:
            children.append((kind, res))
            continue
        copy = dict(res)
        if isinstance(copy.get("properties"), dict):
            copy["properties"] = dict(copy["properties"])
        parents[id_key(str(copy.get("id", "")))] = copy
        out.append(copy)
    for kind, child in children:
        parent_id = str(child.get("id", "")).rsplit("/", 2)[0]
        parent = parents.get(id_key(parent_id))
        if parent is None:
            raise InputError(f"child resource of type {child.get('type')} has no parent "
                             f"'{parent_id}' in the input", file=str(child.get("source", "")) or None,
                             resource=str(child.get("name")), property="id")
        holder = parent["properties"] if isinstance(parent.get("properties"), dict) else parent
        prop = CHILDREN[kind]
        existing = [c for c in holder.get(prop) or []
                    if str(_get(c, "name", default="")).lower() != str(child.get("name")).lower()]
        holder[prop] = [*existing, child]
    return out


def _derive_peerings(vnets: list[VirtualNetwork]) -> list[VirtualNetwork]:
    """Fill peering state and remote space where the input does not carry them (4.2, 4.3)."""
    by_id = {id_key(v.id): v for v in vnets}
    out = []
    for vnet in vnets:
        links = []
        for link in vnet.virtual_network_peerings:
            remote = by_id.get(id_key(link.remote_virtual_network))
            state = link.peering_state
            if not state:
                back = remote is not None and any(
                    id_key(b.remote_virtual_network) == id_key(vnet.id)
                    for b in remote.virtual_network_peerings)
                state = "Connected" if back else "Initiated"
            space = link.remote_address_space or (remote.address_space if remote else ())
            links.append(replace(link, peering_state=state, remote_address_space=space))
        out.append(replace(vnet, virtual_network_peerings=tuple(links)))
    return out


def resources_to_topology(resources: Iterable[dict[str, Any]], source: str = "") -> Topology:
    """Convert resolved resource dicts (ARM-evaluated, az dump or scenario) into a Topology."""
    collected: dict[str, list[object]] = {}
    unknown: list[UnknownResource] = []
    resources = list(resources)
    merged = _merge_children(resources)
    # A public IP none of PUBLIC_IP_USERS uses (a Bastion's, an Application Gateway's, a
    # gateway's until issue 16 models them) stays an unknown resource
    # with its named caveat on the resources it is attached to.
    used = referenced_ids(merged, PUBLIC_IP_USERS)
    for index, raw in enumerate(merged):
        if not isinstance(raw, dict):
            raise InputError(f"resource #{index} is not an object", file=source or None)
        kind = str(raw.get("type", ""))
        if not kind or not raw.get("name"):
            raise InputError(f"resource #{index} has no 'type' or 'name'", file=source or None,
                             resource=str(raw.get("name") or raw.get("id") or f"#{index}"))
        if not raw.get("id"):
            raise InputError("resource has no 'id' (az dumps and templates carry full ids)",
                             file=source or None, resource=str(raw["name"]), property="id")
        check_shape(raw, source)  # kinds of every property read below (shapes.py)
        entry = TOP_LEVEL.get(kind.lower())
        if kind.lower() == NET + "publicipaddresses" and id_key(str(raw["id"])) not in used:
            entry = None
        if entry is None:
            unknown.append(UnknownResource(type=kind, name=str(raw["name"]), id=str(raw["id"]),
                                           source=str(raw.get("source", source))))
            continue
        collection, convert = entry
        collected.setdefault(collection, []).append(convert(raw, _Where(raw, source)))
    vnets = _derive_peerings(collected.pop("virtual_networks", []))  # type: ignore[arg-type]
    related = related_resources(resources, {id_key(u.id) for u in unknown})
    unknown = [replace(u, related=related[id_key(u.id)]) for u in unknown]
    topology = Topology(virtual_networks=tuple(vnets),
                        unknown_resources=tuple(unknown),
                        sources=(source,) if source else (),
                        **{k: tuple(v) for k, v in collected.items()})
    refuse_read_placeholders(topology, resources, source)  # arm/placeholders.py
    topology = private_endpoint_addresses(topology)  # load/public_edge.py
    topology = ip_based_pool_members(topology)  # load/backend_addresses.py
    return replace(topology, load_findings=tuple(cidr_findings(topology)
                                                 + near_miss_findings(merged, source)
                                                 + unread_findings(merged, source)))


def cidr_findings(topology: Topology) -> list[tuple[str, str, str]]:
    """Prefixes written with host bits set (InvalidCIDRNotation, docs/azure-behaviour.md §4.6)."""
    out = []
    for vnet in topology.virtual_networks:
        texts = [(vnet.id, t) for t in vnet.raw_address_space]
        texts += [(s.id, t) for s in vnet.subnets for t in s.raw_address_prefixes]
        for rid, text in texts:
            fixed = host_bits_fixed(text)
            if fixed is not None:
                out.append(("InvalidCIDRNotation",
                            f"The address prefix {text} has an invalid CIDR notation. For the "
                            f"given prefix length, the address prefix should be {fixed}.", rid))
    return out
