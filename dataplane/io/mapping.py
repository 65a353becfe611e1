"""Address mapping of capture endpoints onto emulated NICs, the way tcprewrite maps endpoints.

Takes: explicit host maps (CAPTURE_IP=VM: the VM's primary address), subnet maps
(CIDR=VNET/SUBNET: host offset kept, like tcprewrite --pnat; an IPv4 address that would land on
one of the subnet's five Azure-reserved addresses stays as captured and is listed, assumption
`map-subnet-reserved`), the ranges the topology already
speaks (`spoken`: VNet spaces, load-balancer frontends, on-premises prefixes;
control/spoken.py) and `auto`.
Auto-mapping is for captures taken elsewhere: it is decided once, on the first batch. When that
batch holds any of the topology's NIC addresses, the capture speaks the topology and nothing is
auto-mapped. Otherwise every capture address that is private (RFC 1918, RFC 6598: `mappable`)
and outside every spoken range, in order of first appearance as source or destination, gets the
next emulated NIC not yet used; public addresses and spoken ranges stay themselves, and so does
an address at an Azure-reserved position (`reserved_position`): auto-mapping stands a capture
host for a NIC, and Azure gives no NIC the first four addresses of a subnet or its last (the
broadcast) ("Azure Virtual Network frequently asked questions (FAQ)",
https://learn.microsoft.com/azure/virtual-network/virtual-networks-faq, "Are there any
restrictions on using IP addresses within these subnets?" under "What address ranges can I use
in my virtual networks?"). The capture's own subnets are unknown: assumption
`auto-map-reserved` takes each address's /24 (x.x.x.0-3 and x.x.x.255 stay, so a capture's
directed broadcast never becomes unicast to a VM); they are listed in `printable()`. When NICs
run out, addresses stay as they are and later batches skip learning; each batch looks only at
addresses not seen before. Emits: `AddressMap.apply(src, dst)` -> rewritten int64 columns
(vectorised: sorted keys + searchsorted) and `printable()` lines: the decision with what it
did (how many addresses auto-mapping moved, how many --map and --map-subnet gave), then one
line per moved address, "capture 1.2.3.4 -> web1 10.1.1.4 (--map)" or "(auto-map)".
IPv6 follows the same rule with its own pools: explicit host maps (`add_host` with an IPv6
capture address: the VM's IPv6 address, `nic_ips6`; with VM:public, `public_ips6`, the VM's
instance-level public IPv6 as destination and its private IPv6 as source, so the edge translates
as Azure does: stages/public_edge6.py DNATs a packet to the public address, the VM answers from
its private one and the connection table gives the reply the public source) and subnet maps (`add_subnet` with an IPv6
prefix onto the subnet's IPv6 prefix, `target_version=6`; an address landing on ::0-::3 of
the subnet stays as captured and is listed, MAP_SUBNET_RESERVED6); auto-mapping moves only unique-local
addresses (fc00::/7, RFC 4193: IPv6's private space, `MAPPABLE6`) outside every spoken IPv6
range (`spoken6`) onto NICs' IPv6 addresses, in order of first appearance; link-local
(fe80::/10, neighbour discovery), multicast and global addresses stay themselves. The decision
to auto-map is one for both families: `apply_dual` decides on a batch's IPv4 and IPv6 addresses
together (any NIC address of either family in the first batch: no auto-mapping at all);
`apply`/`apply6` alone decide on their own family when they see the first batch. IPv6
addresses travel as (hi, lo) uint64 halves (the header kernel's columns); `apply6` maps the
batch's distinct addresses in Python (integers) and scatters them back with numpy.
"""

from __future__ import annotations

import ipaddress

import numpy as np

from dataplane.errors import InputError


def _range(cidr: str) -> tuple[int, int]:
    net = ipaddress.IPv4Network(cidr)
    return int(net.network_address), int(net.broadcast_address)


