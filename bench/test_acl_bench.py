"""NSG classification at 1,000 rules: bit vectors vs compiled linear scan vs Python twin; flow
table (decision cache) probe for already-seen flows."""

from __future__ import annotations

import numpy as np
from _gen import nsg_packets, nsg_rules

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
