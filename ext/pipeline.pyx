# cython: language_level=3
"""Key interning for the batch pipeline (twin: dataplane/kernels/pipeline_py.py; wrapper:
kernels/pipeline.py).

`KeyIndex(width, capacity=1024)`: exact keys of `width` uint64 words -> dense int64 ids in order
of first appearance, kept across calls. `index(hashes, keys, ids, new) -> int`: for each row i
in order, ids[i] = the key's id (a new id = `size` before it when unseen, new[i] = 1); returns
the number of new ids. `lookup(hashes, keys, ids)`: ids or -1, nothing added. `clear()`.
`export() -> (hashes uint64[size], keys uint64[size, width])`: copies, in id order.
The caller supplies one 64-bit hash per row (any function of the key: equal keys must hash
alike); slots are chosen from it, full keys are always compared, so collisions only cost time.
`flow_keys(family, src_hi, src_lo, dst_hi, dst_lo, proto, sport, dport, keys, hashes)`: the
exact dual-stack 5-tuple keys of n packets and of their reverses (2n rows of 6 words) with
their hashes, in one pass (see below).
Structure: open addressing, linear probing, load <= 1/2, keys stored row-major by id; the table
grows before a call (to hold every row of it), so the loops run without the GIL.
"""

import numpy as np

from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t

from mixhash cimport mix as _mix


cdef class KeyIndex:
    cdef readonly int width
    cdef readonly int64_t size
    cdef int64_t[::1] slots
    cdef uint64_t[::1] store
    cdef uint64_t[::1] hstore
    cdef uint64_t mask

    def __init__(self, int width, int64_t capacity=1024):
        if width < 1:
            raise ValueError("width must be >= 1")
        self.width = width
        self.size = 0
        self._alloc(max(capacity, 8))

    cdef _alloc(self, int64_t rows):
        cdef int64_t cap = 16
        while cap < 2 * rows:
            cap <<= 1
        self.slots = np.full(cap, -1, dtype=np.int64)
        self.mask = <uint64_t>(cap - 1)
        self.store = np.empty(rows * self.width, dtype=np.uint64)
        self.hstore = np.empty(rows, dtype=np.uint64)

    cdef _reserve(self, int64_t extra):
        """Room for `extra` more ids: store rows and slots at load <= 1/2 (rehash on growth)."""
        cdef int64_t need = self.size + extra, rows = self.hstore.shape[0], cap, i
        cdef uint64_t s
        if need <= rows and 2 * need <= self.slots.shape[0]:
            return
        while rows < need:
            rows *= 2
        old_store = np.asarray(self.store)[:self.size * self.width]
        old_h = np.asarray(self.hstore)[:self.size]
        self._alloc(rows)
        np.asarray(self.store)[:old_store.size] = old_store
        np.asarray(self.hstore)[:old_h.size] = old_h
        with nogil:
            for i in range(self.size):
                s = self.hstore[i] & self.mask
                while self.slots[s] >= 0:
                    s = (s + 1) & self.mask
                self.slots[s] = i

    def export(self):
        return (np.asarray(self.hstore)[:self.size].copy(),
                np.asarray(self.store)[:self.size * self.width].reshape(
                    self.size, self.width).copy())

    def clear(self) -> None:
        self.size = 0
        self.slots[:] = -1

    cdef inline bint _same(self, int64_t id_, const uint64_t[:, ::1] keys, Py_ssize_t r
                           ) noexcept nogil:
        cdef int j
        cdef int64_t base = id_ * self.width
        for j in range(self.width):
            if self.store[base + j] != keys[r, j]:
                return False
        return True

    def _check(self, hashes, keys, n) -> None:
        if keys.shape[0] != n or hashes.shape[0] != n:
            raise ValueError("hashes and keys differ in length")
        if keys.shape[1] != self.width:
            raise ValueError(f"keys must have {self.width} words per row")

    def index(self, const uint64_t[::1] hashes, const uint64_t[:, ::1] keys, int64_t[::1] ids,
              uint8_t[::1] new) -> int:
        cdef Py_ssize_t n = hashes.shape[0], i
        cdef int j
        cdef uint64_t s
        cdef int64_t id_, added = 0, base
        self._check(hashes, keys, n)
        if ids.shape[0] != n or new.shape[0] != n:
            raise ValueError("output columns differ in length")
        self._reserve(n)
        with nogil:
            for i in range(n):
                s = hashes[i] & self.mask
                new[i] = 0
                while True:
                    id_ = self.slots[s]
                    if id_ < 0:
                        id_ = self.size
                        base = id_ * self.width
                        for j in range(self.width):
                            self.store[base + j] = keys[i, j]
                        self.hstore[id_] = hashes[i]
                        self.slots[s] = id_
                        self.size += 1
                        added += 1
                        new[i] = 1
                        break
                    if self.hstore[id_] == hashes[i] and self._same(id_, keys, i):
                        break
                    s = (s + 1) & self.mask
                ids[i] = id_
        return added

    def lookup(self, const uint64_t[::1] hashes, const uint64_t[:, ::1] keys, int64_t[::1] ids
               ) -> None:
        cdef Py_ssize_t n = hashes.shape[0], i
        cdef uint64_t s
        cdef int64_t id_
        self._check(hashes, keys, n)
        if ids.shape[0] != n:
            raise ValueError("output column differs in length")
        with nogil:
            for i in range(n):
                s = hashes[i] & self.mask
                while True:
                    id_ = self.slots[s]
                    if id_ < 0 or (self.hstore[id_] == hashes[i] and self._same(id_, keys, i)):
                        break
                    s = (s + 1) & self.mask
                ids[i] = id_


