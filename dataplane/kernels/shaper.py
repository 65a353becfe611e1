"""Per-VM egress shaper: serialisation clock in integer nanoseconds with a bounded queue.

`Shaper(cap_bps: int64[vms], queue_bytes: int | int64[vms] = 1 MiB)`;
`shape(vm: int32[n], arrival_ns: int64[n], length_bytes: int32[n]) -> (depart_ns: int64[n],
dropped: bool[n])`. depart = max(arrival, last_depart[vm]) + ceil(bits * 1e9 / cap_bps); a
packet whose queueing delay would exceed the VM's queue (queue_bytes at cap_bps, kept as
`queue_ns`) is dropped: depart -1, flagged, counted in `drops[vm]`. cap_bps 0 = unshaped.
State (`last_depart_ns`, `drops`) carries over between batches; packets are taken in the order
given, so sort each VM's packets by arrival first. See shaper_py for the full contract.
With DATAPLANE_PURE_PYTHON=1, `Shaper` is the twin (shaper_py.ShaperPy).
"""

from __future__ import annotations

import numpy as np

from dataplane.kernels import compiled
from dataplane.kernels.shaper_py import ShaperPy, check_columns

_ext = compiled("shaper")


class ShaperCompiled(ShaperPy):
    """The same shaper with the per-packet loop compiled."""

    def shape(self, vm: np.ndarray, arrival_ns: np.ndarray, length_bytes: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
        if _ext is None:
            raise RuntimeError("compiled shaper kernel not loaded")
        v, a, b = check_columns(self.cap_bps.size, vm, arrival_ns, length_bytes)
        depart = np.empty(v.size, dtype=np.int64)
        dropped = np.empty(v.size, dtype=np.uint8)
        if _ext.shape(self.cap_bps, self.queue_ns, self.last_depart_ns, self.drops, v, a, b,
                      depart, dropped) != 0:
            raise ValueError("vm index out of range")
        return depart, dropped.view(bool)


Shaper: type = ShaperCompiled if _ext is not None else ShaperPy

__all__ = ["Shaper", "ShaperCompiled", "ShaperPy"]
