"""Public IP addresses offline: the address each public IP resource answers on.

Takes: a Topology. Emits: `public_address(topology, public_ip_id)` -> IPAddress | None and
`public_address_assumptions(topology)` -> the Assumption to print when any address was chosen
here. Used by control/outbound.py (SNAT source), the public edge of the engine, and (issues 11
and 16) firewall and gateway instance public addresses: one scheme for all.

An input that carries `properties.ipAddress` (az dumps, exports) is used as given. A template
rarely does: Azure allocates the address at deployment ("Public IP addresses",
https://learn.microsoft.com/azure/virtual-network/ip-services/public-ip-addresses, "IP address
assignment": a static address "is assigned at the time of creation", from Azure's pool for the
region). Microsoft publishes no way to know it in advance, so this module chooses one
(assumption `public-address-allocation`):
* IPv4 from 198.18.0.0/15 and IPv6 from 2001:db8:e0::/48 -- ranges set aside for benchmarking
  (RFC 2544, RFC 6890) and documentation (RFC 3849), which no real Azure address can hold, so
  a chosen address never collides with a real one in a capture; both are outside the private
  ranges, so NSG tags treat them as Internet addresses, as Azure's are.
* The offset in the range is the first 8 bytes of sha256(lower-cased resource id), modulo the
  range's size; a taken offset moves to the next free one (ids in sorted order). The address
  therefore depends only on the resource id (and, on a rare collision, on the other ids), not
  on the order of the input or on what else is loaded.
Public IP prefixes (`publicIPPrefix`) are not modelled: an address from a prefix is chosen the
same way (its prefix range is not known offline either).
"""

from __future__ import annotations

import hashlib
from typing import Any

from dataplane.control.reach import _memo
from dataplane.model import Assumption, PublicIPAddress, Subnet, Topology, id_key
from dataplane.net import IPAddress, Prefix, parse_prefix

POOL_V4: Prefix = parse_prefix("198.18.0.0/15")
POOL_V6: Prefix = parse_prefix("2001:db8:e0::/48")
ALLOCATION = Assumption(
    "public-address-allocation",
    "Public IP resources without an ipAddress in the input (templates) answer on an address "
    f"chosen offline: IPv4 from {POOL_V4}, IPv6 from {POOL_V6} (benchmarking and "
    "documentation ranges no Azure address holds), at sha256(resource id) within the range, "
    "the next free one on a collision (control/public_addresses.py). Give the real address "
    "(ipAddress, or an az dump) to see it instead.")


def _offset(resource_id: str, size: int) -> int:
    digest = hashlib.sha256(id_key(resource_id).encode()).digest()
    return int.from_bytes(digest[:8], "big") % size


def _plan(topology: Topology) -> dict[str, tuple[IPAddress, bool]]:
    """{public IP id (lower case): (address, chosen here)}, memoised per topology."""
    memo = _memo(topology)
    found = memo.get("public-addresses")
    if found is not None:
        return found
    plan: dict[str, tuple[IPAddress, bool]] = {}
    taken: set[tuple[int, int]] = set()
    for pip in topology.public_ip_addresses:
        if pip.ip_address is not None:
            plan[id_key(pip.id)] = (pip.ip_address, False)
            taken.add((pip.ip_address.version, pip.ip_address.value))
    for pip in sorted(topology.public_ip_addresses, key=lambda p: id_key(p.id)):
        if pip.ip_address is not None:
            continue
        pool = POOL_V6 if pip.public_ip_address_version == "IPv6" else POOL_V4
        size = 1 << (pool.bits - pool.length)
        offset = _offset(pip.id, size)
        while (pool.version, pool.first + offset) in taken:
            offset = (offset + 1) % size
        address = pool.address(offset)
        taken.add((address.version, address.value))
        plan[id_key(pip.id)] = (address, True)
    memo["public-addresses"] = plan
    return plan


def public_address(topology: Topology, public_ip: str | PublicIPAddress | None
                   ) -> IPAddress | None:
    """The address a public IP resource (id or object) answers on; None when the id names no
    modelled public IP."""
    if public_ip is None:
        return None
    rid = public_ip.id if isinstance(public_ip, PublicIPAddress) else public_ip
    entry = _plan(topology).get(id_key(rid))
    return entry[0] if entry else None


def chosen_here(topology: Topology, public_ip: str) -> bool:
    """True when the address of `public_ip` was chosen by this module (not in the input)."""
    entry = _plan(topology).get(id_key(public_ip))
    return bool(entry and entry[1])


def closed_to_inbound(topology: Topology, nic: Any, config: Any) -> bool:
    """True when `config` (an IP configuration of `nic`) has a Standard (or StandardV2:
    STANDARD_V2) public IP and neither
    the NIC nor its subnet has an NSG: Standard public IPs are "secure by default and closed to
    inbound traffic" until an NSG allows it ("Public IP addresses",
    https://learn.microsoft.com/azure/virtual-network/ip-services/public-ip-addresses, "SKU");
    Basic ones are open."""
    pip = topology.get(config.public_ip_address) if config.public_ip_address else None
    if not isinstance(pip, PublicIPAddress) or pip.sku not in STANDARD_SKUS:
        return False
    subnet = topology.get(config.subnet) if config.subnet else None
    return not (nic.network_security_group
                or (isinstance(subnet, Subnet) and subnet.network_security_group))


def chosen_addresses(topology: Topology) -> frozenset[str]:
    """The public addresses chosen here (not given by the input), as text (str of the address)."""
    return frozenset(str(a) for a, chosen in _plan(topology).values() if chosen)


STANDARD_SKUS = ("Standard", "StandardV2")
STANDARD_V2 = Assumption(
    "public-ip-standardv2",
    "A public IP with sku StandardV2 (the SKU a StandardV2 NAT gateway takes: 'Azure NAT "
    "Gateway SKUs', https://learn.microsoft.com/azure/nat-gateway/nat-sku, 'SKU comparison') "
    "is treated as Standard: closed to inbound traffic until an NSG allows it and used for "
    "outbound like a Standard address; Microsoft's 'Public IP addresses' page documents only "
    "Basic and Standard.")


def public_address_assumptions(topology: Topology) -> tuple[Assumption, ...]:
    """ALLOCATION when any public IP's address was chosen here; STANDARD_V2 when any public IP
    has sku StandardV2."""
    chosen = any(chosen for _, chosen in _plan(topology).values())
    v2 = any(p.sku == "StandardV2" for p in topology.public_ip_addresses)
    return (ALLOCATION,) * chosen + (STANDARD_V2,) * v2
