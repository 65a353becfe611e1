# cython: language_level=3
"""Server-name kernel (twin: dataplane/kernels/servername_py.py, which holds the contract:
columns, NameKind codes, what is parsed and the RFC/Microsoft sources).

`server_names(buf, offsets, lengths, kind, name_offset, name_len, needed_len)`: for each payload
buf[offsets[i] : offsets[i] + lengths[i]], the TLS ClientHello server_name or the HTTP/1.x Host
header. Every read is checked against the bytes given; payloads outside the buffer get
BAD_RECORD. Runs without the GIL; writes into the caller's columns.
"""

from libc.stdint cimport int32_t, int64_t, uint8_t

# NameKind values (servername_py.NameKind)
cdef enum:
    NO_PAYLOAD = 0
    TLS_SNI = 1
    TLS_NO_SNI = 2
    HTTP_HOST = 3
    HTTP_NO_HOST = 4
    INCOMPLETE = 5
    OTHER = 6
    MALFORMED = 7
    BAD_RECORD = 8
    MULTI_RECORD = 9
    SHORT = 255      # internal: a read past the bytes given
    MAX_TLS_RECORD = 16384 + 2048
    MAX_METHOD = 16


cdef struct Found:
    int kind
    Py_ssize_t start, length, needed


cdef inline Py_ssize_t _u16(const uint8_t* b, Py_ssize_t p, Py_ssize_t limit) noexcept nogil:
    """The big-endian 16-bit value at p, or -1 when it lies past limit."""
    if p + 2 > limit:
        return -1
    return (<Py_ssize_t>b[p] << 8) | b[p + 1]


cdef inline Py_ssize_t _u8(const uint8_t* b, Py_ssize_t p, Py_ssize_t limit) noexcept nogil:
    if p + 1 > limit:
        return -1
    return b[p]


cdef int _hello(const uint8_t* b, Py_ssize_t limit, Py_ssize_t hello_end, Found* f) noexcept nogil:
    """The ClientHello body after its 4-byte header: a NameKind, or SHORT."""
    cdef Py_ssize_t p = 9 + 2 + 32, v, extensions_end, ext_type, ext_len, list_end, q
    cdef Py_ssize_t name_type, name_len
    v = _u8(b, p, limit)
    if v < 0:
        return SHORT
    p += 1 + v
    v = _u16(b, p, limit)
    if v < 0:
        return SHORT
    p += 2 + v
    v = _u8(b, p, limit)
    if v < 0:
        return SHORT
    p += 1 + v
    if p > hello_end:
        return MALFORMED
    if p == hello_end:
        return TLS_NO_SNI
    v = _u16(b, p, limit)
    if v < 0:
        return SHORT
    extensions_end = p + 2 + v
    p += 2
    if extensions_end > hello_end:
        return MALFORMED
    while p + 4 <= extensions_end:
        ext_type = _u16(b, p, limit)
        ext_len = _u16(b, p + 2, limit)
        if ext_type < 0 or ext_len < 0:
            return SHORT
        p += 4
        if p + ext_len > extensions_end:
            return MALFORMED
        if ext_type == 0:
            v = _u16(b, p, limit)
            if v < 0:
                return SHORT
            list_end = p + 2 + v
            if list_end > p + ext_len:
                return MALFORMED
            q = p + 2
            while q + 3 <= list_end:
                name_type = _u8(b, q, limit)
                name_len = _u16(b, q + 1, limit)
                if name_type < 0 or name_len < 0:
                    return SHORT
                q += 3
                if q + name_len > list_end:
                    return MALFORMED
                if name_type == 0:
                    if q + name_len > limit:
                        return SHORT
                    f.start = q
                    f.length = name_len
                    return TLS_SNI
                q += name_len
        p += ext_len
    if extensions_end > limit:
        return SHORT
    return TLS_NO_SNI


