"""none_reopen (engine/reopen.py `reopened_np`'s fast path): the compiled kernel equals its
plain-Python twin on drawn touches (hypothesis), both equal the numpy form reopen.py used before
the kernel, the fast path never hides a re-opening row, and ids outside the arrays are
refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataplane.engine.reopen import reopened_np
from dataplane.kernels import compiled, reopenscan_py
from dataplane.kernels.reopenscan import none_reopen

IDLE_NS = 100


@st.composite
def touches(draw):
    n = draw(st.integers(1, 20))  # rows of the batch
    k = draw(st.integers(1, 8))  # entries
    m = draw(st.integers(0, 25))  # touches
    lst = lambda s, size, t: np.array(draw(st.lists(s, min_size=size, max_size=size)), t)  # noqa: E731
    rows = lst(st.integers(0, n - 1), m, np.int64)
    entries = lst(st.integers(0, k - 1), m, np.int64)
    row_ns = np.sort(lst(st.integers(0, 400), n, np.int64))  # capture order (engine-clock)
    times = row_ns[rows]
    forward = lst(st.booleans(), n, bool)
    proto = lst(st.sampled_from([6, 17, 1]), n, np.int16)
    opened = lst(st.booleans(), k, bool)
    last_ns = lst(st.integers(-50, int(row_ns[0])), k, np.int64)  # committed before the batch
    return rows, entries, times, forward, proto, opened, last_ns


def _numpy_form(rows, entries, times, forward, proto, opened, last_ns) -> bool:
    cand = forward[rows] & (proto[rows] == 6)
    if not cand.any():
        return True
    floor = np.where(opened[entries[cand]], last_ns[entries[cand]], times.min())
    return bool((times[cand] - floor <= IDLE_NS).all())


@given(touches())
def test_kernel_equals_twin_and_numpy_form(drawn) -> None:
    got = none_reopen(*drawn, IDLE_NS)
    assert got is reopenscan_py.none_reopen(*drawn, IDLE_NS) is _numpy_form(*drawn)


@given(touches())
def test_fast_path_never_hides_a_reopening(drawn) -> None:
    """When the fast path says none re-opens, the exact scan (reopened_np's, below its fast
    path) finds none either: touch times follow row order and committed touches precede the
    batch, as in engine/batch.py."""
    rows, entries, times, forward, proto, opened, last_ns = drawn
    if none_reopen(*drawn, IDLE_NS):
        order = np.lexsort((rows, entries))  # reopened_np's exact scan, fast path bypassed
        r, e, t = rows[order], entries[order], times[order]
        first = np.r_[True, e[1:] != e[:-1]] if e.size else np.zeros(0, bool)
        before = np.r_[np.int64(0), t[:-1]] if t.size else np.zeros(0, np.int64)
        held = opened[e] & first
        before[first] = np.where(held[first], last_ns[e[first]], 0)
        hit = (~first | held) & forward[r] & (proto[r] == 6) & (t - before > IDLE_NS)
        assert not hit.any()
        assert not reopened_np(forward.size, *drawn[:3], forward, proto, opened, last_ns,
                               IDLE_NS).any()


def test_by_hand() -> None:
    """Entry 0 committed at 0: a forward TCP touch at 100 is within the timeout, at 101 not;
    a UDP or reply touch at 101 cannot re-open."""
    args = lambda t, fwd, proto: (np.array([0], np.int64), np.array([0], np.int64),  # noqa: E731
                                  np.array([t], np.int64), np.array([fwd]),
                                  np.array([proto], np.int16), np.array([True]),
                                  np.array([0], np.int64), IDLE_NS)
    assert none_reopen(*args(100, True, 6))
    assert not none_reopen(*args(101, True, 6))
    assert none_reopen(*args(101, True, 17)) and none_reopen(*args(101, False, 6))


@pytest.mark.skipif(compiled("reopenscan") is None, reason="compiled kernel not built")
def test_kernel_refuses_ids_outside_the_arrays() -> None:
    ext = compiled("reopenscan")
    one = np.zeros(1, np.int64)
    u8, i16 = np.ones(1, np.uint8), np.full(1, 6, np.int16)
    with pytest.raises(IndexError):
        ext.none_reopen(np.array([2], np.int64), one, one, u8, i16, u8, one, IDLE_NS)
    with pytest.raises(IndexError):
        ext.none_reopen(one, np.array([-1], np.int64), one, u8, i16, u8, one, IDLE_NS)
