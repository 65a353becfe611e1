"""copy_runs: the compiled kernel equals its plain-Python twin on random runs (hypothesis), and
the wrapper refuses runs outside either buffer before any byte moves."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataplane.kernels import compiled
from dataplane.kernels.records import copy_runs
from dataplane.kernels.records_py import copy_runs as copy_runs_py


@st.composite
def runs(draw):
    src = np.array(draw(st.lists(st.integers(0, 255), min_size=1, max_size=64)), np.uint8)
    n = draw(st.integers(0, 8))
    lengths = [draw(st.integers(0, src.size)) for _ in range(n)]
    src_at = [draw(st.integers(0, src.size - k)) for k in lengths]
    dst_at, at = [], 0
    for k in lengths:
        at += draw(st.integers(0, 3))
        dst_at.append(at)
        at += k
    return src, np.array(src_at, np.int64), np.array(lengths, np.int64), np.array(
        dst_at, np.int64), at + draw(st.integers(0, 3))


@given(runs())
def test_kernel_equals_twin(case) -> None:
    src, src_at, length, dst_at, size = case
    a = np.zeros(size, np.uint8)
    b = np.zeros(size, np.uint8)
    copy_runs(src, src_at, length, a, dst_at)
    copy_runs_py(src, src_at, length, b, dst_at)
    assert a.tobytes() == b.tobytes()
    for s, n, d in zip(src_at.tolist(), length.tolist(), dst_at.tolist(), strict=True):
        assert a[d:d + n].tobytes() == src[s:s + n].tobytes()


def test_compiled_kernel_is_the_one_used_when_built() -> None:
    ext = compiled("records")
    if ext is None:
        pytest.skip("compiled kernels not loaded")
    src = np.arange(10, dtype=np.uint8)
    dst = np.zeros(4, np.uint8)
    ext.copy_runs(src, np.array([6], np.int64), np.array([4], np.int64), dst,
                  np.array([0], np.int64))
    assert dst.tolist() == [6, 7, 8, 9]


@pytest.mark.parametrize("src_at, length, dst_at", [([8], [4], [0]), ([0], [4], [2]),
                                                     ([0], [-1], [0]), ([-1], [1], [0])])
def test_runs_outside_a_buffer_are_refused(src_at, length, dst_at) -> None:
    dst = np.zeros(5, np.uint8)
    with pytest.raises(ValueError):
        copy_runs(np.arange(10, dtype=np.uint8), np.array(src_at), np.array(length), dst,
                  np.array(dst_at))
    assert not dst.any()
