"""Longest-prefix match tables: `LpmTable` (IPv4) and `Lpm6Table` (IPv6).

Build: `LpmTable(prefixes, lengths, next_hops)`: network integers (host bits zero), prefix
lengths (0..32), next-hop indices (0 .. 2**31 - 2). A duplicate (prefix, length) keeps the last
next hop given. `Lpm6Table` takes the same with 128-bit Python ints (or use
`Lpm6Table.from_hilo(hi, lo, lengths, next_hops)` with uint64 halves) and lengths 0..128.
Lookup: `lookup(address: int) -> int`; `LpmTable.lookup_batch(addresses: uint32[n]) -> int32[n]`;
`Lpm6Table.lookup_batch(hi: uint64[n], lo: uint64[n]) -> int32[n]` (hi = top 64 bits).
-1 means no route. Tables are immutable once built; a change builds a new table.
Errors: ValueError on bad lengths, host bits set, negative next hops, mismatched arrays.

IPv4 structure: DIR-16-8-8 multibit trie (ext/lpm.pyx): a 256 KiB root indexed by the top 16
bits, 1 KiB chunks for /17-/24 and /25-/32 detail allocated on demand, so a 1k-route Azure table
costs ~0.3 MiB and a 500k-prefix BGP table ~tens of MiB; 1-3 dependent reads per lookup.
IPv6 structure: one hash table per prefix length present (open addressing, load <= 1/2, keys
are the masked (hi, lo) pairs), probed longest first; Azure tables hold few distinct lengths
(/0, /48, /56, /64, /128), so a lookup is a handful of hash probes. The sorted per-length key
arrays are kept too: `Lpm6TableCompiled.lookup_batch_bsearch` answers by binary search (the
previous structure, kept as a benchmark peer and second oracle).
With DATAPLANE_PURE_PYTHON=1 (or no compiled module) these names are the dict-per-length twins
from lpm_py.py, which have the same interface.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dataplane.kernels import compiled
from dataplane.kernels.lpm_py import NH_MAX, Lpm6TablePy, LpmTablePy, split128, validate

_ext = compiled("lpm")


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


class LpmTableCompiled:
    """IPv4 LPM over a DIR-16-8-8 trie (compiled kernel)."""

    def __init__(self, prefixes: Sequence[int] | np.ndarray, lengths: Sequence[int] | np.ndarray,
                 next_hops: Sequence[int] | np.ndarray) -> None:
        if _ext is None:
            raise RuntimeError("compiled LPM kernel not loaded")
        p64 = np.asarray(prefixes, dtype=np.int64).ravel()
        n = np.asarray(lengths, dtype=np.int64).ravel()
        h = np.asarray(next_hops, dtype=np.int64).ravel()
        if not p64.shape == n.shape == h.shape:
            raise ValueError("prefixes, lengths and next_hops differ in length")
        if n.size:
            if n.min() < 0 or n.max() > 32:
                raise ValueError("prefix length outside 0..32")
            if p64.min() < 0 or p64.max() >= 1 << 32:
                raise ValueError("prefix outside the 32-bit address space")
            if np.any(p64 & ((np.int64(1) << (32 - n)) - 1)):
                raise ValueError("prefix with host bits set")
            if h.min() < 0 or h.max() > NH_MAX:
                raise ValueError(f"next hop outside 0..{NH_MAX}")
        p = p64.astype(np.uint32)
        order = np.argsort(n, kind="stable").astype(np.int64)
        n2 = _count_distinct(p[n > 16] >> 16, 1 << 16)
        n3 = _count_distinct(p[n > 24] >> 8, 1 << 24)
        self._root = np.empty(65536, dtype=np.int32)
        self._l2 = np.empty(max(n2, 1) * 256, dtype=np.int32)
        self._l3 = np.empty(max(n3, 1) * 256, dtype=np.int32)
        status = _ext.build4(p, n.astype(np.uint8), h.astype(np.int32), order,
                             self._root, self._l2, self._l3)
        if status != 0:  # pragma: no cover - chunk counts are exact
            raise RuntimeError("LPM build ran out of chunks")
        for a in (self._root, self._l2, self._l3):
            _frozen(a)
        keys = np.sort((p64 << 6) | n)  # np.unique hashes, which is slower at 500k
        self._size = int(keys.size and 1 + np.count_nonzero(keys[1:] != keys[:-1]))

    def __len__(self) -> int:
        return self._size

    @property
    def nbytes(self) -> int:
        return self._root.nbytes + self._l2.nbytes + self._l3.nbytes

    def lookup_batch(self, addresses: np.ndarray) -> np.ndarray:
        a = np.ascontiguousarray(addresses, dtype=np.uint32)
        out = np.empty(a.shape[0], dtype=np.int32)
        _ext.lookup4(self._root, self._l2, self._l3, a, out)
        return out

    def lookup(self, address: int) -> int:
        return int(self.lookup_batch(np.array([address], dtype=np.uint32))[0])


class Lpm6TableCompiled:
    """IPv6 LPM: a hash table per prefix length, longest first (compiled kernel)."""

    def __init__(self, prefixes: Sequence[int], lengths: Sequence[int],
                 next_hops: Sequence[int]) -> None:
        rows = validate(prefixes, lengths, next_hops, 128)
        hi, lo = split128([r[0] for r in rows])
        self._build(hi, lo, np.array([r[1] for r in rows], dtype=np.int64),
                    np.array([r[2] for r in rows], dtype=np.int64))

    @classmethod
    def from_hilo(cls, hi: np.ndarray, lo: np.ndarray, lengths: np.ndarray,
                  next_hops: np.ndarray) -> Lpm6TableCompiled:
        self = cls.__new__(cls)
        hi = np.asarray(hi, dtype=np.uint64).ravel()
        lo = np.asarray(lo, dtype=np.uint64).ravel()
        n = np.asarray(lengths, dtype=np.int64).ravel()
        h = np.asarray(next_hops, dtype=np.int64).ravel()
        if not hi.shape == lo.shape == n.shape == h.shape:
            raise ValueError("hi, lo, lengths and next_hops differ in length")
        if n.size and (n.min() < 0 or n.max() > 128):
            raise ValueError("prefix length outside 0..128")
        if h.size and (h.min() < 0 or h.max() > NH_MAX):
            raise ValueError(f"next hop outside 0..{NH_MAX}")
        mh, ml = _masks(n)
        if np.any(hi & ~mh) or np.any(lo & ~ml):
            raise ValueError("prefix with host bits set")
        self._build(hi, lo, n, h)
        return self

    def _build(self, hi: np.ndarray, lo: np.ndarray, n: np.ndarray, h: np.ndarray) -> None:
        if _ext is None:
            raise RuntimeError("compiled LPM kernel not loaded")
        idx = np.arange(n.size)
        # length descending, then key ascending, then last-given first (so it wins a duplicate)
        order = np.lexsort((-idx, lo, hi, -n))
        hi, lo, n, h = hi[order], lo[order], n[order], h[order]
        keep = np.ones(n.size, dtype=bool)
        if n.size > 1:
            keep[1:] = (hi[1:] != hi[:-1]) | (lo[1:] != lo[:-1]) | (n[1:] != n[:-1])
        hi, lo, n, h = hi[keep], lo[keep], n[keep], h[keep]
        lengths, starts = np.unique(-n, return_index=True)
        lengths = -lengths
        self._size = int(n.size)
        self._mask_hi, self._mask_lo = _masks(lengths)
        self._group_start = np.append(starts, n.size).astype(np.int64)
        self._key_hi = np.ascontiguousarray(hi, dtype=np.uint64)
        self._key_lo = np.ascontiguousarray(lo, dtype=np.uint64)
        self._next_hop = np.ascontiguousarray(h, dtype=np.int32)
        # one hash table per length: power-of-two size >= 2 * keys (>= 4), 4 uint64 per slot
        counts = np.diff(self._group_start)
        sizes = np.array([1 << max(2, int(2 * c - 1).bit_length()) for c in counts.tolist()],
                         dtype=np.int64)
        self._tab_off = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        self._tab_mask = (sizes - 1).astype(np.uint64)
        self._tab = np.full(4 * int(self._tab_off[-1]), np.uint64(0xFFFFFFFFFFFFFFFF),
                            dtype=np.uint64)
        _ext.build6h(self._group_start, self._key_hi, self._key_lo, self._next_hop,
                     self._tab_off, self._tab_mask, self._tab)
        for a in (self._mask_hi, self._mask_lo, self._group_start, self._key_hi,
                  self._key_lo, self._next_hop, self._tab_off, self._tab_mask, self._tab):
            _frozen(a)

    def __len__(self) -> int:
        return self._size

    def lookup_batch(self, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        hi = np.ascontiguousarray(hi, dtype=np.uint64)
        lo = np.ascontiguousarray(lo, dtype=np.uint64)
        out = np.empty(hi.shape[0], dtype=np.int32)
        _ext.lookup6h(self._mask_hi, self._mask_lo, self._tab_off, self._tab_mask, self._tab,
                      hi, lo, out)
        return out

    def lookup_batch_bsearch(self, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        """Same answers by binary search per length (the previous structure; bench peer)."""
        hi = np.ascontiguousarray(hi, dtype=np.uint64)
        lo = np.ascontiguousarray(lo, dtype=np.uint64)
        out = np.empty(hi.shape[0], dtype=np.int32)
        _ext.lookup6(self._mask_hi, self._mask_lo, self._group_start, self._key_hi,
                     self._key_lo, self._next_hop, hi, lo, out)
        return out

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in vars(self).values() if isinstance(a, np.ndarray))

    def lookup(self, address: int) -> int:
        hi, lo = split128([address])
        return int(self.lookup_batch(hi, lo)[0])


def _count_distinct(values: np.ndarray, universe: int) -> int:
    seen = np.zeros(universe, dtype=bool)
    seen[values] = True
    return int(np.count_nonzero(seen))


def _masks(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Network masks for 128-bit prefix lengths, as (hi, lo) uint64 arrays."""
    n = np.asarray(lengths, dtype=np.int64)
    ones = np.uint64(0xFFFFFFFFFFFFFFFF)
    hi_bits = np.clip(n, 0, 64).astype(np.uint64)
    lo_bits = np.clip(n - 64, 0, 64).astype(np.uint64)

    def mask(bits: np.ndarray) -> np.ndarray:
        out = np.zeros(bits.shape, dtype=np.uint64)
        full = bits == 64
        part = (bits > 0) & ~full
        out[full] = ones
        out[part] = ~((np.uint64(1) << (np.uint64(64) - bits[part])) - np.uint64(1))
        return out

    return mask(hi_bits), mask(lo_bits)


if _ext is not None:
    LpmTable: type = LpmTableCompiled
    Lpm6Table: type = Lpm6TableCompiled
else:
    LpmTable = LpmTablePy
    Lpm6Table = Lpm6TablePy

__all__ = ["Lpm6Table", "Lpm6TableCompiled", "Lpm6TablePy", "LpmTable", "LpmTableCompiled",
           "LpmTablePy", "split128"]
