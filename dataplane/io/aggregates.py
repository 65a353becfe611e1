"""Running aggregates of a replay, for summary.json: constant memory, whatever the capture size.

Takes decided batches (the columns the Emulator's sink hands over, the node paths) and the
network's names (node names, regions, VNets, deciding-rule labels). Keeps only counters:
dispositions, (source node, last node, disposition) pairs, deciding rules, bytes per VNet pair
crossed, and latency histograms of delivered packets (all / regional / global path: `global_paths`).
The histograms hold DELIVERED packets only: a packet that leaves the network (EXITS_*) is timed
only to its region's edge (assumption internet-edge-latency, engine/timing_stage.py), not to
where it goes; summary.json's latency-histogram caveat counts the same packets
(io/writers.py).
Emits `as_dict()`: camelCase keys as az prints them.
Latency percentiles come from a log-linear histogram: exact below 1024 ns, above that
buckets 1/1024 of a power of two wide (the value reported is the bucket's lower bound, at most
0.1% below the exact percentile; `LATENCY_CAVEAT`). Percentiles use the "lower" method (the
k-th smallest, k = floor(q/100 (n-1))).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from dataplane.dispositions import Disposition as D
from dataplane.io.paths import PathIndex

N_CODES = int(max(D)) + 1  # disposition codes may have gaps (branches append their own)
SUB_BITS = 10
SUB = 1 << SUB_BITS
BUCKETS = SUB + 54 * SUB
LATENCY_CAVEAT = ("latency percentiles come from a log-linear histogram: exact below 1024 ns, "
                  "above that at most 0.1% below the exact value")
DENSE_KEYS = 1 << 22


def latency_bucket(ns: np.ndarray) -> np.ndarray:
    v = np.maximum(ns.astype(np.int64), 0)
    bits = np.frexp(v.astype(np.float64))[1].astype(np.int64)  # bit length
    shift = np.maximum(bits - (SUB_BITS + 1), 0)
    return np.where(v < SUB, v, SUB + shift * SUB + ((v >> shift) - SUB))


def bucket_floor(index: np.ndarray) -> np.ndarray:
    index = index.astype(np.int64)
    shift = np.maximum(index - SUB, 0) // SUB
    mantissa = (index - SUB) % SUB + SUB
    return np.where(index < SUB, index, mantissa << shift)


def global_paths(paths: np.ndarray, node_region: np.ndarray) -> np.ndarray:
    """Per path (rows of node indices, -1 after the last): whether a leg of it is global, as
    the timing legs say (`global` per leg; engine/timing_stage.py times a leg between its two
    nodes' regions): a leg is global when both nodes have a region and the regions differ. A
    node without one -- the Internet, on-premises (region -1) -- takes the other end's region
    for its leg's latency, so a leg to or from it is never global: a packet from the Internet
    to a VM in one region is regional, whatever the path's first node. Shared by summary.json
    and engine/results.py's exact percentiles."""
    regions = np.where(paths >= 0, node_region[np.maximum(paths, 0)], -1)
    a, b = regions[:, :-1], regions[:, 1:]
    return ((a >= 0) & (b >= 0) & (a != b)).any(axis=1)


class _KeyCounter:
    """Counts of non-negative integer keys: a dense bincount while the key space is small (it
    grows with the largest key seen, as rule labels do), sorted unique past DENSE_KEYS."""

    def __init__(self, size: int) -> None:
        self.dense = np.zeros(size, dtype=np.int64) if size <= DENSE_KEYS else None
        self.sparse: Counter = Counter()

    def add(self, keys: np.ndarray, weights: np.ndarray | None = None) -> None:
        top = int(keys.max()) + 1 if keys.size else 0
        if self.dense is not None and top > self.dense.size:
            if top <= DENSE_KEYS:
                self.dense = np.concatenate([self.dense, np.zeros(top - self.dense.size,
                                                                  dtype=np.int64)])
            else:
                self.sparse.update(dict(self.items()))
                self.dense = None
        if self.dense is not None:
            self.dense += np.bincount(keys, weights, minlength=self.dense.size).astype(np.int64)
            return
        uniq, inverse = np.unique(keys, return_inverse=True)
        sums = np.bincount(inverse, weights) if weights is not None else np.bincount(inverse)
        for key, value in zip(uniq.tolist(), sums.astype(np.int64).tolist(), strict=True):
            self.sparse[key] += value

    def items(self) -> list[tuple[int, int]]:
        if self.dense is not None:
            keys = np.flatnonzero(self.dense)
            return list(zip(keys.tolist(), self.dense[keys].tolist(), strict=True))
        return sorted((k, v) for k, v in self.sparse.items() if v)


class Aggregates:
    def __init__(self, node_names: tuple[str, ...], node_region: np.ndarray,
                 node_vnet: np.ndarray, vnet_names: tuple[str, ...],
                 labels: tuple[str, ...] | list[str]) -> None:
        self.node_names = node_names
        self.node_region = node_region
        self.node_vnet = node_vnet
        self.vnet_names = vnet_names
        self.labels = labels
        nodes, vnets = len(node_names) + 1, len(vnet_names)
        self.read = 0
        self.dispositions = np.zeros(N_CODES, dtype=np.int64)
        self.pairs = _KeyCounter(nodes * nodes * N_CODES)
        self.rules = _KeyCounter(len(labels) + 1)
        self.peering = _KeyCounter(max(vnets * vnets, 1))
        self.latency = {kind: np.zeros(BUCKETS, dtype=np.int64)
                        for kind in ("all", "regional", "global")}
        self.latency_max = dict.fromkeys(self.latency, -1)

    def add(self, cols: dict[str, np.ndarray], paths: PathIndex) -> None:
        """One decided batch, its hop paths grouped (io/paths.py): per-path work is done once
        per distinct path."""
        disp = cols["disposition"].astype(np.int64)
        self.read += disp.size
        self.dispositions += np.bincount(disp, minlength=N_CODES)
        n_nodes = len(self.node_names) + 1
        p = paths.paths
        hops = (p >= 0).sum(axis=1)
        last = np.where(hops > 1, p[np.arange(p.shape[0]), np.maximum(hops - 1, 0)], -1)
        pair = (p[:, 0].astype(np.int64) + 1) * n_nodes + (last + 1)
        self.pairs.add(pair[paths.index] * N_CODES + disp)
        self.rules.add(cols["deciding"].astype(np.int64) + 1)
        self._peering(paths, cols["length"], disp)
        self._latency(cols, paths, disp)

    def _peering(self, paths: PathIndex, length: np.ndarray, disp: np.ndarray) -> None:
        p = paths.paths
        if p.shape[1] < 2 or not self.vnet_names:
            return
        vn = np.where(p >= 0, self.node_vnet[np.maximum(p, 0)], -1).astype(np.int64)
        a, b = vn[:, :-1], vn[:, 1:]
        crossing = (a >= 0) & (b >= 0) & (a != b)
        if not crossing.any():
            return
        moved = np.where(disp != D.UNMAPPED, length, 0).astype(np.float64)
        per_path = np.bincount(paths.index, weights=moved, minlength=p.shape[0])
        weights = np.broadcast_to(per_path[:, None], a.shape)[crossing]
        self.peering.add(a[crossing] * len(self.vnet_names) + b[crossing], weights)

    def _latency(self, cols: dict[str, np.ndarray], paths: PathIndex, disp: np.ndarray
                 ) -> None:
        ok = np.flatnonzero(disp == D.DELIVERED)
        if not ok.size:
            return
        lat = (cols["time_out"][ok] - cols["time_in"][ok]).astype(np.int64)
        glob = global_paths(paths.paths, self.node_region)[paths.index[ok]]
        buckets = latency_bucket(lat)
        for kind, sel in (("all", slice(None)), ("regional", ~glob), ("global", glob)):
            chosen = buckets[sel]
            if chosen.size:
                self.latency[kind] += np.bincount(chosen, minlength=BUCKETS)
                self.latency_max[kind] = max(self.latency_max[kind], int(lat[sel].max()))

    def _name(self, node: int) -> str:
        return self.node_names[node] if node >= 0 else "-"

    def latency_percentiles(self) -> dict[str, dict[str, int]]:
        out = {}
        for kind, histogram in self.latency.items():
            count = int(histogram.sum())
            if not count:
                continue
            cumulative = np.cumsum(histogram)
            row = {"count": count}
            for q in (50, 90, 99):
                rank = int(np.floor((count - 1) * q / 100))
                index = int(np.searchsorted(cumulative, rank, side="right"))
                row[f"p{q}"] = int(bucket_floor(np.array([index]))[0])
            row["max"] = self.latency_max[kind]
            out[kind] = row
        return out

    def as_dict(self) -> dict[str, Any]:
        n_nodes = len(self.node_names) + 1
        counts = {D(v).name: int(c) for v, c in enumerate(self.dispositions.tolist()) if c}
        pairs: dict[str, Counter] = {}
        for key, count in self.pairs.items():
            rest, d = divmod(key, N_CODES)
            a, b = divmod(rest, n_nodes)
            pairs.setdefault(f"{self._name(a - 1)} -> {self._name(b - 1)}", Counter())[
                D(d).name] += count
        rules = {(self.labels[k - 1] if k > 0 else "-"): v for k, v in self.rules.items()}
        links = {}
        for key, total in self.peering.items():
            a, b = divmod(key, len(self.vnet_names))
            links[f"{self.vnet_names[a]} -> {self.vnet_names[b]}"] = int(total)
        return {
            "read": self.read,
            "dispositions": dict(sorted(counts.items())),
            "reasons": {k: D[k].reason for k in sorted(counts)},
            "byVmPair": {k: dict(v) for k, v in sorted(pairs.items())},
            "byDecidingRule": rules,
            "latencyNs": self.latency_percentiles(),
            "bytesPerPeeringLink": dict(sorted(links.items())),
        }
