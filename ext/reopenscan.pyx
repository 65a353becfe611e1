# cython: language_level=3, boundscheck=False, wraparound=False
"""Re-open fast path, compiled kernel (twin: dataplane/kernels/reopenscan_py.py, which states
the rule).

none_reopen(rows, entries, times_ns, forward, proto, opened, last_ns, idle_timeout_ns) -> bool
    two passes over the touches (the smallest time, then the check, stopping at the first
    touch that may re-open) instead of five gathers and three temporaries.
Errors: ValueError when rows/entries/times_ns or forward/proto or opened/last_ns differ in
length; IndexError when a row or entry id falls outside its array.
"""

from libc.stdint cimport int16_t, int64_t


def none_reopen(const int64_t[::1] rows, const int64_t[::1] entries,
                const int64_t[::1] times_ns, const unsigned char[::1] forward,
                const int16_t[::1] proto, const unsigned char[::1] opened,
                const int64_t[::1] last_ns, int64_t idle_timeout_ns):
    cdef Py_ssize_t m = rows.shape[0], n = forward.shape[0], k = opened.shape[0], i
    cdef int64_t r, e, floor, lowest
    if not (entries.shape[0] == times_ns.shape[0] == m):
        raise ValueError("none_reopen: rows, entries and times differ in length")
    if proto.shape[0] != n or last_ns.shape[0] != k:
        raise ValueError("none_reopen: forward/proto or opened/last_ns differ in length")
    for i in range(m):
        if rows[i] < 0 or rows[i] >= n or entries[i] < 0 or entries[i] >= k:
            raise IndexError("none_reopen: a row or entry id outside its array")
    if m == 0:
        return True
    lowest = times_ns[0]
    for i in range(1, m):
        if times_ns[i] < lowest:
            lowest = times_ns[i]
    for i in range(m):
        r = rows[i]
        if forward[r] and proto[r] == 6:
            e = entries[i]
            floor = last_ns[e] if opened[e] else lowest
            if times_ns[i] - floor > idle_timeout_ns:
                return False
    return True
