"""unnat (engine/batch.py `_unnat_of`): the compiled kernel equals its plain-Python twin on
drawn rows and decisions (hypothesis), both equal the numpy form batch.py used before the
kernel, IPv6 rows take the twin (handles), and malformed input is refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataplane.engine.conntrack import UNSNAT
from dataplane.kernels import compiled, unnat_py
from dataplane.kernels.unnat import unnat

I32 = st.integers(-(1 << 31), (1 << 31) - 1)
ADDR = st.integers(0, (1 << 32) - 1)


def _handle6(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """A stand-in for Ipv6Handles.handle_np: any pure function of the halves."""
    return ((hi ^ lo) & np.uint64((1 << 40) - 1)).astype(np.int64) | np.int64(1 << 50)


@st.composite
def batches(draw, six: bool = False):
    n = draw(st.integers(1, 25))
    k = draw(st.integers(1, 8))
    col = lambda s, t, size=n: np.array(draw(st.lists(s, min_size=size, max_size=size)), t)  # noqa: E731
    # ports drawn from a small set (and negatives) so final == original happens often
    port = st.sampled_from([-1, 0, 53, 80, 443, 1433, 40000])
    addr = st.sampled_from([0, 167772164, 167772420, 3232235777, (1 << 32) - 1])
    fam = st.sampled_from([4, 6] if six else [4, 0])
    c = dict(family=col(fam, np.uint8), proto=col(st.sampled_from([1, 6, 17, 47]), np.int16),
             src=col(addr, np.int64), dst=col(addr, np.int64), sport=col(port, np.int32),
             dport=col(port, np.int32))
    d = dict(fsrc=col(addr, np.int64, k), fdst=col(addr, np.int64, k),
             fsport=col(port, np.int32, k), fdport=col(port, np.int32, k))
    ids = col(st.integers(0, k - 1), np.int64)
    rows = np.array(draw(st.lists(st.integers(0, n - 1), max_size=2 * n)), np.int64)
    halves = [col(st.integers(0, (1 << 64) - 1), np.uint64) for _ in range(4)]
    return rows, ids, c, d, halves


def _numpy_form(rows, ids, c, d, halves):
    """BatchPipeline._unnat_of's numpy form before the kernel (handles by _handle6)."""
    src_hi, src_lo, dst_hi, dst_lo = halves
    dd = ids[rows]
    ported = (c["proto"][rows] == 6) | (c["proto"][rows] == 17)
    dn = (d["fdst"][dd] != c["dst"][rows]) | (d["fdport"][dd] != c["dport"][rows])
    sn = ~dn & ((d["fsrc"][dd] != c["src"][rows]) | (d["fsport"][dd] != c["sport"][rows]))
    dst, src = c["dst"][rows], c["src"][rows]
    six = c["family"][rows] == 6
    if six.any():
        m = six & dn
        dst = dst.copy()
        dst[m] = _handle6(dst_hi[rows[m]], dst_lo[rows[m]])
        m = six & sn
        src = src.copy()
        src[m] = _handle6(src_hi[rows[m]], src_lo[rows[m]])
    ip = np.where(dn, dst, np.where(sn, src | UNSNAT, -1))
    port = np.where(dn, c["dport"][rows], np.where(sn, c["sport"][rows], -1))
    moved = ~six & ((d["fsrc"][dd] != c["src"][rows]) | (d["fsport"][dd] != c["sport"][rows]))
    usrc = np.where(moved, (c["src"][rows].astype(np.int64) << 16)
                    | np.where(ported, c["sport"][rows], 0), -1)
    return (ip.astype(np.int64), np.where(ported | (port < 0), port, 0).astype(np.int32),
            usrc.astype(np.int64))


def _args(rows, ids, c, d, halves):
    return (rows, ids, c["family"], c["proto"], c["src"], c["dst"], c["sport"], c["dport"],
            d["fsrc"], d["fdst"], d["fsport"], d["fdport"], UNSNAT, *halves, _handle6)


def _same(a, b) -> None:
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype and x.tolist() == y.tolist()


@given(batches())
def test_kernel_equals_twin_and_numpy_form(drawn) -> None:
    got = unnat(*_args(*drawn))
    _same(got, unnat_py.unnat(*_args(*drawn)))
    _same(got, _numpy_form(*drawn))


@given(batches(six=True))
def test_ipv6_rows_take_the_twin_with_the_same_answer(drawn) -> None:
    _same(unnat(*_args(*drawn)), _numpy_form(*drawn))


def test_translations_by_hand() -> None:
    """Row 0 DNATed (ip = original destination), row 1 SNATed (ip = source | UNSNAT, usrc the
    original source and port), row 2 untranslated (-1), row 3 ICMP SNAT (port 0)."""
    c = dict(family=np.full(4, 4, np.uint8), proto=np.array([6, 17, 6, 1], np.int16),
             src=np.array([10, 11, 12, 13], np.int64), dst=np.array([20, 21, 22, 23], np.int64),
             sport=np.array([1000, 1001, 1002, 0], np.int32),
             dport=np.array([80, 53, 443, 0], np.int32))
    d = dict(fsrc=np.array([10, 99, 12, 98], np.int64), fdst=np.array([30, 21, 22, 23], np.int64),
             fsport=np.array([1000, 7000, 1002, 0], np.int32),
             fdport=np.array([8080, 53, 443, 0], np.int32))
    rows, ids = np.arange(4, dtype=np.int64), np.arange(4, dtype=np.int64)
    halves = [np.zeros(4, np.uint64)] * 4
    ip, port, usrc = unnat(*_args(rows, ids, c, d, halves))
    assert ip.tolist() == [20, 11 | UNSNAT, -1, 13 | UNSNAT]
    assert port.tolist() == [80, 1001, -1, 0]
    assert usrc.tolist() == [-1, (11 << 16) | 1001, -1, 13 << 16]


@pytest.mark.skipif(compiled("unnat") is None, reason="compiled kernel not built")
def test_kernel_refuses_rows_outside_the_batch() -> None:
    ext = compiled("unnat")
    one = np.zeros(1, np.int64)
    i32 = np.zeros(1, np.int32)
    with pytest.raises(ValueError):
        ext.unnat_v4(np.array([3], np.int64), one, np.full(1, 4, np.uint8), np.zeros(1, np.int16),
                     one, one, i32, i32, one, one, i32, i32, UNSNAT, np.empty(1, np.int64),
                     np.empty(1, np.int32), np.empty(1, np.int64))
