"""Peering data-transfer cost (docs/azure-behaviour.md §6).

Takes: peering-pricing.csv and region-zones.csv (package data, read with importlib.resources)
and the VNet-to-VNet crossings of a flow's path with the VNets' regions. Emits USD per GB and
monthly projections. Rules (section 6):
* a crossing between VNets in the same region (regional peering): $0.01/GB outbound at the
  sending VNet + $0.01/GB inbound at the receiving VNet ("charged at both ends");
* a crossing between regions (global peering): the sending region's zone egress rate + the
  receiving region's zone ingress rate ("outbound data transfer rates for Zone 1 and inbound
  data transfer rates for Zone 2 will be applicable");
* a flow through a hub NVA crosses two peerings and pays both.
region-zones.csv covers every region of azure-latency.csv: the zones the pricing copy lists,
and for the 15 newer regions it does not list (Sweden Central, Poland Central, West US 3, ...)
a zone inferred from geography (Zone 1 North America and Europe, Zone 2 Asia Pacific, Zone 3
South America, Africa, Middle East; column `basis`, assumption `pricing-zone-inferred`, named
in PRICING_CAVEAT). Other regions are an InputError unless the spec maps them (`cost: {zones:
{REGION: Zone 1}}`).
Gateway data transfer is not modelled. GB = 10^9 bytes (assumption; Azure bills "per GB").
Prices are undated, from a third-party copy of the pricing page (PRICING_CAVEAT, printed in
every report).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from dataplane.errors import InputError
from dataplane.timing.latency import fold_region

HOURS_PER_MONTH = 730  # Azure's pricing calculator month
GB = 1_000_000_000


def inferred_zone_regions() -> list[str]:
    """Regions whose pricing zone is inferred from geography, not listed by the source."""
    text = resources.files("dataplane.data").joinpath("region-zones.csv").read_text()
    return [r["region"] for r in csv.DictReader(text.splitlines())
            if (r.get("basis") or "").startswith("NOT LISTED")]


PRICING_CAVEAT = (
    "Peering prices from peering-pricing.csv (docs/azure-behaviour.md §6): regional $0.01/GB in and "
    "out; global Zone 1 $0.035, Zone 2 $0.09, Zone 3 $0.16 per GB, charged at both ends. "
    "Source: a third-party verbatim copy of azure.microsoft.com/pricing/details/virtual-network "
    "and the infracost golden test; date of prices NOT confirmed from the official page - "
    "re-check before relying on them. Gateway data transfer is not included. "
    "pricing-zone-inferred: the source lists no zone for " + ", ".join(inferred_zone_regions())
    + "; their zone is inferred from geography (Zone 1 North America/Europe, Zone 2 Asia "
    "Pacific, Zone 3 South America/Africa/Middle East).")


@dataclass(frozen=True)
class Rate:
    ingress: float
    egress: float


@lru_cache(maxsize=1)
def _tables() -> tuple[Rate, dict[str, Rate], dict[str, str], str]:
    base = resources.files("dataplane.data")
    regional: Rate | None = None
    zones: dict[str, Rate] = {}
    sources = []
    for row in csv.DictReader(base.joinpath("peering-pricing.csv").read_text().splitlines()):
        rate = Rate(float(row["usd_per_gb_ingress"]), float(row["usd_per_gb_egress"]))
        if row["kind"] == "regional":
            regional = rate
            sources.append(row["source"])
        else:
            zones[row["zone"].strip()] = rate
    region_zone = {fold_region(r["region"]): r["pricing_zone"].strip() for r in csv.DictReader(
        base.joinpath("region-zones.csv").read_text().splitlines())}
    if regional is None:
        raise InputError("peering-pricing.csv has no 'regional' row")
    return regional, zones, region_zone, "; ".join(sources)


@dataclass(frozen=True)
class Pricing:
    """Peering prices; `zones` maps extra regions to a pricing zone (spec cost.zones)."""

    zones: Mapping[str, str] = field(default_factory=dict)

    def zone(self, region: str) -> str:
        key = fold_region(region)
        extra = {fold_region(k): v for k, v in self.zones.items()}
        if key in extra:
            return extra[key]
        table = _tables()[2]
        if key not in table:
            raise InputError(f"region '{region}' has no peering pricing zone in "
                             "region-zones.csv; map it in the spec: cost: {zones: {"
                             f"{region}: Zone 1}}")
        return table[key]

    def zone_rate(self, region: str) -> Rate:
        zone = self.zone(region)
        zones = _tables()[1]
        if zone not in zones:
            raise InputError(f"pricing zone '{zone}' (region '{region}') is not in "
                             f"peering-pricing.csv; known: {', '.join(sorted(zones))}")
        return zones[zone]

    def crossing_usd_per_gb(self, src_region: str, dst_region: str) -> float:
        """One peering crossing: egress at the sender's end + ingress at the receiver's."""
        if fold_region(src_region) == fold_region(dst_region):
            r = _tables()[0]
            return r.egress + r.ingress
        return self.zone_rate(src_region).egress + self.zone_rate(dst_region).ingress

    def is_global(self, src_region: str, dst_region: str) -> bool:
        return fold_region(src_region) != fold_region(dst_region)


def monthly_bytes(rate_bps: float, hours: float = HOURS_PER_MONTH) -> float:
    """Average rate sustained over a month -> bytes."""
    return rate_bps / 8.0 * hours * 3600.0


def path_usd_per_gb(pricing: Pricing, crossings: list[tuple[str, str]]) -> float:
    """crossings: (sending VNet region, receiving VNet region) for each peering crossed."""
    return sum(pricing.crossing_usd_per_gb(a, b) for a, b in crossings)
