# cython: language_level=3
"""Longest-prefix match kernels (twin: dataplane/kernels/lpm_py.py; wrapper: kernels/lpm.py).

IPv4: a 16-8-8 multibit trie (DIR-16-8-8). `root` has 65536 int32 entries, `l2` and `l3` are
chunks of 256 int32 entries allocated only where longer prefixes exist. Entry encoding:
  v >= 0   next hop index;  v == -1  no route;  v <= -2  pointer to chunk (-2 - v) of the next
  level. A lookup is 1 to 3 array reads, no branches besides the pointer tests.
`build4` inserts prefixes in ascending length order (the wrapper passes that order), so a longer
prefix always overwrites a shorter one; a new chunk inherits its parent entry. Returns 0, or -1
when the chunk arrays given are too small (the wrapper sizes them exactly).
IPv6: prefixes grouped by length, longest first. `lookup6h` (used): each group is a hash table
of its (hi, lo) keys (linear probing, load <= 1/2), probed after masking the address to the
group's length, so a lookup costs one hash probe per length tried. `lookup6` (kept as a peer):
each group is a sorted (hi, lo) key array searched by binary search.
All loops run without the GIL; results are written to caller-provided int32 arrays.
"""

from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t


cdef inline void _fill(int32_t[::1] a, Py_ssize_t start, Py_ssize_t count, int32_t v) noexcept nogil:
    cdef Py_ssize_t t
    for t in range(start, start + count):
        a[t] = v


def build4(const uint32_t[::1] prefix, const uint8_t[::1] length, const int32_t[::1] next_hop,
           const int64_t[::1] order, int32_t[::1] root, int32_t[::1] l2,
           int32_t[::1] l3) -> int:
    cdef Py_ssize_t n = order.shape[0], k, idx
    cdef Py_ssize_t cap2 = l2.shape[0] // 256, cap3 = l3.shape[0] // 256
    cdef Py_ssize_t n2 = 0, n3 = 0, c, d, e
    cdef uint32_t p
    cdef int L
    cdef int32_t nh, v
    cdef int status = 0
    if root.shape[0] != 65536:
        raise ValueError("root must have 65536 entries")
    with nogil:
        _fill(root, 0, 65536, -1)
        for k in range(n):
            idx = order[k]
            p = prefix[idx]
            L = length[idx]
            nh = next_hop[idx]
            if L <= 16:
                _fill(root, p >> 16, (<Py_ssize_t>1) << (16 - L), nh)
                continue
            v = root[p >> 16]
            if v > -2:
                if n2 >= cap2:
                    status = -1
                    break
                c = n2
                n2 += 1
                _fill(l2, c * 256, 256, v)
                root[p >> 16] = <int32_t>(-2 - c)
            else:
                c = -2 - v
            if L <= 24:
                _fill(l2, c * 256 + ((p >> 8) & 255), (<Py_ssize_t>1) << (24 - L), nh)
                continue
            e = c * 256 + ((p >> 8) & 255)
            v = l2[e]
            if v > -2:
                if n3 >= cap3:
                    status = -1
                    break
                d = n3
                n3 += 1
                _fill(l3, d * 256, 256, v)
                l2[e] = <int32_t>(-2 - d)
            else:
                d = -2 - v
            _fill(l3, d * 256 + (p & 255), (<Py_ssize_t>1) << (32 - L), nh)
    return status


cdef extern from *:
    void __builtin_prefetch(const void*) nogil


DEF BLOCK = 32


def lookup4(const int32_t[::1] root, const int32_t[::1] l2, const int32_t[::1] l3,
            const uint32_t[::1] addresses, int32_t[::1] out) -> None:
    """Blocks of BLOCK addresses: pass 1 reads the root and prefetches the level-2 entries,
    pass 2 resolves them, so the block's cache misses overlap."""
    cdef Py_ssize_t n = addresses.shape[0], i, base, m
    cdef uint32_t a
    cdef int32_t v
    cdef int32_t first[BLOCK]
    if out.shape[0] != n:
        raise ValueError("out must have one entry per address")
    with nogil:
        base = 0
        while base < n:
            m = n - base if n - base < BLOCK else BLOCK
            for i in range(m):
                a = addresses[base + i]
                v = root[a >> 16]
                first[i] = v
                if v <= -2:
                    __builtin_prefetch(&l2[((-2 - v) << 8) | ((a >> 8) & 255)])
            for i in range(m):
                a = addresses[base + i]
                v = first[i]
                if v <= -2:
                    v = l2[((-2 - v) << 8) | ((a >> 8) & 255)]
                    if v <= -2:
                        v = l3[((-2 - v) << 8) | (a & 255)]
                out[base + i] = v
            base += m


