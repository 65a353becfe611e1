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
Keys: state is kept per `key` (default: the prefix text), so two VNets that both use
192.168.0.0/24 keep separate pools when the caller passes distinct keys (e.g. subnet ids).
"""

from __future__ import annotations

from dataplane.errors import InputError
from dataplane.net import IPAddress, Prefix, parse_ip, parse_prefix

RESERVED_AT_START = 4  # network address, default gateway, 2 x Azure DNS
RESERVED_AT_END = 1  # broadcast


class AddressAllocator:
    """Hands out private addresses per subnet: statics as requested, dynamics lowest-free."""

    def __init__(self) -> None:
        self._taken: dict[str, set[int]] = {}
        self._next: dict[str, int] = {}

    def allocate(self, subnet_prefix: str, requested: str | None = None, *,
                 key: str | None = None) -> str:
        prefix = parse_prefix(subnet_prefix, strict=False)
        pool = self._taken.setdefault(key or str(prefix), set())
        if requested is not None:
            address = parse_ip(requested, what="private IP address")
            pool.add(address.value)
            return str(address)
        return str(self._lowest_free(prefix, pool, key or str(prefix)))

    def taken(self, subnet_prefix: str, *, key: str | None = None) -> tuple[str, ...]:
        """The addresses handed out so far in that subnet, sorted."""
        prefix = parse_prefix(subnet_prefix, strict=False)
        pool = self._taken.get(key or str(prefix), set())
        return tuple(str(IPAddress(prefix.version, v)) for v in sorted(pool))

    def _lowest_free(self, prefix: Prefix, pool: set[int], key: str) -> IPAddress:
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
