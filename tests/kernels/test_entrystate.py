"""entry_state (engine/batch.py run's committed state of each row): the compiled kernel equals
its plain-Python twin on drawn tables (hypothesis), both equal the numpy form batch.py used
before the kernel (`known`, `_entry_state`, `known_since`), and ids outside the tables are
refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataplane.kernels import compiled, entrystate_py
from dataplane.kernels.entrystate import entry_state

NONE_NS = -(1 << 62)


@st.composite
def tables(draw):
    k = draw(st.integers(1, 12))  # entries (opener ids)
    size = draw(st.integers(1, 12))  # reverse-tuple ids
    n = draw(st.integers(0, 30))
    lst = lambda s, m, t: np.array(draw(st.lists(s, min_size=m, max_size=m)), t)  # noqa: E731
    reply_entry = lst(st.integers(-1, k - 1), size, np.int64)
    cols = (lst(st.integers(0, 1 << 20), k, np.int32), lst(st.integers(-1, 1 << 45), k, np.int64),
            lst(st.integers(-1, 65535), k, np.int32), lst(st.integers(-1, 1 << 48), k, np.int64),
            lst(st.integers(-(1 << 62), 1 << 62), k, np.int64))
    return lst(st.integers(0, size - 1), n, np.int64), reply_entry, cols


def _numpy_form(rid, reply_entry, cols):
    fwset, unnat_ip, unnat_port, usrc, last_ns = cols
    known = reply_entry[rid]
    n = known.size
    est, fws = np.zeros(n, bool), np.zeros(n, np.int32)
    uip, uport, src = np.full(n, -1, np.int64), np.full(n, -1, np.int32), np.full(n, -1, np.int64)
    r = np.flatnonzero(known >= 0)
    if r.size:
        e = known[r]
        est[r] = True
        fws[r], uip[r], uport[r] = fwset[e], unnat_ip[e], unnat_port[e]
        src[r] = usrc[e]
    since = np.where(known >= 0, last_ns[known], NONE_NS)
    return known, est, fws, uip, uport, src, since


def _same(a, b) -> None:
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype and x.tolist() == y.tolist()


@given(tables())
def test_kernel_equals_twin_and_numpy_form(drawn) -> None:
    rid, reply_entry, cols = drawn
    got = entry_state(rid, reply_entry, *cols, NONE_NS)
    _same(got, entrystate_py.entry_state(rid, reply_entry, *cols, NONE_NS))
    _same(got, _numpy_form(rid, reply_entry, cols))


def test_state_by_hand() -> None:
    """Row 0 answers entry 1 (its state), row 1 answers nothing (no state, since NONE_NS)."""
    got = entry_state(np.array([0, 1], np.int64), np.array([1, -1], np.int64),
                      np.array([0, 5], np.int32), np.array([-1, 77], np.int64),
                      np.array([-1, 80], np.int32), np.array([-1, 9], np.int64),
                      np.array([10, 20], np.int64), NONE_NS)
    assert [a.tolist() for a in got] == [[1, -1], [True, False], [5, 0], [77, -1], [80, -1],
                                        [9, -1], [20, NONE_NS]]


@pytest.mark.skipif(compiled("entrystate") is None, reason="compiled kernel not built")
def test_kernel_refuses_ids_outside_the_tables() -> None:
    ext = compiled("entrystate")
    one32, one64 = np.zeros(1, np.int32), np.zeros(1, np.int64)
    with pytest.raises(IndexError):  # a reverse-tuple id past reply_entry
        ext.entry_state(np.array([1], np.int64), one64, one32, one64, one32, one64, one64, 0)
    with pytest.raises(IndexError):  # an entry id past the entry columns
        ext.entry_state(np.array([0], np.int64), np.array([3], np.int64), one32, one64, one32,
                        one64, one64, 0)
