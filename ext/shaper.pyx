# cython: language_level=3
"""Per-VM egress shaper kernel (twin: dataplane/kernels/shaper_py.py; wrapper: kernels/shaper.py).

`shape(cap_bps, queue_ns, last_depart_ns, drops, vm, arrival_ns, length_bytes, depart_ns,
dropped)`: for each packet in order, start = max(arrival, last_depart[vm]); dropped (depart -1,
drops[vm] += 1) when start - arrival > queue_ns[vm]; else depart = start +
ceil(bytes * 8e9 / cap_bps[vm]) and last_depart[vm] = depart. cap_bps == 0: depart = arrival.
Updates `last_depart_ns` and `drops` in place. Integer nanoseconds throughout; returns -1 when a
vm index is out of range (checked before any state changes), else 0.

`advance(cap_bps, queue_ns, last_depart_ns, drops, leg_vm, leg_cost_ns, length_bytes,
start_leg, start_ns, horizon_ns, time_out_ns, leg, done, dropped)`: paths (leg_vm/leg_cost_ns
n x L, flattened row-major; -1 unshaped sender, -2 no leg) from each row's start leg in event
order up to horizon_ns, keyed (time the packet reaches the sender, row, leg) -- the contract of
ShaperPy.advance. The start legs that come already in key order (a replay's new rows: time_in
ascending) wait in a sorted queue; the others and every later leg in a binary heap, so the heap
holds only packets in flight; each event is the smaller of the two heads (same order as one
heap). Returns -1 when a vm index is out of range (checked
first), else 0.
"""

from libc.stdlib cimport free, malloc

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


cdef inline bint _before(int64_t ta, int64_t ia, int64_t tb, int64_t ib) noexcept nogil:
    return ta < tb or (ta == tb and ia < ib)


cdef inline void _push(int64_t *ht, int64_t *hk, Py_ssize_t size, int64_t t,
                       int64_t key) noexcept nogil:
    """Push (t, key) onto the binary min-heap of `size` entries (order: _before)."""
    cdef Py_ssize_t pos = size, parent
    while pos > 0:
        parent = (pos - 1) >> 1
        if not _before(t, key, ht[parent], hk[parent]):
            break
        ht[pos] = ht[parent]
        hk[pos] = hk[parent]
        pos = parent
    ht[pos] = t
    hk[pos] = key


cdef inline void _sift_down(int64_t *ht, int64_t *hk, Py_ssize_t size, int64_t t,
                            int64_t key) noexcept nogil:
    """Put (t, key) at the root of the binary min-heap of `size` entries (the old root is
    gone) and sift it down (order: _before)."""
    cdef Py_ssize_t pos = 0, child
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        if child + 1 < size and _before(ht[child + 1], hk[child + 1], ht[child], hk[child]):
            child += 1
        if not _before(ht[child], hk[child], t, key):
            break
        ht[pos] = ht[child]
        hk[pos] = hk[child]
        pos = child
    ht[pos] = t
    hk[pos] = key


