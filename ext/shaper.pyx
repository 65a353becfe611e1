# cython: language_level=3
"""Per-VM egress shaper kernel (twin: dataplane/kernels/shaper_py.py; wrapper: kernels/shaper.py).

`shape(cap_bps, queue_ns, last_depart_ns, drops, vm, arrival_ns, length_bytes, depart_ns,
dropped)`: for each packet in order, start = max(arrival, last_depart[vm]); dropped (depart -1,
drops[vm] += 1) when start - arrival > queue_ns[vm]; else depart = start +
ceil(bytes * 8e9 / cap_bps[vm]) and last_depart[vm] = depart. cap_bps == 0: depart = arrival.
Updates `last_depart_ns` and `drops` in place. Integer nanoseconds throughout; returns -1 when a
vm index is out of range (checked before any state changes), else 0.
"""

from libc.stdint cimport int32_t, int64_t, uint8_t


def shape(const int64_t[::1] cap_bps, const int64_t[::1] queue_ns, int64_t[::1] last_depart_ns,
          int64_t[::1] drops, const int32_t[::1] vm, const int64_t[::1] arrival_ns,
          const int32_t[::1] length_bytes, int64_t[::1] depart_ns, uint8_t[::1] dropped) -> int:
    cdef Py_ssize_t n = vm.shape[0], nv = cap_bps.shape[0], i
    cdef int32_t m
    cdef int64_t t, start, cap, bits
    if not (arrival_ns.shape[0] == n and length_bytes.shape[0] == n and depart_ns.shape[0] == n
            and dropped.shape[0] == n):
        raise ValueError("packet columns differ in length")
    if not (queue_ns.shape[0] == nv and last_depart_ns.shape[0] == nv and drops.shape[0] == nv):
        raise ValueError("per-VM arrays differ in length")
    cdef int bad = 0
    with nogil:
        for i in range(n):
            if vm[i] < 0 or vm[i] >= nv:
                bad = 1
                break
    if bad:
        return -1
    with nogil:
        for i in range(n):
            m = vm[i]
            t = arrival_ns[i]
            cap = cap_bps[m]
            dropped[i] = 0
            if cap <= 0:
                depart_ns[i] = t
                continue
            start = last_depart_ns[m]
            if start < t:
                start = t
            if start - t > queue_ns[m]:
                dropped[i] = 1
                depart_ns[i] = -1
                drops[m] += 1
                continue
            bits = <int64_t>length_bytes[i] * 8
            start += (bits * 1000000000 + cap - 1) // cap
            depart_ns[i] = start
            last_depart_ns[m] = start
    return 0
