"""Fragment chains (engine/fragments.py): the batch edge step, the follow step and the commit
step over 100,000 fragment rows (25,000 in-order datagrams of 4 fragments, first fragments
delivered), as the emulator runs them around BatchPipeline.run. Rows that are no fragment
cost one mask in the edge step and nothing else, so the figure is per fragment.

Run: pytest bench/test_fragments_bench.py -p no:cacheprovider --benchmark-json /tmp/frag.json
"""

from __future__ import annotations

from importlib import resources
from types import SimpleNamespace

import numpy as np

import dataplane
from dataplane.dispositions import Disposition as D
from dataplane.engine.batch import UNDECIDED, WIDTH, Labels
from dataplane.engine.compile import build_network
from dataplane.engine.conntrack import FragmentChains
from dataplane.engine.fragments import commit_np, edge_np, follow_np

N = 100_000
NET = build_network(dataplane.load(str(resources.files("dataplane.data").joinpath("demo.yaml"))))


def _rows() -> tuple[SimpleNamespace, SimpleNamespace]:
    datagram, position = np.arange(N) // 4, np.arange(N) % 4
    cols = SimpleNamespace(
        family=np.full(N, 4, np.uint8), src_hi=np.zeros(N, np.uint64),
        src_lo=np.full(N, 0x0A000204, np.uint64), dst_hi=np.zeros(N, np.uint64),
        dst_lo=(0x0A010104 + datagram // 65536).astype(np.uint64),
        proto=np.full(N, 17, np.int16), nic=np.ones(N, np.int32),
        preset=np.full(N, UNDECIDED, np.uint8))
    headers = SimpleNamespace(
        frag=np.where(position == 0, 1, 2).astype(np.uint8),
        frag_id=(datagram % 65536).astype(np.uint32),
        frag_offset=(position * 185).astype(np.uint16), frag_len=np.full(N, 1480, np.uint16),
        frag_more=(position < 3).astype(np.uint8))
    return cols, headers


def test_fragment_chain_steps(benchmark) -> None:
    cols, headers = _rows()
    labels = Labels()
    label = labels("route System 10.1.0.0/16 VNetPeering")

    def run() -> None:
        chains = FragmentChains(chains_max=N)
        cols.preset[:] = UNDECIDED
        plan = edge_np(chains, labels, cols, headers, np.zeros(N, np.int64), UNDECIDED)
        disp = np.full(N, D.DELIVERED, np.uint8)
        dec = np.full(N, label, np.int32)
        nodes = np.full((N, WIDTH), -1, np.int32)
        nodes[:, :2] = (1, 2)
        final = (np.zeros(N, np.int64), np.zeros(N, np.int64))
        follow_np(plan, NET, labels, disp, dec, nodes, final)
        commit_np(plan, disp, dec, nodes, final)
        assert chains.counts["completed"] == N // 4

    benchmark.extra_info.update(ops=N, unit="fragment")
    benchmark.pedantic(run, rounds=3, iterations=1)
