"""Flow table: bounded 5-tuple -> int state map, both address families, batch operations.

`FlowTable(capacity: int = 500_000)` with `lookup(keys: FlowKeys) -> int64[n]` (-1 missing),
`insert(keys, state: int64[n]) -> uint8[n]` (InsertStatus: INSERTED, UPDATED, REFUSED),
`remove(keys) -> bool[n]`, `len(table)`, `refused` (new flows refused since creation/clear),
`capacity`, `clear()`. Keys are `FlowKeys` columns (FlowKeys.v4 / FlowKeys.v6; `.reversed()`
gives the return direction for NSG statefulness). Rows are applied in order within a batch.
Full table: new flows are refused and counted (Azure's limit is 500k flows per direction per VM;
the caller decides what a refused flow means, e.g. evaluate the NSG without caching).
Structure (compiled, ext/flows.pyx): open addressing with linear probing at load <= 1/2, full
key stored and compared, 64-bit mixed hash, backward-shift deletion.
With DATAPLANE_PURE_PYTHON=1, `FlowTable` is the dict twin (flows_py.FlowTablePy).
"""

from __future__ import annotations

import numpy as np

from dataplane.kernels import compiled
from dataplane.kernels.flows_py import (
    DEFAULT_CAPACITY,
    MISSING,
    FlowKeys,
    FlowTablePy,
    InsertStatus,
    check_states,
)

_ext = compiled("flows")


class FlowTableCompiled:
    """Bounded flow table over the compiled open-addressing kernel."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if _ext is None:
            raise RuntimeError("compiled flow-table kernel not loaded")
        self._core = _ext.FlowCore(int(capacity))

    @property
    def capacity(self) -> int:
        return int(self._core.capacity)

    @property
    def refused(self) -> int:
        return int(self._core.refused)

    def __len__(self) -> int:
        return int(self._core.size)

    def clear(self) -> None:
        self._core.clear()

    def lookup(self, keys: FlowKeys) -> np.ndarray:
        out = np.empty(len(keys), dtype=np.int64)
        self._core.lookup(*keys, out)
        return out

    def insert(self, keys: FlowKeys, state: np.ndarray) -> np.ndarray:
        s = check_states(keys, state)
        out = np.empty(len(keys), dtype=np.uint8)
        self._core.insert(*keys, s, out)
        return out

    def remove(self, keys: FlowKeys) -> np.ndarray:
        out = np.empty(len(keys), dtype=np.uint8)
        self._core.remove(*keys, out)
        return out.astype(bool)


FlowTable: type = FlowTableCompiled if _ext is not None else FlowTablePy

__all__ = ["DEFAULT_CAPACITY", "MISSING", "FlowKeys", "FlowTable", "FlowTableCompiled",
           "FlowTablePy", "InsertStatus"]
