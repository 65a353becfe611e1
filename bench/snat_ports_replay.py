"""Firewall SNAT port allocation cost (issue 11, engine/snat_ports.py): BatchPipeline.run over a
workload where every flow is SNATed by an Azure Firewall (the hub of
tests/engine/test_firewall_nat.py: app1 -> Internet through fw, public IP 203.0.113.10).

    python bench/snat_ports_replay.py ROOT WORKLOAD BATCH [RUNS]

ROOT: a source tree (this one, or a `git archive` of a base commit with dataplane/_ext/*.so
copied in) -- its dataplane is imported; WORKLOAD: `spread` (50,000 TCP flows to 1,000 Internet
addresses, port 443, 4 forward packets each: 200,000 rows; a few hash ports collide) or
`crowded` (4,000 flows to one address:port: ~110 collisions, all in one space, the slow path);
BATCH: rows per run. Prints the best and mean of RUNS (default 3) cold runs (a fresh BatchPipeline each) and
how many of the flows leave on distinct (destination, port) pairs (all of them once ports are
unique). Results: bench/README.md "Unique firewall SNAT ports"."""
from __future__ import annotations

import importlib
import os
import sys
import tempfile
import time

import numpy as np


def main(root: str, kind: str, size: int, runs: int = 3) -> str:
    sys.path[:0] = [root, os.path.join(root, "tests", "engine")]
    dataplane = importlib.import_module("dataplane")
    assert dataplane.__file__.startswith(root), dataplane.__file__
    hub = importlib.import_module("test_firewall_nat").HUB
    build_network = importlib.import_module("dataplane.engine.compile").build_network
    batch = importlib.import_module("dataplane.engine.batch")
    path = os.path.join(tempfile.mkdtemp(), "hub.yaml")
    with open(path, "w") as f:
        f.write(hub.replace("    SNAT\n", ""))
    net = build_network(dataplane.load(path), caps=False)
    rng = np.random.default_rng(7)
    app1 = 0x0A010104
    if kind == "spread":  # 50k flows to 1,000 Internet addresses
        nflows = 50_000
        dst = (8 << 24) + rng.integers(0, 1000, nflows)
    else:  # 4,000 flows to one address:port (collisions in one space)
        nflows = 4_000
        dst = np.full(nflows, 8 << 24 | 0x080808)
    sport = rng.choice(np.arange(1024, 65536), nflows, replace=False)
    # each flow's 4 packets in rounds: every flow's first packet, then every flow's second, ...
    flow = np.tile(np.arange(nflows), 4)
    n = flow.size
    c = batch.Columns(
        nic=np.full(n, net.ip_nic[app1], np.int32), src=np.full(n, app1, np.int64),
        dst=dst[flow].astype(np.int64), proto=np.full(n, 6, np.int16),
        sport=sport[flow].astype(np.int32), dport=np.full(n, 443, np.int32),
        length=np.full(n, 100, np.int32), time_ns=np.arange(n, dtype=np.int64) * 1000,
        preset=np.full(n, batch.UNDECIDED, np.uint8), family=np.full(n, 4, np.uint8),
        src_hi=np.zeros(n, np.uint64), src_lo=np.full(n, app1, np.uint64),
        dst_hi=np.zeros(n, np.uint64), dst_lo=dst[flow].astype(np.uint64))
    seconds = []
    for _ in range(runs):
        bp = batch.BatchPipeline(net)
        t0 = time.perf_counter()
        ports = []
        for lo in range(0, n, size):
            bp.run(c.take(np.arange(lo, min(n, lo + size))))
            ports.append(bp.final[2].copy())
        seconds.append(time.perf_counter() - t0)
    if not runs:  # the build-only run (instruction counts: bench/README.md)
        return f"{kind}: built {n} rows"
    first = np.concatenate(ports)[:nflows]
    distinct = len(set(zip(dst.tolist(), first.tolist(), strict=True)))
    return (f"{kind} batch={size} rows={n} best={min(seconds):.3f}s "
            f"mean={np.mean(seconds):.3f}s rate={n / min(seconds) / 1e3:.0f}k rows/s; "
            f"flows on distinct (destination, port): {distinct} of {nflows}")


if __name__ == "__main__":
    print(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), *map(int, sys.argv[4:5])))
