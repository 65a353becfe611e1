"""Per-VM egress shaper: serialisation clock in integer nanoseconds with a bounded queue.

`Shaper(cap_bps: int64[vms], queue_bytes: int | int64[vms] = 1 MiB)`;
`shape(vm: int32[n], arrival_ns: int64[n], length_bytes: int32[n]) -> (depart_ns: int64[n],
dropped: bool[n])`. depart = max(arrival, last_depart[vm]) + ceil(bits * 1e9 / cap_bps); a
packet whose queueing delay would exceed the VM's queue (queue_bytes at cap_bps, kept as
`queue_ns`) is dropped: depart -1, flagged, counted in `drops[vm]`. cap_bps 0 = unshaped.
State (`last_depart_ns`, `drops`) carries over between batches; packets are taken in the order
given, so sort each VM's packets by arrival first. `shape_paths(leg_vm: int32[n, L],
leg_cost_ns: int64[n, L], time_in_ns: int64[n], length_bytes: int32[n]) -> (time_out_ns,
dropped)` shapes whole paths in event order (every leg in the order packets reach their
senders); `advance(..., start_leg, start_ns, horizon_ns)` does it from given legs up to a
horizon (shaper_py has the contract). See shaper_py for the full contract.
With DATAPLANE_PURE_PYTHON=1, `Shaper` is the twin (shaper_py.ShaperPy).
"""

from __future__ import annotations

import numpy as np

from dataplane.kernels import compiled
from dataplane.kernels.shaper_py import ShaperPy, check_columns, check_paths

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

    def advance(self, leg_vm: np.ndarray, leg_cost_ns: np.ndarray, time_in_ns: np.ndarray,
                length_bytes: np.ndarray, start_leg: np.ndarray, start_ns: np.ndarray,
                horizon_ns: int | None) -> tuple[np.ndarray, ...]:
        if _ext is None:
            raise RuntimeError("compiled shaper kernel not loaded")
        v, c, _, b = check_paths(self.cap_bps.size, leg_vm, leg_cost_ns, time_in_ns,
                                 length_bytes)
        n = b.size
        out = np.empty(n, dtype=np.int64)
        leg = np.empty(n, dtype=np.int32)
        done = np.empty(n, dtype=np.uint8)
        dropped = np.empty(n, dtype=np.uint8)
        limit = np.iinfo(np.int64).max if horizon_ns is None else int(horizon_ns)
        if _ext.advance(self.cap_bps, self.queue_ns, self.last_depart_ns, self.drops,
                        v.reshape(-1), c.reshape(-1), b,
                        np.ascontiguousarray(start_leg, dtype=np.int32),
                        np.ascontiguousarray(start_ns, dtype=np.int64), limit, out, leg, done,
                        dropped) != 0:
            raise ValueError("vm index out of range")
        return out, leg, done.view(bool), dropped.view(bool)


Shaper: type = ShaperCompiled if _ext is not None else ShaperPy

__all__ = ["Shaper", "ShaperCompiled", "ShaperPy"]
