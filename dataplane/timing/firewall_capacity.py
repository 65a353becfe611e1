"""Azure Firewall throughput per SKU: the firewall as a shaped hop, in bits per second.

Takes: azure-firewall-performance.csv (package data; every row carries Microsoft's page, its
ms.date and the date it was read) and a Topology. Modelled page: "Azure Firewall performance",
https://learn.microsoft.com/azure/firewall/firewall-performance, sections "Performance data",
"Throughput for single connections" and "Total throughput for initial firewall deployment"
(ms.date 2026-03-28, read 2026-11-30).
Emits:
* `firewall_profile(topology, firewall) -> FirewallProfile`: the tier (classic
  `properties.sku.tier`, else the policy's `sku.tier`), TLS inspection and IDPS mode (from the
  policy) and the capacity row they select, with the assumptions that chose them;
* `firewall_egress_caps(topology) -> {firewall id key: bps}`: the aggregate cap the engine's
  shaper applies to packets leaving the firewall (one shaper per firewall, like a VM's egress);
* `firewall_cap_caveats(topology) -> [str]`: the printed assumptions (`firewall-sku-default`,
  `firewall-throughput`).
Assumptions (written down, printed with every run that has a firewall):
* `firewall-throughput`: the aggregate cap is the out-of-the-box figure "before autoscale"
  (Standard 3 Gbps, Premium 18 Gbps; Basic 0.25 Gbps, it does not autoscale), capped by the use
  case's maximum: Microsoft scales out only after 5-7 minutes above 60 % load, longer than a
  replay. The maximum after scale-out is kept in the data (`aggregate_max_bps`).
* `firewall-sku-default`: a firewall whose input names no tier (neither the firewall's
  `sku.tier` nor its policy's) is taken as Standard: Microsoft does not say what a missing
  tier means; Standard is the tier every firewall had before Premium and Basic existed.
* IDPS figures are published only with TLS inspection enabled; IDPS without TLS inspection
  takes the TLS-enabled row of the same IDPS mode.
Errors: a tier outside Basic/Standard/Premium is an InputError naming the firewall and property.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from dataplane.errors import InputError
from dataplane.model import AzureFirewall, FirewallPolicy, Topology, id_key

PAGE = ("Azure Firewall performance, https://learn.microsoft.com/azure/firewall/"
        "firewall-performance")
DEFAULT_TIER = "Standard"
TIERS = ("Basic", "Standard", "Premium")


@dataclass(frozen=True)
class FirewallCapacity:
    """One row of the table; throughputs in bits per second (None: not published)."""

    sku_tier: str
    tls_inspection: bool
    idps_mode: str  # Off | Alert | Deny
    tcp_udp_bps: int | None
    http_s_bps: int | None
    single_connection_bps: int
    initial_deployment_bps: int

    @property
    def aggregate_max_bps(self) -> int:
        """The use case's maximum after scale-out (TCP/UDP, else HTTP/S)."""
        value = self.tcp_udp_bps if self.tcp_udp_bps is not None else self.http_s_bps
        assert value is not None  # every row publishes at least one of the two
        return value

    @property
    def aggregate_bps(self) -> int:
        """The modelled cap: the initial deployment's figure, never above the use case's."""
        return min(self.initial_deployment_bps, self.aggregate_max_bps)


def _bps(mbps: str) -> int | None:
    text = mbps.strip()
    return int(float(text) * 1_000_000) if text else None


@lru_cache(maxsize=1)
def capacity_table() -> tuple[FirewallCapacity, ...]:
    text = resources.files("dataplane.data").joinpath(
        "azure-firewall-performance.csv").read_text()
    out = []
    for row in csv.DictReader(text.splitlines()):
        single = _bps(row["single_tcp_connection_mbps"])
        initial = _bps(row["initial_deployment_mbps"])
        assert single is not None and initial is not None, row
        out.append(FirewallCapacity(
            sku_tier=row["sku_tier"], tls_inspection=row["tls_inspection"] == "on",
            idps_mode=row["idps_mode"], tcp_udp_bps=_bps(row["tcp_udp_mbps"]),
            http_s_bps=_bps(row["http_s_mbps"]), single_connection_bps=single,
            initial_deployment_bps=initial))
    return tuple(out)


def capacity(sku_tier: str, tls_inspection: bool = False,
             idps_mode: str = "Off") -> FirewallCapacity:
    """The row for a tier (case-insensitive) and, on Premium, TLS inspection / IDPS mode
    (Off | Alert | Deny). KeyError when the tier is not Basic/Standard/Premium."""
    tier = {t.lower(): t for t in TIERS}[sku_tier.lower()]
    if tier != "Premium":
        tls_inspection, idps_mode = False, "Off"
    idps = idps_mode.capitalize() if idps_mode.lower() in ("alert", "deny") else "Off"
    tls = tls_inspection or idps != "Off"  # IDPS figures exist only with TLS inspection on
    for row in capacity_table():
        if row.sku_tier == tier and row.tls_inspection == tls and row.idps_mode == idps:
            return row
    raise KeyError((tier, tls, idps))  # pragma: no cover - the table has every combination


