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
Structure: open addressing, linear probing, load <= 1/2, keys stored row-major by id; the table
grows before a call (to hold every row of it), so the loops run without the GIL.
"""

import numpy as np

from libc.stdint cimport int64_t, uint8_t, uint64_t


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
