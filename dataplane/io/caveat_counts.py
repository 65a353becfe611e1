"""Named caveats of a replay, counted per packet: how many packets' answers each one touches.

Takes `PathCaveat`s (key, text, the names of the resources it is about, and the engine nodes
whose crossing makes a packet's answer carry it; built by engine/path_caveats.py) and, batch by
batch, the batch's distinct node paths (io/paths.py PathIndex). A packet carries a caveat when
its node path (source NIC, appliances, firewalls, gateways, destination NIC) holds one of the
caveat's nodes (and, for a caveat about size, the packet is longer than its bound). Emits `as_list()`: summary.json's `caveats` entries
{"key", "text", "resources", "packets"} in input order (packets = 0: the caveat holds for the
topology but touched no packet of this replay). Work per batch is one boolean lookup per
distinct path and group of caveats sharing their nodes, never per packet and caveat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dataplane.io.paths import PathIndex


@dataclass(frozen=True)
class PathCaveat:
    """`nodes`: engine node indices (engine/compile.py Network order) whose crossing touches it
    (None: every path); `resources`: the names of the resources it is about, as summary.json
    lists them; `longer_than_bytes`: only packets longer than this carry it (-1: any length)."""

    key: str
    text: str
    resources: tuple[str, ...]
    nodes: frozenset[int] | None
    longer_than_bytes: int = -1


class CaveatCounter:
    def __init__(self, caveats: Sequence[PathCaveat], node_count: int) -> None:
        self.caveats = tuple(caveats)
        self.packets = [0] * len(self.caveats)
        groups: dict[tuple[frozenset[int] | None, int], list[int]] = {}
        for k, caveat in enumerate(self.caveats):
            groups.setdefault((caveat.nodes, caveat.longer_than_bytes), []).append(k)
        # (node mask or None for every packet, length bound, caveats): the mask's last slot
        # stands for the -1 padding of a path and is never set
        self.groups: list[tuple[np.ndarray | None, int, list[int]]] = []
        for (nodes, longer_than_bytes), members in groups.items():
            mask = None
            if nodes is not None:
                mask = np.zeros(node_count + 1, dtype=bool)
                mask[[n for n in nodes if 0 <= n < node_count]] = True
            self.groups.append((mask, longer_than_bytes, members))

    def add(self, paths: PathIndex, length_bytes: np.ndarray) -> None:
        """One batch: its distinct paths and each packet's length (bytes, as captured)."""
        for mask, longer_than_bytes, members in self.groups:
            if mask is None:
                hit = np.ones(paths.index.size, dtype=bool)
            elif mask.any():
                hit = mask[paths.paths].any(axis=1)[paths.index]
            else:
                continue
            if longer_than_bytes >= 0:
                hit = hit & (length_bytes > longer_than_bytes)
            count = int(hit.sum())
            for k in members:
                self.packets[k] += count

    def as_list(self) -> list[dict[str, Any]]:
        return [{"key": c.key, "text": c.text, "resources": list(c.resources), "packets": n}
                for c, n in zip(self.caveats, self.packets, strict=True)]
