"""Key interning kernel (ext/pipeline.pyx) against its twin, including forced hash collisions
and growth across calls."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataplane.kernels import compiled
from dataplane.kernels.pipeline import KeyIndex

need_ext = pytest.mark.skipif(compiled("pipeline") is None, reason="compiled kernel not loaded")

word = st.sampled_from([0, 1, 2, 7, 2**32, 2**63, 2**64 - 1])
batches = st.integers(1, 3).flatmap(lambda w: st.tuples(st.just(w), st.lists(
    st.lists(st.tuples(*[word] * w), max_size=40), max_size=5)))


def _run(idx: KeyIndex, rows: list, collide: bool):
    w = idx.width
    keys = np.array(rows, dtype=np.uint64).reshape(len(rows), w)
    if collide:  # equal keys hash alike; almost all keys collide
        h = keys[:, 0] & np.uint64(1)
    else:
        h = (keys * np.uint64(0x9E3779B97F4A7C15)).sum(axis=1, dtype=np.uint64)
    ids, new = idx.index(h, keys)
    eh, ek = idx.export()
    return (ids.tolist(), new.tolist(), idx.lookup(h, keys).tolist(), idx.size, eh.tolist(),
            ek.tolist())


@need_ext
@settings(max_examples=150, deadline=None)
@given(batches, st.booleans(), st.integers(1, 64))
def test_compiled_matches_twin(case, collide, cap) -> None:
    width, parts = case
    fast, twin = KeyIndex(width, cap), KeyIndex(width, cap, twin=True)
    for rows in parts:
        a, b = _run(fast, rows, collide), _run(twin, rows, collide)
        assert a == b
        assert a[0] == a[2]  # lookup after index finds every key
    fast.clear()
    twin.clear()
    assert fast.size == twin.size == 0


@pytest.mark.parametrize("twin", [True, False])
def test_worked_example(twin: bool) -> None:
    idx = KeyIndex(2, 1, twin=twin)
    keys = np.array([[1, 2], [3, 4], [1, 2], [5, 6]], dtype=np.uint64)
    zero = np.zeros(4, dtype=np.uint64)  # every key collides: exact comparison decides
    ids, new = idx.index(zero, keys)
    assert ids.tolist() == [0, 1, 0, 2] and new.tolist() == [True, True, False, True]
    miss = np.array([[3, 4], [9, 9]], dtype=np.uint64)
    assert idx.lookup(zero[:2], miss).tolist() == [1, -1]
    ids, new = idx.index(zero[:3], np.array([9, 9, 3, 4, 5, 6], np.uint64))
    assert ids.tolist() == [3, 1, 2] and new.tolist() == [True, False, False]
    assert idx.size == 4
    big = np.arange(20_000, dtype=np.uint64).reshape(-1, 2)  # grows and rehashes
    ids, _ = idx.index(big[:, 0] * np.uint64(3), big)
    assert idx.lookup(big[:, 0] * np.uint64(3), big).tolist() == ids.tolist()
    with pytest.raises(ValueError):
        idx.index(zero[:3], keys)


half = st.sampled_from([0, 1, 2**31, 2**32 - 1, 2**63, 2**64 - 1, 0x20010DB800000000])
col = st.lists(st.tuples(st.sampled_from([0, 4, 6, 255]), half, half, half, half,
                         st.sampled_from([1, 6, 17, 58, 255, -1, 32767]),
                         st.sampled_from([0, 80, 65535, 2**31 - 1, -7]),
                         st.sampled_from([0, 443, 65535, -(2**31)])), max_size=30)
TYPES = (np.uint8, np.uint64, np.uint64, np.uint64, np.uint64, np.int16, np.int32, np.int32)


def _cols(rows: list) -> list[np.ndarray]:
    return [np.array([r[i] for r in rows], dtype=t) for i, t in enumerate(TYPES)]


@need_ext
@settings(max_examples=100, deadline=None)
@given(col)
def test_flow_keys_compiled_matches_twin(rows) -> None:
    """Dual-stack keys (issue 9): the kernel == its twin, keys exact and reversible."""
    from dataplane.kernels.pipeline import flow_keys, key_fields
    cols = _cols(rows)
    k1, h1 = flow_keys(*cols)
    k2, h2 = flow_keys(*cols, twin=True)
    assert k1.tolist() == k2.tolist() and h1.tolist() == h2.tolist()
    n = len(rows)
    assert k1[n:, [2, 3, 0, 1, 4, 5]][:, :5].tolist() == k1[:n, :5].tolist()  # reverse rows
    fam, sh, sl, dh, dl, proto, sport, dport = key_fields(k1[:n])
    ported = (cols[5] == 6) | (cols[5] == 17)
    assert [a.tolist() for a in (fam, sh, sl, dh, dl, proto)] == [c.tolist() for c in cols[:6]]
    assert sport.tolist() == np.where(ported, cols[6], 0).tolist()
    assert dport.tolist() == np.where(ported, cols[7], 0).tolist()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(half, half, st.sampled_from([6, 17, 1]), st.integers(0, 65535),
                          st.integers(0, 65535)), min_size=1, max_size=20), st.booleans())
def test_ipv4_and_ipv6_tuples_get_distinct_ids(rows, twin) -> None:
    """The same address bits and ports as IPv4 (family 4, high halves 0) and as IPv6 (family 6)
    are different flows: never one id."""
    from dataplane.kernels.pipeline import flow_keys
    lo = np.array([r[0] for r in rows], np.uint64)
    dst = np.array([r[1] for r in rows], np.uint64)
    zero = np.zeros(len(rows), np.uint64)
    rest = [np.array([r[i] for r in rows], t) for i, t in ((2, np.int16), (3, np.int32),
                                                          (4, np.int32))]
    k4, h4 = flow_keys(np.full(len(rows), 4, np.uint8), zero, lo, zero, dst, *rest, twin=twin)
    k6, h6 = flow_keys(np.full(len(rows), 6, np.uint8), zero, lo, zero, dst, *rest, twin=twin)
    idx = KeyIndex(6, twin=twin)
    ids4, _ = idx.index(h4, k4)
    ids6, _ = idx.index(h6, k6)
    assert not set(ids4.tolist()) & set(ids6.tolist())
    assert idx.lookup(h4, k4).tolist() == ids4.tolist()  # and each stays its own
