"""Answer columns of rows by decision id: public entry point (compiled kernel or twin).

Used by engine/batch.py `run`: the final (translated) addresses and ports, the SNAT pool, the
disposition and the deciding label of each row from the decision store, one pass.
`take_decided(ids, fsrc, fdst, fsport, fdport, pool, disp, dec) -> (7 arrays of n)`; see
dataplane/kernels/dtake_py.py. Takes: ids, fsrc, fdst, pool int64; fsport, fdport, dec int32;
disp uint8 (other dtypes go to the twin).
Errors: IndexError when an id falls outside a table.
"""

from __future__ import annotations

import numpy as np

from dataplane.kernels import compiled, dtake_py

_ext = compiled("dtake")
_TYPES = (np.int64, np.int64, np.int64, np.int32, np.int32, np.int64, np.uint8, np.int32)


def take_decided(ids: np.ndarray, fsrc: np.ndarray, fdst: np.ndarray, fsport: np.ndarray,
                 fdport: np.ndarray, pool: np.ndarray, disp: np.ndarray, dec: np.ndarray
                 ) -> tuple[np.ndarray, ...]:
    cols = (ids, fsrc, fdst, fsport, fdport, pool, disp, dec)
    if _ext is None or any(a.dtype != t for a, t in zip(cols, _TYPES, strict=True)):
        return dtake_py.take_decided(*cols)
    return _ext.take_decided(*(np.ascontiguousarray(a) for a in cols))
