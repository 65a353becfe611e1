# cython: language_level=3
"""Header extraction kernel (twin: dataplane/kernels/headers_py.py, which holds the contract:
columns, ParseStatus codes, FRAG_* values, link types).

`extract(buf, offsets, caplens, linktype, <24 output columns in HeaderColumns order>)`: parses
each frame buf[offsets[i] : offsets[i] + caplens[i]] (Ethernet with any number of VLAN tags, or
raw IP), IPv4 with options and fragments, IPv6 with extension headers and fragments (fragment id, offset, more flag, length),
TCP/UDP/SCTP/UDP-Lite ports, ICMP/ICMPv6 type and code. Every read is checked against the
frame's captured end; records outside the buffer get BAD_RECORD. Runs without the GIL; writes
one row per frame into the caller's zero-initialised columns (l3/l4/payload offsets
initialised -1).
"""

from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t

# ParseStatus values (headers_py.ParseStatus)
cdef enum:
    OK = 0
    TRUNCATED = 1
    NOT_IP = 2
    BAD_IP_HEADER = 3
    NON_FIRST_FRAGMENT = 4
    L4_TRUNCATED = 5
    BAD_RECORD = 6
    BAD_LINKTYPE = 7
    FRAG_FIRST = 1
    FRAG_LATER = 2


cdef inline uint32_t _u16(const uint8_t* b, Py_ssize_t p) noexcept nogil:
    return (<uint32_t>b[p] << 8) | b[p + 1]


cdef inline uint32_t _u32(const uint8_t* b, Py_ssize_t p) noexcept nogil:
    return ((<uint32_t>b[p] << 24) | (<uint32_t>b[p + 1] << 16) | (<uint32_t>b[p + 2] << 8)
            | b[p + 3])


cdef inline uint64_t _u64(const uint8_t* b, Py_ssize_t p) noexcept nogil:
    return (<uint64_t>_u32(b, p) << 32) | _u32(b, p + 4)


cdef inline bint _is_ext(uint8_t nh) noexcept nogil:
    return (nh == 0 or nh == 43 or nh == 60 or nh == 135 or nh == 139 or nh == 140
            or nh == 51 or nh == 44)


cdef struct Row:
    uint8_t status, vlan_count, ip_version, proto, frag, ttl, frag_more
    uint16_t ethertype, sport, dport, frag_offset, frag_len
    uint32_t src4, dst4, ip_len, frag_id
    uint64_t src_hi, src_lo, dst_hi, dst_lo
    int32_t l3_offset, l4_offset, payload_offset, payload_len


