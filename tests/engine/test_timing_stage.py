"""Timing stage == the straightforward per-leg version (kept here as the oracle): random paths
(gaps and -1 senders included), unsorted send times, shaper drops, state across batches."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dataplane.engine import timing_stage
from dataplane.engine.compile import build_network
from dataplane.errors import InputError
from dataplane.kernels.shaper import Shaper


def _oracle(net, shaper, nodes, time_in, length):
    n, width = nodes.shape
    t = time_in.astype(np.int64).copy()
    alive = np.ones(n, dtype=bool)
    dropped = np.zeros(n, dtype=bool)
    for k in range(width - 1):
        idx = np.flatnonzero(alive & (nodes[:, k + 1] >= 0))
        if idx.size == 0:
            break
        send, recv = nodes[idx, k], nodes[idx, k + 1]
        vm = net.node_vm[send]
        shaped = vm >= 0
        if shaped.any():
            sidx = idx[shaped]
            order = np.argsort(t[sidx], kind="stable")
            sidx = sidx[order]
            depart, drop = shaper.shape(vm[shaped][order].astype(np.int32), t[sidx],
                                        length[sidx].astype(np.int32))
            t[sidx] = depart
            dropped[sidx[drop]] = True
            alive[sidx[drop]] = False
        keep = alive[idx]
        idx, send, recv = idx[keep], send[keep], recv[keep]
        rs, rr = net.node_region[send], net.node_region[recv]
        rr = np.where(rr < 0, rs, rr)
        lat = net.latency_ns[rs, rr]
        if (lat < 0).any():
            raise InputError("no published latency")
        t[idx] = t[idx] + lat + net.node_cost_ns[recv]
    t[dropped] = -1
    return t, dropped


@st.composite
def batches(draw, nn: int, width: int):
    out = []
    for _ in range(draw(st.integers(1, 3))):
        rows = draw(st.lists(st.tuples(
            st.lists(st.integers(-1, nn - 1), min_size=width, max_size=width),
            st.integers(0, 2000), st.sampled_from([64, 1500, 9000])), max_size=30))
        if draw(st.booleans()):  # mostly -1 padded paths, as the pipeline makes them
            rows = [(([x for x in p if x >= 0] + [-1] * width)[:width], dt, ln)
                    for p, dt, ln in rows]
        out.append(rows)
    return out


@settings(max_examples=80, deadline=None)
@given(data=st.data(), queue=st.sampled_from([0, 3000, 1 << 20]), sorted_in=st.booleans())
def test_timing_matches_oracle(demo_topology, data, queue, sorted_in) -> None:
    net = build_network(demo_topology)
    nn, width = int(net.node_region.size), 5
    caps = np.asarray(net.vm_cap_bps)
    fast, slow = Shaper(caps, queue), Shaper(caps, queue)
    clock = 0
    for rows in data.draw(batches(nn, width)):
        nodes = np.array([r[0] for r in rows], dtype=np.int32).reshape(len(rows), width)
        dt = np.array([r[1] for r in rows], dtype=np.int64)
        t = clock + (np.cumsum(dt) if sorted_in else dt)
        clock = int(t.max()) if t.size else clock
        length = np.array([r[2] for r in rows], dtype=np.int32)
        try:
            want = _oracle(net, slow, nodes, t, length)
        except InputError:
            return
        got = timing_stage.apply_timing(net, fast, nodes, t, length)
        assert got[0].tolist() == want[0].tolist()
        assert got[1].tolist() == want[1].tolist()
        assert fast.last_depart_ns.tolist() == slow.last_depart_ns.tolist()
