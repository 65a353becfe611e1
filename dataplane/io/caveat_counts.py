"""Named caveats of a replay, counted per packet: how many packets' answers each one touches.

Takes `PathCaveat`s (key, text, the names of the resources it is about, and the engine nodes
whose crossing makes a packet's answer carry it; built by engine/path_caveats.py) and, batch by
batch, the batch's distinct node paths (io/paths.py PathIndex). A packet carries a caveat when
its node path (source NIC, appliances, firewalls, gateways, destination NIC) holds one of the
caveat's nodes (and, for a caveat about size, the packet is longer than its bound; for one
about address translation, the packet is addressed to one of its addresses). Emits:
* `add(paths, length_bytes, dst)` -> each packet's caveat keys, ';'-joined in input order ('' when
  none): packets.csv/parquet's `caveats` column (a dictionary array: one string per distinct
  (path, length class));
* `as_list()`: summary.json's `caveats` entries {"key", "text", "resources", "packets",
  "inPacketsTable": true} in input order (packets = 0: the caveat holds for the topology but touched no packet of this
  replay). A caveat's `packets` is counted from the same per-packet answer as the column, so
  it equals the number of rows whose `caveats` cell holds its key.
* `with_row_keys(cells, flagged)`: prepends to each packet's cell the keys of caveats decided
  per row, not per path (a TCP flow re-opened after idling out, a source address NICs of
  several VNets hold), in `flagged`'s order.
Work per batch is one boolean lookup per distinct path and group of caveats sharing their
nodes, and one per distinct (path, length class), never per packet and caveat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dataplane.io.paths import PathIndex


@dataclass(frozen=True)
class PathCaveat:
    """`nodes`: engine node indices (engine/compile.py Network order) whose crossing touches it
    (None: every path); `resources`: the names of the resources it is about, as summary.json
    lists them; `longer_than_bytes`: only packets longer than this carry it (-1: any length);
    `shown`: the line a packet's answer prints for it (`line()`: "key: text" unless set, as
    a firewall hop's own caveat text)."""

    key: str
    text: str
    resources: tuple[str, ...]
    nodes: frozenset[int] | None
    longer_than_bytes: int = -1
    shown: str = ""
    # only packets whose destination (IPv4, as sent) is one of these carry it (None: any)
    to_addresses: frozenset[int] | None = None

    def line(self) -> str:
        return self.shown or f"{self.key}: {self.text}"


def sent_ipv4(columns: dict[str, np.ndarray]) -> np.ndarray:
    """int64 per row: the IPv4 destination as sent (result columns `dst`), -1 for IPv6 rows
    (`add`'s `dst`)."""
    dst = columns["dst"].astype(np.int64)
    return np.where(columns["family"] == 6, -1, dst) if "family" in columns else dst


