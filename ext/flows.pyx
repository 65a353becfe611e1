# cython: language_level=3
"""Flow table kernel: open addressing, linear probing (twin: dataplane/kernels/flows_py.py).

`FlowCore(capacity)`: at most `capacity` flows in 2**k >= 2 * capacity slots (load <= 1/2).
Layout: one 64-byte, cache-line-aligned `Slot` struct per slot (array of structs), holding the
full key (version, src hi/lo, dst hi/lo, ports, proto), its 64-bit hash and the state, so a hit
reads exactly one slot line. Beside it, one tag byte per slot (0 = empty, else 0x80 | the top 7
hash bits; 1 MiB for a 500k-flow table, so it stays in cache): probe chains are walked on the
tags, and only a slot whose tag matches is read and compared in full (hash collisions and
tag collisions are therefore harmless). The slots live in a numpy uint8 buffer (calloc: pages
zeroed lazily); `slot_view()` / `tag_view()` expose them read-only (dtype SLOT_DTYPE).
Deletion uses backward shifting (no tombstones), so probe chains stay short and never break.
Batch methods take the key columns and write per-row results into caller arrays:
  lookup(..., int64 out)            state or -1;
  insert(..., int64 state, uint8 out)  0 inserted, 1 updated, 2 refused (full; counted);
  remove(..., uint8 out)            1 removed, 0 absent.
Rows are processed in order without the GIL (a later row sees an earlier row's effect); no
Python object per row. Memory-level parallelism: lookup runs a three-stage software pipeline
(hash + tag prefetch 2*PF rows ahead, tag walk + slot prefetch PF rows ahead, compare);
insert/remove prefetch the home tag and slot PF rows ahead. Prefetches are hints only, so the
in-order semantics are unchanged.
"""

from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t, uintptr_t
from libc.string cimport memset

import numpy as np

cdef extern from *:
    void __builtin_prefetch(const void*, int, int) nogil


ctypedef struct Slot:
    uint64_t sh
    uint64_t sl
    uint64_t dh
    uint64_t dl
    uint64_t hsh
    int64_t state
    uint32_t ports
    uint8_t ver
    uint8_t prt
    uint8_t pad[10]


DEF PF = 16  # prefetch distance in rows (power of two)

SLOT_BYTES = sizeof(Slot)
SLOT_DTYPE = np.dtype({
    "names": ["src_hi", "src_lo", "dst_hi", "dst_lo", "hash", "state", "ports", "version",
              "proto"],
    "formats": ["<u8", "<u8", "<u8", "<u8", "<u8", "<i8", "<u4", "u1", "u1"],
    "offsets": [0, 8, 16, 24, 32, 40, 48, 52, 53],
    "itemsize": 64,
})


cdef extern from *:
    """
    static inline uint64_t dp_flows_mum(uint64_t a, uint64_t b) {
        unsigned __int128 r = (unsigned __int128)a * b;
        return (uint64_t)r ^ (uint64_t)(r >> 64);
    }
    """
    uint64_t _mum "dp_flows_mum"(uint64_t, uint64_t) noexcept nogil


cdef inline uint64_t _hash(uint8_t v, uint64_t sh, uint64_t sl, uint64_t dh, uint64_t dl,
                           uint32_t ports, uint8_t proto) noexcept nogil:
    """wyhash-style: 64x64->128-bit multiplies folded by xor; three multiplies, depth two."""
    cdef uint64_t a = _mum(sl ^ 0xA0761D6478BD642FULL, dl ^ 0xE7037ED1A0B428DBULL)
    cdef uint64_t b = _mum(sh ^ 0x8EBC6AF09C88C6E3ULL, dh ^ 0x589965CC75374CC3ULL)
    cdef uint64_t e = (<uint64_t>ports << 16) | (<uint64_t>proto << 8) | v
    return _mum(a ^ e ^ 0x1D8E4E27C47D124FULL, b ^ 0x9E3779B97F4A7C15ULL)


