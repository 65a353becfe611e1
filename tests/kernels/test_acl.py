"""NSG classifier: bit-vector kernel and compiled linear scan against the linear twin."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataplane.acl import AclClassifier, AclClassifierPy, AclRule
from dataplane.kernels import compiled
from dataplane.kernels.acl import AclClassifierCompiled, AclLinear

need_ext = pytest.mark.skipif(compiled("acl") is None, reason="compiled kernel not loaded")

EDGE_ADDRS = [0, 1, 0x0A000000, 0x0A0000FF, 0x0A000100, 0xC0A80101, 0xFFFFFFFE, 0xFFFFFFFF]
EDGE_PORTS = [0, 1, 22, 80, 443, 1024, 65534, 65535]


def prefix_iv() -> st.SearchStrategy[tuple[int, int]]:
    def make(args: tuple[int, int]) -> tuple[int, int]:
        n, v = args
        size = 1 << (32 - n)
        v &= ~(size - 1)
        return v, v + size - 1

    return st.tuples(st.sampled_from([0, 8, 16, 24, 31, 32]) | st.integers(0, 32),
                     st.sampled_from(EDGE_ADDRS) | st.integers(0, 2**32 - 1)).map(make)


def port_iv() -> st.SearchStrategy[tuple[int, int]]:
    p = st.sampled_from(EDGE_PORTS) | st.integers(0, 65535)
    return st.tuples(p, p).map(lambda t: (min(t), max(t)))


def dim(iv: st.SearchStrategy) -> st.SearchStrategy:
    return st.none() | st.lists(iv, min_size=0, max_size=3).map(tuple)


rules_st = st.lists(st.builds(AclRule, src=dim(prefix_iv()), dst=dim(prefix_iv()),
                              sport=dim(port_iv()), dport=dim(port_iv()),
                              proto=st.none() | st.sampled_from([1, 6, 17, 0, 255])),
                    max_size=80)


def packets(rules: list[AclRule], rng: np.random.Generator, n: int = 300) -> tuple:
    """Random packets, half of them built to land inside some rule's intervals."""
    cols = [rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32),
            rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32),
            rng.choice(EDGE_PORTS + [int(x) for x in rng.integers(0, 65536, 8)], n),
            rng.choice(EDGE_PORTS + [int(x) for x in rng.integers(0, 65536, 8)], n),
            rng.choice([0, 1, 6, 17, 255], n)]
    for k in range(0, n, 2):
        if not rules:
            break
        r = rules[int(rng.integers(len(rules)))]
        for c, ivs in enumerate((r.src, r.dst, r.sport, r.dport)):
            if ivs:
                a, b = ivs[int(rng.integers(len(ivs)))]
                cols[c][k] = rng.choice([a, b, a + (b - a) // 2])
        if r.proto is not None:
            cols[4][k] = r.proto
    return (cols[0], cols[1], np.asarray(cols[2], dtype=np.uint16),
            np.asarray(cols[3], dtype=np.uint16), np.asarray(cols[4], dtype=np.uint8))


@need_ext
@settings(max_examples=40)
@given(rules_st, st.randoms())
def test_bitvector_matches_linear_twin(rules: list[AclRule], rnd) -> None:
    rng = np.random.default_rng(rnd.getrandbits(32))
    cols = packets(rules, rng)
    expected = AclClassifierPy(rules).classify(*cols)
    assert AclClassifierCompiled(rules).classify(*cols).tolist() == expected.tolist()
    assert AclLinear(rules).classify(*cols).tolist() == expected.tolist()


@need_ext
def test_many_rules_crosses_word_boundaries() -> None:
    rng = np.random.default_rng(7)
    rules = [AclRule(dst=((k * 256, k * 256 + 255),), dport=((k, k),), proto=6)
             for k in range(200)] + [AclRule()]
    cols = packets(rules, rng, 2000)
    expected = AclClassifierPy(rules).classify(*cols)
    got = AclClassifierCompiled(rules).classify(*cols)
    assert got.tolist() == expected.tolist()
    assert set(got.tolist()) >= {63, 64, 127, 128, 200}


def test_first_match_and_empty() -> None:
    rules = [AclRule(dport=((443, 443),), proto=6), AclRule(dst=()), AclRule(proto=17),
             AclRule()]
    clf = AclClassifier(rules)
    got = clf.classify(np.array([1, 2, 3], dtype=np.uint32), np.array([5, 5, 5], dtype=np.uint32),
                       np.array([1, 1, 1], dtype=np.uint16),
                       np.array([443, 443, 80], dtype=np.uint16),
                       np.array([6, 17, 6], dtype=np.uint8))
    assert got.tolist() == [0, 2, 3]
    none = AclClassifier([])
    z = np.zeros(2, dtype=np.uint32)
    assert none.classify(z, z, z.astype(np.uint16), z.astype(np.uint16),
                         z.astype(np.uint8)).tolist() == [-1, -1]


def test_ipv6_twin() -> None:
    net = 0x20010DB8 << 96
    clf = AclClassifierPy([AclRule(dst=((net, net + (1 << 96) - 1),)), AclRule()], addr_bits=128)
    assert clf.classify([1, 1], [net + 5, 7], [0, 0], [0, 0], [6, 6]).tolist() == [0, 1]


@pytest.mark.parametrize("rule", [AclRule(dport=((5, 4),)), AclRule(sport=((0, 65536),)),
                                  AclRule(src=((0, 2**32),)), AclRule(proto=256)])
def test_bad_rules(rule: AclRule) -> None:
    with pytest.raises(ValueError):
        AclClassifier([rule])


# ---- IPv6: compiled 128-bit bit vectors (classify6 / classify) against the linear twin ----

EDGE6 = [0, 1, (1 << 64) - 1, 1 << 64, (1 << 64) + 1, 0x20010DB8 << 96,
         (0x20010DB8 << 96) | (1 << 64) - 1, (1 << 128) - 2, (1 << 128) - 1]
U128 = (1 << 128) - 1


def prefix6_iv() -> st.SearchStrategy[tuple[int, int]]:
    def make(args: tuple[int, int]) -> tuple[int, int]:
        n, v = args
        size = 1 << (128 - n)
        v &= ~(size - 1) & U128
        return v, v + size - 1

    lengths = st.sampled_from([0, 1, 32, 48, 56, 63, 64, 65, 96, 127, 128]) | st.integers(0, 128)
    return st.tuples(lengths, st.sampled_from(EDGE6) | st.integers(0, U128)).map(make)


def range6_iv() -> st.SearchStrategy[tuple[int, int]]:
    """Arbitrary (non-prefix) ranges, including ones whose ends differ only in the low half."""
    a = st.sampled_from(EDGE6) | st.integers(0, U128)
    return st.tuples(a, a).map(lambda t: (min(t), max(t)))


rules6_st = st.lists(st.builds(AclRule, src=dim(prefix6_iv() | range6_iv()),
                               dst=dim(prefix6_iv() | range6_iv()), sport=dim(port_iv()),
                               dport=dim(port_iv()),
                               proto=st.none() | st.sampled_from([1, 6, 17, 58])),
                     max_size=80)


def packets6(rules: list[AclRule], rng: np.random.Generator, n: int = 300) -> tuple:
    """(src, dst) as 128-bit ints plus port/proto columns; half aimed at a rule's edges."""
    def rand128() -> int:
        return int(rng.integers(0, 2**63)) << 65 | int(rng.integers(0, 2**63)) << 2 | int(
            rng.integers(0, 4))

    src = [int(rng.choice(EDGE6)) if rng.random() < 0.2 else rand128() for _ in range(n)]
    dst = [int(rng.choice(EDGE6)) if rng.random() < 0.2 else rand128() for _ in range(n)]
    _, _, sport, dport, proto = packets([], rng, n)
    proto[rng.random(n) < 0.2] = 58
    for k in range(0, n, 2):
        if not rules:
            break
        r = rules[int(rng.integers(len(rules)))]
        for col, ivs in ((src, r.src), (dst, r.dst)):
            if ivs:
                a, b = ivs[int(rng.integers(len(ivs)))]
                col[k] = [a, b, a + (b - a) // 2, max(a - 1, 0), min(b + 1, U128)][
                    int(rng.integers(5))]
        for col, ivs in ((sport, r.sport), (dport, r.dport)):
            if ivs:
                a, b = ivs[int(rng.integers(len(ivs)))]
                col[k] = int(rng.choice([a, b, a + (b - a) // 2]))
        if r.proto is not None:
            proto[k] = r.proto
    return src, dst, sport, dport, proto


def halves(addrs: list[int]) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([a >> 64 for a in addrs], dtype=np.uint64),
            np.array([a & ((1 << 64) - 1) for a in addrs], dtype=np.uint64))


@need_ext
@settings(max_examples=40)
@given(rules6_st, st.randoms())
def test_ipv6_bitvector_matches_linear_twin(rules: list[AclRule], rnd) -> None:
    rng = np.random.default_rng(rnd.getrandbits(32))
    src, dst, sport, dport, proto = packets6(rules, rng)
    twin = AclClassifierPy(rules, addr_bits=128)
    expected = twin.classify(src, dst, sport, dport, proto).tolist()
    fast = AclClassifierCompiled(rules, addr_bits=128)
    cols6 = (*halves(src), *halves(dst), sport, dport, proto)
    assert fast.classify6(*cols6).tolist() == expected
    assert fast.classify(src, dst, sport, dport, proto).tolist() == expected
    assert twin.classify6(*cols6).tolist() == expected


@need_ext
def test_ipv6_many_rules_crosses_word_boundaries() -> None:
    rng = np.random.default_rng(8)
    net = 0x20010DB8 << 96
    rules = [AclRule(dst=((net | k << 64, net | k << 64 | (1 << 64) - 1),), dport=((k, k),),
                     proto=6) for k in range(200)] + [AclRule()]
    src, dst, sport, dport, proto = packets6(rules, rng, 2000)
    expected = AclClassifierPy(rules, addr_bits=128).classify(src, dst, sport, dport, proto)
    got = AclClassifierCompiled(rules, addr_bits=128).classify6(
        *halves(src), *halves(dst), sport, dport, proto)
    assert got.tolist() == expected.tolist()
    assert set(got.tolist()) >= {63, 64, 127, 128, 200}


def test_ipv6_public_api() -> None:
    """`AclClassifier(rules, addr_bits=128)` (compiled or twin) answers both call forms."""
    net = 0x20010DB8 << 96
    rules = [AclRule(dst=((net, net + (1 << 96) - 1),), dport=((443, 443),), proto=6),
             AclRule(src=((U128, U128),)), AclRule(proto=58), AclRule()]
    clf = AclClassifier(rules, addr_bits=128)
    src = [1, U128, 1, 1]
    dst = [net + 5, 7, net - 1, net + (1 << 96)]
    sport, dport = [0, 0, 0, 0], [443, 443, 0, 443]
    proto = [6, 6, 58, 6]
    assert clf.classify(src, dst, sport, dport, proto).tolist() == [0, 1, 2, 3]
    assert clf.classify6(*halves(src), *halves(dst), sport, dport, proto).tolist() == [0, 1, 2, 3]
    e = np.zeros(0, dtype=np.uint64)
    assert clf.classify6(e, e, e, e, e, e, e).tolist() == []
    with pytest.raises(ValueError):
        clf.classify6(*halves(src), *halves(dst[:3]), sport, dport, proto)
    with pytest.raises(ValueError):
        AclClassifier(rules).classify6(*halves(src), *halves(dst), sport, dport, proto)
    with pytest.raises(ValueError):
        AclClassifier([AclRule(dst=((0, 1 << 128),))], addr_bits=128)
