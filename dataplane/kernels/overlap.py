"""Interval overlap pairs: public entry point (compiled kernel or twin).

`overlap_pairs(first, last) -> (i, j)`
Takes: `first`, `last`: equal-length integer sequences/arrays; interval k is
[first[k], last[k]] inclusive (IPv4 or IPv6 prefix ranges, port ranges, ...).
Returns: two int64 arrays: every pair i < j of overlapping intervals, once, sorted by (i, j).
Errors: ValueError on length mismatch, first > last, or negative values.
Values that fit in uint64 (IPv4, ports) go through the compiled kernel; larger values (IPv6
ranges as Python ints) go through the twin `overlap_pairs_py`, which accepts any ints.
Cost: O(n log n + k) for the sweep, plus O(k log k) to return the pairs sorted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dataplane.kernels import compiled
from dataplane.kernels.overlap_py import overlap_pairs as overlap_pairs_py

_ext = compiled("overlap")

_U64_MAX = (1 << 64) - 1


def _as_u64(values: Sequence[int] | np.ndarray) -> np.ndarray | None:
    """A contiguous uint64 copy of `values`, or None when some value does not fit."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "ui":
        if values.dtype.kind == "i" and values.size and values.min() < 0:
            raise ValueError("negative interval bound")
        return np.ascontiguousarray(values, dtype=np.uint64)
    ints = [int(x) for x in values]
    if any(x < 0 for x in ints):
        raise ValueError("negative interval bound")
    if any(x > _U64_MAX for x in ints):
        return None
    return np.array(ints, dtype=np.uint64)


def overlap_pairs(first: Sequence[int] | np.ndarray,
                  last: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All index pairs i < j whose inclusive intervals overlap, sorted by (i, j)."""
    if _ext is None:
        return overlap_pairs_py(first, last)
    f = _as_u64(first)
    la = _as_u64(last)
    if f is None or la is None:
        return overlap_pairs_py(first, last)
    if f.shape != la.shape or f.ndim != 1:
        raise ValueError("first and last must be 1-d and of equal length")
    if np.any(f > la):
        raise ValueError("interval with first > last")
    order = np.argsort(f, kind="stable").astype(np.int64)
    fs = np.ascontiguousarray(f[order])
    ls = np.ascontiguousarray(la[order])
    k = _ext.count_pairs(fs, ls)
    out_i = np.empty(k, dtype=np.int64)
    out_j = np.empty(k, dtype=np.int64)
    _ext.fill_pairs(fs, ls, order, out_i, out_j)
    if k:
        sort = np.lexsort((out_j, out_i))
        out_i, out_j = out_i[sort], out_j[sort]
    return out_i, out_j


__all__ = ["overlap_pairs", "overlap_pairs_py"]
