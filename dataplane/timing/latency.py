"""One-way propagation latency between regions, integer nanoseconds.

Takes: azure-latency.csv (package data; directed P50 RTT in ms by region display name,
docs/azure-behaviour.md §1) and TimingParams. Emits `LatencyTable.one_way_ns(src, dst)`:
same region (also regional peering, section 9) -> params.intra_region_ns; different regions ->
directed RTT(src -> dst) / 2, exactly `rtt_ms * 500_000` ns. A pair missing from the table is
an InputError naming both regions. Model locations ("westeurope") and CSV display names
("West Europe") are matched by folding (lower case, no spaces).
"""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

from dataplane.errors import InputError
from dataplane.regions import fold_region
from dataplane.timing.params import TimingParams

__all__ = ["LatencyTable", "fold_region", "rtt_table"]


@lru_cache(maxsize=1)
def rtt_table() -> dict[tuple[str, str], float]:
    """Directed P50 RTT in ms keyed by (source, destination) folded region names (azure-latency.csv)."""
    text = resources.files("dataplane.data").joinpath("azure-latency.csv").read_text()
    out: dict[tuple[str, str], float] = {}
    for row in csv.DictReader(text.splitlines()):
        out[(fold_region(row["source_region"]), fold_region(row["dest_region"]))] = float(
            row["rtt_ms"])
    return out


class LatencyTable:
    """Directed one-way latency between folded region names."""

    def __init__(self, params: TimingParams | None = None,
                 rtt_ms: dict[tuple[str, str], float] | None = None) -> None:
        self.params = params or TimingParams()
        self.rtt_ms = rtt_ms if rtt_ms is not None else rtt_table()

    def rtt_ns(self, source: str, destination: str) -> int:
        a, b = fold_region(source), fold_region(destination)
        if a == b:
            return 2 * self.params.intra_region_ns
        if (a, b) not in self.rtt_ms:
            raise InputError(f"no published P50 latency from region '{source}' to "
                             f"'{destination}' in azure-latency.csv")
        return round(self.rtt_ms[(a, b)] * 1_000_000)

    def one_way_ns(self, source: str, destination: str) -> int:
        """Same region: the intra-region baseline; else directed table RTT / 2."""
        if fold_region(source) == fold_region(destination):
            return self.params.intra_region_ns
        return self.rtt_ns(source, destination) // 2

    def is_global(self, source: str, destination: str) -> bool:
        return fold_region(source) != fold_region(destination)