@dataclass(frozen=True)
class FirewallProfile:
    firewall: str  # name
    sku_tier: str
    tier_from: str  # "the firewall's sku.tier" | "the policy's sku.tier" | "assumed"
    capacity: FirewallCapacity


def _policy(topology: Topology, fw: AzureFirewall) -> FirewallPolicy | None:
    if not fw.firewall_policy:
        return None
    found = topology.get(fw.firewall_policy)
    return found if isinstance(found, FirewallPolicy) else None


def firewall_profile(topology: Topology, fw: AzureFirewall) -> FirewallProfile:
    """Tier, TLS inspection and IDPS mode of one firewall and its capacity row."""
    policy = _policy(topology, fw)
    if fw.sku_tier is not None:
        tier, source, prop = fw.sku_tier, "the firewall's sku.tier", "properties.sku.tier"
    elif policy is not None and policy.sku_tier_given:
        tier, source, prop = (policy.sku_tier, "the policy's sku.tier",
                              f"firewallPolicies/{policy.name} properties.sku.tier")
    else:
        tier, source, prop = DEFAULT_TIER, "assumed", ""
    tls = bool(policy and policy.tls_inspection)
    idps = (policy.intrusion_detection_mode if policy else None) or "Off"
    try:
        row = capacity(tier, tls, idps)
    except KeyError:
        raise InputError(f"sku tier '{tier}' is not one of {', '.join(TIERS)}",
                         file=", ".join(topology.sources) or None, resource=fw.name,
                         property=prop or "properties.sku.tier") from None
    return FirewallProfile(fw.name, row.sku_tier, source, row)


def firewall_assumption() -> str:
    """The `firewall-throughput` assumption in general terms, figures from the table."""
    plain = [capacity(t) for t in TIERS]
    idps = capacity("Premium", True, "Deny")
    caps = ", ".join(f"{c.sku_tier} {c.aggregate_bps / 1e9:g}" for c in plain)
    conns = ", ".join(f"{c.sku_tier} {c.single_connection_bps / 1e9:g}" for c in plain)
    return (f"firewall-throughput: an Azure Firewall is a shaped hop at its SKU's throughput "
            f"before autoscale ({caps} Gbps; scale-out takes 5-7 minutes) and one TCP "
            f"connection through it gets at most the SKU's single-connection figure ({conns} "
            f"Gbps; {idps.single_connection_bps / 1e9:g} Gbps on Premium with IDPS); a missing "
            f"tier is {DEFAULT_TIER} (firewall-sku-default). {PAGE}, sections 'Performance "
            f"data', 'Throughput for single connections', 'Total throughput for initial "
            f"firewall deployment' (ms.date 2026-03-28, read 2026-11-30).")


def firewall_egress_caps(topology: Topology) -> dict[str, int]:
    """{firewall id key: aggregate cap in bps} for every Azure Firewall of the topology."""
    return {id_key(fw.id): firewall_profile(topology, fw).capacity.aggregate_bps
            for fw in topology.azure_firewalls}


def firewall_cap_caveats(topology: Topology) -> list[str]:
    """One `firewall-throughput` line per firewall, plus `firewall-sku-default` when the tier
    was assumed."""
    out = []
    for fw in topology.azure_firewalls:
        p = firewall_profile(topology, fw)
        c = p.capacity
        if p.tier_from == "assumed":
            out.append(f"firewall-sku-default: Azure Firewall {fw.name}: the input names no "
                       f"sku.tier (neither the firewall's nor its policy's); assumed "
                       f"{DEFAULT_TIER} (Microsoft does not say what a missing tier means).")
        extra = ""
        if c.sku_tier == "Premium":
            extra = (f", TLS inspection {'on' if c.tls_inspection else 'off'}, IDPS "
                     f"{c.idps_mode}")
        out.append(f"firewall-throughput: Azure Firewall {fw.name} ({c.sku_tier}{extra}, "
                   f"tier: {p.tier_from}): egress shaped at {c.aggregate_bps / 1e9:g} Gbps "
                   f"(the deployment before autoscale; {c.aggregate_max_bps / 1e9:g} Gbps after "
                   f"scale-out, which takes 5-7 minutes), one TCP connection at most "
                   f"{c.single_connection_bps / 1e9:g} Gbps ({PAGE}, sections 'Performance "
                   f"data', 'Throughput for single connections', 'Total throughput for "
                   f"initial firewall deployment'; ms.date 2026-03-28, read 2026-11-30).")
    return out
