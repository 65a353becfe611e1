"""NSG classification at 1,000 rules: bit vectors vs compiled linear scan vs Python twin, IPv4
and IPv6 (128-bit bounds as (hi, lo) pairs); flow table (decision cache) probe for already-seen
flows (bench/test_flow_bench.py compares the probe with the classifier on the same flows)."""

from __future__ import annotations

import numpy as np
from _gen import nsg_packets, nsg_rules

from dataplane.acl import AclRule
from dataplane.kernels.acl import AclClassifierCompiled, AclClassifierPy, AclLinear
from dataplane.kernels.flows import FlowKeys, FlowTableCompiled

RULES = nsg_rules(1000)
N = 2_000_000
PKTS = nsg_packets(RULES, N)


def test_acl_bitvector_1k(benchmark) -> None:
    clf = AclClassifierCompiled(RULES)
    benchmark.extra_info.update(ops=N, unit="packet")
    benchmark.pedantic(clf.classify, args=PKTS, rounds=5, iterations=1)


def test_acl_build_1k(benchmark) -> None:
    benchmark.extra_info.update(ops=1, unit="build")
    benchmark.pedantic(AclClassifierCompiled, args=(RULES,), rounds=3, iterations=1)


def test_acl_linear_compiled_1k(benchmark) -> None:
    clf = AclLinear(RULES)
    n = 100_000
    cols = tuple(c[:n] for c in PKTS)
    benchmark.extra_info.update(ops=n, unit="packet")
    benchmark.pedantic(clf.classify, args=cols, rounds=3, iterations=1)


def test_acl_linear_python_twin_1k(benchmark) -> None:
    clf = AclClassifierPy(RULES)
    n = 2_000
    cols = tuple(c[:n] for c in PKTS)
    benchmark.extra_info.update(ops=n, unit="packet")
    benchmark.pedantic(clf.classify, args=cols, rounds=3, iterations=1)


def test_flow_cache_hit(benchmark) -> None:
    n = 500_000
    keys = FlowKeys.v4(*(c[:n] for c in PKTS))
    table = FlowTableCompiled()
    table.insert(keys, np.arange(n))
    benchmark.extra_info.update(ops=n, unit="packet")
    benchmark.pedantic(table.lookup, args=(keys,), rounds=5, iterations=1)


def test_flow_insert_500k(benchmark) -> None:
    n = 500_000
    keys = FlowKeys.v4(*(c[:n] for c in PKTS))
    state = np.arange(n)

    def run() -> None:
        FlowTableCompiled().insert(keys, state)

    benchmark.extra_info.update(ops=n, unit="insert")
    benchmark.pedantic(run, rounds=3, iterations=1)


# ---- IPv6: 1,000 rules over 128-bit prefixes, compiled (hi, lo) bit vectors vs the twin ----


def nsg_rules6(n: int = 1000, seed: int = 14) -> list[AclRule]:
    """`nsg_rules` in IPv6: n - 1 allow rules (a /64 subnet or /128 host destination inside
    2001:db8::/32, one or two ports, TCP/UDP, source a /48../64 or any) ahead of deny-all."""
    rng = np.random.default_rng(seed)
    base = 0x20010DB8 << 96
    rules = []
    for _ in range(n - 1):
        dl = int(rng.choice([64, 128]))
        d = base | int(rng.integers(0, 1 << 62)) << 34 | int(rng.integers(0, 1 << 34))
        d = d >> (128 - dl) << (128 - dl)
        src = None
        if rng.random() < 0.5:
            sl = int(rng.choice([48, 56, 64]))
            s = (base | int(rng.integers(0, 1 << 62)) << 34) >> (128 - sl) << (128 - sl)
            src = ((s, s + (1 << (128 - sl)) - 1),)
        p = int(rng.integers(1, 65536))
        dport = ((p, p),) if rng.random() < 0.7 else ((p, p), (443, 443))
        rules.append(AclRule(src=src, dst=((d, d + (1 << (128 - dl)) - 1),), dport=dport,
                             proto=int(rng.choice([6, 17]))))
    rules.append(AclRule())
    return rules


def nsg_packets6(rules: list[AclRule], n: int, seed: int = 15) -> tuple[np.ndarray, ...]:
    """(src_hi, src_lo, dst_hi, dst_lo, sport, dport, proto); half aimed at a random rule."""
    rng = np.random.default_rng(seed)
    base_hi = np.uint64(0x20010DB800000000)
    src_hi = base_hi | rng.integers(0, 1 << 32, n, dtype=np.uint64)
    dst_hi = base_hi | rng.integers(0, 1 << 32, n, dtype=np.uint64)
    src_lo = rng.integers(0, 2**63, n, dtype=np.uint64)
    dst_lo = rng.integers(0, 2**63, n, dtype=np.uint64)
    sport = rng.integers(1024, 65536, n).astype(np.uint16)
    dport = rng.integers(0, 65536, n).astype(np.uint16)
    proto = rng.choice([6, 17], n).astype(np.uint8)
    pick = rng.integers(0, len(rules) - 1, n)
    m64 = (1 << 64) - 1
    for k in np.flatnonzero(rng.random(n) < 0.5):
        r = rules[pick[k]]
        if r.src:
            s = r.src[0][0] | int(src_lo[k]) & (r.src[0][1] - r.src[0][0])
            src_hi[k], src_lo[k] = s >> 64, s & m64
        dst_hi[k], dst_lo[k] = r.dst[0][0] >> 64, r.dst[0][0] & m64
        dport[k] = r.dport[0][0]
        proto[k] = r.proto
    return src_hi, src_lo, dst_hi, dst_lo, sport, dport, proto


RULES6 = nsg_rules6(1000)
N6 = 1_000_000
PKTS6 = nsg_packets6(RULES6, N6)


def test_acl6_bitvector_1k(benchmark) -> None:
    clf = AclClassifierCompiled(RULES6, addr_bits=128)
    benchmark.extra_info.update(ops=N6, unit="packet")
    benchmark.pedantic(clf.classify6, args=PKTS6, rounds=5, iterations=1)


def test_acl6_build_1k(benchmark) -> None:
    benchmark.extra_info.update(ops=1, unit="build")
    benchmark.pedantic(AclClassifierCompiled, args=(RULES6,), kwargs={"addr_bits": 128},
                       rounds=3, iterations=1)


def test_acl6_linear_python_twin_1k(benchmark) -> None:
    clf = AclClassifierPy(RULES6, addr_bits=128)
    n = 1_000
    cols = tuple(c[:n] for c in PKTS6)
    benchmark.extra_info.update(ops=n, unit="packet")
    benchmark.pedantic(clf.classify6, args=cols, rounds=3, iterations=1)