cdef inline uint8_t _tag(uint64_t h) noexcept nogil:
    """Non-zero 8-bit tag from the hash bits the slot index does not use (0 = empty)."""
    return <uint8_t>(0x80 | (h >> 57))


cdef inline bint _same(const Slot* s, uint64_t h, uint8_t v, uint64_t sh, uint64_t sl,
                       uint64_t dh, uint64_t dl, uint32_t ports, uint8_t proto) noexcept nogil:
    return (s.hsh == h and s.sl == sl and s.dl == dl and s.ports == ports and s.prt == proto
            and s.ver == v and s.sh == sh and s.dh == dh)


ctypedef struct Keys:
    const uint8_t* v
    const uint64_t* sh
    const uint64_t* sl
    const uint64_t* dh
    const uint64_t* dl
    const uint16_t* sp
    const uint16_t* dp
    const uint8_t* pr


cdef inline uint32_t _ports(const Keys* k, Py_ssize_t i) noexcept nogil:
    return (<uint32_t>k.sp[i] << 16) | k.dp[i]


cdef inline uint64_t _hash_row(const Keys* k, Py_ssize_t i) noexcept nogil:
    return _hash(k.v[i], k.sh[i], k.sl[i], k.dh[i], k.dl[i], _ports(k, i), k.pr[i])


cdef inline Py_ssize_t _find(const Slot* tab, const uint8_t* tags, uint64_t mask, uint64_t h,
                             const Keys* k, Py_ssize_t i) noexcept nogil:
    """Slot holding row i's key, or -(empty slot) - 1 where it would go. The chain is walked
    on the tag bytes; only slots whose tag matches are read (and compared in full)."""
    cdef uint64_t j = h & mask
    cdef uint8_t t = _tag(h), c
    while True:
        c = tags[j]
        if c == 0:
            return -(<Py_ssize_t>j) - 1
        if c == t and _same(&tab[j], h, k.v[i], k.sh[i], k.sl[i], k.dh[i], k.dl[i],
                            _ports(k, i), k.pr[i]):
            return <Py_ssize_t>j
        j = (j + 1) & mask


cdef inline Py_ssize_t _candidate(const uint8_t* tags, uint64_t mask, uint64_t h) noexcept nogil:
    """First slot of h's chain whose tag matches (or the empty slot ending it): the slot line
    worth prefetching."""
    cdef uint64_t j = h & mask
    cdef uint8_t t = _tag(h), c
    while True:
        c = tags[j]
        if c == 0 or c == t:
            return <Py_ssize_t>j
        j = (j + 1) & mask


