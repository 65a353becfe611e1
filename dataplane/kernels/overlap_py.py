"""Interval overlap pairs, plain-Python twin (reference and IPv6 path).

Takes: `first`, `last`: equal-length sequences of non-negative ints (Python ints of any size, so
IPv6 works, or numpy integer arrays); interval k is [first[k], last[k]] inclusive, first <= last.
Returns: (i, j), two int64 arrays of equal length: every index pair i < j whose intervals
overlap, each exactly once, sorted by (i, j).
Errors: ValueError when lengths differ, some first > last, or a bound is negative.
Algorithm: sort by first; for each interval, walk forward while the next start <= its last.
Every step of the inner walk emits a pair, so the cost is O(n log n + k) (+ O(k log k) to sort
the output).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def overlap_pairs(first: Sequence[int], last: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    firsts = [int(x) for x in first]
    lasts = [int(x) for x in last]
    if len(firsts) != len(lasts):
        raise ValueError("first and last differ in length")
    for a, b in zip(firsts, lasts, strict=True):
        if a < 0:
            raise ValueError(f"negative interval bound {a}")
        if a > b:
            raise ValueError(f"interval with first > last: [{a}, {b}]")
    order = sorted(range(len(firsts)), key=lambda k: (firsts[k], k))
    pairs: list[tuple[int, int]] = []
    for p, a in enumerate(order):
        end = lasts[a]
        for q in range(p + 1, len(order)):
            b = order[q]
            if firsts[b] > end:
                break
            pairs.append((a, b) if a < b else (b, a))
    pairs.sort()
    i = np.array([x for x, _ in pairs], dtype=np.int64)
    j = np.array([y for _, y in pairs], dtype=np.int64)
    return i, j
