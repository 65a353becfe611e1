"""Answer columns of rows by decision id, plain-Python twin of ext/dtake.pyx (same signature).

take_decided(ids, fsrc, fdst, fsport, fdport, pool, disp, dec)
    -> (fsrc[ids], fdst[ids], fsport[ids], fdport[ids], pool[ids], disp[ids], dec[ids])
    each table indexed by decision id (engine/batch.py's decision store), gathered for the
    batch's rows (ids int64[n]); fresh arrays of the tables' dtypes.
Errors: IndexError when an id falls outside a table.
"""

from __future__ import annotations

import numpy as np


def take_decided(ids: np.ndarray, fsrc: np.ndarray, fdst: np.ndarray, fsport: np.ndarray,
                 fdport: np.ndarray, pool: np.ndarray, disp: np.ndarray, dec: np.ndarray
                 ) -> tuple[np.ndarray, ...]:
    return tuple(t[ids] for t in (fsrc, fdst, fsport, fdport, pool, disp, dec))
