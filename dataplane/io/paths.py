"""Distinct hop paths of a batch: each packet's node path, grouped without sorting.

Takes the batch's node paths (int array, one row per packet, -1 padded). Emits `PathIndex`:
`paths` (the distinct rows, trailing all -1 columns dropped), `index` (each packet's row in
`paths`), `last` (each packet's last node, -1 without a path). Grouping hashes each row to one
int64 and uses Arrow's hash dictionary encoder; a hash collision is detected (every packet's
row is compared with its group's) and then the rows are grouped exactly by sorting. Writers
and aggregates do per-path work once per distinct path instead of once per packet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


def _keys(nodes: np.ndarray) -> np.ndarray:
    key = np.zeros(nodes.shape[0], dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(nodes.shape[1]):
            key = key * _MULTIPLIER + (nodes[:, k].astype(np.int64) + 1).astype(np.uint64)
    return key.view(np.int64)


@dataclass(frozen=True)
class PathIndex:
    paths: np.ndarray
    index: np.ndarray
    last: np.ndarray

    @classmethod
    def of(cls, nodes: np.ndarray) -> PathIndex:
        n = nodes.shape[0]
        used = np.flatnonzero((nodes >= 0).any(axis=0)) if nodes.size else np.zeros(0, int)
        nodes = nodes[:, :int(used[-1]) + 1] if used.size else np.full((n, 1), -1, np.int32)
        encoded = pc.dictionary_encode(pa.array(_keys(nodes)))
        index = encoded.indices.to_numpy().astype(np.int64)
        first = np.zeros(len(encoded.dictionary), dtype=np.int64)
        first[index[::-1]] = np.arange(n)[::-1]
        if not (nodes[first[index]] == nodes).all():  # a hash collision: group exactly
            rows = np.ascontiguousarray(nodes).view(
                np.dtype((np.void, nodes.dtype.itemsize * nodes.shape[1]))).ravel()
            _, first, index = np.unique(rows, return_index=True, return_inverse=True)
            index = index.ravel()
        paths = nodes[first]
        hops = (paths >= 0).sum(axis=1)
        last_of_path = np.where(hops > 0, paths[np.arange(paths.shape[0]),
                                                np.maximum(hops - 1, 0)], -1)
        return cls(paths, index, last_of_path[index])

    def names(self, node_names: tuple[str, ...]) -> list[str]:
        """Each distinct path as 'web1 > nva1 > db1'."""
        return [" > ".join(node_names[x] for x in row if x >= 0) for row in self.paths.tolist()]
