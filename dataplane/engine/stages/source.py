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


# -- batch form ------------------------------------------------------------------------------
def decide_np(keys: np.ndarray, forwarding: np.ndarray, nic: np.ndarray, src: np.ndarray
              ) -> np.ndarray:
    """Spoofed rows (bool mask) of rows sent by `nic` (int64) with source `src`;
    `forwarding[nic]`: IP forwarding enabled."""
    k = (nic << 32) | src
    at = np.searchsorted(keys, k)
    owns = (at < keys.size) & (keys[np.minimum(at, max(keys.size - 1, 0))] == k) \
        if keys.size else np.zeros(k.size, bool)
    return ~owns & ~forwarding[nic]


__all__ = ["decide", "decide_np", "label", "nic_address_keys"]