def advance(const int64_t[::1] cap_bps, const int64_t[::1] queue_ns,
            int64_t[::1] last_depart_ns, int64_t[::1] drops, const int32_t[::1] leg_vm,
            const int64_t[::1] leg_cost_ns, const int32_t[::1] length_bytes,
            const int32_t[::1] start_leg, const int64_t[::1] start_ns, int64_t horizon_ns,
            int64_t[::1] time_out_ns, int32_t[::1] leg, uint8_t[::1] done,
            uint8_t[::1] dropped) -> int:
    cdef Py_ssize_t n = start_ns.shape[0], nv = cap_bps.shape[0], i, k, width
    if not (length_bytes.shape[0] == n and time_out_ns.shape[0] == n and dropped.shape[0] == n
            and done.shape[0] == n and leg.shape[0] == n and start_leg.shape[0] == n
            and leg_cost_ns.shape[0] == leg_vm.shape[0]):
        raise ValueError("packet columns differ in length")
    if not (queue_ns.shape[0] == nv and last_depart_ns.shape[0] == nv and drops.shape[0] == nv):
        raise ValueError("per-VM arrays differ in length")
    width = leg_vm.shape[0] // n if n else 0
    if width * n != leg_vm.shape[0]:
        raise ValueError("leg columns are not n x L")
    for k in range(leg_vm.shape[0]):
        if leg_vm[k] < -2 or leg_vm[k] >= nv:
            return -1
    # pending legs, one per row, key (time, row * width + leg): start legs already in key
    # order wait in the queue qt/qk (read from qpos), every other pending leg in the heap ht/hk
    cdef int64_t *ht = <int64_t *> malloc((n + 1) * sizeof(int64_t))
    cdef int64_t *hk = <int64_t *> malloc((n + 1) * sizeof(int64_t))
    cdef int64_t *qt = <int64_t *> malloc((n + 1) * sizeof(int64_t))
    cdef int64_t *qk = <int64_t *> malloc((n + 1) * sizeof(int64_t))
    if ht == NULL or hk == NULL or qt == NULL or qk == NULL:
        free(ht)
        free(hk)
        free(qt)
        free(qk)
        raise MemoryError()
    cdef Py_ssize_t size = 0, qn = 0, qpos = 0
    cdef int64_t t, key, now, depart, start, cap, bits
    cdef bint from_heap
    cdef int32_t m
    cdef Py_ssize_t j
    with nogil:
        for i in range(n):
            time_out_ns[i] = start_ns[i]
            leg[i] = -1
            done[i] = 1
            dropped[i] = 0
            j = start_leg[i]
            if 0 <= j < width and leg_vm[i * width + j] != -2:
                if qn == 0 or _before(qt[qn - 1], qk[qn - 1], start_ns[i], i * width + j):
                    qt[qn] = start_ns[i]
                    qk[qn] = i * width + j
                    qn += 1
                else:
                    _push(ht, hk, size, start_ns[i], i * width + j)
                    size += 1
        while True:
            # the next event: the head of the queue or the heap's root; an event from the
            # heap leaves its root in place until the event is done, then the root is
            # replaced by the packet's next leg (one sift-down) or by the heap's last entry
            if qpos < qn and (size == 0 or _before(qt[qpos], qk[qpos], ht[0], hk[0])):
                now = qt[qpos]
                if now > horizon_ns:
                    break
                key = qk[qpos]
                qpos += 1
                from_heap = 0
            elif size > 0:
                now = ht[0]
                if now > horizon_ns:
                    break
                key = hk[0]
                from_heap = 1
            else:
                break
            i = key // width
            j = key - i * width
            m = leg_vm[key]
            depart = now
            if m >= 0 and cap_bps[m] > 0:
                cap = cap_bps[m]
                start = last_depart_ns[m]
                if start < now:
                    start = now
                if start - now > queue_ns[m]:
                    dropped[i] = 1
                    time_out_ns[i] = -1
                    leg[i] = <int32_t>j
                    drops[m] += 1
                    if from_heap:
                        size -= 1
                        if size > 0:
                            _sift_down(ht, hk, size, ht[size], hk[size])
                    continue
                bits = <int64_t>length_bytes[i] * 8
                depart = start + (bits * 1000000000 + cap - 1) // cap
                last_depart_ns[m] = depart
            t = depart + leg_cost_ns[key]
            if j + 1 < width and leg_vm[key + 1] != -2:
                if from_heap:
                    _sift_down(ht, hk, size, t, key + 1)
                else:
                    _push(ht, hk, size, t, key + 1)
                    size += 1
            else:
                time_out_ns[i] = t
                if from_heap:
                    size -= 1
                    if size > 0:
                        _sift_down(ht, hk, size, ht[size], hk[size])
        for k in range(size):  # still travelling at the horizon
            i = hk[k] // width
            done[i] = 0
            time_out_ns[i] = ht[k]
            leg[i] = <int32_t>(hk[k] - i * width)
        for k in range(qpos, qn):
            i = qk[k] // width
            done[i] = 0
            time_out_ns[i] = qt[k]
            leg[i] = <int32_t>(qk[k] - i * width)
    free(qt)
    free(qk)
    free(ht)
    free(hk)
    return 0
