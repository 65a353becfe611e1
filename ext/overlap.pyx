# cython: language_level=3
"""Interval overlap pairs, compiled kernel (twin: dataplane/kernels/overlap_py.py).

Takes: `first`, `last`: contiguous uint64 arrays, already sorted by `first` (ascending), plus
`order` (int64): the original index of each sorted interval.
`count_pairs` returns k, the number of overlapping pairs; `fill_pairs` writes them into two int64
arrays of length k as (min index, max index). Sorting the input and the output is done by the
wrapper (dataplane/kernels/overlap.py). No Python objects per interval; loops run without the GIL.
"""

from libc.stdint cimport int64_t, uint64_t


def count_pairs(const uint64_t[::1] first, const uint64_t[::1] last) -> int:
    cdef Py_ssize_t n = first.shape[0], p, q
    cdef int64_t k = 0
    cdef uint64_t end
    with nogil:
        for p in range(n):
            end = last[p]
            q = p + 1
            while q < n and first[q] <= end:
                k += 1
                q += 1
    return k


def fill_pairs(const uint64_t[::1] first, const uint64_t[::1] last,
               const int64_t[::1] order, int64_t[::1] out_i, int64_t[::1] out_j) -> None:
    cdef Py_ssize_t n = first.shape[0], p, q, k = 0, cap = out_i.shape[0]
    cdef uint64_t end
    cdef int64_t a, b
    if out_j.shape[0] != cap or order.shape[0] != n or last.shape[0] != n:
        raise ValueError("array lengths disagree")
    with nogil:
        for p in range(n):
            end = last[p]
            a = order[p]
            q = p + 1
            while q < n and first[q] <= end and k < cap:
                b = order[q]
                if a < b:
                    out_i[k] = a
                    out_j[k] = b
                else:
                    out_i[k] = b
                    out_j[k] = a
                k += 1
                q += 1
