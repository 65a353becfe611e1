"""Key interning for the batch pipeline: exact multi-word keys -> dense ids, kept across calls.

`KeyIndex(width, capacity=1024)` with `index(hashes, keys) -> (ids int64[n], new bool[n])`
(ids in order of first appearance; new marks the row that created each id), `lookup(hashes,
keys) -> int64[n]` (-1 missing), `size`, `clear()`, `export() -> (hashes, keys)` (id order). keys: uint64[n, width] (C-contiguous),
hashes: uint64[n], any function of the key (collisions cost time, never correctness).
`flow_keys(family, src_hi, src_lo, dst_hi, dst_lo, proto, sport, dport, twin=False) ->
(keys uint64[2n, 6], hashes uint64[2n])`: exact dual-stack 5-tuple keys (family, both 64-bit
halves of each address as the header kernel extracts them -- IPv4 in the low half --, ports 0
unless TCP/UDP) of the packets, then of their reverses, hashed; an IPv4 tuple never collides
with an IPv6 one. `key_fields(keys)` unpacks them.
Used by engine/batch.py for per-batch flow ids (instead of a sort) and for the cross-batch
decision cache. Compiled: ext/pipeline.pyx (open addressing); twin: pipeline_py.KeyIndexPy.
With DATAPLANE_PURE_PYTHON=1, `KeyIndex` wraps the twin.
"""

from __future__ import annotations

import numpy as np

from dataplane.kernels import compiled, pipeline_py
from dataplane.kernels.pipeline_py import KeyIndexPy

_ext = compiled("pipeline")
KEY_WORDS = 6  # a flow key's words (see flow_keys)


class KeyIndex:
    def __init__(self, width: int, capacity: int = 1024, twin: bool = False) -> None:
        self._core = KeyIndexPy(width, capacity) if twin or _ext is None else \
            _ext.KeyIndex(width, capacity)
        self.width = width

    @property
    def size(self) -> int:
        return int(self._core.size)

    def clear(self) -> None:
        self._core.clear()

    def export(self) -> tuple[np.ndarray, np.ndarray]:
        h, k = self._core.export()
        return np.asarray(h, dtype=np.uint64), np.asarray(k, dtype=np.uint64).reshape(
            h.size, self.width)

    def _cols(self, hashes: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h = np.ascontiguousarray(hashes, dtype=np.uint64)
        k = np.ascontiguousarray(keys, dtype=np.uint64).reshape(h.size, self.width)
        return h, k

    def index(self, hashes: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h, k = self._cols(hashes, keys)
        ids = np.empty(h.size, dtype=np.int64)
        new = np.empty(h.size, dtype=np.uint8)
        self._core.index(h, k, ids, new)
        return ids, new.view(bool)

    def lookup(self, hashes: np.ndarray, keys: np.ndarray) -> np.ndarray:
        h, k = self._cols(hashes, keys)
        ids = np.empty(h.size, dtype=np.int64)
        self._core.lookup(h, k, ids)
        return ids


def flow_keys(family: np.ndarray, src_hi: np.ndarray, src_lo: np.ndarray, dst_hi: np.ndarray,
              dst_lo: np.ndarray, proto: np.ndarray, sport: np.ndarray, dport: np.ndarray,
              twin: bool = False) -> tuple[np.ndarray, np.ndarray]:
    cols = (np.ascontiguousarray(family, dtype=np.uint8),
            *(np.ascontiguousarray(a, dtype=np.uint64) for a in (src_hi, src_lo, dst_hi,
                                                                  dst_lo)),
            np.ascontiguousarray(proto, dtype=np.int16),
            np.ascontiguousarray(sport, dtype=np.int32),
            np.ascontiguousarray(dport, dtype=np.int32))
    n = cols[0].size
    keys = np.empty((2 * n, KEY_WORDS), dtype=np.uint64)
    hashes = np.empty(2 * n, dtype=np.uint64)
    (pipeline_py if twin or _ext is None else _ext).flow_keys(*cols, keys, hashes)
    return keys, hashes


def key_fields(keys: np.ndarray) -> tuple[np.ndarray, ...]:
    """The fields of flow keys (uint64[n, 6]): (family uint8, src_hi, src_lo, dst_hi, dst_lo
    uint64, proto int16, sport int32, dport int32), the inverse of `flow_keys`' packing."""
    k = np.asarray(keys, dtype=np.uint64)
    u = np.uint64
    return ((k[:, 4] >> u(32)).astype(np.uint8), k[:, 0], k[:, 1], k[:, 2], k[:, 3],
            (k[:, 4] & u(0xFFFF)).astype(np.uint16).view(np.int16),
            (k[:, 5] >> u(32)).astype(np.uint32).view(np.int32),
            (k[:, 5] & u(0xFFFFFFFF)).astype(np.uint32).view(np.int32))


__all__ = ["KEY_WORDS", "KeyIndex", "KeyIndexPy", "flow_keys", "key_fields"]
