"""Azure region names: the vocabulary `check`, timing and cost share.

Takes: regions.csv (package data: programmatic name, display name, geography, cloud, source;
from Microsoft's "Azure regions list", https://learn.microsoft.com/azure/reliability/regions-list,
"Programmatic name" column, read 2026-11-30). Emits `region(name)` -> Region or None for a
name or display name Azure does not have (folded: lower case, no spaces or hyphens), and
`close_regions(name)` -> the nearest known names (difflib) for error messages.
"""

from __future__ import annotations

import csv
import difflib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


def fold_region(name: str) -> str:
    return name.replace(" ", "").replace("-", "").lower()


@dataclass(frozen=True)
class Region:
    name: str  # programmatic name, e.g. swedencentral
    display_name: str  # e.g. Sweden Central
    geography: str
    cloud: str  # AzureCloud, AzureUSGovernment, AzureChinaCloud


@lru_cache(maxsize=1)
def regions() -> dict[str, Region]:
    """Folded name -> Region (both the programmatic and the display name fold the same)."""
    text = resources.files("dataplane.data").joinpath("regions.csv").read_text()
    return {fold_region(r["name"]): Region(r["name"], r["display_name"], r["geography"],
                                           r["cloud"])
            for r in csv.DictReader(text.splitlines())}


def region(name: str) -> Region | None:
    return regions().get(fold_region(name))


def close_regions(name: str, n: int = 3) -> list[str]:
    return difflib.get_close_matches(fold_region(name), list(regions()), n=n, cutoff=0.6)
