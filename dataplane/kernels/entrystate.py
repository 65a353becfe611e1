"""Conntrack state of a batch's rows from the committed table: public entry point (compiled
kernel or twin).

Used by engine/batch.py `run` (the fixed point's `known`, `base` and `known_since`): per row,
the committed entry its reverse tuple answers and that entry's state, one pass.
`entry_state(rid, reply_entry, fwset, unnat_ip, unnat_port, usrc, last_ns, none_ns) ->
(known int64[n], est bool[n], fws int32[n], uip int64[n], uport int32[n], usrc int64[n],
since int64[n])`; the rules are in dataplane/kernels/entrystate_py.py. Takes: rid,
reply_entry, unnat_ip, usrc, last_ns int64; fwset, unnat_port int32 (conntrack.py
BatchConnTrack's columns; other dtypes go to the twin).
Errors: IndexError when an id falls outside its table.
"""

from __future__ import annotations

import numpy as np

from dataplane.kernels import compiled, entrystate_py

_ext = compiled("entrystate")
_TYPES = (np.int64, np.int64, np.int32, np.int64, np.int32, np.int64, np.int64)


def entry_state(rid: np.ndarray, reply_entry: np.ndarray, fwset: np.ndarray,
                unnat_ip: np.ndarray, unnat_port: np.ndarray, usrc: np.ndarray,
                last_ns: np.ndarray, none_ns: int) -> tuple[np.ndarray, ...]:
    cols = (rid, reply_entry, fwset, unnat_ip, unnat_port, usrc, last_ns)
    if _ext is None or any(a.dtype != t for a, t in zip(cols, _TYPES, strict=True)):
        return entrystate_py.entry_state(*cols, none_ns)
    return _ext.entry_state(*(np.ascontiguousarray(a) for a in cols), none_ns)
