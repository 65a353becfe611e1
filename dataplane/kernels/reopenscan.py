"""Re-open fast path: public entry point (compiled kernel or twin).

Used by engine/reopen.py `reopened_np`: whether no touch of the batch can re-open its flow's
idled-out entry, so the exact per-entry scan is skipped.
`none_reopen(rows, entries, times_ns, forward, proto, opened, last_ns, idle_timeout_ns) ->
bool`; the rule is in dataplane/kernels/reopenscan_py.py. Takes: rows, entries, times_ns,
last_ns int64; forward, opened bool; proto int16 (other dtypes go to the twin).
Errors: IndexError when a row or entry id falls outside its array.
"""

from __future__ import annotations

import numpy as np

from dataplane.kernels import compiled, reopenscan_py

_ext = compiled("reopenscan")
_TYPES = (np.int64, np.int64, np.int64, np.bool_, np.int16, np.bool_, np.int64)


def none_reopen(rows: np.ndarray, entries: np.ndarray, times_ns: np.ndarray,
                forward: np.ndarray, proto: np.ndarray, opened: np.ndarray,
                last_ns: np.ndarray, idle_timeout_ns: int) -> bool:
    cols = (rows, entries, times_ns, forward, proto, opened, last_ns)
    if _ext is None or any(a.dtype != t for a, t in zip(cols, _TYPES, strict=True)):
        return reopenscan_py.none_reopen(*cols, idle_timeout_ns)
    c = [np.ascontiguousarray(a) for a in cols]
    c[3], c[5] = c[3].view(np.uint8), c[5].view(np.uint8)
    return bool(_ext.none_reopen(*c, idle_timeout_ns))
