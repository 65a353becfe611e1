"""Addresses and prefixes as immutable integers.

Parsed once at the edge (`parse_prefix`, `parse_ip`); everything inside carries `Prefix` and
`IPAddress`, plain frozen integers with their family, so the control plane and the kernels
never parse a string again.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from dataplane.errors import InputError

BITS = {4: 32, 6: 128}


@dataclass(frozen=True, order=True)
class IPAddress:
    """One IPv4 or IPv6 address: family (4 or 6) and integer value."""

    version: int
    value: int

    def __str__(self) -> str:
        return str(ipaddress.IPv4Address(self.value) if self.version == 4
                   else ipaddress.IPv6Address(self.value))

    def __repr__(self) -> str:
        return f"IPAddress({self})"


@dataclass(frozen=True, order=True)
class Prefix:
    """A network prefix: family, integer network address (host bits zero) and length."""

    version: int
    network: int
    length: int

    @property
    def bits(self) -> int:
        return BITS[self.version]

    @property
    def size(self) -> int:
        return 1 << (self.bits - self.length)

    @property
    def first(self) -> int:
        return self.network

    @property
    def last(self) -> int:
        return self.network + self.size - 1

    def contains_address(self, address: IPAddress) -> bool:
        return address.version == self.version and self.first <= address.value <= self.last

    def contains(self, other: Prefix) -> bool:
        """True when `other` lies entirely inside this prefix."""
        return (other.version == self.version and other.length >= self.length
                and self.first <= other.first <= self.last)

    def overlaps(self, other: Prefix) -> bool:
        return (other.version == self.version
                and self.first <= other.last and other.first <= self.last)

    def address(self, offset: int) -> IPAddress:
        """The address `offset` positions into the prefix (negative counts from the end)."""
        return IPAddress(self.version, (self.first if offset >= 0 else self.last + 1) + offset)

    def __str__(self) -> str:
        return f"{IPAddress(self.version, self.network)}/{self.length}"

    def __repr__(self) -> str:
        return f"Prefix({self})"


def parse_ip(text: object, *, what: str = "IP address") -> IPAddress:
    """'10.0.0.4' or '2001:db8::1' -> IPAddress; InputError otherwise."""
    try:
        parsed = ipaddress.ip_address(str(text).strip())
    except ValueError:
        raise InputError(f"'{text}' is not a valid {what}") from None
    return IPAddress(parsed.version, int(parsed))


def parse_prefix(text: object, *, strict: bool = True) -> Prefix:
    """'10.0.0.0/16' -> Prefix. A bare address is a host prefix (/32 or /128).

    strict=True rejects host bits with Azure's InvalidCIDRNotation wording
    (docs/azure-behaviour.md §4.6); strict=False masks them away.
    """
    raw = str(text).strip()
    try:
        parsed = ipaddress.ip_network(raw, strict=False)
    except ValueError:
        raise InputError(f"'{text}' is not a valid address prefix") from None
    if strict and "/" in raw and int(ipaddress.ip_address(raw.split("/")[0])) != int(
        parsed.network_address
    ):
        raise InputError(
            f"InvalidCIDRNotation: The address prefix {raw} in resource has an invalid CIDR "
            f"notation. For the given prefix length, the address prefix should be {parsed}."
        )
    return Prefix(parsed.version, int(parsed.network_address), parsed.prefixlen)


def host_bits_fixed(text: object) -> Prefix | None:
    """The correctly masked prefix when `text` has host bits set, else None."""
    raw = str(text).strip()
    try:
        parsed = ipaddress.ip_network(raw, strict=False)
        address = ipaddress.ip_address(raw.split("/")[0])
    except ValueError:
        return None
    if int(address) == int(parsed.network_address):
        return None
    return Prefix(parsed.version, int(parsed.network_address), parsed.prefixlen)


def _network(prefix: Prefix) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    # By family, never by value: ::/64 has a value below 2**32 and is still IPv6.
    cls = ipaddress.IPv4Network if prefix.version == 4 else ipaddress.IPv6Network
    return cls((prefix.network, prefix.length))


def summarize(prefixes: list[Prefix]) -> tuple[Prefix, ...]:
    """Collapse overlapping/adjacent prefixes into the minimal covering set (sorted)."""
    out: list[Prefix] = []
    for version in (4, 6):
        nets = [_network(p) for p in prefixes if p.version == version]
        for net in ipaddress.collapse_addresses(nets):
            out.append(Prefix(version, int(net.network_address), net.prefixlen))
    return tuple(out)


def subtract(universe: Prefix, holes: list[Prefix]) -> tuple[Prefix, ...]:
    """`universe` minus the given prefixes, as a minimal prefix list."""
    remaining = [_network(universe)]
    for hole in summarize([h for h in holes if h.version == universe.version]):
        hole_net = _network(hole)
        nxt = []
        for net in remaining:
            if hole_net.supernet_of(net):
                continue
            if net.supernet_of(hole_net):
                nxt.extend(net.address_exclude(hole_net))
            else:
                nxt.append(net)
        remaining = nxt
    return tuple(sorted(Prefix(universe.version, int(n.network_address), n.prefixlen)
                        for n in remaining))
