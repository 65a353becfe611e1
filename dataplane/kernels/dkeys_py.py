"""Decision-cache keys and their hashes, plain-Python twin of ext/dkeys.pyx (same signatures).

row_keys(fid, sport, dport, nic, preset, server_name) -> uint64[n, 4]
    per row (fid, sport << 32 | dport's 32 bits, nic << 10 | preset << 2, server_name << 32)
    as int64 words viewed as uint64.
key_hashes(keys) -> uint64[m]
    mix64(k0 ^ (k3 << 40) ^ (k3 >> 32), k1 ^ (k2 << 17)) of each 4-word decision key.
state_hashes(words) -> uint64[m]
    mix64(w0 ^ (w2 << 32), w1 ^ mix64(w3, w0)) of each 4-word conntrack state.
Errors: ValueError when columns differ in length or keys are not 4 words wide.
"""

from __future__ import annotations

import numpy as np

from dataplane.kernels.pipeline_py import mix64

_U = np.uint64


def row_keys(fid: np.ndarray, sport: np.ndarray, dport: np.ndarray, nic: np.ndarray,
             preset: np.ndarray, server_name: np.ndarray) -> np.ndarray:
    n = fid.shape[0]
    if not all(a.shape[0] == n for a in (sport, dport, nic, preset, server_name)):
        raise ValueError("row_keys: columns differ in length")
    k = np.zeros((n, 4), dtype=np.int64)
    k[:, 0] = fid
    k[:, 1] = (sport.astype(np.int64) << 32) | (dport.astype(np.int64) & 0xFFFFFFFF)
    k[:, 2] = (nic.astype(np.int64) << 10) | (preset.astype(np.int64) << 2)
    k[:, 3] = server_name.astype(np.int64) << 32
    return k.view(_U)


def _words(keys: np.ndarray, what: str) -> np.ndarray:
    if keys.ndim != 2 or keys.shape[1] != 4:
        raise ValueError(f"{what}: keys must have 4 words per row")
    return keys.astype(_U, copy=False)


def key_hashes(keys: np.ndarray) -> np.ndarray:
    k = _words(keys, "key_hashes")
    return mix64(k[:, 0] ^ (k[:, 3] << _U(40)) ^ (k[:, 3] >> _U(32)), k[:, 1] ^ (k[:, 2] << _U(17)))


def state_hashes(words: np.ndarray) -> np.ndarray:
    u = _words(words, "state_hashes")
    return mix64(u[:, 0] ^ (u[:, 2] << _U(32)), u[:, 1] ^ mix64(u[:, 3], u[:, 0]))
