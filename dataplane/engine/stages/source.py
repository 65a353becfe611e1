"""Stage: the source NIC and anti-spoofing -- reference and batch forms side by side.

Contract. A packet sent by an emulated NIC leaves only when its source is one of that NIC's
own IPv4 addresses or the NIC has IP forwarding enabled; otherwise SPOOFED, labelled
"anti-spoofing NODE" ("Create, change, or delete a network interface",
https://learn.microsoft.com/azure/virtual-network/virtual-network-network-interface, "Enable
or disable IP forwarding": without it a NIC cannot send traffic whose source differs from the
addresses of its IP configurations).
Dual-stack: the packet's family selects the ip configurations it is checked against (an
IPv6 packet leaves only from one of the NIC's IPv6 private addresses; "IPv6 for Azure Virtual
Network", https://learn.microsoft.com/azure/virtual-network/ip-services/ipv6-overview: a
dual-stack NIC has an IPv4 and an IPv6 ip configuration).
Reference form `decide`: one packet, the hop dict explain renders. Batch form `decide_np`:
sorted (nic << 32 | address) keys of every NIC's IPv4 addresses (`nic_address_keys`), the
rows' NICs and sources; IPv6 rows (`six`) through the (nic, family, hi, lo) map
(`NicOwn6`, the key-interning kernel); returns the mask of spoofed rows.
Then what a VNet does not carry at all ("Azure Virtual Network frequently asked questions",
https://learn.microsoft.com/azure/virtual-network/virtual-networks-faq, "What protocols can I
use within VNets?": "Multicast, broadcast, IP-in-IP encapsulated packets, and Generic Routing
Encapsulation (GRE) packets are blocked within VNets"): a destination in 224.0.0.0/4 or
255.255.255.255 or (IPv6) ff00::/8, or IP protocol 4 (IP-in-IP) or 47 (GRE) ->
BLOCKED_IN_VNET, labelled "blocked in VNet: WHAT" (`blocked` / `blocked_np`, the same rule
in both forms). IPv6 neighbour discovery sent to a multicast group is taken by the platform
stage before this one (stages/platform.py, assumption `ipv6-nd-host`). A subnet's
own broadcast address is one Azure reserves (no NIC holds it: NO_DESTINATION further on).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dataplane.engine.stages.platform import is_nd, nd_np  # ND vocabulary, not a call
from dataplane.kernels.pipeline import KeyIndex
from dataplane.kernels.pipeline_py import mix64


def nic_address_keys(nics: Any) -> np.ndarray:
    return np.array(sorted((i << 32) | c.private_ip_address.value for i, nic in enumerate(nics)
                           for c in nic.ip_configurations if c.private_ip_address is not None
                           and c.private_ip_address.version == 4), dtype=np.int64)


def label(net: Any, nic: int) -> str:
    return f"anti-spoofing {net.node_names[nic]}"


class NicOwn6:
    """Every NIC's IPv6 private addresses as exact (nic, hi, lo) keys (batch form)."""

    def __init__(self, nics: Any) -> None:
        rows = sorted({(i, ip.value) for i, nic in enumerate(nics) for c in nic.ip_configurations
                       if (ip := c.private_ip_address) is not None and ip.version == 6})
        self._index = KeyIndex(3, max(2 * len(rows), 16))
        if rows:
            self._index.index(*self._keys(np.array([r[0] for r in rows], np.int64),
                                          np.array([r[1] >> 64 for r in rows], np.uint64),
                                          np.array([r[1] & LOW64 for r in rows], np.uint64)))

    @staticmethod
    def _keys(nic: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = np.empty((nic.size, 3), dtype=np.uint64)
        k[:, 0] = nic.astype(np.int64).view(np.uint64)
        k[:, 1] = hi
        k[:, 2] = lo
        return mix64(k[:, 0] ^ k[:, 1], k[:, 2]), k

    def owns(self, nic: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        """bool[n]: NIC `nic` holds the IPv6 address (hi, lo)."""
        if self._index.size == 0:
            return np.zeros(nic.size, bool)
        return self._index.lookup(*self._keys(np.asarray(nic, np.int64),
                                              np.asarray(hi, np.uint64),
                                              np.asarray(lo, np.uint64))) >= 0


LOW64 = (1 << 64) - 1


# -- reference form --------------------------------------------------------------------------
def decide(net: Any, nic: int, src: int, established: bool, family: int = 4
           ) -> tuple[bool, dict[str, Any]]:
    """(may send, hop); `src` an address integer of `family` (4 | 6)."""
    owner = net.nics[nic]
    own = {c.private_ip_address.value for c in owner.ip_configurations
           if c.private_ip_address is not None and c.private_ip_address.version == family}
    if src not in own and not owner.enable_ip_forwarding:
        return False, {"step": "source", "at": net.node_names[nic], "result": "Spoofed"}
    return True, {"step": "source", "at": net.node_names[nic], "established": established,
                  "result": "Allowed"}


MULTICAST_FIRST, MULTICAST_LAST = 0xE0000000, 0xEFFFFFFF
MULTICAST6_TOP_BYTE = 0xFF  # ff00::/8
LIMITED_BROADCAST = 0xFFFFFFFF
BLOCKED_PROTOCOLS = {4: "IP-in-IP", 47: "GRE"}
BLOCKED_KINDS = ("multicast", "broadcast", "IP-in-IP", "GRE")


def blocked(dst: int, proto: int, family: int = 4, icmp_type: int = 0) -> str | None:
    """What Azure blocks about this packet (see the contract), or None; IPv6 neighbour
    discovery (`icmp_type`, stages/platform.py) is not blocked here."""
    if is_nd(family, proto, icmp_type):
        return None
    if family == 6:
        return "multicast" if dst >> 120 == MULTICAST6_TOP_BYTE else BLOCKED_PROTOCOLS.get(proto)
    if MULTICAST_FIRST <= dst <= MULTICAST_LAST:
        return "multicast"
    if dst == LIMITED_BROADCAST:
        return "broadcast"
    return BLOCKED_PROTOCOLS.get(proto)


def blocked_label(kind: str) -> str:
    return f"blocked in VNet: {kind}"


# -- batch form ------------------------------------------------------------------------------
def blocked_np(dst: np.ndarray, proto: np.ndarray, six: np.ndarray | None = None,
               hi: np.ndarray | None = None, icmp_type: np.ndarray | None = None) -> np.ndarray:
    """Per row, the index into BLOCKED_KINDS of what Azure blocks, or -1 (same rule as
    `blocked`); rows in the mask `six` are IPv6 with destination high halves `hi` and ICMPv6
    types `icmp_type` (neighbour discovery is not blocked here)."""
    out = np.full(dst.size, -1, dtype=np.int8)
    v4 = np.ones(dst.size, bool) if six is None else ~six
    if six is not None and six.any():
        out[nd_np(six, proto, icmp_type)] = -2  # left to the platform stage
    for i, kind in enumerate(BLOCKED_KINDS):
        if kind == "multicast":
            m = v4 & (dst >= MULTICAST_FIRST) & (dst <= MULTICAST_LAST)
            if six is not None and six.any():
                m |= six & ((np.asarray(hi, np.uint64) >> np.uint64(56)) == MULTICAST6_TOP_BYTE)
        elif kind == "broadcast":
            m = v4 & (dst == LIMITED_BROADCAST)
        else:
            m = proto == next(p for p, k in BLOCKED_PROTOCOLS.items() if k == kind)
        out[(out == -1) & m] = i
    return np.maximum(out, -1)


def decide_np(keys: np.ndarray, forwarding: np.ndarray, nic: np.ndarray, src: np.ndarray,
              six: np.ndarray | None = None, own6: NicOwn6 | None = None,
              hi: np.ndarray | None = None, lo: np.ndarray | None = None) -> np.ndarray:
    """Spoofed rows (bool mask) of rows sent by `nic` (int64) with source `src`;
    `forwarding[nic]`: IP forwarding enabled. Rows in the mask `six` are IPv6: their source
    (`hi`, `lo`) is checked against `own6`."""
    k = (nic << 32) | src
    at = np.searchsorted(keys, k)
    owns = (at < keys.size) & (keys[np.minimum(at, max(keys.size - 1, 0))] == k) \
        if keys.size else np.zeros(k.size, bool)
    if six is not None and own6 is not None and six.any():
        owns = owns & ~six
        r = np.flatnonzero(six)
        owns[r] = own6.owns(nic[r], hi[r], lo[r])
    return ~owns & ~forwarding[nic]


__all__ = ["BLOCKED_KINDS", "NicOwn6", "blocked", "blocked_label", "blocked_np", "decide", "decide_np",
           "label", "nic_address_keys"]
