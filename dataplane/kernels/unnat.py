"""Un-NAT state of opener rows: public entry point (compiled kernel or twin).

Used by engine/batch.py `_unnat_of` (conntrack.py's batch form): the un-NAT address, port and
source restore of the entries opener rows open, from each row's original columns and its
decision's final (translated) columns.
`unnat(rows, ids, family, proto, src, dst, sport, dport, fsrc, fdst, fsport, fdport, unsnat,
src_hi, src_lo, dst_hi, dst_lo, handle6) -> (ip int64[m], port int32[m], usrc int64[m])`;
the rules are in dataplane/kernels/unnat_py.py. Takes: rows, ids, src, dst, fsrc, fdst int64;
sport, dport, fsport, fdport int32; proto int16; family uint8 (other dtypes go to the twin).
Batches with an IPv6 row go to the twin too (its handles are interned in Python).
Errors: ValueError (compiled) when columns differ in length or a row or decision id falls
outside its array.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dataplane.kernels import compiled, unnat_py

_ext = compiled("unnat")
_TYPES = (np.int64, np.int64, np.uint8, np.int16, np.int64, np.int64, np.int32, np.int32,
          np.int64, np.int64, np.int32, np.int32)


def unnat(rows: np.ndarray, ids: np.ndarray, family: np.ndarray, proto: np.ndarray,
          src: np.ndarray, dst: np.ndarray, sport: np.ndarray, dport: np.ndarray,
          fsrc: np.ndarray, fdst: np.ndarray, fsport: np.ndarray, fdport: np.ndarray,
          unsnat: int, src_hi: np.ndarray, src_lo: np.ndarray, dst_hi: np.ndarray,
          dst_lo: np.ndarray, handle6: Callable[[np.ndarray, np.ndarray], np.ndarray]
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cols = (rows, ids, family, proto, src, dst, sport, dport, fsrc, fdst, fsport, fdport)
    if _ext is not None and all(a.dtype == t for a, t in zip(cols, _TYPES, strict=True)):
        m = rows.size
        ip, port, usrc = np.empty(m, np.int64), np.empty(m, np.int32), np.empty(m, np.int64)
        if _ext.unnat_v4(*(np.ascontiguousarray(a) for a in cols), unsnat, ip, port,
                         usrc) == 0:
            return ip, port, usrc
    return unnat_py.unnat(*cols, unsnat, src_hi, src_lo, dst_hi, dst_lo, handle6)
