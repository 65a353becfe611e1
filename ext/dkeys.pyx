# cython: language_level=3, boundscheck=False, wraparound=False
"""Decision-cache keys and their hashes, compiled kernel (twin: dataplane/kernels/dkeys_py.py).

row_keys(fid, sport, dport, nic, preset, server_name) -> uint64[n, 4]
    per row (fid, sport << 32 | dport's 32 bits, nic << 10 | preset << 2, server_name << 32)
    as int64 words viewed as uint64 (fid/nic/server_name sign-extended, like numpy's int64).
key_hashes(keys) -> uint64[m]
    mix64(k0 ^ (k3 << 40) ^ (k3 >> 32), k1 ^ (k2 << 17)) of each 4-word decision key.
state_hashes(words) -> uint64[m]
    mix64(w0 ^ (w2 << 32), w1 ^ mix64(w3, w0)) of each 4-word conntrack state.
state_keys(dkeys, rows, est, fwset, unnat_ip, unnat_port, usrc, full, expired)
    -> (keys uint64[m, 4], st int64[s], words uint64[s, 4]): dkeys (the m rows' row keys)
    with each row r = rows[i]'s state or-ed in -- word 2 | 2 when full[r], word 3 |
    1 << 31 | expired[r] when expired[r] >= 0, word 2 | 1 when est[r] --; st: the positions i
    with est[r], ascending; words: their conntrack state (fwset, unnat_ip, unnat_port, usrc
    as int64 words). The state id of each st row is the caller's (it interns `words`).
mix64 is the multiply-xorshift mix of ext/pipeline.pyx (wraps modulo 2**64), one pass, no
temporaries. Errors: ValueError when columns differ in length or keys are not 4 words wide.
"""

from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libc.string cimport memcpy

import numpy as np


cdef inline uint64_t _mix(uint64_t a, uint64_t b) noexcept nogil:
    cdef uint64_t h = a * <uint64_t>0x9E3779B97F4A7C15ULL
    h ^= h >> 29
    h += b * <uint64_t>0xBF58476D1CE4E5B9ULL
    h ^= h >> 32
    h *= <uint64_t>0x94D049BB133111EBULL
    h ^= h >> 29
    return h


def row_keys(const int64_t[::1] fid, const int32_t[::1] sport, const int32_t[::1] dport,
             const int32_t[::1] nic, const uint8_t[::1] preset, const int32_t[::1] server_name):
    cdef Py_ssize_t n = fid.shape[0], r
    if not (sport.shape[0] == dport.shape[0] == nic.shape[0] == preset.shape[0]
            == server_name.shape[0] == n):
        raise ValueError("row_keys: columns differ in length")
    out = np.empty((n, 4), dtype=np.uint64)
    cdef uint64_t[:, ::1] k = out
    with nogil:
        for r in range(n):
            k[r, 0] = <uint64_t>fid[r]
            k[r, 1] = (<uint64_t><int64_t>sport[r] << 32) | (<uint64_t>dport[r] & 0xFFFFFFFFULL)
            k[r, 2] = (<uint64_t><int64_t>nic[r] << 10) | (<uint64_t>preset[r] << 2)
            k[r, 3] = <uint64_t><int64_t>server_name[r] << 32
    return out


def key_hashes(const uint64_t[:, ::1] keys):
    cdef Py_ssize_t m = keys.shape[0], r
    if keys.shape[1] != 4:
        raise ValueError("key_hashes: keys must have 4 words per row")
    out = np.empty(m, dtype=np.uint64)
    cdef uint64_t[::1] h = out
    with nogil:
        for r in range(m):
            h[r] = _mix(keys[r, 0] ^ (keys[r, 3] << 40) ^ (keys[r, 3] >> 32),
                        keys[r, 1] ^ (keys[r, 2] << 17))
    return out


def state_hashes(const uint64_t[:, ::1] words):
    cdef Py_ssize_t m = words.shape[0], r
    if words.shape[1] != 4:
        raise ValueError("state_hashes: words must have 4 words per row")
    out = np.empty(m, dtype=np.uint64)
    cdef uint64_t[::1] h = out
    with nogil:
        for r in range(m):
            h[r] = _mix(words[r, 0] ^ (words[r, 2] << 32),
                        words[r, 1] ^ _mix(words[r, 3], words[r, 0]))
    return out


def state_keys(const uint64_t[:, ::1] dkeys, const int64_t[::1] rows, const uint8_t[::1] est,
               const int32_t[::1] fwset, const int64_t[::1] unnat_ip,
               const int32_t[::1] unnat_port, const int64_t[::1] usrc, const uint8_t[::1] full,
               const int32_t[::1] expired):
    cdef Py_ssize_t m = rows.shape[0], n = est.shape[0], i, s = 0
    cdef int64_t r
    cdef int bad = 0
    if dkeys.shape[1] != 4:
        raise ValueError("state_keys: keys must have 4 words per row")
    if dkeys.shape[0] != m:
        raise ValueError("state_keys: keys and rows differ in length")
    if not (fwset.shape[0] == unnat_ip.shape[0] == unnat_port.shape[0] == usrc.shape[0]
            == full.shape[0] == expired.shape[0] == n):
        raise ValueError("state_keys: state columns differ in length")
    keys_out = np.empty((m, 4), dtype=np.uint64)
    st_out = np.empty(m, dtype=np.int64)
    words_out = np.empty((m, 4), dtype=np.uint64)
    cdef uint64_t[:, ::1] k = keys_out
    cdef int64_t[::1] st = st_out
    cdef uint64_t[:, ::1] w = words_out
    cdef uint64_t *kp
    cdef uint64_t *wp
    cdef const int64_t *rp
    if m:
        kp, wp, rp = &k[0, 0], &w[0, 0], &rows[0]
        with nogil:
            memcpy(kp, &dkeys[0, 0], m * 4 * sizeof(uint64_t))
            for i in range(m):
                r = rp[i]
                if r < 0 or r >= n:
                    bad = 1
                    break
                if full[r]:
                    kp[4 * i + 2] |= 2
                if expired[r] >= 0:
                    kp[4 * i + 3] |= (<uint64_t>1 << 31) | <uint64_t>expired[r]
                if est[r]:
                    kp[4 * i + 2] |= 1
                    st[s] = i
                    wp[4 * s] = <uint64_t><int64_t>fwset[r]
                    wp[4 * s + 1] = <uint64_t>unnat_ip[r]
                    wp[4 * s + 2] = <uint64_t><int64_t>unnat_port[r]
                    wp[4 * s + 3] = <uint64_t>usrc[r]
                    s += 1
    if bad:
        raise ValueError("state_keys: row out of range")
    return keys_out, st_out[:s], words_out[:s]
