"""Address mapping of capture endpoints onto emulated NICs, the way tcprewrite maps endpoints.

Takes: explicit host maps (CAPTURE_IP=VM: the VM's primary address), subnet maps
(CIDR=VNET/SUBNET: host offset kept, like tcprewrite --pnat), the ranges the topology already
speaks (`spoken`: VNet spaces, load-balancer frontends, on-premises prefixes;
control/spoken.py) and `auto`.
Auto-mapping is for captures taken elsewhere: it is decided once, on the first batch. When that
batch holds any of the topology's NIC addresses, the capture speaks the topology and nothing is
auto-mapped. Otherwise every capture address that is private (RFC 1918, RFC 6598: `mappable`)
and outside every spoken range, in order of first appearance as source or destination, gets the
next emulated NIC not yet used; public addresses and spoken ranges stay themselves. When NICs
run out, addresses stay as they are and later batches skip learning; each batch looks only at
addresses not seen before. Emits: `AddressMap.apply(src, dst)` -> rewritten int64 columns
(vectorised: sorted keys + searchsorted) and `printable()` lines (the decision, then
"capture 1.2.3.4 -> web1 10.1.1.4"). IPv4 only (the Program's assumption).
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


def _within(addrs: np.ndarray, ranges: list[tuple[int, int]] | tuple[tuple[int, int], ...]
            ) -> np.ndarray:
    inside = np.zeros(addrs.size, dtype=bool)
    for first, last in ranges:
        inside |= (addrs >= first) & (addrs <= last)
    return inside


class AddressMap:
    def __init__(self, nic_ips: list[tuple[str, int]], auto: bool = True,
                 spoken: list[tuple[int, int, str]] | None = None,
                 mappable: tuple[tuple[int, int], ...] = PRIVATE_RANGES) -> None:
        self.nic_ips = nic_ips  # (name, ip) in topology order
        self.auto = auto
        self.spoken = [(a, b) for a, b, _ in (spoken or [])]
        self.mappable = mappable
        self.decided = False
        self.notes: list[str] = [] if auto else ["auto-map off (--no-auto-map)"]
        self.hosts: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.nets: list[tuple[int, int, int, str]] = []  # (first, last, target first, name)
        self.order: list[int] = []
        self.seen = np.zeros(0, dtype=np.int64)

    def add_host(self, capture_ip: str, name: str) -> None:
        try:
            src = int(ipaddress.IPv4Address(capture_ip.strip()))
        except ValueError:
            raise InputError(f"--map {capture_ip}={name}: not an IPv4 address") from None
        match = [ip for n, ip in self.nic_ips if n.lower() == name.lower()]
        if not match:
            raise InputError(f"--map {capture_ip}={name}: no VM named '{name}'")
        self.hosts[src] = match[0]
        self.names[src] = name
        self.order.append(src)

    def add_subnet(self, cidr: str, target_first: int, target_size: int, name: str) -> None:
        try:
            net = ipaddress.IPv4Network(cidr.strip(), strict=False)
        except ValueError:
            raise InputError(f"--map-subnet {cidr}: not an IPv4 prefix") from None
        if net.num_addresses > target_size:
            raise InputError(f"--map-subnet {cidr}={name}: the capture prefix is larger than "
                             "the subnet")
        self.nets.append((int(net.network_address), int(net.broadcast_address), target_first,
                          name))

    def _decide(self, src: np.ndarray, dst: np.ndarray) -> None:
        """Auto-map only a capture that uses none of the topology's NIC addresses."""
        self.decided = True
        nics = np.array(sorted(ip for _, ip in self.nic_ips), dtype=np.int64)
        both = np.concatenate([src, dst])
        known = both[np.isin(both, nics)]
        if known.size:
            self.auto = False
            self.notes.append(
                f"auto-map off: the capture already uses the topology's NIC addresses (first "
                f"batch: {ipaddress.IPv4Address(int(known[0]))}, ...); --map moves an address")
        else:
            self.notes.append(
                "auto-map on: the capture uses none of the topology's NIC addresses; its "
                "private addresses outside every VNet, load-balancer frontend and on-premises "
                "prefix are mapped onto NICs in order of appearance (public ones stay)")

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
        uniq, first = uniq[movable], first[movable]
        used_targets = set(self.hosts.values())
        for addr in uniq[np.argsort(first, kind="stable")].tolist():
            if addr in self.hosts or any(a <= addr <= b for a, b, _, _ in self.nets):
                continue
            if any(ip == addr for _, ip in self.nic_ips) and addr not in used_targets:
                continue  # already an emulated address: keep it
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
            out[m] = col[m] - a + t
        if self.hosts:
            keys = np.array(sorted(self.hosts), dtype=np.int64)
            vals = np.array([self.hosts[k] for k in keys.tolist()], dtype=np.int64)
            at = np.searchsorted(keys, col)
            atc = np.minimum(at, keys.size - 1)
            hit = keys[atc] == col
            out[hit] = vals[atc[hit]]
        return out

    def printable(self) -> list[str]:
        lines = list(self.notes)
        lines += [f"capture {ipaddress.IPv4Address(k)} -> {self.names[k]} "
                 f"{ipaddress.IPv4Address(self.hosts[k])}" for k in self.order]
        lines += [f"capture {ipaddress.IPv4Address(a)}-{ipaddress.IPv4Address(b)} -> {n} "
                  f"(offset kept)" for a, b, _, n in self.nets]
        return lines
