"""first_openers / earliest / touch_events (engine/batch.py's conntrack fixed point): the
compiled kernel equals its plain-Python twin on random batches (hypothesis), both equal the
numpy form they replace (touch_events: the twin is that numpy form, and both equal a per-row
loop of the contract), and ids outside the work space are refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataplane.kernels import compiled, openers_py
from dataplane.kernels.openers import earliest, first_openers, touch_events

FLOWS, DECISIONS = 12, 6


@st.composite
def batches(draw):
    n = draw(st.integers(0, 40))
    ints = st.lists(st.integers(0, FLOWS - 1), min_size=n, max_size=n)
    fid = np.array(draw(ints), np.int64)
    ids = np.array(draw(st.lists(st.integers(0, DECISIONS - 1), min_size=n, max_size=n)),
                   np.int64)
    flags = st.lists(st.booleans(), min_size=n, max_size=n)
    rkey, excl = np.array(draw(flags), bool), np.array(draw(flags), bool)
    passing = np.array(draw(st.lists(st.booleans(), min_size=DECISIONS, max_size=DECISIONS)))
    opened = np.array(draw(st.lists(st.booleans(), min_size=FLOWS, max_size=FLOWS)))
    limit = draw(st.integers(0, n + 2))
    return fid, ids, passing, rkey, excl, opened, limit


def _numpy_openers(fid, ids, passing, rkey, excl, opened, limit):
    """The numpy form batch.py used before this kernel."""
    n = fid.size
    cand = passing[ids] & ~rkey & ~excl & ~opened[fid]
    first = np.full(FLOWS, n, np.int64)
    np.minimum.at(first, fid[cand], np.flatnonzero(cand))
    return np.flatnonzero(cand & (first[fid] == np.arange(n)))[:limit]


@given(batches())
def test_first_openers_kernel_equals_twin_and_numpy(case) -> None:
    scratch = np.full(FLOWS, 7, np.int64)
    got = first_openers(*case, scratch)
    twin = openers_py.first_openers(*case, scratch)
    assert got.dtype == np.int64
    assert got.tolist() == twin.tolist() == _numpy_openers(*case).tolist()


@st.composite
def scatters(draw):
    m = draw(st.integers(0, 30))
    keys = np.array(draw(st.lists(st.integers(0, FLOWS - 1), min_size=m, max_size=m)), np.int64)
    by = np.array(draw(st.lists(st.integers(-5, 50), min_size=m, max_size=m)), np.int64)
    query = np.array(draw(st.lists(st.integers(0, FLOWS - 1), max_size=30)), np.int64)
    return keys, by, query, draw(st.integers(0, 60))


@given(scatters())
def test_earliest_kernel_equals_twin_and_numpy(case) -> None:
    keys, by, query, none = case
    scratch = np.full(FLOWS, -3, np.int64)
    expect = np.full(FLOWS, 0, np.int64)  # the numpy form batch.py used before
    expect[keys] = none
    expect[query] = none
    np.minimum.at(expect, keys, by)
    got = earliest(keys, by, query, none, scratch)
    assert got.tolist() == openers_py.earliest(keys, by, query, none, scratch).tolist() \
        == expect[query].tolist()


@st.composite
def events(draw):
    n = draw(st.integers(0, 40))
    fid, ids, passing, _, excl, opened, _ = draw(batches())
    fid, ids, excl = fid[:n], ids[:n], excl[:n]
    n = fid.size
    entry = np.array(draw(st.lists(st.integers(-1, FLOWS - 1), min_size=n, max_size=n)),
                     np.int64)
    preset = np.array(draw(st.lists(st.sampled_from([255, 3, 7]), min_size=n, max_size=n)),
                      np.uint8)
    op = np.array(sorted(draw(st.sets(st.integers(0, max(n - 1, 0)), max_size=n))) if n else [],
                  np.int64)
    time_ns = np.array(draw(st.lists(st.integers(0, 10**12), min_size=n, max_size=n)), np.int64)
    return entry, preset, 255, fid, ids, passing, excl, opened, op, time_ns


def _loop_events(entry, preset, undecided, fid, ids, passing, excl, opened, op, time_ns):
    """The contract, row by row."""
    n = entry.size
    first = {}
    for o in op.tolist():
        first[int(fid[o])] = min(first.get(int(fid[o]), n), o)
    rep = [(r, int(entry[r])) for r in range(n) if entry[r] >= 0 and preset[r] == undecided]
    fwd = [(r, int(fid[r])) for r in range(n) if entry[r] < 0 and passing[ids[r]]
           and not excl[r] and (opened[fid[r]] or first.get(int(fid[r]), n) <= r)]
    rows = [r for r, _ in rep + fwd]
    return rows, [e for _, e in rep + fwd], [int(time_ns[r]) for r in rows], len(rep)


@given(events())
def test_touch_events_kernel_equals_twin_and_loop(case) -> None:
    scratch = np.full(FLOWS, 5, np.int64)
    got = touch_events(*case, scratch)
    twin = openers_py.touch_events(*case, scratch)
    expect = _loop_events(*case)
    for g, t, e in zip(got[:3], twin[:3], expect[:3], strict=True):
        assert g.dtype == t.dtype == np.int64
        assert g.tolist() == t.tolist() == e
    assert got[3] == twin[3] == expect[3]


@pytest.mark.parametrize("impl", ["wrapper", "twin"])
def test_touch_events_refuses_out_of_range(impl) -> None:
    te = touch_events if impl == "wrapper" else openers_py.touch_events
    one, no, z = np.ones(1, bool), np.zeros(1, bool), np.zeros(1, np.int64)
    u8 = np.full(1, 255, np.uint8)
    with pytest.raises(ValueError, match="out of range"):  # flow id outside scratch
        te(z - 1, u8, 255, np.array([5], np.int64), z, one, no, np.zeros(3, bool), z[:0], z,
           np.empty(3, np.int64))
    with pytest.raises(ValueError, match="out of range"):  # opener row outside the batch
        te(z - 1, u8, 255, z, z, one, no, np.zeros(3, bool), np.array([1], np.int64), z,
           np.empty(3, np.int64))
    with pytest.raises(ValueError, match="differ in length"):
        te(z - 1, u8, 255, np.zeros(2, np.int64), z, one, no, np.zeros(3, bool), z[:0], z,
           np.empty(3, np.int64))


@pytest.mark.parametrize("impl", ["wrapper", "twin"])
def test_out_of_range_ids_are_refused(impl) -> None:
    fo, ea = (first_openers, earliest) if impl == "wrapper" else (
        openers_py.first_openers, openers_py.earliest)
    one = np.ones(1, bool)
    no = np.zeros(1, bool)
    with pytest.raises(ValueError, match="out of range"):
        fo(np.array([5], np.int64), np.array([0], np.int64), one, no, no, np.zeros(3, bool), 1,
           np.empty(3, np.int64))
    with pytest.raises(ValueError, match="out of range"):
        fo(np.array([0], np.int64), np.array([-1], np.int64), one, no, no, np.zeros(3, bool), 1,
           np.empty(3, np.int64))
    with pytest.raises(ValueError, match="out of range"):
        ea(np.array([3], np.int64), np.array([1], np.int64), np.array([0], np.int64), 9,
           np.empty(3, np.int64))


def test_compiled_kernel_is_the_one_used_when_built() -> None:
    ext = compiled("openers")
    if ext is None:
        pytest.skip("compiled kernels not loaded")
    out = ext.first_openers(np.array([2, 2, 1], np.int64), np.zeros(3, np.int64),
                            np.ones(1, np.uint8), np.zeros(3, np.uint8), np.zeros(3, np.uint8),
                            np.zeros(3, np.uint8), 5, np.empty(3, np.int64))
    assert out.tolist() == [0, 2]
