"""Timing parameters with documented defaults (integer nanoseconds).

Takes keyword overrides (Emulator(..., **timing)); emits `TimingParams`. Azure publishes no
intra-region VM-to-VM latency (docs/azure-behaviour.md §9, "Not found"); regional peering adds none
(section 9: "the same latency as if they were within the same virtual network"). Defaults:
* intra_region_ns = 100_000 (100 µs one way, 200 µs RTT): a typical same-zone VM pair with
  accelerated networking is measured at 0.1-0.3 ms RTT; between zones Azure targets < 2 ms RTT
  (section 9). Not an Azure figure: an assumption, shown in summaries; override it.
* nva_ns = 50_000: forwarding cost inside a network virtual appliance VM (kernel/user-space
  forwarder); no Azure figure exists.
* firewall_ns = 300_000: Azure Firewall processing per packet; no published figure.
* gateway_ns = 1_000_000: VPN gateway encryption/processing per packet; no published figure.
* queue_bytes = 1 MiB egress queue per VM (the shaper kernel's default), drops counted.
Global peering: one way = directed P50 RTT / 2 from azure-latency.csv (section 1), exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from dataplane.errors import InputError


@dataclass(frozen=True)
class TimingParams:
    intra_region_ns: int = 100_000
    nva_ns: int = 50_000
    firewall_ns: int = 300_000
    gateway_ns: int = 1_000_000
    queue_bytes: int = 1 << 20

    @classmethod
    def from_kwargs(cls, **kwargs: object) -> TimingParams:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise InputError(f"unknown timing parameter(s) {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(known))}")
        values = {}
        for key, value in kwargs.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InputError(f"timing parameter {key} must be a non-negative integer (ns)")
            values[key] = value
        return cls(**values)

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
