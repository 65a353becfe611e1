# cython: language_level=3
"""Copy runs of bytes between buffers, compiled kernel (twin: dataplane/kernels/records_py.py).

Takes: `src` and `dst` (contiguous uint8), and per run: `src_at`, `length`, `dst_at` (int64).
Copies src[src_at[k]:src_at[k]+length[k]] to dst[dst_at[k]:...] with memcpy, without the GIL.
Bounds are checked by the wrapper (dataplane/kernels/records.py), once, on columns.
"""

from libc.stdint cimport int64_t, uint8_t
from libc.string cimport memcpy


def copy_runs(const uint8_t[::1] src, const int64_t[::1] src_at, const int64_t[::1] length,
              uint8_t[::1] dst, const int64_t[::1] dst_at) -> None:
    cdef Py_ssize_t n = src_at.shape[0], k
    if n == 0:
        return
    with nogil:
        for k in range(n):
            if length[k] > 0:
                memcpy(&dst[dst_at[k]], &src[src_at[k]], <size_t>length[k])