class CaveatCounter:
    def __init__(self, caveats: Sequence[PathCaveat], node_count: int) -> None:
        self.caveats = tuple(caveats)
        self.packets = [0] * len(self.caveats)
        groups: dict[tuple[frozenset[int] | None, int, frozenset[int] | None], list[int]] = {}
        for k, caveat in enumerate(self.caveats):
            groups.setdefault((caveat.nodes, caveat.longer_than_bytes, caveat.to_addresses),
                              []).append(k)
        # (node mask or None for every packet, length bound, caveats): the mask's last slot
        # stands for the -1 padding of a path and is never set
        self.groups: list[tuple[np.ndarray | None, int, list[int]]] = []
        self.group_addresses: list[frozenset[int] | None] = []
        for (nodes, longer_than_bytes, addresses), members in groups.items():
            mask = None
            if nodes is not None:
                mask = np.zeros(node_count + 1, dtype=bool)
                mask[[n for n in nodes if 0 <= n < node_count]] = True
            self.groups.append((mask, longer_than_bytes, members))
            self.group_addresses.append(addresses)
        self.keys = [c.key for c in self.caveats]
        self.bounds = sorted({b for _, b, _ in self.groups if b >= 0})  # the length bounds
        self.address_sets = list(dict.fromkeys(a for a in self.group_addresses if a is not None))
        self._address_arrays = [np.array(sorted(a), dtype=np.int64) for a in self.address_sets]

    def add(self, paths: PathIndex, length_bytes: np.ndarray,
            dst: np.ndarray | None = None) -> pa.DictionaryArray:
        """One batch: its distinct paths, each packet's length (bytes, as captured) and its
        IPv4 destination as sent (int64, -1 for other families; needed when a caveat has
        `to_addresses`, None: no packet is addressed to them). Counts every caveat's packets
        and returns each packet's keys ';'-joined (module doc)."""
        hits = np.zeros((paths.paths.shape[0], len(self.groups)), dtype=bool)
        for g, (mask, _, _) in enumerate(self.groups):  # per distinct path, per group
            hits[:, g] = True if mask is None else mask[paths.paths].any(axis=1)
        # a packet's class: bit i set when it is longer than the i-th bound, then a bit per
        # address set holding its destination
        longer = np.zeros(paths.index.size, dtype=np.int64)
        for i, bound in enumerate(self.bounds):
            longer |= (length_bytes > bound).astype(np.int64) << i
        for j, addresses in enumerate(self._address_arrays):
            if dst is not None:
                longer |= np.isin(dst, addresses).astype(np.int64) << (len(self.bounds) + j)
        classes = 1 << (len(self.bounds) + len(self.address_sets))
        encoded = pc.dictionary_encode(pa.array(paths.index * classes + longer))
        codes = encoded.dictionary.to_numpy()  # distinct (path, class)
        held = hits[codes // classes]
        for g, (_, bound, _) in enumerate(self.groups):
            if bound >= 0:
                held[:, g] &= (codes >> self.bounds.index(bound) & 1).astype(bool)
            addresses = self.group_addresses[g]
            if addresses is not None:
                bit = len(self.bounds) + self.address_sets.index(addresses)
                held[:, g] &= (codes >> bit & 1).astype(bool)
        rows = np.bincount(encoded.indices.to_numpy(), minlength=codes.size)
        for g, (_, _, members) in enumerate(self.groups):
            count = int(rows[held[:, g]].sum())
            for k in members:
                self.packets[k] += count
        cells: dict[str, int] = {}  # distinct cells (Parquet keeps a dictionary of unique values)
        cell_of_code = np.array([cells.setdefault(";".join(self.keys[k] for k in sorted(
            k for g in np.flatnonzero(row).tolist() for k in self.groups[g][2])), len(cells))
            for row in held], dtype=np.int32)
        return pa.DictionaryArray.from_arrays(
            pa.array(cell_of_code[encoded.indices.to_numpy()]), pa.array(list(cells), pa.string()))

    def as_list(self) -> list[dict[str, Any]]:
        return [{"key": c.key, "text": c.text, "resources": list(c.resources), "packets": n,
                 "inPacketsTable": True}
                for c, n in zip(self.caveats, self.packets, strict=True)]


def with_row_keys(cells: pa.DictionaryArray,
                  flagged: Sequence[tuple[str, np.ndarray]]) -> pa.DictionaryArray:
    """`cells` (CaveatCounter.add's column, n rows) with, per row, the keys of `flagged`
    ((key, bool[n]) pairs) whose mask holds the row, ';'-joined before the row's own keys in
    `flagged`'s order. Work is per distinct (cell, flags) pair, never per packet."""
    flagged = [(key, mask) for key, mask in flagged if mask.any()]
    if not flagged:
        return cells
    code = cells.indices.to_numpy().astype(np.int64) << len(flagged)
    for bit, (_, mask) in enumerate(flagged):
        code |= mask.astype(np.int64) << bit
    encoded = pc.dictionary_encode(pa.array(code))
    old = cells.dictionary.to_pylist()
    texts = []
    for c in encoded.dictionary.to_numpy().tolist():
        keys = [key for bit, (key, _) in enumerate(flagged) if c >> bit & 1]
        texts.append(";".join(keys + ([old[c >> len(flagged)]] if old[c >> len(flagged)] else [])))
    return pa.DictionaryArray.from_arrays(encoded.indices, pa.array(texts, pa.string()))

