"""Plain-Python twin of ext/pipeline.pyx: exact key interning (dict), same signature.

`KeyIndexPy(width, capacity=1024)`: keys of `width` uint64 words -> dense int64 ids in order of
first appearance, kept across calls. `index(hashes, keys, ids, new) -> int` fills ids (new[i] =
1 where row i created its id) and returns the number of new ids; `lookup(hashes, keys, ids)`
fills ids or -1; `clear()`; `size`; `export() -> (hashes, keys)` in id order (copies). `hashes` (one uint64 per row) only matter to the compiled
kernel's slot choice; the twin compares whole keys.
`flow_keys(family, src_hi, src_lo, dst_hi, dst_lo, proto, sport, dport, keys, hashes)`:
dual-stack 5-tuple keys of n packets in rows 0..n-1 and of their reverses in rows n..2n-1, 6
exact words each: (src_hi, src_lo, dst_hi, dst_lo, family << 32 | proto's 16 bits,
sport << 32 | dport's 32 bits), ports 0 unless TCP/UDP; an IPv4 key never equals an IPv6 key
(the family word). A 64-bit hash of each (multiply-xorshift mix of two words, see
ext/pipeline.pyx), written into `keys` (uint64[2n, 6]) and `hashes` (uint64[2n]).
"""

from __future__ import annotations

import numpy as np


class KeyIndexPy:
    def __init__(self, width: int, capacity: int = 1024) -> None:
        if width < 1:
            raise ValueError("width must be >= 1")
        self.width = width
        self._ids: dict[tuple[int, ...], int] = {}
        self._hashes: list[int] = []

    @property
    def size(self) -> int:
        return len(self._ids)

    def clear(self) -> None:
        self._ids.clear()
        self._hashes.clear()

    def export(self) -> tuple[np.ndarray, np.ndarray]:
        keys = np.array(list(self._ids), dtype=np.uint64).reshape(len(self._ids), self.width)
        return np.array(self._hashes, dtype=np.uint64), keys

    def _check(self, hashes: np.ndarray, keys: np.ndarray, n: int) -> None:
        if keys.shape[0] != n or hashes.shape[0] != n:
            raise ValueError("hashes and keys differ in length")
        if keys.shape[1] != self.width:
            raise ValueError(f"keys must have {self.width} words per row")

    def index(self, hashes: np.ndarray, keys: np.ndarray, ids: np.ndarray, new: np.ndarray
              ) -> int:
        n = hashes.shape[0]
        self._check(hashes, keys, n)
        if ids.shape[0] != n or new.shape[0] != n:
            raise ValueError("output columns differ in length")
        table = self._ids
        before = len(table)
        for i, (k, h) in enumerate(zip(map(tuple, keys.tolist()), hashes.tolist(), strict=True)):
            id_ = table.get(k)
            new[i] = id_ is None
            if id_ is None:
                id_ = table[k] = len(table)
                self._hashes.append(h)
            ids[i] = id_
        return len(table) - before

    def lookup(self, hashes: np.ndarray, keys: np.ndarray, ids: np.ndarray) -> None:
        n = hashes.shape[0]
        self._check(hashes, keys, n)
        if ids.shape[0] != n:
            raise ValueError("output column differs in length")
        get = self._ids.get
        ids[:] = [get(k, -1) for k in map(tuple, keys.tolist())]


def mix64(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A 64-bit mix of two uint64 columns (multiply-xorshift; wraps modulo 2**64)."""
    h = a * np.uint64(0x9E3779B97F4A7C15)
    h ^= h >> np.uint64(29)
    h += b * np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(32)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(29)
    return h


K1 = np.uint64(0xC2B2AE3D27D4EB4F)
K2 = np.uint64(0x165667B19E3779F9)


def flow_keys(family: np.ndarray, src_hi: np.ndarray, src_lo: np.ndarray, dst_hi: np.ndarray,
              dst_lo: np.ndarray, proto: np.ndarray, sport: np.ndarray, dport: np.ndarray,
              keys: np.ndarray, hashes: np.ndarray) -> None:
    n = src_lo.shape[0]
    if not all(a.shape[0] == n for a in (family, src_hi, dst_hi, dst_lo, proto, sport, dport)):
        raise ValueError("columns differ in length")
    if keys.shape != (2 * n, 6) or hashes.shape[0] != 2 * n:
        raise ValueError("outputs must hold 2n rows of 6 words")
    u = np.uint64
    ported = (proto == 6) | (proto == 17)
    sp = np.where(ported, sport.astype(np.int64) & 0xFFFFFFFF, 0).astype(u)
    dp = np.where(ported, dport.astype(np.int64) & 0xFFFFFFFF, 0).astype(u)
    meta = (family.astype(u) << u(32)) | (proto.astype(np.int64) & 0xFFFF).astype(u)
    for rows, (ah, al, bh, bl, pa, pb) in ((slice(0, n), (src_hi, src_lo, dst_hi, dst_lo, sp, dp)),
                                           (slice(n, 2 * n), (dst_hi, dst_lo, src_hi, src_lo,
                                                              dp, sp))):
        k = keys[rows]
        k[:, 0], k[:, 1], k[:, 2], k[:, 3] = ah, al, bh, bl
        k[:, 4] = meta
        k[:, 5] = (pa << u(32)) | pb
        hashes[rows] = mix64((al << u(32)) ^ bl ^ (ah * K1) ^ (bh * K2), k[:, 5] ^ (meta << u(16)))
