# cython: language_level=3, boundscheck=False, wraparound=False
"""Conntrack openers of a batch, compiled kernel (twin: dataplane/kernels/openers_py.py).

first_openers(fid, ids, passing, rkey, excl, opened, limit, scratch) -> int64[k]
    rows r, ascending, at most `limit`, that open a flow: passing[ids[r]], not rkey[r], not
    excl[r], not opened[fid[r]], and no earlier row of the same fid qualifies.
earliest(keys, by, query, none, scratch) -> int64[q]
    out[j] = min(by[i] for i with keys[i] == query[j]), `none` when no key matches.
touch_events(entry, preset, undecided, fid, ids, passing, excl, opened, op, time_ns, scratch)
    -> (rows, ent, t, nrep): the conntrack touches of a batch (engine/batch.py `_alive`):
    first the replies, rows r ascending with entry[r] >= 0 and preset[r] == undecided
    (ent = entry[r]), nrep of them; then the forward rows, r ascending with entry[r] < 0,
    passing[ids[r]], not excl[r] and their flow open before or by r: opened[fid[r]], or an
    opener row o in `op` with fid[o] == fid[r] and o <= r (ent = fid[r]); t = time_ns[rows].
`scratch` (int64, writable, indexed by flow id) is work space; its contents before and after
are unspecified. Errors: ValueError when a flow id / key falls outside `scratch` (or `opened`), a decision
id outside `passing`, an opener row outside the batch, or columns differ in length (checked in
the loops, before any output).
"""

from libc.stdint cimport int64_t, uint8_t

import numpy as np


def first_openers(const int64_t[::1] fid, const int64_t[::1] ids, const uint8_t[::1] passing,
                  const uint8_t[::1] rkey, const uint8_t[::1] excl, const uint8_t[::1] opened,
                  Py_ssize_t limit, int64_t[::1] scratch):
    cdef Py_ssize_t n = fid.shape[0], r, k = 0, size = scratch.shape[0]
    cdef Py_ssize_t npass = passing.shape[0], nopen = opened.shape[0]
    cdef int64_t f, d
    if ids.shape[0] != n or rkey.shape[0] != n or excl.shape[0] != n:
        raise ValueError("first_openers: columns differ in length")
    out = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] o = out
    cdef bint bad = False
    with nogil:
        for r in range(n):  # mark every candidate's flow as not yet taken
            f = fid[r]
            d = ids[r]
            if f < 0 or f >= size or f >= nopen or d < 0 or d >= npass:
                bad = True
                break
            if passing[d] and not rkey[r] and not excl[r] and not opened[f]:
                scratch[f] = -1
        if not bad:
            for r in range(n):
                if k >= limit:
                    break
                f = fid[r]
                if passing[ids[r]] and not rkey[r] and not excl[r] and not opened[f] \
                        and scratch[f] == -1:
                    scratch[f] = r
                    o[k] = r
                    k += 1
    if bad:
        raise ValueError("first_openers: a flow id or decision id is out of range")
    return out[:k].copy()


def earliest(const int64_t[::1] keys, const int64_t[::1] by, const int64_t[::1] query,
             int64_t none, int64_t[::1] scratch):
    cdef Py_ssize_t m = keys.shape[0], q = query.shape[0], i, size = scratch.shape[0]
    cdef int64_t k
    if by.shape[0] != m:
        raise ValueError("earliest: keys and by differ in length")
    out = np.empty(q, dtype=np.int64)
    cdef int64_t[::1] o = out
    cdef bint bad = False
    with nogil:
        for i in range(q):
            k = query[i]
            if k < 0 or k >= size:
                bad = True
                break
            scratch[k] = none
        if not bad:
            for i in range(m):
                k = keys[i]
                if k < 0 or k >= size:
                    bad = True
                    break
                if by[i] < scratch[k]:
                    scratch[k] = by[i]
        if not bad:
            for i in range(q):
                o[i] = scratch[query[i]]
    if bad:
        raise ValueError("earliest: a key is out of range of scratch")
    return out


def touch_events(const int64_t[::1] entry, const uint8_t[::1] preset, uint8_t undecided,
                 const int64_t[::1] fid, const int64_t[::1] ids, const uint8_t[::1] passing,
                 const uint8_t[::1] excl, const uint8_t[::1] opened, const int64_t[::1] op,
                 const int64_t[::1] time_ns, int64_t[::1] scratch):
    cdef Py_ssize_t n = entry.shape[0], r, i, k = 0, nrep, size = scratch.shape[0]
    cdef Py_ssize_t npass = passing.shape[0], nopen = opened.shape[0], nop = op.shape[0]
    cdef int64_t f, d, o
    if preset.shape[0] != n or fid.shape[0] != n or ids.shape[0] != n or excl.shape[0] != n \
            or time_ns.shape[0] != n:
        raise ValueError("touch_events: columns differ in length")
    rows_out = np.empty(n, dtype=np.int64)
    ent_out = np.empty(n, dtype=np.int64)
    t_out = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] rw = rows_out, en = ent_out, tt = t_out
    cdef bint bad = False
    with nogil:
        for r in range(n):  # each flow's in-batch opener row: none (n) first
            f = fid[r]
            d = ids[r]
            if f < 0 or f >= size or f >= nopen or d < 0 or d >= npass:
                bad = True
                break
            scratch[f] = n
        if not bad:
            for i in range(nop):
                o = op[i]
                if o < 0 or o >= n:
                    bad = True
                    break
                f = fid[o]
                if o < scratch[f]:
                    scratch[f] = o
        if not bad:
            for r in range(n):  # replies
                if entry[r] >= 0 and preset[r] == undecided:
                    rw[k] = r
                    en[k] = entry[r]
                    tt[k] = time_ns[r]
                    k += 1
            nrep = k
            for r in range(n):  # forward packets of open flows
                if entry[r] < 0 and passing[ids[r]] and not excl[r]:
                    f = fid[r]
                    if opened[f] or scratch[f] <= r:
                        rw[k] = r
                        en[k] = f
                        tt[k] = time_ns[r]
                        k += 1
    if bad:
        raise ValueError("touch_events: a flow id, decision id or opener row is out of range")
    return rows_out[:k], ent_out[:k], t_out[:k], nrep
