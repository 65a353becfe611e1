# cython: language_level=3
"""Flow table kernel: open addressing, linear probing (twin: dataplane/kernels/flows_py.py).

`FlowCore(capacity)`: at most `capacity` flows in 2**k >= 2 * capacity slots (load <= 1/2).
A slot stores the full key (version, src hi/lo, dst hi/lo, ports, proto), its 64-bit hash and
the state; version 0 marks an empty slot. Keys are compared in full, so hash collisions are
harmless. Deletion uses backward shifting (no tombstones), so probe chains stay short.
Batch methods take the key columns and write per-row results into caller arrays:
  lookup(..., int64 out)            state or -1;
  insert(..., int64 state, uint8 out)  0 inserted, 1 updated, 2 refused (full; counted);
  remove(..., uint8 out)            1 removed, 0 absent.
Rows are processed in order without the GIL; no Python object per row.
"""

from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t

import numpy as np


cdef inline uint64_t _mix(uint64_t z) noexcept nogil:
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef inline uint64_t _hash(uint8_t v, uint64_t sh, uint64_t sl, uint64_t dh, uint64_t dl,
                           uint32_t ports, uint8_t proto) noexcept nogil:
    cdef uint64_t h = _mix(sh ^ (<uint64_t>v << 56) ^ 0x9E3779B97F4A7C15ULL)
    h = _mix(h ^ sl)
    h = _mix(h ^ dh)
    h = _mix(h ^ dl)
    return _mix(h ^ ((<uint64_t>ports << 8) | proto))


