# cython: language_level=3
"""NSG first-match classifier kernels (twin: dataplane/kernels/acl_py.py; wrapper: kernels/acl.py).

`classify_bv`: bit-vector classification over an interval partition of each dimension
(Lakshman-Stiliadis). Per dimension the wrapper precomputes, for each elementary interval, the
set of rules containing it as a bit vector of W uint64 words (bit r of word r // 64 = rule r),
deduplicated into equivalence classes. Addresses find their elementary interval by binary search
over the boundaries (`*_bound`, first entry 0) and map it to a class (`*_cls`); ports and
protocol map straight through 65536/256-entry class tables. The packet's rule set is the AND
of five class vectors; the first set bit, found word by word with early exit, is the first
matching rule. Cost per packet: two binary searches over <= 2R+1 boundaries plus <= 5W loads.
`classify_bv6`: the same for IPv6: address boundaries as interleaved (hi, lo) uint64 pairs (one
cache line per search step), packet addresses as hi/lo columns, compared as (hi, lo) pairs.
`classify_linear`: the plain linear scan over flattened rule intervals (a compiled peer for
benchmarks and a second oracle).
All write the rule index (or -1) per packet into `out`; no Python object is touched per packet.
"""

from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t


cdef extern from *:
    int __builtin_ctzll(unsigned long long) nogil


cdef inline Py_ssize_t _row(const uint32_t* b, Py_ssize_t n, uint32_t x) noexcept nogil:
    """Largest k with b[k] <= x (b[0] == 0, b ascending)."""
    cdef Py_ssize_t lo = 0, half
    while n > 1:
        half = n >> 1
        if b[lo + half] <= x:
            lo += half
        n -= half
    return lo


def classify_bv(const uint32_t[::1] src_bound, const int32_t[::1] src_cls,
                const uint32_t[::1] dst_bound, const int32_t[::1] dst_cls,
                const int32_t[::1] sport_cls, const int32_t[::1] dport_cls,
                const int32_t[::1] proto_cls,
                const uint64_t[:, ::1] src_bits, const uint64_t[:, ::1] dst_bits,
                const uint64_t[:, ::1] sport_bits, const uint64_t[:, ::1] dport_bits,
                const uint64_t[:, ::1] proto_bits,
                const uint32_t[::1] src, const uint32_t[::1] dst,
                const uint16_t[::1] sport, const uint16_t[::1] dport,
                const uint8_t[::1] proto, int32_t[::1] out) -> None:
    cdef Py_ssize_t n = src.shape[0], i, w
    cdef Py_ssize_t W = src_bits.shape[1]
    cdef Py_ssize_t nsb = src_bound.shape[0], ndb = dst_bound.shape[0]
    cdef const uint64_t* a
    cdef const uint64_t* b
    cdef const uint64_t* c
    cdef const uint64_t* d
    cdef const uint64_t* e
    cdef uint64_t x
    cdef int32_t res
    if not (dst.shape[0] == n and sport.shape[0] == n and dport.shape[0] == n
            and proto.shape[0] == n and out.shape[0] == n):
        raise ValueError("packet columns differ in length")
    if (sport_cls.shape[0] != 65536 or dport_cls.shape[0] != 65536 or proto_cls.shape[0] != 256
            or nsb < 1 or ndb < 1):
        raise ValueError("malformed classifier tables")
    if (dst_bits.shape[1] != W or sport_bits.shape[1] != W or dport_bits.shape[1] != W
            or proto_bits.shape[1] != W):
        raise ValueError("bit vectors differ in width")
    with nogil:
        for i in range(n):
            a = &src_bits[src_cls[_row(&src_bound[0], nsb, src[i])], 0]
            b = &dst_bits[dst_cls[_row(&dst_bound[0], ndb, dst[i])], 0]
            c = &sport_bits[sport_cls[sport[i]], 0]
            d = &dport_bits[dport_cls[dport[i]], 0]
            e = &proto_bits[proto_cls[proto[i]], 0]
            res = -1
            for w in range(W):
                x = a[w] & b[w] & c[w] & d[w] & e[w]
                if x:
                    res = <int32_t>(w * 64 + __builtin_ctzll(x))
                    break
            out[i] = res


cdef inline Py_ssize_t _row128(const uint64_t* b, Py_ssize_t n, uint64_t xh,
                               uint64_t xl) noexcept nogil:
    """Largest k with (b[2k], b[2k+1]) <= (xh, xl) as 128-bit (hi, lo) numbers; the pairs are
    interleaved so each step of the search reads one cache line, (0, 0) first, ascending."""
    cdef Py_ssize_t lo = 0, half, m
    cdef uint64_t h
    cdef bint le
    while n > 1:
        half = n >> 1
        m = lo + half
        h = b[2 * m]
        le = (h < xh) | ((h == xh) & (b[2 * m + 1] <= xl))  # no short circuit: cmov
        lo = m if le else lo
        n -= half
    return lo


