"""The address -> NIC map of the engine, dual-stack: (VNet, family, address) -> NIC index.

Contract. Built once per compiled Network (engine/compile.py) from every NIC's IP
configurations, IPv4 and IPv6 private addresses alike, scoped by the NIC's VNet (the same
private address may exist in two VNets). Keys are exact: the VNet index, the family (4 | 6)
and the address as two 64-bit halves (IPv4 in the low half, the header kernel's layout), so
an IPv4 address never matches an IPv6 one and the IPv6 issue only has to send its rows here.
When two NICs of one VNet hold the same address (an invalid configuration the loader
reports), the first in topology order owns it (the control plane's Program and
`Network.ip_nic` choose the same way).
Reference form `owner(vnet, address)`: a dict lookup. Batch form `owner_np(vnet, family, hi,
lo)`: columns through the key-interning kernel (kernels/pipeline.py KeyIndex) over the same
keys, ids in the dict's order. -1: no NIC.
Used by the dispatchers to find the NIC a VnetLocal or peering route delivers to.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dataplane.kernels.pipeline import KeyIndex
from dataplane.kernels.pipeline_py import mix64
from dataplane.net import IPAddress

LOW64 = (1 << 64) - 1


class NicAddresses:
    """(VNet index, family, address) -> NIC index (int), both forms over one table."""

    def __init__(self, nics: Any, nic_vnet: np.ndarray) -> None:
        rows = [(int(nic_vnet[i]), ip.version, ip.value, i)
                for i, nic in enumerate(nics) for c in nic.ip_configurations
                if (ip := c.private_ip_address) is not None]
        self._owner: dict[tuple[int, int, int], int] = {}
        for vnet, family, value, nic in rows:  # the first in topology order owns it
            self._owner.setdefault((vnet, family, value), nic)
        keys = list(self._owner)
        self._index = KeyIndex(4, max(2 * len(keys), 16))
        self._nic = np.array(list(self._owner.values()), dtype=np.int32)
        if keys:
            self._index.index(*self._keys(
                np.array([k[0] for k in keys], np.int64), np.array([k[1] for k in keys], np.uint8),
                np.array([k[2] >> 64 for k in keys], np.uint64),
                np.array([k[2] & LOW64 for k in keys], np.uint64)))

    @staticmethod
    def _keys(vnet: np.ndarray, family: np.ndarray, hi: np.ndarray, lo: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
        k = np.empty((vnet.size, 4), dtype=np.uint64)
        k[:, 0] = vnet.astype(np.int64).view(np.uint64)
        k[:, 1] = family
        k[:, 2] = hi
        k[:, 3] = lo
        return mix64(k[:, 0] ^ (k[:, 1] << np.uint64(32)) ^ k[:, 2], k[:, 3]), k

    # -- reference form --
    def owner(self, vnet: int, address: IPAddress) -> int:
        """The NIC holding `address` in VNet `vnet`, or -1."""
        return self._owner.get((vnet, address.version, address.value), -1)

    # -- batch form --
    def owner_np(self, vnet: np.ndarray, family: np.ndarray, hi: np.ndarray, lo: np.ndarray
                 ) -> np.ndarray:
        """int32[n]: the NIC holding each row's address in its VNet, -1 where none."""
        if self._nic.size == 0:
            return np.full(vnet.size, -1, dtype=np.int32)
        ids = self._index.lookup(*self._keys(np.asarray(vnet), np.asarray(family, np.uint8),
                                             np.asarray(hi, np.uint64),
                                             np.asarray(lo, np.uint64)))
        return np.where(ids >= 0, self._nic[np.maximum(ids, 0)], -1).astype(np.int32)


__all__ = ["NicAddresses"]
