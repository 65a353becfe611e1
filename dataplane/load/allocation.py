"""Private IP address allocation inside a subnet, the way Azure hands addresses out.

Expects: a subnet prefix ("10.0.1.0/24") and, for a static assignment, the requested address.
Emits: the address as text. Azure reserves the first four addresses of every subnet (network,
default gateway, two for DNS) and the last (broadcast) (docs/azure-behaviour.md, "reserved
addresses"); a dynamic request gets the lowest address that is neither reserved nor taken, so
the first NIC or firewall in a fresh subnet gets .4, the next .5, and so on.
A requested (static) address is recorded as taken and returned unchecked: whether it lies in
the subnet, in the reserved range or is used twice is the validator's finding to report, not a
loading error.
Raises: InputError for an unparsable prefix or address, or when the subnet is full.
Keys: state is kept per `key` (default: the prefix text) and IP version, so two VNets that both
use 192.168.0.0/24 keep separate pools when the caller passes distinct keys (e.g. subnet ids),
and a dual-stack subnet's IPv4 and IPv6 pools never take from each other: an IPv6 ip
configuration (privateIPAddressVersion IPv6) gets its address from the subnet's IPv6 prefix and
does not shift the dynamic IPv4 addresses of the configurations after it.
Follows "Private IP addresses" (https://learn.microsoft.com/azure/virtual-network/ip-services/
private-ip-addresses, "Allocation method" / "Dynamic allocation": "Azure reserves the first four
addresses in each subnet address range"; dynamic: "the next available unassigned or unreserved
IP address in the subnet's address range"). Assumption `ipv6-dynamic-allocation`: Microsoft
states neither the reserved IPv6 addresses nor the first dynamic one; we take the same first
four (::0-::3) as reserved, so the first IPv6 NIC of a /64 gets ::4 (the address Microsoft's
dual-stack walkthroughs show, e.g. 2404:f800:8000:122::4), and no broadcast address at the end.
"""

from __future__ import annotations

from dataplane.errors import InputError
from dataplane.net import IPAddress, Prefix, parse_ip, parse_prefix

RESERVED_AT_START = 4  # network address, default gateway, 2 x Azure DNS
RESERVED_AT_END = 1  # broadcast (IPv4 only: IPv6 has none)
IPV6_ALLOCATION_ASSUMPTION = (
    "ipv6-dynamic-allocation: a dynamic IPv6 private address is the lowest free address of the "
    "subnet's IPv6 prefix after ::0-::3 (reserved as for IPv4), in deployment order, from a "
    "pool separate from the IPv4 one (Private IP addresses, Dynamic allocation; Microsoft does "
    "not state the IPv6 reservations).")


def ip_version(properties: object) -> int:
    """4 or 6 from an ip configuration's privateIPAddressVersion (any case; IPv4 when absent
    or unreadable: the resource loader reports a bad value with its property path)."""
    if not isinstance(properties, dict):
        return 4
    value = next((v for k, v in properties.items() if k.lower() == "privateipaddressversion"),
                 "IPv4")
    return 6 if str(value).lower() == "ipv6" else 4


class AddressAllocator:
    """Hands out private addresses per subnet: statics as requested, dynamics lowest-free."""

    def __init__(self) -> None:
        self._taken: dict[tuple[str, int], set[int]] = {}
        self._next: dict[tuple[str, int], int] = {}

    def allocate(self, subnet_prefix: str, requested: str | None = None, *,
                 key: str | None = None) -> str:
        prefix = parse_prefix(subnet_prefix, strict=False)
        pool_key = (key or str(prefix), prefix.version)
        pool = self._taken.setdefault(pool_key, set())
        if requested is not None:
            address = parse_ip(requested, what="private IP address")
            pool.add(address.value)
            return str(address)
        return str(self._lowest_free(prefix, pool, pool_key))

    def taken(self, subnet_prefix: str, *, key: str | None = None) -> tuple[str, ...]:
        """The addresses handed out so far in that subnet (of the prefix's IP version), sorted."""
        prefix = parse_prefix(subnet_prefix, strict=False)
        pool = self._taken.get((key or str(prefix), prefix.version), set())
        return tuple(str(IPAddress(prefix.version, v)) for v in sorted(pool))

    def _lowest_free(self, prefix: Prefix, pool: set[int], key: tuple[str, int]) -> IPAddress:
        first = prefix.first + RESERVED_AT_START
        last = prefix.last - (RESERVED_AT_END if prefix.version == 4 else 0)
        # Scanning from a remembered cursor keeps a long run of NICs linear, not quadratic.
        value = max(first, self._next.get(key, first))
        while value <= last and value in pool:
            value += 1
        if value > last:
            # Statics may have filled holes behind the cursor only if it skipped them: rescan.
            value = first
            while value <= last and value in pool:
                value += 1
            if value > last:
                raise InputError(f"subnet {prefix} has no free address left to assign")
        pool.add(value)
        self._next[key] = value + 1
        return IPAddress(prefix.version, value)
