"""row_keys / key_hashes / state_hashes (engine/batch.py's decision cache): the compiled kernel
equals its plain-Python twin on drawn columns (hypothesis), both equal the numpy form batch.py
used before the kernel, and malformed input is refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataplane.kernels import compiled, dkeys_py
from dataplane.kernels.dkeys import key_hashes, row_keys, state_hashes
from dataplane.kernels.pipeline_py import mix64

U = np.uint64
I32 = st.integers(-(1 << 31), (1 << 31) - 1)


@st.composite
def rows(draw):
    n = draw(st.integers(0, 30))
    col = lambda s, t: np.array(draw(st.lists(s, min_size=n, max_size=n)), t)  # noqa: E731
    return (col(st.integers(0, (1 << 63) - 1), np.int64), col(I32, np.int32), col(I32, np.int32),
            col(st.integers(-1, 1 << 20), np.int32), col(st.integers(0, 255), np.uint8),
            col(I32, np.int32))


def _numpy_row_keys(fid, sport, dport, nic, preset, server_name):
    """The numpy form of BatchPipeline._decision_keys before the kernel."""
    k = np.zeros((fid.size, 4), dtype=np.int64)
    k[:, 0] = fid
    k[:, 1] = (sport.astype(np.int64) << 32) | (dport.astype(np.int64) & 0xFFFFFFFF)
    k[:, 2] = (nic.astype(np.int64) << 10) | (preset.astype(np.int64) << 2)
    k[:, 3] = server_name.astype(np.int64) << 32
    return k.view(U)


@given(rows())
def test_row_keys_kernel_equals_twin_and_numpy(cols) -> None:
    got = row_keys(*cols)
    assert got.dtype == U and got.shape == (cols[0].size, 4)
    assert got.tolist() == dkeys_py.row_keys(*cols).tolist() == _numpy_row_keys(*cols).tolist()


words = st.integers(0, (1 << 64) - 1)


@given(st.lists(st.lists(words, min_size=4, max_size=4), max_size=30))
def test_hashes_kernel_equal_twin_and_numpy(table) -> None:
    k = np.array(table, dtype=U).reshape(len(table), 4)
    old_key = mix64(k[:, 0] ^ (k[:, 3] << U(40)) ^ (k[:, 3] >> U(32)), k[:, 1] ^ (k[:, 2] << U(17)))
    old_state = mix64(k[:, 0] ^ (k[:, 2] << U(32)), k[:, 1] ^ mix64(k[:, 3], k[:, 0]))
    assert key_hashes(k).tolist() == dkeys_py.key_hashes(k).tolist() == old_key.tolist()
    assert state_hashes(k).tolist() == dkeys_py.state_hashes(k).tolist() == old_state.tolist()


def test_other_dtypes_take_the_twin_with_the_same_answer() -> None:
    cols = (np.array([3, 9], np.int64), np.array([443, 80], np.int64), np.array([1, 2], np.int16),
            np.array([-1, 5], np.int64), np.array([0, 7], np.int64), np.array([0, 2], np.int64))
    want = _numpy_row_keys(*cols)
    assert row_keys(*cols).tolist() == want.tolist()
    assert want[0].tolist() == [3, 443 << 32 | 1, (-1 << 10) % (1 << 64), 0]


@pytest.mark.parametrize("impl", ["kernel", "twin"])
def test_malformed_input_is_refused(impl) -> None:
    mod = compiled("dkeys") if impl == "kernel" else dkeys_py
    if mod is None:
        pytest.skip("compiled kernels not loaded (DATAPLANE_PURE_PYTHON=1)")
    short = np.zeros(1, np.int32)
    with pytest.raises(ValueError, match="differ in length"):
        mod.row_keys(np.zeros(2, np.int64), short, np.zeros(2, np.int32), np.zeros(2, np.int32),
                     np.zeros(2, np.uint8), np.zeros(2, np.int32))
    with pytest.raises(ValueError, match="4 words"):
        mod.key_hashes(np.zeros((2, 3), U))
    with pytest.raises(ValueError, match="4 words"):
        mod.state_hashes(np.zeros((2, 5), U))