cdef class FlowCore:
    cdef readonly Py_ssize_t capacity, size, slots
    cdef readonly int64_t refused
    cdef uint64_t mask
    cdef uint8_t[::1] ver
    cdef uint8_t[::1] prt
    cdef uint32_t[::1] ports
    cdef uint64_t[::1] sh, sl, dh, dl, hsh
    cdef int64_t[::1] state

    def __init__(self, Py_ssize_t capacity):
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        cdef Py_ssize_t slots = 16
        while slots < 2 * capacity:
            slots *= 2
        self.capacity = capacity
        self.slots = slots
        self.mask = slots - 1
        self.size = 0
        self.refused = 0
        self.ver = np.zeros(slots, dtype=np.uint8)
        self.prt = np.zeros(slots, dtype=np.uint8)
        self.ports = np.zeros(slots, dtype=np.uint32)
        self.sh = np.zeros(slots, dtype=np.uint64)
        self.sl = np.zeros(slots, dtype=np.uint64)
        self.dh = np.zeros(slots, dtype=np.uint64)
        self.dl = np.zeros(slots, dtype=np.uint64)
        self.hsh = np.zeros(slots, dtype=np.uint64)
        self.state = np.zeros(slots, dtype=np.int64)

    def clear(self):
        self.ver[:] = 0
        self.size = 0
        self.refused = 0

    cdef inline Py_ssize_t _find(self, uint64_t h, uint8_t v, uint64_t sh, uint64_t sl,
                                 uint64_t dh, uint64_t dl, uint32_t ports,
                                 uint8_t proto) noexcept nogil:
        """Slot holding the key, or -(empty slot) - 1 where it would go."""
        cdef uint64_t j = h & self.mask
        while True:
            if self.ver[j] == 0:
                return -(<Py_ssize_t>j) - 1
            if (self.hsh[j] == h and self.ver[j] == v and self.sl[j] == sl
                    and self.dl[j] == dl and self.ports[j] == ports and self.prt[j] == proto
                    and self.sh[j] == sh and self.dh[j] == dh):
                return <Py_ssize_t>j
            j = (j + 1) & self.mask

    cdef int _check(self, Py_ssize_t n, const uint64_t[::1] sh, const uint64_t[::1] sl,
                    const uint64_t[::1] dh, const uint64_t[::1] dl, const uint16_t[::1] sp,
                    const uint16_t[::1] dp, const uint8_t[::1] pr) except -1:
        if not (sh.shape[0] == n and sl.shape[0] == n and dh.shape[0] == n and dl.shape[0] == n
                and sp.shape[0] == n and dp.shape[0] == n and pr.shape[0] == n):
            raise ValueError("flow key columns differ in length")
        return 0

    def lookup(self, const uint8_t[::1] v, const uint64_t[::1] sh, const uint64_t[::1] sl,
               const uint64_t[::1] dh, const uint64_t[::1] dl, const uint16_t[::1] sp,
               const uint16_t[::1] dp, const uint8_t[::1] pr, int64_t[::1] out):
        cdef Py_ssize_t n = v.shape[0], i, j
        cdef uint32_t ports
        self._check(n, sh, sl, dh, dl, sp, dp, pr)
        if out.shape[0] != n:
            raise ValueError("out length differs")
        with nogil:
            for i in range(n):
                ports = (<uint32_t>sp[i] << 16) | dp[i]
                j = self._find(_hash(v[i], sh[i], sl[i], dh[i], dl[i], ports, pr[i]),
                               v[i], sh[i], sl[i], dh[i], dl[i], ports, pr[i])
                out[i] = self.state[j] if j >= 0 else -1

    def insert(self, const uint8_t[::1] v, const uint64_t[::1] sh, const uint64_t[::1] sl,
               const uint64_t[::1] dh, const uint64_t[::1] dl, const uint16_t[::1] sp,
               const uint16_t[::1] dp, const uint8_t[::1] pr, const int64_t[::1] state,
               uint8_t[::1] out):
        cdef Py_ssize_t n = v.shape[0], i, j
        cdef uint32_t ports
        cdef uint64_t h
        self._check(n, sh, sl, dh, dl, sp, dp, pr)
        if out.shape[0] != n or state.shape[0] != n:
            raise ValueError("state/out length differs")
        for i in range(n):
            if v[i] == 0:
                raise ValueError("flow key version 0 is reserved")
        with nogil:
            for i in range(n):
                ports = (<uint32_t>sp[i] << 16) | dp[i]
                h = _hash(v[i], sh[i], sl[i], dh[i], dl[i], ports, pr[i])
                j = self._find(h, v[i], sh[i], sl[i], dh[i], dl[i], ports, pr[i])
                if j >= 0:
                    self.state[j] = state[i]
                    out[i] = 1
                elif self.size >= self.capacity:
                    self.refused += 1
                    out[i] = 2
                else:
                    j = -j - 1
                    self.ver[j] = v[i]
                    self.sh[j] = sh[i]
                    self.sl[j] = sl[i]
                    self.dh[j] = dh[i]
                    self.dl[j] = dl[i]
                    self.ports[j] = ports
                    self.prt[j] = pr[i]
                    self.hsh[j] = h
                    self.state[j] = state[i]
                    self.size += 1
                    out[i] = 0

    def remove(self, const uint8_t[::1] v, const uint64_t[::1] sh, const uint64_t[::1] sl,
               const uint64_t[::1] dh, const uint64_t[::1] dl, const uint16_t[::1] sp,
               const uint16_t[::1] dp, const uint8_t[::1] pr, uint8_t[::1] out):
        cdef Py_ssize_t n = v.shape[0], i, j
        cdef uint64_t hole, k, home
        cdef uint32_t ports
        self._check(n, sh, sl, dh, dl, sp, dp, pr)
        if out.shape[0] != n:
            raise ValueError("out length differs")
        with nogil:
            for i in range(n):
                ports = (<uint32_t>sp[i] << 16) | dp[i]
                j = self._find(_hash(v[i], sh[i], sl[i], dh[i], dl[i], ports, pr[i]),
                               v[i], sh[i], sl[i], dh[i], dl[i], ports, pr[i])
                if j < 0:
                    out[i] = 0
                    continue
                out[i] = 1
                self.size -= 1
                hole = <uint64_t>j
                k = hole
                while True:  # backward shift: pull later chain members into the hole
                    k = (k + 1) & self.mask
                    if self.ver[k] == 0:
                        break
                    home = self.hsh[k] & self.mask
                    # move k into hole unless its home lies cyclically in (hole, k]
                    if ((k - home) & self.mask) >= ((k - hole) & self.mask):
                        self.ver[hole] = self.ver[k]
                        self.sh[hole] = self.sh[k]
                        self.sl[hole] = self.sl[k]
                        self.dh[hole] = self.dh[k]
                        self.dl[hole] = self.dl[k]
                        self.ports[hole] = self.ports[k]
                        self.prt[hole] = self.prt[k]
                        self.hsh[hole] = self.hsh[k]
                        self.state[hole] = self.state[k]
                        hole = k
                self.ver[hole] = 0
