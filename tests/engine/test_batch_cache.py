"""Decision cache and persistent flow ids == reference: the bounded-memory paths (cache cleared,
flow ids compacted to the established flows between batches) and the flow-table capacity
(a full table refuses new flows, like FlowTable: the reference with a capped established set;
one packet per batch, since within a batch a flow that passed earlier in the same batch counts
even when the table is full -- the behaviour the FlowTable version had, kept)."""

from __future__ import annotations

import ipaddress

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

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
    for _ in range(draw(st.integers(1, 40))):
        s, d, p, sp, dp = draw(st.sampled_from(flows))
        if draw(st.booleans()):  # the reply direction
            s, d, sp, dp = d, s, dp, sp
        out.append((s, d, p, sp, dp, draw(st.sampled_from([0, 0, 0, 1, 2]))))
    return out, draw(st.integers(1, 12))


class _Capped(set):
    def __init__(self, cap: int) -> None:
        super().__init__()
        self.cap = cap

    def add(self, key) -> None:
        if key in self or len(self) < self.cap:
            super().add(key)


def _run(net, pkts, split, bp, cap=None):
    packets = [Packet(net.ip_nic.get(s, -1) if k == 0 else (k - 1), s, d, p, sp, dp, 100, i)
               for i, (s, d, p, sp, dp, k) in enumerate(pkts)]
    ref = ReferencePipeline(net)
    if cap is not None:
        ref.established = _Capped(cap)
    walks = ref.run(packets)
    got = []
    for lo in range(0, len(packets), split):
        part = packets[lo:lo + split]
        cols = Columns(*(np.array(x, dtype=t) for x, t in zip(zip(*part, strict=True), (
            np.int32, np.int64, np.int64, np.int16, np.int32, np.int32, np.int32, np.int64),
            strict=True)), preset=np.full(len(part), UNDECIDED, np.uint8))
        disp, dec, nodes = bp.run(cols)
        got += [(int(disp[i]), bp.labels.names[dec[i]] if dec[i] >= 0 else "",
                 [int(x) for x in nodes[i] if x >= 0]) for i in range(len(part))]
    assert got == [(int(w.disposition), w.deciding, w.nodes) for w in walks]


@settings(max_examples=40, deadline=None)
@given(traffic(), st.integers(0, 4), st.integers(0, 6))
def test_cache_clear_and_flow_compaction(demo_topology, case, cache_limit, flow_limit):
    pkts, split = case
    net = build_network(demo_topology)
    bp = BatchPipeline(net, cache_limit=cache_limit)
    bp.flow_limit = flow_limit
    _run(net, pkts, split, bp)
    bp.reset_state()
    _run(net, pkts, split, bp)  # a fresh run after reset gives the same answers


@settings(max_examples=40, deadline=None)
@given(traffic(), st.integers(0, 3))
def test_full_flow_table_refuses_new_flows(demo_topology, case, cap):
    pkts, _ = case
    net = build_network(demo_topology)
    _run(net, pkts, 1, BatchPipeline(net, flow_capacity=cap), cap=cap)
