"""Named caveats of a replay, counted per packet: how many packets' answers each one touches.

Takes `PathCaveat`s (key, text, the names of the resources it is about, and the engine nodes
whose crossing makes a packet's answer carry it; built by engine/path_caveats.py) and, batch by
batch, the batch's distinct node paths (io/paths.py PathIndex). A packet carries a caveat when
its node path (source NIC, appliances, firewalls, gateways, destination NIC) holds one of the
caveat's nodes. Emits `as_list()`: summary.json's `caveats` entries
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
    """`nodes`: engine node indices (engine/compile.py Network order) whose crossing touches it;
    `resources`: the names of the resources it is about, as summary.json lists them."""

    key: str
    text: str
    resources: tuple[str, ...]
    nodes: frozenset[int]


class CaveatCounter:
    def __init__(self, caveats: Sequence[PathCaveat], node_count: int) -> None:
        self.caveats = tuple(caveats)
        self.packets = [0] * len(self.caveats)
        groups: dict[frozenset[int], list[int]] = {}
        for k, caveat in enumerate(self.caveats):
            groups.setdefault(caveat.nodes, []).append(k)
        self.groups: list[tuple[np.ndarray, list[int]]] = []
        for nodes, members in groups.items():
            mask = np.zeros(node_count + 1, dtype=bool)  # the last slot: -1 padding, never hit
            mask[[n for n in nodes if 0 <= n < node_count]] = True
            self.groups.append((mask, members))

    def add(self, paths: PathIndex) -> None:
        for mask, members in self.groups:
            hit_paths = mask[paths.paths].any(axis=1)
            hit = int(hit_paths[paths.index].sum())
            for k in members:
                self.packets[k] += hit

    def as_list(self) -> list[dict[str, Any]]:
        return [{"key": c.key, "text": c.text, "resources": list(c.resources), "packets": n}
                for c, n in zip(self.caveats, self.packets, strict=True)]