def classify_bv6(const uint64_t[:, ::1] src_bound, const int32_t[::1] src_cls,
                 const uint64_t[:, ::1] dst_bound, const int32_t[::1] dst_cls,
                 const int32_t[::1] sport_cls, const int32_t[::1] dport_cls,
                 const int32_t[::1] proto_cls,
                 const uint64_t[:, ::1] src_bits, const uint64_t[:, ::1] dst_bits,
                 const uint64_t[:, ::1] sport_bits, const uint64_t[:, ::1] dport_bits,
                 const uint64_t[:, ::1] proto_bits,
                 const uint64_t[::1] src_hi, const uint64_t[::1] src_lo,
                 const uint64_t[::1] dst_hi, const uint64_t[::1] dst_lo,
                 const uint16_t[::1] sport, const uint16_t[::1] dport,
                 const uint8_t[::1] proto, int32_t[::1] out) -> None:
    """`classify_bv` for 128-bit addresses: boundaries are rows (hi, lo) of an (n, 2) uint64
    array, packet addresses (hi, lo) columns (hi = top 64 bits), compared as (hi, lo) pairs."""
    cdef Py_ssize_t n = src_hi.shape[0], i, w
    cdef Py_ssize_t W = src_bits.shape[1]
    cdef Py_ssize_t nsb = src_bound.shape[0], ndb = dst_bound.shape[0]
    cdef const uint64_t* a
    cdef const uint64_t* b
    cdef const uint64_t* c
    cdef const uint64_t* d
    cdef const uint64_t* e
    cdef uint64_t x
    cdef int32_t res
    if not (src_lo.shape[0] == n and dst_hi.shape[0] == n and dst_lo.shape[0] == n
            and sport.shape[0] == n and dport.shape[0] == n and proto.shape[0] == n
            and out.shape[0] == n):
        raise ValueError("packet columns differ in length")
    if (sport_cls.shape[0] != 65536 or dport_cls.shape[0] != 65536 or proto_cls.shape[0] != 256
            or nsb < 1 or ndb < 1 or src_bound.shape[1] != 2 or dst_bound.shape[1] != 2):
        raise ValueError("malformed classifier tables")
    if (dst_bits.shape[1] != W or sport_bits.shape[1] != W or dport_bits.shape[1] != W
            or proto_bits.shape[1] != W):
        raise ValueError("bit vectors differ in width")
    with nogil:
        for i in range(n):
            a = &src_bits[src_cls[_row128(&src_bound[0, 0], nsb, src_hi[i], src_lo[i])], 0]
            b = &dst_bits[dst_cls[_row128(&dst_bound[0, 0], ndb, dst_hi[i], dst_lo[i])], 0]
            c = &sport_bits[sport_cls[sport[i]], 0]
            d = &dport_bits[dport_cls[dport[i]], 0]
            e = &proto_bits[proto_cls[proto[i]], 0]
            res = -1
            for w in range(W):
                x = a[w] & b[w] & c[w] & d[w] & e[w]
                if x:
                    res = <int32_t>(w * 64 + __builtin_ctzll(x))
                    break
            out[i] = res


cdef inline bint _inside(const uint32_t[::1] lo, const uint32_t[::1] hi,
                         int64_t start, int64_t stop, uint32_t v) noexcept nogil:
    cdef int64_t k
    for k in range(start, stop):
        if lo[k] <= v <= hi[k]:
            return True
    return False


cdef bint _offsets_ok(const uint32_t[::1] lo, const uint32_t[::1] hi, const int64_t[::1] off):
    cdef Py_ssize_t r
    if off.shape[0] < 1 or off[0] != 0 or lo.shape[0] != hi.shape[0]:
        return False
    for r in range(1, off.shape[0]):
        if off[r] < off[r - 1]:
            return False
    return off[off.shape[0] - 1] <= lo.shape[0]


def classify_linear(const uint32_t[::1] src_lo, const uint32_t[::1] src_hi,
                    const int64_t[::1] src_off,
                    const uint32_t[::1] dst_lo, const uint32_t[::1] dst_hi,
                    const int64_t[::1] dst_off,
                    const uint32_t[::1] sport_lo, const uint32_t[::1] sport_hi,
                    const int64_t[::1] sport_off,
                    const uint32_t[::1] dport_lo, const uint32_t[::1] dport_hi,
                    const int64_t[::1] dport_off,
                    const int16_t[::1] rule_proto,
                    const uint32_t[::1] src, const uint32_t[::1] dst,
                    const uint16_t[::1] sport, const uint16_t[::1] dport,
                    const uint8_t[::1] proto, int32_t[::1] out) -> None:
    """Rule r's intervals in a dimension are [off[r], off[r+1]); rule_proto -1 = any."""
    cdef Py_ssize_t n = src.shape[0], R = rule_proto.shape[0], i, r
    cdef int32_t res
    if not (dst.shape[0] == n and sport.shape[0] == n and dport.shape[0] == n
            and proto.shape[0] == n and out.shape[0] == n):
        raise ValueError("packet columns differ in length")
    if not (src_off.shape[0] == R + 1 and dst_off.shape[0] == R + 1
            and sport_off.shape[0] == R + 1 and dport_off.shape[0] == R + 1):
        raise ValueError("rule offsets disagree")
    if not (_offsets_ok(src_lo, src_hi, src_off) and _offsets_ok(dst_lo, dst_hi, dst_off)
            and _offsets_ok(sport_lo, sport_hi, sport_off)
            and _offsets_ok(dport_lo, dport_hi, dport_off)):
        raise ValueError("rule offsets out of range")
    with nogil:
        for i in range(n):
            res = -1
            for r in range(R):
                if rule_proto[r] >= 0 and rule_proto[r] != proto[i]:
                    continue
                if not _inside(dport_lo, dport_hi, dport_off[r], dport_off[r + 1], dport[i]):
                    continue
                if not _inside(dst_lo, dst_hi, dst_off[r], dst_off[r + 1], dst[i]):
                    continue
                if not _inside(src_lo, src_hi, src_off[r], src_off[r + 1], src[i]):
                    continue
                if not _inside(sport_lo, sport_hi, sport_off[r], sport_off[r + 1], sport[i]):
                    continue
                res = <int32_t>r
                break
            out[i] = res