cdef void _parse(const uint8_t* b, Py_ssize_t n, int linktype, Row* r) noexcept nogil:
    cdef Py_ssize_t p = 0, l3, end, hlen
    cdef uint32_t et, total, payload, offset
    cdef int version, vlans = 0
    cdef uint8_t proto, frag = 0, more
    if linktype == 1:
        if n < 14:
            r.status = TRUNCATED
            return
        et = _u16(b, 12)
        p = 14
        while et == 0x8100 or et == 0x88A8 or et == 0x9100:
            if p + 4 > n:
                r.status = TRUNCATED
                r.ethertype = <uint16_t>et
                r.vlan_count = <uint8_t>vlans
                return
            et = _u16(b, p + 2)
            if vlans < 255:
                vlans += 1
            p += 4
        r.ethertype = <uint16_t>et
        r.vlan_count = <uint8_t>vlans
        if et == 0x0800:
            version = 4
        elif et == 0x86DD:
            version = 6
        else:
            r.status = NOT_IP
            return
    elif linktype == 101 or linktype == 228 or linktype == 229:
        if linktype == 101:
            if n < 1:
                r.status = TRUNCATED
                return
            version = b[0] >> 4
            if version != 4 and version != 6:
                r.status = BAD_IP_HEADER
                return
        else:
            version = 4 if linktype == 228 else 6
        r.ethertype = 0x0800 if version == 4 else 0x86DD
    else:
        r.status = BAD_LINKTYPE
        return

    l3 = p
    if version == 4:
        if n - l3 < 20:
            r.status = TRUNCATED
            return
        if (b[l3] >> 4) != 4 or (b[l3] & 15) < 5:
            r.status = BAD_IP_HEADER
            return
        hlen = (b[l3] & 15) * 4
        if n - l3 < hlen:
            r.status = TRUNCATED
            return
        total = _u16(b, l3 + 2)
        if total < hlen:
            r.status = BAD_IP_HEADER
            return
        r.ip_version = 4
        r.src4 = _u32(b, l3 + 12)
        r.dst4 = _u32(b, l3 + 16)
        r.src_lo = r.src4
        r.dst_lo = r.dst4
        proto = b[l3 + 9]
        r.proto = proto
        r.ip_len = total
        r.ttl = b[l3 + 8]
        r.l3_offset = <int32_t>l3
        offset = _u16(b, l3 + 6) & 0x1FFF
        more = (b[l3 + 6] >> 5) & 1
        if offset:
            frag = FRAG_LATER
        elif more:
            frag = FRAG_FIRST
        r.frag = frag
        if frag != 0:
            r.frag_id = _u16(b, l3 + 4)
            r.frag_offset = <uint16_t>offset
            r.frag_more = more
            r.frag_len = <uint16_t>(total - hlen)
        end = l3 + (total if total < n - l3 else n - l3)
        p = l3 + hlen
    else:
        if n - l3 < 40:
            r.status = TRUNCATED
            return
        if (b[l3] >> 4) != 6:
            r.status = BAD_IP_HEADER
            return
        r.ip_version = 6
        r.src_hi = _u64(b, l3 + 8)
        r.src_lo = _u64(b, l3 + 16)
        r.dst_hi = _u64(b, l3 + 24)
        r.dst_lo = _u64(b, l3 + 32)
        payload = _u16(b, l3 + 4)
        r.ip_len = 40 + payload
        r.ttl = b[l3 + 7]
        r.l3_offset = <int32_t>l3
        end = l3 + (40 + payload if 40 + payload < n - l3 else n - l3)
        proto = b[l3 + 6]
        p = l3 + 40
        while _is_ext(proto):
            if p + 8 > end:
                r.proto = proto
                r.frag = frag
                r.status = L4_TRUNCATED
                return
            if proto == 44:
                offset = _u16(b, p + 2) >> 3
                more = b[p + 3] & 1
                if offset:
                    frag = FRAG_LATER
                elif more:
                    frag = FRAG_FIRST
                if offset or more:
                    r.frag_id = _u32(b, p + 4)
                    r.frag_offset = <uint16_t>offset
                    r.frag_more = more
                    r.frag_len = <uint16_t>(l3 + 40 + payload - p - 8)
                hlen = 8
            elif proto == 51:
                hlen = (<Py_ssize_t>b[p + 1] + 2) * 4
            else:
                hlen = (<Py_ssize_t>b[p + 1] + 1) * 8
            proto = b[p]
            p += hlen
            if frag == FRAG_LATER:
                break
        r.proto = proto
        r.frag = frag
    if frag == FRAG_LATER:
        r.status = NON_FIRST_FRAGMENT
        return
    if proto == 6 or proto == 17 or proto == 132 or proto == 136:
        if p + 4 > end:
            r.status = L4_TRUNCATED
            return
        r.sport = <uint16_t>_u16(b, p)
        r.dport = <uint16_t>_u16(b, p + 2)
        r.l4_offset = <int32_t>p
        _payload(b, p, end, l3 + <Py_ssize_t>r.ip_len, proto, r)
    elif proto == 1 or proto == 58:
        if p + 2 > end:
            r.status = L4_TRUNCATED
            return
        r.sport = b[p]
        r.dport = b[p + 1]
        r.l4_offset = <int32_t>p


