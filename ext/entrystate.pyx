# cython: language_level=3, boundscheck=False, wraparound=False
"""Conntrack state of a batch's rows from the committed table, compiled kernel (twin:
dataplane/kernels/entrystate_py.py, which states the rules).

entry_state(rid, reply_entry, fwset, unnat_ip, unnat_port, usrc, last_ns, none_ns)
    -> (known, est, fws, uip, uport, usrc, since): one pass over the rows, one lookup of the
    entry per row, instead of a gather per column.
Errors: IndexError when a reverse-tuple id falls outside `reply_entry` or an entry id outside
the entry columns; ValueError when the entry columns differ in length.
"""

from libc.stdint cimport int32_t, int64_t

import numpy as np


def entry_state(const int64_t[::1] rid, const int64_t[::1] reply_entry,
                const int32_t[::1] fwset, const int64_t[::1] unnat_ip,
                const int32_t[::1] unnat_port, const int64_t[::1] usrc,
                const int64_t[::1] last_ns, int64_t none_ns):
    cdef Py_ssize_t n = rid.shape[0], size = reply_entry.shape[0], k = fwset.shape[0], r
    cdef int64_t e, f
    if not (unnat_ip.shape[0] == unnat_port.shape[0] == usrc.shape[0] == last_ns.shape[0] == k):
        raise ValueError("entry_state: entry columns differ in length")
    for r in range(n):
        f = rid[r]
        if f < 0 or f >= size:
            raise IndexError("entry_state: a reverse-tuple id outside reply_entry")
        e = reply_entry[f]
        if e >= k:
            raise IndexError("entry_state: an entry id outside the entry columns")
    known_a = np.empty(n, np.int64)
    est_a = np.empty(n, np.bool_)
    fws_a = np.empty(n, np.int32)
    uip_a = np.empty(n, np.int64)
    uport_a = np.empty(n, np.int32)
    usrc_a = np.empty(n, np.int64)
    since_a = np.empty(n, np.int64)
    cdef int64_t[::1] known = known_a, uip = uip_a, src = usrc_a, since = since_a
    cdef int32_t[::1] fws = fws_a, uport = uport_a
    cdef unsigned char[::1] est = est_a.view(np.uint8)
    with nogil:
        for r in range(n):
            e = reply_entry[rid[r]]
            known[r] = e
            if e >= 0:
                est[r] = 1
                fws[r] = fwset[e]
                uip[r] = unnat_ip[e]
                uport[r] = unnat_port[e]
                src[r] = usrc[e]
                since[r] = last_ns[e]
            else:
                est[r] = 0
                fws[r] = 0
                uip[r] = -1
                uport[r] = -1
                src[r] = -1
                since[r] = none_ns
    return known_a, est_a, fws_a, uip_a, uport_a, usrc_a, since_a
