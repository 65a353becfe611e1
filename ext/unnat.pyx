# cython: language_level=3, boundscheck=False, wraparound=False
"""Un-NAT state of opener rows, compiled kernel (twin: dataplane/kernels/unnat_py.py).

unnat_v4(rows, ids, family, proto, src, dst, sport, dport, fsrc, fdst, fsport, fdport, unsnat,
         ip, port, usrc) -> int
    fills ip/port/usrc (length of `rows`) as the twin's `unnat` does for rows that are not
    IPv6, in one pass without temporaries; returns the number of IPv6 rows (family 6) met,
    and stops at the first: their handles are interned in Python (engine/address_handles.py),
    so the caller then uses the twin for the whole call (the outputs are then unspecified).
Errors: ValueError when the columns, the decision tables or the outputs differ in length, or
a row number or its decision id falls outside its array.
"""

from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint64_t


def unnat_v4(const int64_t[::1] rows, const int64_t[::1] ids, const uint8_t[::1] family,
             const int16_t[::1] proto, const int64_t[::1] src, const int64_t[::1] dst,
             const int32_t[::1] sport, const int32_t[::1] dport, const int64_t[::1] fsrc,
             const int64_t[::1] fdst, const int32_t[::1] fsport, const int32_t[::1] fdport,
             int64_t unsnat, int64_t[::1] ip, int32_t[::1] port, int64_t[::1] usrc):
    cdef Py_ssize_t m = rows.shape[0], n = ids.shape[0], k = fsrc.shape[0], i
    cdef int64_t r, d, p
    cdef bint ported, dn, sn, moved
    cdef int six = 0
    if not (family.shape[0] == proto.shape[0] == src.shape[0] == dst.shape[0]
            == sport.shape[0] == dport.shape[0] == n):
        raise ValueError("unnat_v4: columns differ in length")
    if not (fdst.shape[0] == fsport.shape[0] == fdport.shape[0] == k):
        raise ValueError("unnat_v4: decision tables differ in length")
    if not (ip.shape[0] == port.shape[0] == usrc.shape[0] == m):
        raise ValueError("unnat_v4: outputs differ from rows in length")
    for i in range(m):
        r = rows[i]
        if r < 0 or r >= n or ids[r] < 0 or ids[r] >= k:
            raise ValueError("unnat_v4: a row or decision id outside its array")
    with nogil:
        for i in range(m):
            r = rows[i]
            if family[r] == 6:
                six = 1
                break
            d = ids[r]
            ported = proto[r] == 6 or proto[r] == 17
            dn = fdst[d] != dst[r] or fdport[d] != dport[r]
            moved = fsrc[d] != src[r] or fsport[d] != sport[r]
            sn = not dn and moved
            if dn:
                ip[i] = dst[r]
                p = dport[r]
            elif sn:
                ip[i] = src[r] | unsnat
                p = sport[r]
            else:
                ip[i] = -1
                p = -1
            port[i] = <int32_t>(p if ported or p < 0 else 0)
            if moved:
                usrc[i] = <int64_t>(<uint64_t>src[r] << 16) | (sport[r] if ported else 0)
            else:
                usrc[i] = -1
    return six
