"""Rows whose state changed: public entry point (compiled kernel or twin).

Used by engine/batch.py's conntrack fixed point: which touched rows' state (the `_no_state`
columns and the reply-key flag) differs from the last round's, so only they are re-decided.
`changed_rows(touched int64[t], news, olds) -> int64[k]`: the rows of `touched` (ascending)
where some column of `news` differs from the same column of `olds`; columns are 1-D integer
or bool arrays of one length n, each pair of one dtype (compared exactly, by their bytes).
Errors: ValueError when the lists differ in count, a pair differs in dtype or length, or a
touched row falls outside [0, n).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dataplane.kernels import compiled, rowdiff_py

_ext = compiled("rowdiff")


def _raw(a: np.ndarray) -> np.ndarray:
    """uint8[n, itemsize]: a contiguous 1-D integer or bool column as its bytes per row."""
    if a.dtype.kind not in "biu":
        raise ValueError(f"changed_rows: columns must be integer or bool, not {a.dtype}")
    a = np.ascontiguousarray(a)
    return a.view(np.uint8).reshape(a.size, a.dtype.itemsize)


def changed_rows(touched: np.ndarray, news: Sequence[np.ndarray], olds: Sequence[np.ndarray]
                 ) -> np.ndarray:
    if len(news) != len(olds):
        raise ValueError("changed_rows: news and olds differ in count")
    if any(a.dtype != b.dtype for a, b in zip(news, olds, strict=True)):
        raise ValueError("changed_rows: a column pair differs in dtype")
    raw_new, raw_old = [_raw(a) for a in news], [_raw(b) for b in olds]
    t = np.ascontiguousarray(touched, dtype=np.int64)
    if _ext is None:
        return rowdiff_py.changed_rows(t, raw_new, raw_old)
    return _ext.changed_rows(t, raw_new, raw_old)