cdef uint64_t _K1 = <uint64_t>0xC2B2AE3D27D4EB4FULL
cdef uint64_t _K2 = <uint64_t>0x165667B19E3779F9ULL


def flow_keys(const uint8_t[::1] family, const uint64_t[::1] src_hi,
              const uint64_t[::1] src_lo, const uint64_t[::1] dst_hi,
              const uint64_t[::1] dst_lo, const int16_t[::1] proto, const int32_t[::1] sport,
              const int32_t[::1] dport, uint64_t[:, ::1] keys, uint64_t[::1] hashes) -> None:
    """Dual-stack 5-tuple keys, 6 exact words per row: (src_hi, src_lo, dst_hi, dst_lo,
    family << 32 | proto's 16 bits, sport << 32 | dport's 32 bits); ports 0 unless proto is 6
    or 17. Rows 0..n-1 the packets, rows n..2n-1 their reverses (addresses and ports
    swapped). An IPv4 key (family 4) never equals an IPv6 one (family 6), whatever the
    halves. hashes: mix(w1, w2) with w1 = (src_lo << 32) ^ dst_lo ^ src_hi * K1 ^ dst_hi * K2
    and w2 = word5 ^ (word4 << 16) (wrapping), as the twin computes it."""
    cdef Py_ssize_t n = src_lo.shape[0], i, r
    cdef uint64_t sh, sl, dh, dl, meta, sp, dp
    if not (family.shape[0] == n and src_hi.shape[0] == n and dst_hi.shape[0] == n
            and dst_lo.shape[0] == n and proto.shape[0] == n and sport.shape[0] == n
            and dport.shape[0] == n):
        raise ValueError("columns differ in length")
    if keys.shape[0] != 2 * n or keys.shape[1] != 6 or hashes.shape[0] != 2 * n:
        raise ValueError("outputs must hold 2n rows of 6 words")
    with nogil:
        for i in range(n):
            sh = src_hi[i]
            sl = src_lo[i]
            dh = dst_hi[i]
            dl = dst_lo[i]
            meta = (<uint64_t>family[i] << 32) | <uint64_t><uint16_t>proto[i]
            if proto[i] == 6 or proto[i] == 17:
                sp = <uint64_t><uint32_t>sport[i]
                dp = <uint64_t><uint32_t>dport[i]
            else:
                sp = 0
                dp = 0
            keys[i, 0] = sh
            keys[i, 1] = sl
            keys[i, 2] = dh
            keys[i, 3] = dl
            keys[i, 4] = meta
            keys[i, 5] = (sp << 32) | dp
            hashes[i] = _mix((sl << 32) ^ dl ^ (sh * _K1) ^ (dh * _K2),
                             ((sp << 32) | dp) ^ (meta << 16))
            r = n + i
            keys[r, 0] = dh
            keys[r, 1] = dl
            keys[r, 2] = sh
            keys[r, 3] = sl
            keys[r, 4] = meta
            keys[r, 5] = (dp << 32) | sp
            hashes[r] = _mix((dl << 32) ^ sl ^ (dh * _K1) ^ (sh * _K2),
                             ((dp << 32) | sp) ^ (meta << 16))
