"""Batch pipeline state and flow dedup == reference: repeated flows, reverse traffic within and
across batches, and forced hash collisions (the exact fallback of `_flow_ids`)."""

from __future__ import annotations

import numpy as np
import pytest
from batch_harness import assert_batch_matches_reference, traffic
from hypothesis import given, settings

from dataplane.engine import batch as batch_mod
from dataplane.engine.compile import build_network


@settings(max_examples=60, deadline=None)
@given(traffic())
def test_repeated_flows_and_replies_across_batches(demo_topology, case):
    pkts, split = case
    assert_batch_matches_reference(build_network(demo_topology), pkts, split)


@settings(max_examples=25, deadline=None)
@given(traffic())
def test_hash_collisions_fall_back_to_exact_ids(demo_topology, case):
    """Every decision key and conntrack state hashes alike (kernels/dkeys, as batch.py imports
    them): the decision cache and the state table must compare whole keys and keep exact ids."""
    pkts, split = case
    zeros = lambda keys: np.zeros(keys.shape[0], dtype=np.uint64)  # noqa: E731
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(batch_mod, "key_hashes", zeros)
        mp.setattr(batch_mod, "state_hashes", zeros)
        assert_batch_matches_reference(build_network(demo_topology), pkts, split)
