"""Converters for the public edge and Private Link: public IPs, NAT gateways, private endpoints.

Expects: one resolved resource dict each (ARM-evaluated, az dump or scenario; properties nested
under `properties` or flattened, as resources.py reads them).
Emits: model.PublicIPAddress, model.NatGateway, model.PrivateEndpoint. Values are ARM's
(`sku.name` Basic | Standard, `publicIPAddressVersion` IPv4 | IPv6); absent values take ARM's
defaults, named in each docstring. `private_endpoint_addresses` fills, after loading, the
address of every private endpoint the input does not give (assumption
`private-endpoint-address`).
Raises: InputError naming the file, the resource and the property.

Microsoft pages modelled:
* "Public IP addresses" (https://learn.microsoft.com/azure/virtual-network/ip-services/
  public-ip-addresses, "SKU"): sku Basic or Standard (StandardV2, the SKU a StandardV2 NAT
  gateway takes: "Azure NAT Gateway SKUs", https://learn.microsoft.com/azure/nat-gateway/
  nat-sku, is read as Standard: assumption public-ip-standardv2); the REST reference (publicIPAddresses,
  2024-05-01) gives Basic as the default SKU and Dynamic allocation.
* "What is a private endpoint?" (https://learn.microsoft.com/azure/private-link/
  private-endpoint-overview, "Private endpoint properties"): the endpoint takes a private IP of
  its subnet, dynamically unless `ipConfigurations` asks for a static one; a connection names
  the private link resource and its target sub-resource (`groupIds`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dataplane.load.allocation import AddressAllocator
from dataplane.load.resources import (
    _get,
    _int,
    _ip,
    _items,
    _location,
    _props,
    _ref,
    _Where,
)
from dataplane.model import (
    Assumption,
    FrontendIPConfiguration,
    NatGateway,
    PrivateEndpoint,
    PrivateLinkServiceConnection,
    PublicIPAddress,
    Topology,
    id_key,
)
from dataplane.net import IPAddress, parse_ip

INTERNAL_FRONTEND_ADDRESS = Assumption(
    "internal-frontend-address",
    "An internal load balancer frontend whose input gives no address (a template's dynamic "
    "frontend) is given the lowest free address of its subnet (of its privateIPAddressVersion) "
    "after every NIC, firewall, static frontend and private endpoint, frontends in input "
    "order (Azure allocates it at "
    "deployment: 'Private IP addresses', private-ip-addresses, 'Dynamic allocation').")
SKUS = ("Basic", "Standard", "StandardV2")  # StandardV2: control/public_addresses.py
VERSIONS = ("IPv4", "IPv6")
ALLOCATIONS = ("Static", "Dynamic")
PRIVATE_ENDPOINT_ADDRESS = Assumption(
    "private-endpoint-address",
    "A private endpoint whose input gives no address (templates without a static "
    "ipConfigurations entry) is given the lowest free address of its subnet after every "
    "NIC, firewall and load-balancer frontend, endpoints in id order (Azure allocates "
    "dynamically from the subnet: 'What is a private endpoint?', private-endpoint-overview).")


def _choice(value: Any, allowed: tuple[str, ...], default: str, where: _Where, prop: str) -> str:
    if value in (None, ""):
        return default
    found = next((a for a in allowed if a.lower() == str(value).lower()), None)
    if found is None:
        raise where.error(prop, f"expected one of {', '.join(allowed)}, got {value!r}")
    return found


def _sku(raw: dict[str, Any], default: str, where: _Where) -> str:
    sku = _get(raw, "sku", default=None)
    name = _get(sku, "name") if isinstance(sku, dict) else sku
    return _choice(name, SKUS, default, where, "sku.name")


def public_ip_address(raw: dict[str, Any], where: _Where) -> PublicIPAddress:
    """sku.name (default Basic), publicIPAddressVersion (default IPv4),
    publicIPAllocationMethod (default Dynamic), ipAddress (when Azure's answer is in the input),
    publicIPPrefix."""
    p = _props(raw)
    version = _choice(_get(p, "publicIPAddressVersion"), VERSIONS, "IPv4", where,
                      "properties.publicIPAddressVersion")
    address = _ip(_get(p, "ipAddress"), where, "properties.ipAddress")
    if address is not None and address.version != int(version[-1]):
        raise where.error("properties.ipAddress",
                          f"{address} is not an {version} address (publicIPAddressVersion)")
    return PublicIPAddress(
        id=raw["id"], name=raw["name"], location=_location(raw), sku=_sku(raw, "Basic", where),
        public_ip_address_version=version,
        public_ip_allocation_method=_choice(_get(p, "publicIPAllocationMethod"), ALLOCATIONS,
                                           "Dynamic", where,
                                           "properties.publicIPAllocationMethod"),
        ip_address=address, public_ip_prefix=_ref(_get(p, "publicIPPrefix")))


def nat_gateway(raw: dict[str, Any], where: _Where) -> NatGateway:
    """sku.name (Standard; StandardV2 kept as written), publicIpAddresses, publicIpPrefixes,
    idleTimeoutInMinutes (default 4: "Azure NAT Gateway resource", nat-gateway-resource),
    publicIpAddressesV6, publicIpPrefixesV6 (StandardV2: "Azure NAT Gateway SKUs",
    https://learn.microsoft.com/azure/nat-gateway/nat-sku, "SKU comparison": public IP
    version IPv4, IPv6)."""
    p = _props(raw)
    sku = _get(raw, "sku", default=None)
    return NatGateway(
        id=raw["id"], name=raw["name"], location=_location(raw),
        sku=str(_get(sku, "name", default="Standard") if isinstance(sku, dict) else
                sku or "Standard"),
        public_ip_addresses=tuple(_ref(a) or "" for a in _items(p, "publicIpAddresses", where)),
        public_ip_prefixes=tuple(_ref(a) or "" for a in _items(p, "publicIpPrefixes", where)),
        idle_timeout_in_minutes=_int(_get(p, "idleTimeoutInMinutes", default=4), where,
                                     "properties.idleTimeoutInMinutes"),
        public_ip_addresses_v6=tuple(
            _ref(a) or "" for a in _items(p, "publicIpAddressesV6", where)),
        public_ip_prefixes_v6=tuple(
            _ref(a) or "" for a in _items(p, "publicIpPrefixesV6", where)))


def private_endpoint(raw: dict[str, Any], where: _Where) -> PrivateEndpoint:
    """subnet (required), ipConfigurations[].privateIPAddress (static), customDnsConfigs[]
    .ipAddresses and networkInterfaces (dumps), privateLinkServiceConnections and
    manualPrivateLinkServiceConnections (privateLinkServiceId, groupIds)."""
    p = _props(raw)
    subnet = _ref(_get(p, "subnet"))
    if not subnet:
        raise where.error("properties.subnet.id", "private endpoint names no subnet")
    addresses: list[IPAddress] = []
    for i, c in enumerate(_items(p, "ipConfigurations", where)):
        found = _ip(_get(_props(c), "privateIPAddress"), where,
                    f"properties.ipConfigurations[{i}].privateIPAddress")
        if found is not None:
            addresses.append(found)
    for i, c in enumerate(_items(p, "customDnsConfigs", where)):
        for j, a in enumerate(_items(c, "ipAddresses", where, f"customDnsConfigs[{i}]")):
            found = _ip(a, where, f"properties.customDnsConfigs[{i}].ipAddresses[{j}]")
            if found is not None:
                addresses.append(found)
    connections = []
    for key, manual in (("privateLinkServiceConnections", False),
                        ("manualPrivateLinkServiceConnections", True)):
        for i, c in enumerate(_items(p, key, where)):
            cp = _props(c)
            target = str(_get(cp, "privateLinkServiceId", default=""))
            if not target:
                raise where.error(f"properties.{key}[{i}].privateLinkServiceId",
                                  "connection names no private link resource")
            groups = _items(cp, "groupIds", where, f"properties.{key}[{i}]")
            connections.append(PrivateLinkServiceConnection(
                name=str(_get(c, "name", default=f"connection{i}")),
                private_link_service_id=target, group_ids=tuple(str(g) for g in groups),
                manual=manual))
    return PrivateEndpoint(
        id=raw["id"], name=raw["name"], location=_location(raw), subnet=subnet,
        private_ip_addresses=tuple(dict.fromkeys(addresses)),
        network_interfaces=tuple(_ref(n) or "" for n in _items(p, "networkInterfaces", where)),
        private_link_service_connections=tuple(connections))


def private_endpoint_addresses(topology: Topology) -> Topology:
    """Endpoints without an address take their NIC's (dumps list the NIC) or the lowest free
    address of their subnet (assumption `private-endpoint-address`); others are unchanged.
    Then internal load-balancer frontends without an address (`_frontend_addresses`)."""
    if not topology.private_endpoints and not any(
            _unaddressed(fe) for lb in topology.load_balancers
            for fe in lb.frontend_ip_configurations):
        return topology
    nic_address = {id_key(n.id): n.primary_ip for n in topology.network_interfaces}
    allocator = AddressAllocator()
    taken = [(c.subnet, c.private_ip_address) for n in topology.network_interfaces
             for c in n.ip_configurations]
    taken += [(f.subnet, f.private_ip_address) for f in topology.azure_firewalls]
    taken += [(fe.subnet, fe.private_ip_address) for lb in topology.load_balancers
              for fe in lb.frontend_ip_configurations]
    taken += [(e.subnet, a) for e in topology.private_endpoints for a in e.private_ip_addresses]
    for subnet_id, address in taken:
        subnet = topology.get(subnet_id) if subnet_id else None
        if address is not None and subnet is not None:
            for prefix in subnet.address_prefixes:  # type: ignore[attr-defined]
                if prefix.contains_address(address):
                    allocator.allocate(str(prefix), str(address), key=id_key(subnet_id))
    endpoints, allocated = [], False
    for endpoint in sorted(topology.private_endpoints, key=lambda e: id_key(e.id)):
        if not endpoint.private_ip_addresses:
            known = [nic_address.get(id_key(n)) for n in endpoint.network_interfaces]
            addresses = tuple(a for a in known if a is not None)
            subnet = topology.get(endpoint.subnet)
            prefixes = getattr(subnet, "address_prefixes", ())
            v4 = [p for p in prefixes if p.version == 4]
            if not addresses and v4:
                addresses = (parse_ip(allocator.allocate(
                    str(v4[0]), key=id_key(endpoint.subnet))),)
                allocated = True
            endpoint = replace(endpoint, private_ip_addresses=addresses)
        endpoints.append(endpoint)
    order = {id_key(e.id): i for i, e in enumerate(topology.private_endpoints)}
    endpoints.sort(key=lambda e: order[id_key(e.id)])
    assumptions = topology.assumptions + ((PRIVATE_ENDPOINT_ADDRESS,) if allocated else ())
    return _frontend_addresses(replace(topology, private_endpoints=tuple(endpoints),
                                       assumptions=assumptions), allocator)


def _unaddressed(fe: FrontendIPConfiguration) -> bool:
    return fe.private_ip_address is None and bool(fe.subnet) and not fe.public_ip_address


def _frontend_addresses(topology: Topology, allocator: AddressAllocator) -> Topology:
    """Internal load-balancer frontends without an address (a template's dynamic frontend:
    Azure allocates it at deployment, "Private IP addresses", https://learn.microsoft.com/
    azure/virtual-network/ip-services/private-ip-addresses, "Dynamic allocation") take the
    lowest free address of their subnet's prefix of their `privateIPAddressVersion` after
    every NIC, firewall, static frontend and private endpoint, frontends in input order
    (assumption `internal-frontend-address`); without one the engine could not reach them."""
    changed, balancers = False, []
    for lb in topology.load_balancers:
        frontends = []
        for fe in lb.frontend_ip_configurations:
            subnet = topology.get(fe.subnet) if fe.subnet else None
            version = 6 if fe.private_ip_address_version == "IPv6" else 4
            prefixes = [p for p in getattr(subnet, "address_prefixes", ())
                        if p.version == version]
            if _unaddressed(fe) and prefixes:
                fe = replace(fe, private_ip_address=parse_ip(allocator.allocate(
                    str(prefixes[0]), key=id_key(fe.subnet or ""))))
                changed = True
            frontends.append(fe)
        balancers.append(replace(lb, frontend_ip_configurations=tuple(frontends)))
    if not changed:
        return topology
    return replace(topology, load_balancers=tuple(balancers),
                   assumptions=topology.assumptions + (INTERNAL_FRONTEND_ADDRESS,))