def lookup6(const uint64_t[::1] mask_hi, const uint64_t[::1] mask_lo,
            const int64_t[::1] group_start, const uint64_t[::1] key_hi,
            const uint64_t[::1] key_lo, const int32_t[::1] next_hop,
            const uint64_t[::1] hi, const uint64_t[::1] lo, int32_t[::1] out) -> None:
    """Groups g = 0..G-1 (longest first) span keys[group_start[g]:group_start[g+1]]."""
    cdef Py_ssize_t n = hi.shape[0], groups = mask_hi.shape[0], i, g, a, b, m
    cdef uint64_t kh, kl, h, l
    cdef int32_t res
    if lo.shape[0] != n or out.shape[0] != n:
        raise ValueError("hi, lo and out differ in length")
    if group_start.shape[0] != groups + 1 or mask_lo.shape[0] != groups:
        raise ValueError("group arrays disagree")
    with nogil:
        for i in range(n):
            res = -1
            for g in range(groups):
                kh = hi[i] & mask_hi[g]
                kl = lo[i] & mask_lo[g]
                a = group_start[g]
                b = group_start[g + 1]
                while a < b:  # first position with key >= (kh, kl)
                    m = (a + b) >> 1
                    h = key_hi[m]
                    l = key_lo[m]
                    if h < kh or (h == kh and l < kl):
                        a = m + 1
                    else:
                        b = m
                if a < group_start[g + 1] and key_hi[a] == kh and key_lo[a] == kl:
                    res = next_hop[a]
                    break
            out[i] = res


# ---- IPv6 by hashing: one open-addressing table per present prefix length ----
# Slot s of group g lives at tab[4 * (off[g] + s) .. + 3] = (key hi, key lo, next hop, unused);
# next hop EMPTY6 marks a free slot (next hops are < 2**31, and key (0, 0) is a valid /0 key).
# Each group's table has a power-of-two size >= 2 * its key count (mask[g] = size - 1) and
# uses linear probing, so a miss ends at the first free slot.

cdef uint64_t EMPTY6 = 0xFFFFFFFFFFFFFFFFULL


cdef inline uint64_t _h6(uint64_t hi, uint64_t lo) noexcept nogil:
    cdef uint64_t z = (hi * 0x9E3779B97F4A7C15ULL) ^ ((lo ^ 0xD6E8FEB86659FD93ULL)
                                                     * 0xBF58476D1CE4E5B9ULL)
    z = (z ^ (z >> 32)) * 0x94D049BB133111EBULL
    return z ^ (z >> 29)


def build6h(const int64_t[::1] group_start, const uint64_t[::1] key_hi,
            const uint64_t[::1] key_lo, const int32_t[::1] next_hop,
            const int64_t[::1] off, const uint64_t[::1] mask, uint64_t[::1] tab) -> None:
    """Fill the per-length hash tables (`tab` pre-filled with EMPTY6; keys distinct per group)."""
    cdef Py_ssize_t groups = mask.shape[0], g, k
    cdef uint64_t j, base
    if group_start.shape[0] != groups + 1 or off.shape[0] != groups + 1:
        raise ValueError("group arrays disagree")
    if tab.shape[0] != 4 * off[groups] or group_start[groups] > key_hi.shape[0]:
        raise ValueError("hash table size disagrees")
    with nogil:
        for g in range(groups):
            base = <uint64_t>off[g]
            for k in range(group_start[g], group_start[g + 1]):
                j = _h6(key_hi[k], key_lo[k]) & mask[g]
                while tab[4 * (base + j) + 2] != EMPTY6:
                    j = (j + 1) & mask[g]
                tab[4 * (base + j)] = key_hi[k]
                tab[4 * (base + j) + 1] = key_lo[k]
                tab[4 * (base + j) + 2] = <uint64_t>next_hop[k]


def lookup6h(const uint64_t[::1] mask_hi, const uint64_t[::1] mask_lo,
             const int64_t[::1] off, const uint64_t[::1] mask, const uint64_t[::1] tab,
             const uint64_t[::1] hi, const uint64_t[::1] lo, int32_t[::1] out) -> None:
    """Groups longest first: mask the address to the group's length, probe its hash table;
    the first hit is the longest match."""
    cdef Py_ssize_t n = hi.shape[0], groups = mask_hi.shape[0], i, g
    cdef uint64_t kh, kl, j, base, v
    cdef const uint64_t* s
    cdef int32_t res
    if lo.shape[0] != n or out.shape[0] != n:
        raise ValueError("hi, lo and out differ in length")
    if mask_lo.shape[0] != groups or mask.shape[0] != groups or off.shape[0] != groups + 1:
        raise ValueError("group arrays disagree")
    if tab.shape[0] != 4 * off[groups]:
        raise ValueError("hash table size disagrees")
    with nogil:
        for i in range(n):
            res = -1
            for g in range(groups):
                kh = hi[i] & mask_hi[g]
                kl = lo[i] & mask_lo[g]
                base = <uint64_t>off[g]
                j = _h6(kh, kl) & mask[g]
                while True:
                    s = &tab[4 * (base + j)]
                    v = s[2]
                    if v == EMPTY6:
                        break
                    if s[0] == kh and s[1] == kl:
                        res = <int32_t>v
                        break
                    j = (j + 1) & mask[g]
                if res >= 0:
                    break
            out[i] = res
