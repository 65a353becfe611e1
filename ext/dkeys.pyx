# cython: language_level=3, boundscheck=False, wraparound=False
"""Decision-cache keys and their hashes, compiled kernel (twin: dataplane/kernels/dkeys_py.py).

row_keys(fid, sport, dport, nic, preset, server_name) -> uint64[n, 4]
    per row (fid, sport << 32 | dport's 32 bits, nic << 10 | preset << 2, server_name << 32)
    as int64 words viewed as uint64 (fid/nic/server_name sign-extended, like numpy's int64).
key_hashes(keys) -> uint64[m]
    mix64(k0 ^ (k3 << 40) ^ (k3 >> 32), k1 ^ (k2 << 17)) of each 4-word decision key.
state_hashes(words) -> uint64[m]
    mix64(w0 ^ (w2 << 32), w1 ^ mix64(w3, w0)) of each 4-word conntrack state.
mix64 is the multiply-xorshift mix of ext/pipeline.pyx (wraps modulo 2**64), one pass, no
temporaries. Errors: ValueError when columns differ in length or keys are not 4 words wide.
"""

from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t

from mixhash cimport mix as _mix

import numpy as np


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