PRIVATE_RANGES: tuple[tuple[int, int], ...] = tuple(
    _range(c) for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"))
_ULA = ipaddress.IPv6Network("fc00::/7")
MAPPABLE6: tuple[tuple[int, int], ...] = (
    (int(_ULA.network_address), int(_ULA.broadcast_address)),)
AUTO_MAP_RESERVED = (
    "auto-map-reserved: a capture address at offset 0-3 or 255 of its /24 is not auto-mapped "
    "(Azure reserves a subnet's first four addresses and its last; the capture's own subnets "
    "are unknown, a /24 is taken): it stays as captured")


def reserved_position(addresses: np.ndarray) -> np.ndarray:
    """True where an IPv4 address sits at offset 0-3 or 255 of its /24 (Azure-reserved in a
    /24 subnet: network, default gateway, two DNS, broadcast)."""
    host = np.asarray(addresses, dtype=np.int64) & 0xFF
    return (host < 4) | (host == 255)


MAP_SUBNET_RESERVED = (
    "map-subnet-reserved: a --map-subnet keeps host offsets, so a capture address would land on "
    "one of the five addresses Azure reserves in the subnet (its first four and its last): such "
    "an address is not mapped and stays as captured (no NIC can hold it in Azure; IPv4)")
MAP_SUBNET_RESERVED6 = (
    "map-subnet-reserved-ipv6: Microsoft states the five reserved addresses for IPv4 subnets "
    "only (virtual-networks-faq, 'Are there any restrictions on using IP addresses within these "
    "subnets?') and none for IPv6; as the dynamic allocation does (ipv6-dynamic-allocation), "
    "an IPv6 subnet's ::0-::3 are taken as reserved (no broadcast): a capture address a "
    "--map-subnet would move there is not mapped and stays as captured")
RESERVED6_AT_START = 4  # ::0-::3 (MAP_SUBNET_RESERVED6)
PUBLIC_SUFFIX = ":public"  # --map CAPTURE_IPV6=VM:public (VM names cannot hold ':')
IPV6_NOT_MAPPED = ("an IPv6 map, kept for the release whose packet engine decides IPv6 (IPv6 "
                   "packets end UNSUPPORTED today)")
_PAIR = np.dtype([("hi", np.uint64), ("lo", np.uint64)])
_LOW64 = (1 << 64) - 1


def _text(version: int, value: int) -> str:
    return str(ipaddress.ip_address(value) if version == 4 else ipaddress.IPv6Address(value))


def _distinct6(hi: np.ndarray, lo: np.ndarray) -> tuple[list[int], np.ndarray, np.ndarray]:
    """The distinct addresses of (hi, lo) columns as ints (sorted), the index of each row's
    address among them, and the row of each one's first appearance."""
    pairs = np.empty(hi.size, dtype=_PAIR)
    pairs["hi"], pairs["lo"] = hi, lo
    uniq, first, inverse = np.unique(pairs, return_index=True, return_inverse=True)
    values = [(h << 64) | v for h, v in zip(uniq["hi"].tolist(), uniq["lo"].tolist(),
                                            strict=True)]
    return values, inverse.reshape(-1), first


def _within(addrs: np.ndarray, ranges: list[tuple[int, int]] | tuple[tuple[int, int], ...]
            ) -> np.ndarray:
    inside = np.zeros(addrs.size, dtype=bool)
    for first, last in ranges:
        inside |= (addrs >= first) & (addrs <= last)
    return inside


class AddressMap:
    def __init__(self, nic_ips: list[tuple[str, int]], auto: bool = True,
                 spoken: list[tuple[int, int, str]] | None = None,
                 mappable: tuple[tuple[int, int], ...] = PRIVATE_RANGES, *,
                 nic_ips6: list[tuple[str, int]] | None = None,
                 spoken6: list[tuple[int, int, str]] | None = None,
                 mappable6: tuple[tuple[int, int], ...] = MAPPABLE6,
                 public_ips6: list[tuple[str, int, int]] | None = None,
                 public_ips: list[tuple[str, int]] | None = None) -> None:
        self.nic_ips = nic_ips  # (name, ip) in topology order
        # (public IP resource name, IPv4 address): CAPTURE_IP=PUBLIC_IP_NAME targets
        self.public_ips = list(public_ips or [])
        self.to_public: set[int] = set()  # IPv4 capture addresses mapped onto a public IP
        self.auto = auto
        self.spoken = [(a, b) for a, b, _ in (spoken or [])]
        self.mappable = mappable
        self.decided = False
        self.notes: list[str] = [] if auto else ["auto-map off (--no-auto-map)"]
        self.hosts: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.nets: list[tuple[int, int, int, str]] = []  # (first, last, target first, name)
        self.order: list[int] = []
        self.reserved_kept: list[int] = []  # capture addresses auto-map left (AUTO_MAP_RESERVED)
        self.seen = np.zeros(0, dtype=np.int64)
        self.explicit: set[tuple[int, int]] = set()  # (version, capture address) from --map
        self.target_sizes: dict[int, int] = {}  # IPv4 --map-subnet target first -> its size
        self.subnet_reserved_kept: set[int] = set()  # capture addresses (MAP_SUBNET_RESERVED)
        self.auto_on_at: int | None = None  # where printable() puts the auto-map decision
        # IPv6: the same state with Python-int addresses
        # None: the caller does not map IPv6 yet (the engine decides IPv6 in a later release):
        # IPv6 --map/--map-subnet entries are then noted, not applied (and not an error).
        self.maps_ipv6 = nic_ips6 is not None
        self.nic_ips6 = list(nic_ips6 or [])
        self.spoken6 = [(a, b) for a, b, _ in (spoken6 or [])]
        self.mappable6 = mappable6
        self.hosts6: dict[int, int] = {}
        self.names6: dict[int, str] = {}
        self.nets6: list[tuple[int, int, int, str]] = []
        self.order6: list[int] = []
        self.seen6: set[int] = set()
        # (name, public IPv6, private IPv6) of instance-level public IPv6 addresses
        self.public_ips6 = list(public_ips6 or [])
        self.public_dst6: dict[int, int] = {}  # capture address -> public IPv6 (destination)
        self.subnet_reserved_kept6: set[int] = set()  # capture addresses (MAP_SUBNET_RESERVED6)
        self.reserved_targets6: set[int] = set()  # IPv6 --map-subnet target firsts

    def moves_no_ipv4_address(self) -> bool:
        """True while the map has no IPv4 host or subnet entry: the replay's IPv4 frames keep
        their captured addresses (IPv6 packets are not rewritten: the engine leaves them
        UNSUPPORTED today)."""
        return not (self.hosts or self.nets)

    def add_host(self, capture_ip: str, name: str) -> None:
        """CAPTURE_IP=VM: an IPv4 capture address onto the VM's IPv4 address, an IPv6 one
        (bare or in brackets) onto the VM's IPv6 address. CAPTURE_IPV4=PUBLIC_IP (a public IP
        resource's name, when no VM has it): onto the address that public IP answers on (the
        input's, else the one chosen offline: control/public_addresses.py), e.g. a capture's
        real firewall public address onto the firewall's public IP for its DNAT rules. CAPTURE_IPV6=VM:public: as
        destination onto the VM's public IPv6 address, as source onto the private IPv6 address
        behind it (the edge translates, stages/public_edge6.py). Raises InputError naming the
        entry for an unparsable address, an unknown VM, a VM without such an address."""
        public = name.lower().endswith(PUBLIC_SUFFIX)
        if public:
            return self._add_public6(capture_ip, name, name[:-len(PUBLIC_SUFFIX)])
        text = capture_ip.strip().removeprefix("[").removesuffix("]")
        try:
            parsed = ipaddress.ip_address(text)
        except ValueError:
            raise InputError(f"--map {capture_ip}={name}: not an IP address") from None
        six = parsed.version == 6
        if six and not self.maps_ipv6:
            self.notes.append(f"--map {capture_ip}={name}: {IPV6_NOT_MAPPED}")
            return
        pool = self.nic_ips6 if six else self.nic_ips
        match = [ip for n, ip in pool if n.lower() == name.lower()]
        public = [] if match or six else [ip for n, ip in self.public_ips
                                          if n.lower() == name.lower()]
        if public:  # a public IP resource (a firewall's, a load balancer's, a NIC's)
            match = public
            self.to_public.add(int(parsed))
        if not match:
            known = any(n.lower() == name.lower() for n, _ in (*self.nic_ips, *self.nic_ips6))
            raise InputError(f"--map {capture_ip}={name}: " + (
                f"VM '{name}' has no IPv{parsed.version} address" if known
                else f"no VM named '{name}'" + ("" if six else " (nor a public IP)")))
        hosts, names, order = ((self.hosts6, self.names6, self.order6) if six
                               else (self.hosts, self.names, self.order))
        hosts[int(parsed)] = match[0]
        names[int(parsed)] = name
        order.append(int(parsed))
        self.explicit.add((parsed.version, int(parsed)))

    def _add_public6(self, capture_ip: str, entry: str, name: str) -> None:
        text = capture_ip.strip().removeprefix("[").removesuffix("]")
        try:
            parsed = ipaddress.IPv6Address(text)
        except ValueError:
            raise InputError(f"--map {capture_ip}={entry}: not an IPv6 address (a public "
                             "map takes an IPv6 capture address)") from None
        match = [(pub, priv) for n, pub, priv in self.public_ips6 if n.lower() == name.lower()]
        if not match:
            known = any(n.lower() == name.lower() for n, _ in (*self.nic_ips, *self.nic_ips6))
            raise InputError(f"--map {capture_ip}={entry}: " + (
                f"VM '{name}' has no instance-level public IPv6 address" if known
                else f"no VM named '{name}'"))
        value = int(parsed)
        self.public_dst6[value] = match[0][0]
        self.hosts6[value] = match[0][1]
        self.names6[value] = name
        self.order6.append(value)
        self.explicit.add((6, value))

    def add_subnet(self, cidr: str, target_first: int, target_size: int, name: str,
                   target_version: int | None = None) -> None:
        """CIDR=VNET/SUBNET: the capture prefix onto the subnet's prefix of the same IP version
        (target_first/target_size of that prefix, `target_version` its version; None: an
        IPv4 prefix from a caller that does not map IPv6 yet), offset kept."""
        try:
            net = ipaddress.ip_network(cidr.strip(), strict=False)
        except ValueError:
            raise InputError(f"--map-subnet {cidr}: not an IP prefix") from None
        if net.version == 6 and target_version is None and not self.maps_ipv6:
            self.notes.append(f"--map-subnet {cidr}={name}: {IPV6_NOT_MAPPED}")
            return
        if net.version != (target_version or 4):
            raise InputError(f"--map-subnet {cidr}={name}: an IPv{net.version} capture prefix "
                             f"needs the subnet's IPv{net.version} prefix")
        if net.num_addresses > target_size:
            raise InputError(f"--map-subnet {cidr}={name}: the capture prefix is larger than "
                             "the subnet")
        (self.nets6 if net.version == 6 else self.nets).append(
            (int(net.network_address), int(net.broadcast_address), target_first, name))
        if net.version == 4:  # MAP_SUBNET_RESERVED
            self.target_sizes[target_first] = target_size
        else:  # MAP_SUBNET_RESERVED6 (`_one6`)
            self.reserved_targets6.add(target_first)

    def _decide(self, src: np.ndarray, dst: np.ndarray) -> None:
        """Auto-map only a capture that uses none of the topology's NIC addresses."""
        nics = np.array(sorted(ip for _, ip in self.nic_ips), dtype=np.int64)
        both = np.concatenate([src, dst])
        known = both[np.isin(both, nics)]
        self._decided(_text(4, int(known[0])) if known.size else None)

    def _decided(self, known: str | None) -> None:
        self.decided = True
        if known is not None:
            self.auto = False
            self.notes.append(
                f"auto-map off: the capture already uses the topology's NIC addresses (first "
                f"batch: {known}, ...); --map moves an address")
        else:  # the line says what auto-mapping did, so printable() writes it at the end
            self.auto_on_at = len(self.notes)

    def _auto_on_line(self) -> str:
        explicit = len(self.explicit)
        auto = len(self.order) + len(self.order6) - explicit
        nets = len(self.nets) + len(self.nets6)
        given = [f"{explicit} by --map"] if explicit else []
        given += [f"{nets} prefix(es) by --map-subnet"] if nets else []
        moved = (f"{auto} private address(es) outside every VNet, load-balancer frontend and "
                 "on-premises prefix mapped onto NICs in order of appearance (public ones stay)"
                 if auto else "no address auto-mapped")
        return ("auto-map on (the capture uses none of the topology's NIC addresses): " + moved
                + (f"; {', '.join(given)}" if given else ""))

    def _known6(self, values: list[int]) -> str | None:
        nics = {ip for _, ip in self.nic_ips6}
        return next((_text(6, v) for v in values if v in nics), None)

    def _learn(self, src: np.ndarray, dst: np.ndarray) -> None:
        if not self.decided:
            self._decide(src, dst)
            if not self.auto:
                return
        free = [ip for _, ip in self.nic_ips if ip not in self.hosts.values()]
        if not free:  # every NIC is a target already: nothing more can be learned, ever
            return
        both = np.empty(src.size * 2, dtype=np.int64)
        both[0::2], both[1::2] = src, dst
        if self.seen.size:  # only addresses not seen in earlier batches (seen is sorted)
            at = np.minimum(np.searchsorted(self.seen, both), self.seen.size - 1)
            both = both[self.seen[at] != both]
        if both.size == 0:
            return
        uniq, first = np.unique(both, return_index=True)
        self.seen = np.union1d(self.seen, uniq)
        movable = _within(uniq, self.mappable) & ~_within(uniq, self.spoken)
        reserved = set(uniq[movable & reserved_position(uniq)].tolist())
        uniq, first = uniq[movable], first[movable]
        used_targets = set(self.hosts.values())
        for addr in uniq[np.argsort(first, kind="stable")].tolist():
            if addr in self.hosts or any(a <= addr <= b for a, b, _, _ in self.nets):
                continue
            if any(ip == addr for _, ip in self.nic_ips) and addr not in used_targets:
                continue  # already an emulated address: keep it
            if addr in reserved:  # AUTO_MAP_RESERVED
                self.reserved_kept.append(addr)
                continue
            free = [ip for ip in free if ip not in used_targets]
            if not free:
                break
            target = free.pop(0)
            used_targets.add(target)
            self.hosts[addr] = target
            self.names[addr] = next(n for n, ip in self.nic_ips if ip == target)
            self.order.append(addr)

    def apply(self, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.auto and src.size:
            self._learn(src, dst)
        return self._map(src), self._map(dst)

    def _map(self, col: np.ndarray) -> np.ndarray:
        out = col.astype(np.int64).copy()
        for a, b, t, _ in self.nets:
            m = (col >= a) & (col <= b)
            moved = col - a + t
            size = self.target_sizes.get(t)
            if size is not None:  # MAP_SUBNET_RESERVED: Azure's five stay as captured
                reserved = m & ((moved - t < 4) | (moved == t + size - 1))
                if reserved.any():
                    self.subnet_reserved_kept.update(col[reserved].tolist())
                    m &= ~reserved
            out[m] = moved[m]
        if self.hosts:
            keys = np.array(sorted(self.hosts), dtype=np.int64)
            vals = np.array([self.hosts[k] for k in keys.tolist()], dtype=np.int64)
            at = np.searchsorted(keys, col)
            atc = np.minimum(at, keys.size - 1)
            hit = keys[atc] == col
            out[hit] = vals[atc[hit]]
        return out

    # -- IPv6 --------------------------------------------------------------------------------

    def apply6(self, src_hi: np.ndarray, src_lo: np.ndarray, dst_hi: np.ndarray,
               dst_lo: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """IPv6 source and destination columns as (hi, lo) uint64 halves -> the mapped halves
        (new arrays; unmapped addresses unchanged)."""
        src = _distinct6(np.asarray(src_hi, np.uint64), np.asarray(src_lo, np.uint64))
        dst = _distinct6(np.asarray(dst_hi, np.uint64), np.asarray(dst_lo, np.uint64))
        if self.auto and src[1].size:
            if not self.decided:
                self._decided(self._known6(src[0] + dst[0]))
            if self.auto:
                self._learn6(src, dst)
        return (*self._map6(src), *self._map6(dst, destination=True))

    def apply_dual(self, src: np.ndarray, dst: np.ndarray, src_hi: np.ndarray,
                   src_lo: np.ndarray, dst_hi: np.ndarray, dst_lo: np.ndarray
                   ) -> tuple[np.ndarray, ...]:
        """One batch's IPv4 rows (src, dst int64) and IPv6 rows (halves): the auto-map
        decision is taken once on both families together, then each is mapped.
        Returns (src, dst, src_hi, src_lo, dst_hi, dst_lo)."""
        if self.auto and not self.decided and (src.size or src_hi.size):
            nics = np.array(sorted(ip for _, ip in self.nic_ips), dtype=np.int64)
            both = np.concatenate([src, dst]).astype(np.int64)
            known4 = both[np.isin(both, nics)]
            six = (_distinct6(np.asarray(src_hi, np.uint64), np.asarray(src_lo, np.uint64))[0]
                   + _distinct6(np.asarray(dst_hi, np.uint64), np.asarray(dst_lo, np.uint64))[0])
            self._decided(_text(4, int(known4[0])) if known4.size else self._known6(six))
        return (*self.apply(src, dst), *self.apply6(src_hi, src_lo, dst_hi, dst_lo))

    def _learn6(self, src: tuple[list[int], np.ndarray, np.ndarray],
                dst: tuple[list[int], np.ndarray, np.ndarray]) -> None:
        """The IPv4 learner's rule on IPv6 integers: new unique-local addresses outside spoken
        ranges, by first appearance (sources of the batch before destinations of the same
        row: rows interleaved as in `_learn`), onto the next free NIC IPv6 address."""
        firsts: dict[int, int] = {}
        for (values, _, first), side in ((src, 0), (dst, 1)):
            for value, row in zip(values, first.tolist(), strict=True):
                key = 2 * row + side
                if value not in firsts or key < firsts[value]:
                    firsts[value] = key
        used = set(self.hosts6.values())
        nics = [ip for _, ip in self.nic_ips6]
        for value in sorted(firsts, key=firsts.__getitem__):
            if value in self.seen6:
                continue
            self.seen6.add(value)
            if (value in self.hosts6 or not any(a <= value <= b for a, b in self.mappable6)
                    or any(a <= value <= b for a, b in self.spoken6)
                    or any(a <= value <= b for a, b, _, _ in self.nets6)):
                continue
            if value in nics and value not in used:
                continue  # already an emulated address: keep it
            free = [ip for ip in nics if ip not in used]
            if not free:
                break
            used.add(free[0])
            self.hosts6[value] = free[0]
            self.names6[value] = next(n for n, ip in self.nic_ips6 if ip == free[0])
            self.order6.append(value)

    def _one6(self, value: int, destination: bool) -> int:
        if destination and value in self.public_dst6:
            return self.public_dst6[value]
        if value in self.hosts6:
            return self.hosts6[value]
        for first, last, target, _ in self.nets6:
            if first <= value <= last:
                if (value - first < RESERVED6_AT_START  # MAP_SUBNET_RESERVED6
                        and target in self.reserved_targets6):
                    self.subnet_reserved_kept6.add(value)
                    return value
                return value - first + target
        return value

    def _map6(self, distinct: tuple[list[int], np.ndarray, np.ndarray],
              destination: bool = False) -> tuple[np.ndarray, np.ndarray]:
        values, inverse, _ = distinct
        mapped = [self._one6(v, destination) for v in values]
        hi = np.array([v >> 64 for v in mapped], dtype=np.uint64)
        lo = np.array([v & _LOW64 for v in mapped], dtype=np.uint64)
        return hi[inverse], lo[inverse]

    def printable(self) -> list[str]:
        """What the map did: the auto-map decision with counts of what each way moved, then
        one line per moved capture address (tagged --map or auto-map) and per --map-subnet."""
        lines = list(self.notes)
        if self.auto_on_at is not None:
            lines.insert(self.auto_on_at, self._auto_on_line())
        for version, order, names, hosts, nets in (
                (4, self.order, self.names, self.hosts, self.nets),
                (6, self.order6, self.names6, self.hosts6, self.nets6)):
            lines += [f"capture {_text(version, k)} -> {names[k]} {_text(version, hosts[k])} "
                      f"({'--map' if (version, k) in self.explicit else 'auto-map'})"
                      for k in order if version == 4 or k not in self.public_dst6]
            lines += [f"capture {_text(6, k)} -> {names[k]} public {_text(6, self.public_dst6[k])}"
                      f" as destination, private {_text(6, hosts[k])} as source (--map, "
                      "translated at the edge)" for k in order if version == 6
                      and k in self.public_dst6]
            lines += [f"capture {_text(version, a)}-{_text(version, b)} -> {n} (--map-subnet, "
                      "offset kept)" for a, b, _, n in nets]
        if self.subnet_reserved_kept:
            kept = sorted(self.subnet_reserved_kept)
            shown = ", ".join(_text(4, a) for a in kept[:8])
            more = len(kept) - 8
            lines.append(f"not mapped by --map-subnet: {shown}"
                         + (f" and {more} more" if more > 0 else "") + f" ({MAP_SUBNET_RESERVED})")
        if self.subnet_reserved_kept6:
            kept = sorted(self.subnet_reserved_kept6)
            more = len(kept) - 8
            lines.append(f"not mapped by --map-subnet: {', '.join(_text(6, a) for a in kept[:8])}"
                         + (f" and {more} more" if more > 0 else "")
                         + f" ({MAP_SUBNET_RESERVED6})")
        if self.reserved_kept:
            shown = ", ".join(_text(4, a) for a in sorted(self.reserved_kept)[:8])
            more = len(self.reserved_kept) - 8
            lines.append(f"not auto-mapped: {shown}" + (f" and {more} more" if more > 0 else "")
                         + f" ({AUTO_MAP_RESERVED})")
        return lines