cdef class FlowCore:
    cdef readonly Py_ssize_t capacity, size, slots
    cdef readonly int64_t refused
    cdef uint64_t mask
    cdef object _buf    # numpy uint8 buffer owning the slots (+ alignment slack)
    cdef object _tagbuf  # numpy uint8 buffer: one tag byte per slot (0 = empty)
    cdef Slot* tab      # 64-byte aligned view into _buf
    cdef uint8_t* tags

    def __init__(self, Py_ssize_t capacity):
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        if sizeof(Slot) != 64:  # pragma: no cover - layout is fixed above
            raise RuntimeError("flow slot is not 64 bytes")
        cdef Py_ssize_t slots = 16
        while slots < 2 * capacity:
            slots *= 2
        self.capacity = capacity
        self.slots = slots
        self.mask = slots - 1
        self.size = 0
        self.refused = 0
        self._buf = np.zeros(slots * 64 + 64, dtype=np.uint8)  # calloc: pages zeroed lazily
        self._tagbuf = np.zeros(slots, dtype=np.uint8)
        cdef uint8_t[::1] raw = self._buf
        cdef uint8_t[::1] traw = self._tagbuf
        cdef uintptr_t p = <uintptr_t>&raw[0]
        self.tab = <Slot*>((p + 63) & ~(<uintptr_t>63))
        self.tags = &traw[0]

    def clear(self):
        with nogil:
            memset(self.tab, 0, self.slots * sizeof(Slot))
            memset(self.tags, 0, self.slots)
        self.size = 0
        self.refused = 0

    def slot_view(self):
        """The slots as a read-only structured array (dtype SLOT_DTYPE), for inspection."""
        cdef uint8_t[::1] raw = self._buf
        off = <Py_ssize_t>(<uintptr_t>self.tab - <uintptr_t>&raw[0])
        view = self._buf[off:off + self.slots * 64].view(SLOT_DTYPE)
        view.flags.writeable = False
        return view

    def tag_view(self):
        """The tag bytes (0 = empty slot, else 0x80 | top 7 hash bits), read-only."""
        view = self._tagbuf[:]
        view.flags.writeable = False
        return view

    cdef int _keys(self, Keys* k, const uint8_t[::1] v, const uint64_t[::1] sh,
                   const uint64_t[::1] sl, const uint64_t[::1] dh, const uint64_t[::1] dl,
                   const uint16_t[::1] sp, const uint16_t[::1] dp,
                   const uint8_t[::1] pr) except -1:
        """Check the key columns and point `k` at them."""
        cdef Py_ssize_t n = v.shape[0]
        if not (sh.shape[0] == n and sl.shape[0] == n and dh.shape[0] == n and dl.shape[0] == n
                and sp.shape[0] == n and dp.shape[0] == n and pr.shape[0] == n):
            raise ValueError("flow key columns differ in length")
        if n:
            k.v, k.sh, k.sl, k.dh, k.dl = &v[0], &sh[0], &sl[0], &dh[0], &dl[0]
            k.sp, k.dp, k.pr = &sp[0], &dp[0], &pr[0]
        return 0

    def lookup(self, const uint8_t[::1] v, const uint64_t[::1] sh, const uint64_t[::1] sl,
               const uint64_t[::1] dh, const uint64_t[::1] dl, const uint16_t[::1] sp,
               const uint16_t[::1] dp, const uint8_t[::1] pr, int64_t[::1] out):
        """Three-stage software pipeline: row i + 2*PF is hashed and its tag line prefetched;
        row i + PF's chain is walked on the (now cached) tags and the one slot line it will
        compare is prefetched; row i is looked up."""
        cdef Py_ssize_t n = v.shape[0], i, j
        cdef uint64_t h, mask = self.mask
        cdef uint64_t hb[2 * PF]
        cdef Keys k
        cdef const Slot* tab = self.tab
        cdef const uint8_t* tags = self.tags
        self._keys(&k, v, sh, sl, dh, dl, sp, dp, pr)
        if out.shape[0] != n:
            raise ValueError("out length differs")
        with nogil:
            for i in range(n if n < 2 * PF else 2 * PF):
                hb[i] = h = _hash_row(&k, i)
                __builtin_prefetch(&tags[h & mask], 0, 3)
            for i in range(n if n < PF else PF):
                __builtin_prefetch(&tab[_candidate(tags, mask, hb[i])], 0, 3)
            for i in range(n):
                h = hb[i & (2 * PF - 1)]
                if i + 2 * PF < n:
                    hb[i & (2 * PF - 1)] = _hash_row(&k, i + 2 * PF)
                    __builtin_prefetch(&tags[hb[i & (2 * PF - 1)] & mask], 0, 3)
                if i + PF < n:
                    __builtin_prefetch(&tab[_candidate(tags, mask, hb[(i + PF) & (2 * PF - 1)])],
                                       0, 3)
                j = _find(tab, tags, mask, h, &k, i)
                out[i] = tab[j].state if j >= 0 else -1

    def insert(self, const uint8_t[::1] v, const uint64_t[::1] sh, const uint64_t[::1] sl,
               const uint64_t[::1] dh, const uint64_t[::1] dl, const uint16_t[::1] sp,
               const uint16_t[::1] dp, const uint8_t[::1] pr, const int64_t[::1] state,
               uint8_t[::1] out):
        cdef Py_ssize_t n = v.shape[0], i, j
        cdef uint64_t h, h2, mask = self.mask
        cdef uint64_t hb[PF]
        cdef Keys k
        cdef Slot* tab = self.tab
        cdef uint8_t* tags = self.tags
        cdef Slot* s
        self._keys(&k, v, sh, sl, dh, dl, sp, dp, pr)
        if out.shape[0] != n or state.shape[0] != n:
            raise ValueError("state/out length differs")
        for i in range(n):
            if v[i] == 0:
                raise ValueError("flow key version 0 is reserved")
        with nogil:
            for i in range(n if n < PF else PF):
                hb[i] = h = _hash_row(&k, i)
                __builtin_prefetch(&tags[h & mask], 1, 3)
                __builtin_prefetch(&tab[h & mask], 1, 3)
            for i in range(n):
                h = hb[i & (PF - 1)]
                if i + PF < n:
                    h2 = hb[i & (PF - 1)] = _hash_row(&k, i + PF)
                    __builtin_prefetch(&tags[h2 & mask], 1, 3)
                    __builtin_prefetch(&tab[h2 & mask], 1, 3)
                j = _find(tab, tags, mask, h, &k, i)
                if j >= 0:
                    tab[j].state = state[i]
                    out[i] = 1
                elif self.size >= self.capacity:
                    self.refused += 1
                    out[i] = 2
                else:
                    j = -j - 1
                    s = &tab[j]
                    s.ver = k.v[i]
                    s.sh = k.sh[i]
                    s.sl = k.sl[i]
                    s.dh = k.dh[i]
                    s.dl = k.dl[i]
                    s.ports = _ports(&k, i)
                    s.prt = k.pr[i]
                    s.hsh = h
                    s.state = state[i]
                    tags[j] = _tag(h)
                    self.size += 1
                    out[i] = 0

    def remove(self, const uint8_t[::1] v, const uint64_t[::1] sh, const uint64_t[::1] sl,
               const uint64_t[::1] dh, const uint64_t[::1] dl, const uint16_t[::1] sp,
               const uint16_t[::1] dp, const uint8_t[::1] pr, uint8_t[::1] out):
        cdef Py_ssize_t n = v.shape[0], i, j
        cdef uint64_t hole, q, home, h, h2, mask = self.mask
        cdef uint64_t hb[PF]
        cdef Keys k
        cdef Slot* tab = self.tab
        cdef uint8_t* tags = self.tags
        self._keys(&k, v, sh, sl, dh, dl, sp, dp, pr)
        if out.shape[0] != n:
            raise ValueError("out length differs")
        with nogil:
            for i in range(n if n < PF else PF):
                hb[i] = h = _hash_row(&k, i)
                __builtin_prefetch(&tags[h & mask], 1, 3)
            for i in range(n):
                h = hb[i & (PF - 1)]
                if i + PF < n:
                    h2 = hb[i & (PF - 1)] = _hash_row(&k, i + PF)
                    __builtin_prefetch(&tags[h2 & mask], 1, 3)
                j = _find(tab, tags, mask, h, &k, i)
                if j < 0:
                    out[i] = 0
                    continue
                out[i] = 1
                self.size -= 1
                hole = <uint64_t>j
                q = hole
                while True:  # backward shift: pull later chain members into the hole
                    q = (q + 1) & mask
                    if tags[q] == 0:
                        break
                    home = tab[q].hsh & mask
                    # move q into hole unless its home lies cyclically in (hole, q]
                    if ((q - home) & mask) >= ((q - hole) & mask):
                        tab[hole] = tab[q]
                        tags[hole] = tags[q]
                        hole = q
                tab[hole].ver = 0
                tags[hole] = 0
