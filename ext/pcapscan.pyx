# cython: language_level=3
"""Capture record scanner kernel (twin: dataplane/kernels/pcapscan_py.py, which documents the
contract; wrapper: dataplane/kernels/pcapscan.py; driver: dataplane/io/capture.py).

`scan_pcap(buf, pos, big_endian, unit_ns, offsets, caplens, origlens, time_ns, first)` and
`scan_pcapng(buf, pos, big_endian, if_link, if_tick, offsets, caplens, origlens, linktypes,
time_ns, first)` -> (count, pos, status): walk records in buf[pos:], one row per record from
row `first`, stop at FULL / END / PARTIAL / damage / a block the caller handles. Status codes are
ScanStatus in the twin. Never reads outside buf; loops without the GIL.
"""

from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t

cdef enum:
    MAX_RECORD = 262144
    I32_MAX = 2147483647

cdef int64_t I64_MAX = 9223372036854775807

cdef enum:  # ScanStatus in the twin
    FULL = 0
    END = 1
    PARTIAL = 2
    TOO_LONG = 3
    BAD_LENGTH = 4
    BAD_TRAILER = 5
    SECTION = 6
    INTERFACE = 7
    TOO_SHORT = 8
    UNKNOWN_INTERFACE = 9
    CAPLEN_BEYOND_BLOCK = 10
    NO_INTERFACE = 11


cdef inline uint32_t rd32(const uint8_t* p, bint big) noexcept nogil:
    if big:
        return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | p[3]
    return (<uint32_t>p[3] << 24) | (<uint32_t>p[2] << 16) | (<uint32_t>p[1] << 8) | p[0]


cdef inline uint16_t rd16(const uint8_t* p, bint big) noexcept nogil:
    if big:
        return <uint16_t>((<uint16_t>p[0] << 8) | p[1])
    return <uint16_t>((<uint16_t>p[1] << 8) | p[0])


cdef inline int64_t ticks_to_ns(uint64_t ticks, int64_t tick) noexcept nogil:
    """ticks * tick ns, saturating at 2**63 - 1 (a time past year 2262 is clamped, not wrapped)."""
    if tick <= 0:
        return 0
    if ticks > <uint64_t>I64_MAX / <uint64_t>tick:
        return I64_MAX
    return <int64_t>(ticks * <uint64_t>tick)


cdef inline int32_t sat32(uint32_t v) noexcept nogil:
    return <int32_t>v if v <= I32_MAX else I32_MAX


def scan_pcap(const uint8_t[::1] buf, int64_t pos, bint big_endian, int64_t unit_ns,
              int64_t[::1] offsets, int32_t[::1] caplens, int32_t[::1] origlens,
              int64_t[::1] time_ns, Py_ssize_t first):
    cdef Py_ssize_t cap = offsets.shape[0], row = first
    cdef int64_t end = buf.shape[0]
    cdef uint32_t sec, frac, caplen, origlen
    cdef const uint8_t* p
    cdef int status = FULL
    if not (caplens.shape[0] == cap and origlens.shape[0] == cap and time_ns.shape[0] == cap):
        raise ValueError("output columns differ in length")
    if pos < 0 or pos > end or first < 0:
        raise ValueError("pos or first out of range")
    with nogil:
        while True:
            if row >= cap:
                status = FULL
                break
            if pos == end:
                status = END
                break
            if pos + 16 > end:
                status = PARTIAL
                break
            p = &buf[pos]
            sec = rd32(p, big_endian)
            frac = rd32(p + 4, big_endian)
            caplen = rd32(p + 8, big_endian)
            origlen = rd32(p + 12, big_endian)
            if caplen > MAX_RECORD:
                status = TOO_LONG
                break
            if pos + 16 + <int64_t>caplen > end:
                status = PARTIAL
                break
            offsets[row] = pos + 16
            caplens[row] = <int32_t>caplen
            origlens[row] = sat32(origlen)
            time_ns[row] = <int64_t>(<uint64_t>sec * 1000000000ULL
                                     + <uint64_t>frac * <uint64_t>unit_ns)
            row += 1
            pos += 16 + caplen
    return row - first, pos, status


def scan_pcapng(const uint8_t[::1] buf, int64_t pos, bint big_endian,
                const int32_t[::1] if_link, const int64_t[::1] if_tick, int64_t[::1] offsets,
                int32_t[::1] caplens, int32_t[::1] origlens, int32_t[::1] linktypes,
                int64_t[::1] time_ns, Py_ssize_t first):
    cdef Py_ssize_t cap = offsets.shape[0], row = first, nif = if_link.shape[0]
    cdef int64_t end = buf.shape[0]
    cdef uint32_t btype, blen, iface, hi, lo, caplen, origlen
    cdef const uint8_t* p
    cdef int status = FULL
    if not (caplens.shape[0] == cap and origlens.shape[0] == cap and time_ns.shape[0] == cap
            and linktypes.shape[0] == cap):
        raise ValueError("output columns differ in length")
    if if_tick.shape[0] != nif:
        raise ValueError("interface columns differ in length")
    if pos < 0 or pos > end or first < 0:
        raise ValueError("pos or first out of range")
    with nogil:
        while True:
            if row >= cap:
                status = FULL
                break
            if pos == end:
                status = END
                break
            if pos + 8 > end:
                status = PARTIAL
                break
            p = &buf[pos]
            if p[0] == 0x0A and p[1] == 0x0D and p[2] == 0x0D and p[3] == 0x0A:
                status = SECTION
                break
            btype = rd32(p, big_endian)
            blen = rd32(p + 4, big_endian)
            if blen < 12 or blen % 4 != 0:  # any 32-bit length the format allows
                status = BAD_LENGTH
                break
            if pos + <int64_t>blen > end:
                status = PARTIAL
                break
            if rd32(p + blen - 4, big_endian) != blen:
                status = BAD_TRAILER
                break
            if btype == 1:
                status = INTERFACE
                break
            if btype == 6 or btype == 2:
                if blen < 32:
                    status = TOO_SHORT
                    break
                if btype == 6:
                    iface = rd32(p + 8, big_endian)
                    hi = rd32(p + 12, big_endian)
                    lo = rd32(p + 16, big_endian)
                else:
                    iface = rd16(p + 8, big_endian)
                    hi = rd32(p + 12, big_endian)
                    lo = rd32(p + 16, big_endian)
                caplen = rd32(p + 20, big_endian)
                origlen = rd32(p + 24, big_endian)
                if iface >= nif:
                    status = UNKNOWN_INTERFACE
                    break
                if 28 + <int64_t>caplen > <int64_t>blen - 4:
                    status = CAPLEN_BEYOND_BLOCK
                    break
                offsets[row] = pos + 28
                caplens[row] = <int32_t>caplen
                origlens[row] = sat32(origlen)
                linktypes[row] = if_link[iface]
                time_ns[row] = ticks_to_ns(((<uint64_t>hi << 32) | lo), if_tick[iface])
                row += 1
            elif btype == 3:
                if nif == 0:
                    status = NO_INTERFACE
                    break
                origlen = rd32(p + 8, big_endian)
                caplen = blen - 16 if blen >= 16 else 0
                if origlen < caplen:
                    caplen = origlen
                offsets[row] = pos + 12
                caplens[row] = <int32_t>caplen
                origlens[row] = sat32(origlen)
                linktypes[row] = if_link[0]
                time_ns[row] = 0
                row += 1
            pos += blen
    return row - first, pos, status
