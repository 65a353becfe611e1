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


col = st.lists(st.tuples(st.sampled_from([0, 1, 2**31, 2**32 - 1, 2**40, -1, -(2**63)]),
                         st.sampled_from([0, 9, 2**32 - 1, -5]),
                         st.sampled_from([1, 6, 17, 58, 255, -1, 32767]),
                         st.sampled_from([0, 80, 65535, 2**31 - 1, -7]),
                         st.sampled_from([0, 443, 65535, -(2**31)])), max_size=30)


@need_ext
@settings(max_examples=100, deadline=None)
@given(col)
def test_flow_keys_compiled_matches_twin(rows) -> None:
    from dataplane.kernels.pipeline import flow_keys
    cols = [np.array([r[i] for r in rows], dtype=t) for i, t in enumerate(
        (np.int64, np.int64, np.int16, np.int32, np.int32))]
    k1, h1 = flow_keys(*cols)
    k2, h2 = flow_keys(*cols, twin=True)
    assert k1.tolist() == k2.tolist() and h1.tolist() == h2.tolist()
    n = len(rows)
    assert k1[n:, [1, 0, 2, 4, 3]].tolist() == k1[:n].tolist()  # reverse rows
