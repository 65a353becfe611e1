"""Timing model: propagation latency, per-VM egress caps and hop costs, all integer ns."""

from dataplane.timing.bandwidth import vm_egress_caps
from dataplane.timing.latency import LatencyTable, fold_region
from dataplane.timing.params import TimingParams

__all__ = ["LatencyTable", "TimingParams", "fold_region", "vm_egress_caps"]
