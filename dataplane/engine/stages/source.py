"""Stage: the source NIC and anti-spoofing -- reference and batch forms side by side.

Contract. A packet sent by an emulated NIC leaves only when its source is one of that NIC's
own IPv4 addresses or the NIC has IP forwarding enabled; otherwise SPOOFED, labelled
"anti-spoofing NODE" ("Create, change, or delete a network interface",
https://learn.microsoft.com/azure/virtual-network/virtual-network-network-interface, "Enable
or disable IP forwarding": without it a NIC cannot send traffic whose source differs from the
addresses of its IP configurations).
Reference form `decide`: one packet, the hop dict explain renders. Batch form `decide_np`:
sorted (nic << 32 | address) keys of every NIC's IPv4 addresses (`nic_address_keys`), the
rows' NICs and sources; returns the mask of spoofed rows.
Then what a VNet does not carry at all ("Azure Virtual Network frequently asked questions",
https://learn.microsoft.com/azure/virtual-network/virtual-networks-faq, "What protocols can I
use within VNets?": "Multicast, broadcast, IP-in-IP encapsulated packets, and Generic Routing
Encapsulation (GRE) packets are blocked within VNets"): a destination in 224.0.0.0/4 or
255.255.255.255, or IP protocol 4 (IP-in-IP) or 47 (GRE) -> BLOCKED_IN_VNET, labelled
"blocked in VNet: WHAT" (`blocked` / `blocked_np`, the same rule in both forms). A subnet's
own broadcast address is one Azure reserves (no NIC holds it: NO_DESTINATION further on).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def nic_address_keys(nics: Any) -> np.ndarray:
    return np.array(sorted((i << 32) | c.private_ip_address.value for i, nic in enumerate(nics)
                           for c in nic.ip_configurations if c.private_ip_address is not None
                           and c.private_ip_address.version == 4), dtype=np.int64)


def label(net: Any, nic: int) -> str:
    return f"anti-spoofing {net.node_names[nic]}"


# -- reference form --------------------------------------------------------------------------
def decide(net: Any, nic: int, src: int, established: bool) -> tuple[bool, dict[str, Any]]:
    owner = net.nics[nic]
    own = {c.private_ip_address.value for c in owner.ip_configurations
           if c.private_ip_address is not None and c.private_ip_address.version == 4}
    if src not in own and not owner.enable_ip_forwarding:
        return False, {"step": "source", "at": net.node_names[nic], "result": "Spoofed"}
    return True, {"step": "source", "at": net.node_names[nic], "established": established,
                  "result": "Allowed"}


MULTICAST_FIRST, MULTICAST_LAST = 0xE0000000, 0xEFFFFFFF
LIMITED_BROADCAST = 0xFFFFFFFF
BLOCKED_PROTOCOLS = {4: "IP-in-IP", 47: "GRE"}
BLOCKED_KINDS = ("multicast", "broadcast", "IP-in-IP", "GRE")


def blocked(dst: int, proto: int) -> str | None:
    """What Azure blocks about this IPv4 packet (see the contract), or None."""
    if MULTICAST_FIRST <= dst <= MULTICAST_LAST:
        return "multicast"
    if dst == LIMITED_BROADCAST:
        return "broadcast"
    return BLOCKED_PROTOCOLS.get(proto)


def blocked_label(kind: str) -> str:
    return f"blocked in VNet: {kind}"


# -- batch form ------------------------------------------------------------------------------
def blocked_np(dst: np.ndarray, proto: np.ndarray) -> np.ndarray:
    """Per row, the index into BLOCKED_KINDS of what Azure blocks, or -1 (same rule as
    `blocked`)."""
    out = np.full(dst.size, -1, dtype=np.int8)
    for i, kind in enumerate(BLOCKED_KINDS):
        if kind == "multicast":
            m = (dst >= MULTICAST_FIRST) & (dst <= MULTICAST_LAST)
        elif kind == "broadcast":
            m = dst == LIMITED_BROADCAST
        else:
            m = proto == next(p for p, k in BLOCKED_PROTOCOLS.items() if k == kind)
        out[(out < 0) & m] = i
    return out


def decide_np(keys: np.ndarray, forwarding: np.ndarray, nic: np.ndarray, src: np.ndarray
              ) -> np.ndarray:
    """Spoofed rows (bool mask) of rows sent by `nic` (int64) with source `src`;
    `forwarding[nic]`: IP forwarding enabled."""
    k = (nic << 32) | src
    at = np.searchsorted(keys, k)
    owns = (at < keys.size) & (keys[np.minimum(at, max(keys.size - 1, 0))] == k) \
        if keys.size else np.zeros(k.size, bool)
    return ~owns & ~forwarding[nic]


__all__ = ["BLOCKED_KINDS", "blocked", "blocked_label", "blocked_np", "decide", "decide_np",
           "label", "nic_address_keys"]
