"""Decision-cache keys and their hashes: public entry points (compiled kernel or twin).

Used by engine/batch.py's decision cache (`_decision_keys`, `_decisions`): the row part of a
decision key and the slot hashes of decision keys and conntrack states, one pass each.
`row_keys(fid, sport, dport, nic, preset, server_name) -> uint64[n, 4]`: (fid, sport << 32 |
dport's 32 bits, nic << 10 | preset << 2, server_name << 32), int64 words viewed as uint64.
`key_hashes(keys uint64[m, 4]) -> uint64[m]`, `state_hashes(words uint64[m, 4]) -> uint64[m]`:
the 64-bit mixes the cache and the state table use (a hash only picks a slot: keys are
compared whole, so a collision costs time, never an answer).
Takes: fid int64; sport, dport, nic, server_name int32; preset uint8 (other dtypes go to the
twin, which computes in int64 like the numpy form it replaced). Errors: ValueError when
columns differ in length or keys are not 4 words wide.
"""

from __future__ import annotations

import numpy as np

from dataplane.kernels import compiled, dkeys_py

_ext = compiled("dkeys")
_ROW_TYPES = (np.int64, np.int32, np.int32, np.int32, np.uint8, np.int32)


def row_keys(fid: np.ndarray, sport: np.ndarray, dport: np.ndarray, nic: np.ndarray,
             preset: np.ndarray, server_name: np.ndarray) -> np.ndarray:
    cols = (fid, sport, dport, nic, preset, server_name)
    if _ext is None or any(a.dtype != t for a, t in zip(cols, _ROW_TYPES, strict=True)):
        return dkeys_py.row_keys(*cols)
    return _ext.row_keys(*(np.ascontiguousarray(a) for a in cols))


def key_hashes(keys: np.ndarray) -> np.ndarray:
    if _ext is None:
        return dkeys_py.key_hashes(keys)
    return _ext.key_hashes(np.ascontiguousarray(keys, dtype=np.uint64))


def state_hashes(words: np.ndarray) -> np.ndarray:
    if _ext is None:
        return dkeys_py.state_hashes(words)
    return _ext.state_hashes(np.ascontiguousarray(words, dtype=np.uint64))
