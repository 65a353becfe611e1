"""overlap_pairs: compiled kernel and twin against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataplane.kernels.overlap import overlap_pairs, overlap_pairs_py


def brute(first: list[int], last: list[int]) -> list[tuple[int, int]]:
    n = len(first)
    return [(i, j) for i in range(n) for j in range(i + 1, n)
            if first[i] <= last[j] and first[j] <= last[i]]


def prefix_intervals(bits: int) -> st.SearchStrategy[tuple[int, int]]:
    def to_interval(args: tuple[int, int]) -> tuple[int, int]:
        length, value = args
        size = 1 << (bits - length)
        net = value & ~(size - 1)
        return net, net + size - 1

    return st.tuples(st.integers(0, bits), st.integers(0, (1 << bits) - 1)).map(to_interval)


def as_pairs(ij: tuple[np.ndarray, np.ndarray]) -> list[tuple[int, int]]:
    i, j = ij
    assert i.dtype == np.int64 and j.dtype == np.int64
    return list(zip(i.tolist(), j.tolist(), strict=True))


@given(st.lists(prefix_intervals(32), max_size=40))
def test_ipv4_prefixes_match_brute_force(ivs: list[tuple[int, int]]) -> None:
    first = [a for a, _ in ivs]
    last = [b for _, b in ivs]
    expected = brute(first, last)
    got = as_pairs(overlap_pairs(np.array(first, dtype=np.uint64),
                                 np.array(last, dtype=np.uint64)))
    assert got == expected
    assert as_pairs(overlap_pairs_py(first, last)) == expected


@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), max_size=40))
def test_small_ranges_with_many_ties(raw: list[tuple[int, int]]) -> None:
    first = [min(a, b) for a, b in raw]
    last = [max(a, b) for a, b in raw]
    assert as_pairs(overlap_pairs(first, last)) == brute(first, last)


@given(st.lists(prefix_intervals(128), max_size=30))
def test_ipv6_ints_use_twin(ivs: list[tuple[int, int]]) -> None:
    first = [a for a, _ in ivs]
    last = [b for _, b in ivs]
    assert as_pairs(overlap_pairs(first, last)) == brute(first, last)


def test_edges() -> None:
    assert as_pairs(overlap_pairs([], [])) == []
    u64 = (1 << 64) - 1
    assert as_pairs(overlap_pairs([0, u64], [u64, u64])) == [(0, 1)]
    with pytest.raises(ValueError):
        overlap_pairs([5], [4])
    with pytest.raises(ValueError):
        overlap_pairs([1, 2], [3])
    with pytest.raises(ValueError):
        overlap_pairs(np.array([-1]), np.array([3]))
