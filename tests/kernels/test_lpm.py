"""LPM: compiled tables against the dict twin and against pytricia."""

from __future__ import annotations

import ipaddress

import numpy as np
import pytest
import pytricia
from hypothesis import given
from hypothesis import strategies as st

from dataplane.kernels import compiled
from dataplane.kernels.lpm import (
    Lpm6TableCompiled,
    Lpm6TablePy,
    LpmTableCompiled,
    LpmTablePy,
    split128,
)
from dataplane.lpm import Lpm6Table, LpmTable


def need_ext(name: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(compiled(name) is None, reason="compiled kernel not loaded")


def routes(bits: int, max_size: int) -> st.SearchStrategy[list[tuple[int, int]]]:
    """Random prefixes biased to nest: /0, full-length and shared high bits appear often."""
    def make(args: tuple[int, int]) -> tuple[int, int]:
        length, value = args
        return (value >> (bits - length)) << (bits - length), length

    lengths = st.one_of(st.sampled_from([0, bits, bits // 2, bits - 8, 8, 16, 24]),
                        st.integers(0, bits))
    # values from a small pool of bases so prefixes nest and collide
    base = st.sampled_from([0, (1 << bits) - 1, 0x0A000000 << (bits - 32), 0xC0A80100 << (bits - 32)])
    values = st.one_of(base, st.integers(0, (1 << bits) - 1),
                       base.flatmap(lambda b: st.integers(0, 255).map(lambda x: b ^ x)))
    return st.lists(st.tuples(lengths, values).map(make), max_size=max_size)


def probes(bits: int, table: list[tuple[int, int]], rng: np.random.Generator) -> list[int]:
    """Random addresses plus each prefix's first, last and neighbours."""
    out = [int(x) for x in rng.integers(0, 1 << min(bits, 63), 50)]
    out += [0, (1 << bits) - 1]
    for p, n in table:
        last = p + (1 << (bits - n)) - 1
        out += [p, last, max(p - 1, 0), min(last + 1, (1 << bits) - 1)]
    return out


@need_ext("lpm")
@given(routes(32, 60), st.randoms())
def test_ipv4_compiled_matches_twin_and_pytricia(table: list[tuple[int, int]], rnd) -> None:
    rng = np.random.default_rng(rnd.getrandbits(32))
    prefixes = [p for p, _ in table]
    lengths = [n for _, n in table]
    hops = list(range(len(table)))
    twin = LpmTablePy(prefixes, lengths, hops)
    fast = LpmTableCompiled(np.array(prefixes, dtype=np.uint32), np.array(lengths), hops)
    tri = pytricia.PyTricia(32)
    for (p, n), h in zip(table, hops, strict=True):
        tri[f"{ipaddress.IPv4Address(p)}/{n}"] = h
    addrs = probes(32, table, rng)
    got = fast.lookup_batch(np.array(addrs, dtype=np.uint32))
    assert got.dtype == np.int32
    assert got.tolist() == twin.lookup_batch(np.array(addrs, dtype=np.uint32)).tolist()
    for a, g in zip(addrs, got.tolist(), strict=True):
        key = str(ipaddress.IPv4Address(a))
        assert g == tri.get(key, -1)
        assert fast.lookup(a) == g
    assert len(fast) == len(twin)


@need_ext("lpm")
@given(routes(128, 40), st.randoms())
def test_ipv6_compiled_matches_twin_and_pytricia(table: list[tuple[int, int]], rnd) -> None:
    rng = np.random.default_rng(rnd.getrandbits(32))
    prefixes = [p for p, _ in table]
    lengths = [n for _, n in table]
    hops = list(range(len(table)))
    twin = Lpm6TablePy(prefixes, lengths, hops)
    fast = Lpm6TableCompiled(prefixes, lengths, hops)
    hi, lo = split128(prefixes)
    fast2 = Lpm6TableCompiled.from_hilo(hi, lo, np.array(lengths), np.array(hops))
    tri = pytricia.PyTricia(128)
    for (p, n), h in zip(table, hops, strict=True):
        tri[f"{ipaddress.IPv6Address(p)}/{n}"] = h
    addrs = probes(128, table, rng)
    ahi, alo = split128(addrs)
    got = fast.lookup_batch(ahi, alo)
    assert got.tolist() == twin.lookup_batch(ahi, alo).tolist()
    assert got.tolist() == fast2.lookup_batch(ahi, alo).tolist()
    for a, g in zip(addrs, got.tolist(), strict=True):
        key = str(ipaddress.IPv6Address(a))
        assert g == tri.get(key, -1)
        assert fast.lookup(a) == g
    assert len(fast) == len(twin)


def test_examples_and_duplicates() -> None:
    # 0/0 -> 0, 10/8 -> 1, 10.1/16 -> 2, 10.1.2.3/32 -> 3, duplicate 10/8 -> 4 (last wins)
    p = [0, 0x0A000000, 0x0A010000, 0x0A010203, 0x0A000000]
    n = [0, 8, 16, 32, 8]
    t = LpmTable(p, n, [0, 1, 2, 3, 4])
    assert t.lookup(0x0B000000) == 0
    assert t.lookup(0x0A020000) == 4
    assert t.lookup(0x0A0101FF) == 2
    assert t.lookup(0x0A010203) == 3
    assert t.lookup(0x0A010204) == 2
    assert LpmTable([], [], []).lookup(1) == -1
    assert len(t) == 4
    t6 = Lpm6Table([0x20010DB8 << 96], [32], [7])
    assert t6.lookup((0x20010DB8 << 96) | 1) == 7
    assert t6.lookup(1) == -1


@pytest.mark.parametrize("cls", [LpmTablePy, LpmTable])
def test_bad_input(cls: type) -> None:
    with pytest.raises(ValueError):
        cls([0x0A000001], [8], [0])  # host bits
    with pytest.raises(ValueError):
        cls([0], [33], [0])
    with pytest.raises(ValueError):
        cls([0], [8], [-1])
    with pytest.raises(ValueError):
        cls([0, 1], [8], [0])


@need_ext("lpm")
def test_compiled_tables_are_immutable() -> None:
    t = LpmTableCompiled([0], [0], [1])
    with pytest.raises(ValueError):
        t._root[0] = 5


# ---- IPv6 hash-per-length tables: against binary search, the twin, and many keys ----


@need_ext("lpm")
@given(routes(128, 60), st.randoms())
def test_ipv6_hash_matches_binary_search_and_twin(table: list[tuple[int, int]], rnd) -> None:
    rng = np.random.default_rng(rnd.getrandbits(32))
    prefixes, lengths = [p for p, _ in table], [n for _, n in table]
    hops = [int(x) for x in rng.integers(0, 2**31 - 1, len(table))]  # large hops too
    fast = Lpm6TableCompiled(prefixes, lengths, hops)
    twin = Lpm6TablePy(prefixes, lengths, hops)
    ahi, alo = split128(probes(128, table, rng))
    got = fast.lookup_batch(ahi, alo).tolist()
    assert got == fast.lookup_batch_bsearch(ahi, alo).tolist()
    assert got == twin.lookup_batch(ahi, alo).tolist()


@need_ext("lpm")
def test_ipv6_hash_many_keys_per_length() -> None:
    """Thousands of /64s and /128s sharing high bits (long probe chains, wrap-around), the
    all-zero key (0::/0 and ::/128) and the all-ones key."""
    rng = np.random.default_rng(5)
    base = 0x20010DB8 << 96
    p64 = sorted({base | int(x) << 64 for x in rng.integers(0, 1 << 20, 3000)})
    p128 = [base | int(x) for x in rng.integers(0, 1 << 40, 3000)]
    prefixes = [0, 0, (1 << 128) - 1, *p64, *p128]
    lengths = [0, 128, 128, *[64] * len(p64), *[128] * len(p128)]
    hops = list(range(len(prefixes)))
    fast = Lpm6TableCompiled(prefixes, lengths, hops)
    twin = Lpm6TablePy(prefixes, lengths, hops)
    addrs = [0, 1, (1 << 128) - 1, (1 << 128) - 2, *p128[:500], *(p | 7 for p in p64[:500]),
             *(base | int(x) for x in rng.integers(0, 1 << 62, 500))]
    ahi, alo = split128(addrs)
    got = fast.lookup_batch(ahi, alo)
    assert got.tolist() == twin.lookup_batch(ahi, alo).tolist()
    assert got[:3].tolist() == [1, 0, 2]
    assert len(fast) == len(twin)
    empty = Lpm6TableCompiled([], [], [])
    assert empty.lookup_batch(ahi, alo).tolist() == [-1] * len(addrs)
