"""take_decided (engine/batch.py run's answer columns by decision id): the compiled kernel equals
its plain-Python twin and the seven numpy gathers batch.py used before the kernel (hypothesis),
and ids outside the tables are refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataplane.kernels import compiled, dtake_py
from dataplane.kernels.dtake import take_decided

I64 = st.integers(-(1 << 63), (1 << 63) - 1)
I32 = st.integers(-(1 << 31), (1 << 31) - 1)


@st.composite
def store(draw):
    k = draw(st.integers(1, 10))
    lst = lambda s, t: np.array(draw(st.lists(s, min_size=k, max_size=k)), t)  # noqa: E731
    tables = (lst(I64, np.int64), lst(I64, np.int64), lst(I32, np.int32), lst(I32, np.int32),
              lst(I64, np.int64), lst(st.integers(0, 255), np.uint8), lst(I32, np.int32))
    ids = np.array(draw(st.lists(st.integers(0, k - 1), max_size=30)), np.int64)
    return ids, tables


@given(store())
def test_kernel_equals_twin_and_numpy_gathers(drawn) -> None:
    ids, tables = drawn
    got = take_decided(ids, *tables)
    for g, t, tw in zip(got, tables, dtake_py.take_decided(ids, *tables), strict=True):
        assert g.dtype == t.dtype == tw.dtype
        assert g.tolist() == t[ids].tolist() == tw.tolist()


@pytest.mark.skipif(compiled("dtake") is None, reason="compiled kernel not built")
def test_kernel_refuses_ids_outside_the_tables() -> None:
    ext = compiled("dtake")
    i64, i32, u8 = np.zeros(2, np.int64), np.zeros(2, np.int32), np.zeros(2, np.uint8)
    for bad in (2, -1):
        with pytest.raises(IndexError):
            ext.take_decided(np.array([bad], np.int64), i64, i64, i32, i32, i64, u8, i32)
    with pytest.raises(ValueError):  # tables of different lengths
        ext.take_decided(np.zeros(1, np.int64), i64, i64[:1], i32, i32, i64, u8, i32)
