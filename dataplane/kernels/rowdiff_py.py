"""Rows whose state changed, plain-Python twin of ext/rowdiff.pyx (same signature).

changed_rows(touched, news, olds) -> int64[k]
    the rows r of `touched` where news[i][r] != olds[i][r] for some column pair i; each column
    given as its raw bytes, uint8[n, itemsize], the pair's columns sharing that shape.
Errors: ValueError when news and olds differ in count, a pair differs in shape, or a row of
`touched` falls outside a column.
"""

from __future__ import annotations

import numpy as np


def changed_rows(touched: np.ndarray, news: list, olds: list) -> np.ndarray:
    if len(news) != len(olds):
        raise ValueError("changed_rows: news and olds differ in count")
    flags = np.zeros(touched.size, bool)
    for a, b in zip(news, olds, strict=True):
        if a.shape != b.shape:
            raise ValueError("changed_rows: a column pair differs in shape")
        if touched.size and (touched.min() < 0 or touched.max() >= a.shape[0]):
            raise ValueError("changed_rows: a touched row is outside the columns")
        flags |= (a[touched] != b[touched]).any(axis=1)
    return touched[flags]