cdef void _tls(const uint8_t* b, Py_ssize_t n, Found* f) noexcept nogil:
    cdef Py_ssize_t record_len, record_end, limit, hello_end
    cdef bint cut, multi
    cdef int kind
    if n < 5:
        f.kind = INCOMPLETE
        f.needed = 5
        return
    if b[1] != 3:
        f.kind = OTHER
        return
    record_len = (<Py_ssize_t>b[3] << 8) | b[4]
    if record_len == 0 or record_len > MAX_TLS_RECORD:
        f.kind = MALFORMED
        return
    record_end = 5 + record_len
    cut = n < record_end
    limit = n if cut else record_end
    if 6 > limit:
        kind = SHORT
        multi = False
    elif b[5] != 1:
        f.kind = OTHER
        return
    elif 9 > limit:
        kind = SHORT
        multi = False
    else:
        hello_end = 9 + ((<Py_ssize_t>b[6] << 16) | (<Py_ssize_t>b[7] << 8) | b[8])
        multi = hello_end > record_end
        kind = _hello(b, limit, hello_end, f)
    if kind != SHORT:
        f.kind = kind
        return
    if cut:
        f.kind = INCOMPLETE
        f.needed = record_end
    elif multi:
        f.kind = MULTI_RECORD
    else:
        f.kind = MALFORMED


cdef inline Py_ssize_t _line_end(const uint8_t* b, Py_ssize_t p, Py_ssize_t n) noexcept nogil:
    while p + 1 < n:
        if b[p] == 13 and b[p + 1] == 10:
            return p
        p += 1
    return -1


cdef void _http(const uint8_t* b, Py_ssize_t n, Found* f) noexcept nogil:
    cdef Py_ssize_t p, end, start, stop
    end = _line_end(b, 0, n)
    if end < 0:
        f.kind = INCOMPLETE
        return
    p = end + 2
    while True:
        end = _line_end(b, p, n)
        if end < 0:
            f.kind = INCOMPLETE
            return
        if end == p:
            f.kind = HTTP_NO_HOST
            return
        if (end - p >= 5 and (b[p] | 32) == 104 and (b[p + 1] | 32) == 111
                and (b[p + 2] | 32) == 115 and (b[p + 3] | 32) == 116 and b[p + 4] == 58):
            start = p + 5
            stop = end
            while start < stop and (b[start] == 32 or b[start] == 9):
                start += 1
            while stop > start and (b[stop - 1] == 32 or b[stop - 1] == 9):
                stop -= 1
            f.kind = HTTP_HOST
            f.start = start
            f.length = stop - start
            return
        p = end + 2


cdef inline bint _is_method(const uint8_t* b, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i = 0
    while i < n and i <= MAX_METHOD and b[i] >= 65 and b[i] <= 90:
        i += 1
    return 0 < i <= MAX_METHOD and i < n and b[i] == 32


def server_names(const uint8_t[::1] buf, const int64_t[::1] offsets, const int32_t[::1] lengths,
                 uint8_t[::1] kind, int64_t[::1] name_offset, int32_t[::1] name_len,
                 int32_t[::1] needed_len) -> None:
    cdef Py_ssize_t n = offsets.shape[0], size = buf.shape[0], i
    cdef const uint8_t* base = &buf[0] if size > 0 else NULL
    cdef int64_t o
    cdef int32_t c
    cdef Found f
    if lengths.shape[0] != n:
        raise ValueError("offsets and lengths differ in length")
    if {kind.shape[0], name_offset.shape[0], name_len.shape[0], needed_len.shape[0]} != {n}:
        raise ValueError("output columns must have one entry per payload")
    with nogil:
        for i in range(n):
            o = offsets[i]
            c = lengths[i]
            f.kind = NO_PAYLOAD
            f.start = -1
            f.length = 0
            f.needed = -1
            if o < 0 or c < 0 or o > size or c > size - o:
                f.kind = BAD_RECORD
            elif c == 0:
                f.kind = NO_PAYLOAD
            elif base[o] == 22:
                _tls(base + o, c, &f)
            elif _is_method(base + o, c):
                _http(base + o, c, &f)
            else:
                f.kind = OTHER
            kind[i] = <uint8_t>f.kind
            name_offset[i] = o + f.start if f.start >= 0 else -1
            name_len[i] = <int32_t>f.length
            needed_len[i] = <int32_t>f.needed
