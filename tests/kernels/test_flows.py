"""Flow table: compiled open-addressing table against the dict twin."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataplane.kernels import compiled
from dataplane.kernels.flows import (
    FlowKeys,
    FlowTable,
    FlowTableCompiled,
    FlowTablePy,
    InsertStatus,
)

need_ext = pytest.mark.skipif(compiled("flows") is None, reason="compiled kernel not loaded")

# small value pools so that batches repeat keys, and v4/v6 keys with equal low bits meet
ADDR = st.sampled_from([0, 1, 0x0A000001, 0xFFFFFFFF, 2**64 - 1])
PORT = st.sampled_from([0, 1, 80, 443, 65535])
row = st.tuples(st.sampled_from([4, 6]), ADDR, ADDR, ADDR, ADDR, PORT, PORT,
                st.sampled_from([6, 17, 1]))
op = st.tuples(st.sampled_from(["insert", "lookup", "remove", "lookup_rev"]),
               st.lists(row, max_size=25), st.integers(0, 1000))


def keys_of(rows: list[tuple]) -> FlowKeys:
    cols = list(zip(*rows, strict=True)) if rows else [[]] * 8
    v, sh, sl, dh, dl, sp, dp, pr = cols
    sh = [x if ver == 6 else 0 for x, ver in zip(sh, v, strict=True)]
    dh = [x if ver == 6 else 0 for x, ver in zip(dh, v, strict=True)]
    sl = [x if ver == 6 else x & 0xFFFFFFFF for x, ver in zip(sl, v, strict=True)]
    dl = [x if ver == 6 else x & 0xFFFFFFFF for x, ver in zip(dl, v, strict=True)]
    return FlowKeys.make(v, sh, sl, dh, dl, sp, dp, pr)


@need_ext
@settings(max_examples=50)
@given(st.integers(1, 12), st.lists(op, max_size=12))
def test_compiled_matches_twin(capacity: int, ops: list) -> None:
    fast, twin = FlowTableCompiled(capacity), FlowTablePy(capacity)
    for name, rows, seed in ops:
        keys = keys_of(rows)
        if name == "insert":
            state = np.arange(seed, seed + len(keys), dtype=np.int64)
            assert fast.insert(keys, state).tolist() == twin.insert(keys, state).tolist()
        elif name == "remove":
            assert fast.remove(keys).tolist() == twin.remove(keys).tolist()
        elif name == "lookup":
            assert fast.lookup(keys).tolist() == twin.lookup(keys).tolist()
        else:
            assert (fast.lookup(keys.reversed()).tolist()
                    == twin.lookup(keys.reversed()).tolist())
        assert len(fast) == len(twin) <= capacity
        assert fast.refused == twin.refused


@need_ext
def test_churn_with_backward_shift_deletion() -> None:
    rng = np.random.default_rng(3)
    fast, twin = FlowTableCompiled(3000), FlowTablePy(3000)
    for _ in range(20):
        n = 1500
        keys = FlowKeys.v4(rng.integers(0, 64, n), rng.integers(0, 64, n), rng.integers(0, 4, n),
                           np.full(n, 443), np.full(n, 6))
        what = rng.integers(0, 3)
        if what == 0:
            s = rng.integers(0, 100, n)
            assert fast.insert(keys, s).tolist() == twin.insert(keys, s).tolist()
        elif what == 1:
            assert fast.remove(keys).tolist() == twin.remove(keys).tolist()
        assert fast.lookup(keys).tolist() == twin.lookup(keys).tolist()
        assert len(fast) == len(twin)


def test_full_table_refuses_and_counts() -> None:
    t = FlowTable(capacity=2)
    k = FlowKeys.v4([1, 2, 3, 1], [9, 9, 9, 9], [5, 5, 5, 5], [80, 80, 80, 80], [6, 6, 6, 6])
    st_ = t.insert(k, np.array([10, 20, 30, 11]))
    assert st_.tolist() == [InsertStatus.INSERTED, InsertStatus.INSERTED, InsertStatus.REFUSED,
                            InsertStatus.UPDATED]
    assert t.refused == 1 and len(t) == 2
    assert t.lookup(k).tolist() == [11, 20, -1, 11]
    rev = FlowKeys.v4([9], [1], [80], [5], [6])
    assert t.lookup(rev.reversed()).tolist() == [11]
    assert t.lookup(rev).tolist() == [-1]
    assert t.remove(k).tolist() == [True, True, False, False]
    assert len(t) == 0
    assert FlowTable().capacity == 500_000


def test_bad_keys() -> None:
    with pytest.raises(ValueError):
        FlowKeys.make([5], [0], [0], [0], [0], [0], [0], [0])
    with pytest.raises(ValueError):
        FlowKeys.v4([1, 2], [1], [1], [1], [1])
    t = FlowTable(4)
    with pytest.raises(ValueError):
        t.insert(FlowKeys.v4([1], [1], [1], [1], [6]), np.array([-3]))


# ---- slot layout (one 64-byte struct per slot) and heavier differential runs ----

U64 = st.sampled_from([0, 1, 2**32 - 1, 2**63, 2**64 - 1]) | st.integers(0, 2**64 - 1)
row6 = st.tuples(st.sampled_from([4, 6]), U64, U64, U64, U64, PORT | st.integers(0, 65535),
                 PORT, st.integers(0, 255))


@need_ext
def test_slot_layout_is_one_cache_line() -> None:
    from dataplane._ext import flows as ext

    assert ext.SLOT_BYTES == 64 and ext.SLOT_DTYPE.itemsize == 64
    t = FlowTableCompiled(100)
    view = t._core.slot_view()
    assert view.shape == (256,) and view.ctypes.data % 64 == 0
    keys = FlowKeys.v6([1], [2], [3], [4], [5], [6], [17])
    t.insert(keys, np.array([42]))
    (slot,) = view[view["version"] != 0]
    assert (slot["src_hi"], slot["src_lo"], slot["dst_hi"], slot["dst_lo"]) == (1, 2, 3, 4)
    assert (slot["ports"], slot["proto"], slot["state"]) == ((5 << 16) | 6, 17, 42)
    tags = t._core.tag_view()
    assert tags.shape == (256,) and np.flatnonzero(tags).tolist() == np.flatnonzero(
        view["version"]).tolist()
    assert tags[view["version"] != 0][0] == 0x80 | (int(slot["hash"]) >> 57)
    t.clear()
    assert not view["version"].any() and not tags.any() and len(t) == 0 and t.refused == 0


@need_ext
@settings(max_examples=40)
@given(st.integers(1, 40), st.lists(st.tuples(st.sampled_from(["insert", "remove", "lookup"]),
                                              st.lists(row6, max_size=40)), max_size=10))
def test_compiled_matches_twin_wide_keys(capacity: int, ops: list) -> None:
    """Arbitrary 64-bit halves, ports and protocols; batches longer than the prefetch
    distance, so prefetched rows are also rows changed earlier in the same batch."""
    fast, twin = FlowTableCompiled(capacity), FlowTablePy(capacity)
    for k, (name, rows) in enumerate(ops):
        keys = keys_of(rows)
        if name == "insert":
            s = np.arange(len(keys), dtype=np.int64) + 1000 * k
            assert fast.insert(keys, s).tolist() == twin.insert(keys, s).tolist()
        elif name == "remove":
            assert fast.remove(keys).tolist() == twin.remove(keys).tolist()
        assert fast.lookup(keys).tolist() == twin.lookup(keys).tolist()
        assert len(fast) == len(twin) and fast.refused == twin.refused


@need_ext
def test_full_table_churn_keeps_chains_intact() -> None:
    """A table at capacity (load ~1/2 of a small slot array, long wrapped chains): remove a
    random half, re-insert, and every remaining flow stays reachable."""
    rng = np.random.default_rng(11)
    cap = 1000
    fast, twin = FlowTableCompiled(cap), FlowTablePy(cap)
    n = 1500
    keys = FlowKeys.v6(rng.integers(0, 3, n), rng.integers(0, 2**63, n), rng.integers(0, 3, n),
                       rng.integers(0, 2**63, n), rng.integers(0, 65536, n),
                       rng.integers(0, 65536, n), rng.choice([6, 17], n))
    for rnd in range(6):
        s = rng.integers(0, 10**6, n)
        assert fast.insert(keys, s).tolist() == twin.insert(keys, s).tolist()
        assert len(fast) == cap and fast.refused == twin.refused == 500 * (rnd + 1)
        pick = rng.random(n) < 0.5
        drop = FlowKeys(*(c[pick] for c in keys))
        assert fast.remove(drop).tolist() == twin.remove(drop).tolist()
        assert fast.lookup(keys).tolist() == twin.lookup(keys).tolist()
