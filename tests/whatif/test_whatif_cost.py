"""Peering cost: regional vs global zones, charged at both ends (docs/azure-behaviour.md §6)."""

from __future__ import annotations

import pytest

from dataplane.errors import InputError
from dataplane.timing.latency import rtt_table
from dataplane.whatif.cost import (
    PRICING_CAVEAT,
    Pricing,
    inferred_zone_regions,
    monthly_bytes,
    path_usd_per_gb,
)


def test_regional_is_charged_at_both_ends():
    # infracost golden test: West Europe -> West Europe $0.01 in and $0.01 out
    assert Pricing().crossing_usd_per_gb("westeurope", "West Europe") == pytest.approx(0.02)


def test_global_same_zone():
    # West Europe -> North Europe: Zone 1 egress 0.035 + Zone 1 ingress 0.035
    assert Pricing().crossing_usd_per_gb("westeurope", "northeurope") == pytest.approx(0.07)
    assert Pricing().is_global("westeurope", "eastus")


def test_global_across_zones_uses_each_ends_rate():
    # West Europe (Zone 1) -> Japan West (Zone 2): egress 0.035 + ingress 0.09
    assert Pricing().crossing_usd_per_gb("westeurope", "japanwest") == pytest.approx(0.125)
    assert Pricing().crossing_usd_per_gb("japanwest", "westeurope") == pytest.approx(0.125)
    # Brazil South is Zone 3
    assert Pricing().crossing_usd_per_gb("brazilsouth", "eastus") == pytest.approx(0.195)


def test_hub_path_pays_both_peerings():
    # spoke1 (WE) -> hub (WE) regional + hub (WE) -> spoke2 (East US) global
    usd = path_usd_per_gb(Pricing(), [("westeurope", "westeurope"), ("westeurope", "eastus")])
    assert usd == pytest.approx(0.02 + 0.07)


def test_unknown_region_needs_a_zone():
    with pytest.raises(InputError, match="cost: \\{zones"):
        Pricing().crossing_usd_per_gb("chilecentral", "westeurope")
    p = Pricing({"Chile Central": "Zone 3"})
    assert p.crossing_usd_per_gb("chilecentral", "westeurope") == pytest.approx(0.16 + 0.035)


def test_every_latency_region_has_a_pricing_zone():
    """Issue 13 item 5: whatif cost works for every region of the latency table."""
    regions = {r[0] for r in rtt_table()}
    assert len(regions) == 54
    for region in regions:
        assert Pricing().zone(region) in ("Zone 1", "Zone 2", "Zone 3"), region
    # Sweden Central's zone is inferred (Europe -> Zone 1) and the caveat says so
    assert Pricing().crossing_usd_per_gb("swedencentral", "westeurope") == pytest.approx(0.07)
    assert "Sweden Central" in inferred_zone_regions()
    assert "West Europe" not in inferred_zone_regions()
    assert "Sweden Central" in PRICING_CAVEAT and "inferred" in PRICING_CAVEAT


def test_monthly_projection_and_caveat():
    # 100 Mbit/s for 730 h = 12.5 MB/s * 2,628,000 s = 32,850 GB
    assert monthly_bytes(100e6) == pytest.approx(32_850e9)
    assert "date of prices NOT confirmed" in PRICING_CAVEAT
