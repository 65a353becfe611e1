"""Per (VNet, VNet) booleans and labels without a dense VNet x VNet matrix.

`VnetPairs(values: dict[(a, b)] -> bool, n_vnets)`: the pairs that are set (a link, or a VNet
with itself) kept as sorted int64 keys a * n + b; `pairs[a, b]` answers for scalars (bool) and
for aligned index arrays (bool array) by binary search; pairs not given are False. Memory is
linear in links, lookups O(log links) per packet.
`PeerLabels(net, labels)`: `peer[a, b]` -> label index of "peering A->B" (stages/peering.py
label_peering) for aligned index arrays, interned on first use (only the pairs that decide a
packet ever get a label).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from dataplane.engine.stages.peering import label_peering


class VnetPairs:
    def __init__(self, values: Mapping[tuple[int, int], bool], n_vnets: int) -> None:
        self.n_vnets = n_vnets
        keys = np.array(sorted(a * n_vnets + b for (a, b), v in values.items() if v),
                        dtype=np.int64)
        self.keys = keys

    def __getitem__(self, ab: tuple[Any, Any]) -> Any:
        a, b = ab
        k = np.asarray(a, dtype=np.int64) * self.n_vnets + np.asarray(b, dtype=np.int64)
        if self.keys.size == 0:
            hit = np.zeros(k.shape, dtype=bool)
        else:
            at = np.minimum(np.searchsorted(self.keys, k), self.keys.size - 1)
            hit = self.keys[at] == k
        return bool(hit) if hit.ndim == 0 else hit


class PeerLabels:
    def __init__(self, net: Any, labels: Callable[[str], int]) -> None:
        self.net = net
        self.labels = labels

    def __getitem__(self, ab: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        a = np.asarray(ab[0], dtype=np.int64)
        b = np.asarray(ab[1], dtype=np.int64)
        out = np.empty(a.shape, dtype=np.int32)
        if a.size:
            pairs, inv = np.unique(np.stack([a.ravel(), b.ravel()], axis=1), axis=0,
                                   return_inverse=True)
            ids = np.array([self.labels(label_peering(self.net, int(x), int(y)))
                            for x, y in pairs.tolist()], dtype=np.int32)
            out.ravel()[:] = ids[inv.ravel()]
        return out


__all__ = ["PeerLabels", "VnetPairs"]
