"""Timing stage == a naive event-order oracle kept here: every leg of every packet shaped in
the order packets reach the sender (time, row, leg), found by scanning all pending legs for the
smallest key (no heap). Random paths (gaps and -1 senders included), unsorted send times,
shaper drops, state across batches; plus `settled_rows` against its definition."""

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
    path = [[] for _ in range(n)]
    for i in range(n):
        for k in range(width):
            if nodes[i, k] < 0:
                break
            path[i].append(int(nodes[i, k]))
    out = [int(x) for x in time_in]
    dropped = [False] * n
    pending = {i: (int(time_in[i]), 0) for i in range(n) if len(path[i]) > 1}
    while pending:
        i = min(pending, key=lambda r: (pending[r][0], r, pending[r][1]))
        now, k = pending.pop(i)
        send, recv = path[i][k], path[i][k + 1]
        vm = int(net.node_vm[send])
        depart = now
        if vm >= 0:
            d, x = shaper.shape(np.array([vm], np.int32), np.array([now], np.int64),
                                np.array([length[i]], np.int32))
            if x[0]:
                dropped[i], out[i] = True, -1
                continue
            depart = int(d[0])
        rs, rr = int(net.node_region[send]), int(net.node_region[recv])
        rs, rr = (rr if rs < 0 else rs), (rs if rr < 0 else rr)  # the Internet node (v6fix)
        lat = int(net.latency_ns[rs, rr])
        if lat < 0:
            raise InputError("no published latency")
        arrive = depart + lat + int(net.node_cost_ns[recv])
        if k + 2 < len(path[i]):
            pending[i] = (arrive, k + 1)
        else:
            out[i] = arrive
    return np.array(out, dtype=np.int64), np.array(dropped)


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
