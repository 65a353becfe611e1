"""Decision cache and persistent flow ids == reference: the bounded-memory paths (cache cleared,
flow ids compacted to the established flows between batches) and the flow-table capacity
(a full table refuses new flows, like FlowTable: the reference with a capped conntrack table;
within a batch too, for any batch split: openers past the table's room open nothing)."""

from __future__ import annotations

from batch_harness import assert_batch_matches_reference, traffic
from hypothesis import given, settings
from hypothesis import strategies as st

from dataplane.engine.batch import BatchPipeline
from dataplane.engine.compile import build_network


@settings(max_examples=40, deadline=None)
@given(traffic(max_packets=40, max_split=12), st.integers(0, 4), st.integers(0, 6))
def test_cache_clear_and_flow_compaction(demo_topology, case, cache_limit, flow_limit):
    pkts, split = case
    net = build_network(demo_topology)
    bp = BatchPipeline(net, cache_limit=cache_limit)
    bp.flow_limit = flow_limit
    assert_batch_matches_reference(net, pkts, split, bp)
    bp.reset_state()
    assert_batch_matches_reference(net, pkts, split, bp)  # a fresh run after reset gives the same answers


@settings(max_examples=40, deadline=None)
@given(traffic(max_packets=40, max_split=12), st.integers(0, 3))
def test_full_flow_table_refuses_new_flows(demo_topology, case, cap):
    pkts, split = case
    net = build_network(demo_topology)
    assert_batch_matches_reference(net, pkts, split, BatchPipeline(net, flow_capacity=cap),
                                   cap=cap)
