"""Batch pipeline state and flow dedup == reference: repeated flows, reverse traffic within and
across batches, and forced hash collisions (the exact fallback of `_flow_ids`)."""

from __future__ import annotations

import ipaddress

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataplane.engine import batch as batch_mod
from dataplane.engine.batch import UNDECIDED, BatchPipeline, Columns
from dataplane.engine.compile import build_network
from dataplane.engine.reference import Packet, ReferencePipeline

IPS = [int(ipaddress.IPv4Address(a)) for a in (
    "10.0.1.4", "10.0.2.4", "10.1.1.4", "10.1.1.5", "10.2.1.4", "192.168.3.3", "8.8.8.8")]

flow = st.tuples(st.sampled_from(IPS), st.sampled_from(IPS), st.sampled_from([6, 17, 1]),
                 st.sampled_from([22, 443, 1433, 40000]), st.sampled_from([23, 80, 1433, 40000]))


@st.composite
def traffic(draw):
    flows = draw(st.lists(flow, min_size=1, max_size=6))
    out = []
    for _ in range(draw(st.integers(1, 60))):
        s, d, p, sp, dp = draw(st.sampled_from(flows))
        if draw(st.booleans()):  # the reply direction
            s, d, sp, dp = d, s, dp, sp
        out.append((s, d, p, sp, dp, draw(st.sampled_from([0, 0, 0, 1, 2]))))
    return out, draw(st.integers(1, 60))


def _check(net, pkts, split):
    packets = [Packet(net.ip_nic.get(s, -1) if k == 0 else (k - 1), s, d, p, sp, dp, 100, i)
               for i, (s, d, p, sp, dp, k) in enumerate(pkts)]
    walks = ReferencePipeline(net).run(packets)
    bp = BatchPipeline(net)
    got = []
    for lo in range(0, len(packets), split):
        part = packets[lo:lo + split]
        cols = Columns(*(np.array(x, dtype=t) for x, t in zip(zip(*part, strict=True), (
            np.int32, np.int64, np.int64, np.int16, np.int32, np.int32, np.int32, np.int64),
            strict=True)), preset=np.full(len(part), UNDECIDED, np.uint8))
        disp, dec, nodes = bp.run(cols)
        got += [(int(disp[i]), bp.labels.names[dec[i]] if dec[i] >= 0 else "",
                 [int(x) for x in nodes[i] if x >= 0]) for i in range(len(part))]
    want = [(int(w.disposition), w.deciding, w.nodes) for w in walks]
    assert got == want


@settings(max_examples=60, deadline=None)
@given(traffic())
def test_repeated_flows_and_replies_across_batches(demo_topology, case):
    pkts, split = case
    _check(build_network(demo_topology), pkts, split)


@settings(max_examples=25, deadline=None)
@given(traffic())
def test_hash_collisions_fall_back_to_exact_ids(demo_topology, case):
    """Every 5-tuple hashes alike: `_flow_ids` must notice and use exact ids."""
    pkts, split = case
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(batch_mod, "mix64", lambda a, b: np.zeros(a.shape, dtype=np.uint64))
        _check(build_network(demo_topology), pkts, split)