cdef inline void _payload(const uint8_t* b, Py_ssize_t p, Py_ssize_t end, Py_ssize_t wire_end,
                          uint8_t proto, Row* r) noexcept nogil:
    """Layer-4 payload: TCP after its data offset, UDP/UDP-Lite after 8 bytes; only when the
    whole transport header was captured and fits the IP length."""
    cdef Py_ssize_t hlen
    if proto == 6:
        if p + 13 > end:
            return
        hlen = (b[p + 12] >> 4) * 4
        if hlen < 20:
            return
    elif proto == 17 or proto == 136:
        hlen = 8
    else:
        return
    if p + hlen > end or p + hlen > wire_end:
        return
    r.payload_offset = <int32_t>(p + hlen)
    r.payload_len = <int32_t>(wire_end - p - hlen)


def extract(const uint8_t[::1] buf, const int64_t[::1] offsets, const int32_t[::1] caplens,
            int linktype, uint8_t[::1] status, uint16_t[::1] ethertype, uint8_t[::1] vlan_count,
            uint8_t[::1] ip_version, uint32_t[::1] src4, uint32_t[::1] dst4,
            uint64_t[::1] src_hi, uint64_t[::1] src_lo, uint64_t[::1] dst_hi,
            uint64_t[::1] dst_lo, uint8_t[::1] proto, uint16_t[::1] sport, uint16_t[::1] dport,
            uint32_t[::1] ip_len, uint8_t[::1] frag, uint8_t[::1] ttl,
            int32_t[::1] l3_offset, int32_t[::1] l4_offset, int32_t[::1] payload_offset,
            int32_t[::1] payload_len, uint32_t[::1] frag_id, uint16_t[::1] frag_offset,
            uint8_t[::1] frag_more, uint16_t[::1] frag_len) -> None:
    cdef Py_ssize_t n = offsets.shape[0], size = buf.shape[0], i
    cdef const uint8_t* base = &buf[0] if size > 0 else NULL
    cdef int64_t o
    cdef int32_t c
    cdef Row r
    lengths = {status.shape[0], ethertype.shape[0], vlan_count.shape[0], ip_version.shape[0],
               src4.shape[0], dst4.shape[0], src_hi.shape[0], src_lo.shape[0], dst_hi.shape[0],
               dst_lo.shape[0], proto.shape[0], sport.shape[0], dport.shape[0], ip_len.shape[0],
               frag.shape[0], ttl.shape[0], l3_offset.shape[0], l4_offset.shape[0],
               payload_offset.shape[0], payload_len.shape[0], frag_id.shape[0],
               frag_offset.shape[0], frag_more.shape[0], frag_len.shape[0]}
    if lengths != {n}:
        raise ValueError("output columns must have one entry per frame")
    if caplens.shape[0] != n:
        raise ValueError("offsets and caplens differ in length")
    with nogil:
        for i in range(n):
            o = offsets[i]
            c = caplens[i]
            r = Row(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1, -1, -1, 0)
            if o < 0 or c < 0 or o > size or c > size - o:
                r.status = BAD_RECORD
            elif c == 0:
                _parse(NULL, 0, linktype, &r)
            else:
                _parse(base + o, c, linktype, &r)
            status[i] = r.status
            ethertype[i] = r.ethertype
            vlan_count[i] = r.vlan_count
            ip_version[i] = r.ip_version
            src4[i] = r.src4
            dst4[i] = r.dst4
            src_hi[i] = r.src_hi
            src_lo[i] = r.src_lo
            dst_hi[i] = r.dst_hi
            dst_lo[i] = r.dst_lo
            proto[i] = r.proto
            sport[i] = r.sport
            dport[i] = r.dport
            ip_len[i] = r.ip_len
            frag[i] = r.frag
            ttl[i] = r.ttl
            l3_offset[i] = r.l3_offset
            l4_offset[i] = r.l4_offset
            payload_offset[i] = r.payload_offset
            payload_len[i] = r.payload_len
            frag_id[i] = r.frag_id
            frag_offset[i] = r.frag_offset
            frag_more[i] = r.frag_more
            frag_len[i] = r.frag_len
