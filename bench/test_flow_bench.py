"""Flow table (decision cache) vs the NSG classifier on the same flows, in the same run.

The issue asks for "cached flows faster still": a packet of a known flow is answered by one
flow-table probe instead of a first-packet classification. Workload: 500k distinct flows from
`nsg_packets` (half aimed at one of 1,000 rules), all cached in a 500k-capacity table (load
~0.48, Azure's per-direction limit); the classifier (1,000 rules, bit vectors) classifies the
very same 500k flows. Also: insert of 500k new flows, IPv6 probe, and a mixed hit/miss probe.
Compare rates (ops / mean): test_flow_probe_hit_500k vs test_flow_same_flows_acl_1k.
"""

from __future__ import annotations

import numpy as np
from _gen import nsg_packets, nsg_rules

from dataplane.kernels.acl import AclClassifierCompiled
from dataplane.kernels.flows import FlowKeys, FlowTableCompiled

N = 500_000
RULES = nsg_rules(1000)
PKTS = nsg_packets(RULES, N)
KEYS = FlowKeys.v4(*PKTS)


def _v6_keys(n: int, seed: int = 9) -> FlowKeys:
    rng = np.random.default_rng(seed)
    base = np.uint64(0x20010DB800000000)
    u = rng.integers(0, 1 << 62, (4, n), dtype=np.uint64)
    return FlowKeys.v6(base | (u[0] >> np.uint64(32)), u[1], base | (u[2] >> np.uint64(32)),
                       u[3], rng.integers(1024, 65536, n), rng.integers(0, 65536, n),
                       rng.choice([6, 17], n))


def test_flow_same_flows_acl_1k(benchmark) -> None:
    clf = AclClassifierCompiled(RULES)
    benchmark.extra_info.update(ops=N, unit="packet")
    benchmark.pedantic(clf.classify, args=PKTS, rounds=5, iterations=1)


def test_flow_probe_hit_500k(benchmark) -> None:
    table = FlowTableCompiled(N)
    assert not table.insert(KEYS, np.arange(N)).any()  # all distinct, all inserted
    benchmark.extra_info.update(ops=N, unit="packet")
    benchmark.pedantic(table.lookup, args=(KEYS,), rounds=5, iterations=1)


def test_flow_probe_half_miss_500k(benchmark) -> None:
    table = FlowTableCompiled(N)
    half = FlowKeys(*(c[: N // 2] for c in KEYS))
    table.insert(half, np.arange(N // 2))
    benchmark.extra_info.update(ops=N, unit="packet")
    benchmark.pedantic(table.lookup, args=(KEYS,), rounds=5, iterations=1)


def test_flow_probe_hit_v6_500k(benchmark) -> None:
    keys = _v6_keys(N)
    table = FlowTableCompiled(N)
    table.insert(keys, np.arange(N))
    benchmark.extra_info.update(ops=N, unit="packet")
    benchmark.pedantic(table.lookup, args=(keys,), rounds=5, iterations=1)


def test_flow_insert_new_500k(benchmark) -> None:
    state = np.arange(N)

    def run() -> None:
        FlowTableCompiled(N).insert(KEYS, state)

    benchmark.extra_info.update(ops=N, unit="insert")
    benchmark.pedantic(run, rounds=3, iterations=1)
