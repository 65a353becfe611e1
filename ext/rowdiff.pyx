# cython: language_level=3, boundscheck=False, wraparound=False
"""Rows whose state changed, compiled kernel (twin: dataplane/kernels/rowdiff_py.py).

changed_rows(touched, news, olds) -> int64[k]
    the rows r of `touched` (ascending row numbers) where news[i][r] != olds[i][r] for some
    column pair i; one pass per pair over `touched`, no gathered temporaries. Each column is
    given as its raw bytes, uint8[n, itemsize] (an integer or bool column is equal exactly when
    its bytes are); the pair's columns share that shape.
Errors: ValueError when news and olds differ in count, a pair differs in shape, or a row of
`touched` falls outside a column (checked before any output).
"""

from libc.stdint cimport int64_t, uint8_t

import numpy as np


def changed_rows(const int64_t[::1] touched, list news, list olds):
    cdef Py_ssize_t t = touched.shape[0], j, k, w, n
    cdef int64_t r
    cdef const uint8_t[:, ::1] a
    cdef const uint8_t[:, ::1] b
    if len(news) != len(olds):
        raise ValueError("changed_rows: news and olds differ in count")
    flags = np.zeros(t, dtype=np.uint8)
    cdef uint8_t[::1] f = flags
    cdef bint bad = False
    for i in range(len(news)):
        a, b = news[i], olds[i]
        n, w = a.shape[0], a.shape[1]
        if b.shape[0] != n or b.shape[1] != w:
            raise ValueError("changed_rows: a column pair differs in shape")
        with nogil:
            for j in range(t):
                r = touched[j]
                if r < 0 or r >= n:
                    bad = True
                    break
                if f[j]:
                    continue
                for k in range(w):
                    if a[r, k] != b[r, k]:
                        f[j] = 1
                        break
        if bad:
            raise ValueError("changed_rows: a touched row is outside the columns")
    return np.asarray(touched)[flags.view(bool)]
