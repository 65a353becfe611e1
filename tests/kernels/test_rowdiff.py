"""changed_rows (engine/batch.py's conntrack fixed point): the compiled kernel equals its
plain-Python twin on drawn state columns (hypothesis), both equal the numpy form batch.py used
before the kernel (seven gathers and compares over the touched rows), and malformed input is
refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataplane.kernels import compiled, rowdiff_py
from dataplane.kernels.rowdiff import _raw, changed_rows

DTYPES = (bool, np.int32, np.int64, np.int32, np.int64, bool, bool)  # batch.py's state columns


@st.composite
def states(draw):
    n = draw(st.integers(0, 25))
    def column(dtype):
        values = st.booleans() if dtype is bool else st.integers(-3, 3) | st.integers(
            np.iinfo(dtype).min, np.iinfo(dtype).max)
        return np.array(draw(st.lists(values, min_size=n, max_size=n)), dtype)
    news = [column(t) for t in DTYPES]
    olds = [np.where(np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool),
                     a, column(t)).astype(t) for a, t in zip(news, DTYPES, strict=True)]
    touched = np.array(sorted(draw(st.sets(st.integers(0, n - 1), max_size=n)))
                       if n else [], np.int64)
    return touched, news, olds


@given(states())
def test_changed_rows_kernel_equals_twin_and_numpy(case) -> None:
    touched, news, olds = case
    want = touched[np.any([a[touched] != b[touched] for a, b in zip(news, olds, strict=True)],
                          axis=0)] if news else touched[:0]
    got = changed_rows(touched, news, olds)
    twin = rowdiff_py.changed_rows(touched, [_raw(a) for a in news], [_raw(b) for b in olds])
    assert got.dtype == np.int64
    assert got.tolist() == twin.tolist() == want.tolist()


def test_one_differing_column_marks_only_its_row() -> None:
    news = [np.array([True, False, True]), np.array([1, 2, 3], np.int64)]
    olds = [np.array([True, False, True]), np.array([1, 9, 3], np.int64)]
    assert changed_rows(np.arange(3), news, olds).tolist() == [1]
    assert changed_rows(np.array([0, 2]), news, olds).tolist() == []


@pytest.mark.parametrize("impl", ["kernel", "twin"])
def test_malformed_input_is_refused(impl) -> None:
    mod = compiled("rowdiff") if impl == "kernel" else rowdiff_py
    if mod is None:
        pytest.skip("compiled kernels not loaded (DATAPLANE_PURE_PYTHON=1)")
    a, b = _raw(np.zeros(3, np.int32)), _raw(np.zeros(2, np.int32))
    with pytest.raises(ValueError, match="differs in shape"):
        mod.changed_rows(np.zeros(1, np.int64), [a], [b])
    with pytest.raises(ValueError, match="outside"):
        mod.changed_rows(np.array([3], np.int64), [a], [a])
    with pytest.raises(ValueError, match="count"):
        mod.changed_rows(np.zeros(1, np.int64), [a], [])


def test_wrapper_refuses_mixed_dtypes_and_floats() -> None:
    with pytest.raises(ValueError, match="dtype"):
        changed_rows(np.zeros(1, np.int64), [np.zeros(2, np.int32)], [np.zeros(2, np.int64)])
    with pytest.raises(ValueError, match="integer or bool"):
        changed_rows(np.zeros(1, np.int64), [np.zeros(2)], [np.zeros(2)])
