"""Conntrack openers of a batch, plain-Python twin of ext/openers.pyx (same signatures).

first_openers(fid, ids, passing, rkey, excl, opened, limit, scratch) -> int64[k]
    rows r, ascending, at most `limit`, that open a flow: passing[ids[r]], not rkey[r], not
    excl[r], not opened[fid[r]], and no earlier row of the same fid qualifies.
earliest(keys, by, query, none, scratch) -> int64[q]
    out[j] = min(by[i] for i with keys[i] == query[j]), `none` when no key matches.
touch_events(entry, preset, undecided, fid, ids, passing, excl, opened, op, time_ns, scratch)
    -> (rows, ent, t, nrep): the conntrack touches of a batch, replies first (entry[r] >= 0,
    preset[r] == undecided; ent = entry[r]), then forward rows (entry[r] < 0, passing[ids[r]],
    not excl[r], flow open before or by r: opened[fid[r]] or an opener in `op` of the same
    fid at or before r; ent = fid[r]); t = time_ns[rows]. Here in the numpy form
    engine/batch.py `_alive` used before the kernel.
`scratch` is the compiled kernel's work space (unused by first_openers, used by earliest). Errors: ValueError when a flow id
or key falls outside `scratch`, a decision id outside `passing`, or columns differ in length.
"""

from __future__ import annotations

import numpy as np


def first_openers(fid: np.ndarray, ids: np.ndarray, passing: np.ndarray, rkey: np.ndarray,
                  excl: np.ndarray, opened: np.ndarray, limit: int, scratch: np.ndarray
                  ) -> np.ndarray:
    fids, decisions = fid.tolist(), ids.tolist()
    if not len(decisions) == len(rkey) == len(excl) == len(fids):
        raise ValueError("first_openers: columns differ in length")
    bound = min(len(scratch), len(opened))
    if any(not 0 <= f < bound for f in fids) or any(
            not 0 <= d < len(passing) for d in decisions):
        raise ValueError("first_openers: a flow id or decision id is out of range")
    seen: set[int] = set()
    rows: list[int] = []
    for r, (f, d) in enumerate(zip(fids, decisions, strict=True)):
        if len(rows) >= limit:
            break
        if passing[d] and not rkey[r] and not excl[r] and not opened[f] and f not in seen:
            seen.add(f)
            rows.append(r)
    return np.array(rows, dtype=np.int64)


def earliest(keys: np.ndarray, by: np.ndarray, query: np.ndarray, none: int,
             scratch: np.ndarray) -> np.ndarray:
    if len(keys) != len(by):
        raise ValueError("earliest: keys and by differ in length")
    if any(not 0 <= k < len(scratch) for k in keys.tolist() + query.tolist()):
        raise ValueError("earliest: a key is out of range of scratch")
    best: dict[int, int] = {}
    for k, b in zip(keys.tolist(), by.tolist(), strict=True):
        best[k] = min(best.get(k, none), b)
    return np.array([best.get(k, none) for k in query.tolist()], dtype=np.int64)


def touch_events(entry: np.ndarray, preset: np.ndarray, undecided: int, fid: np.ndarray,
                 ids: np.ndarray, passing: np.ndarray, excl: np.ndarray, opened: np.ndarray,
                 op: np.ndarray, time_ns: np.ndarray, scratch: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    n = entry.size
    if not len(preset) == len(fid) == len(ids) == len(excl) == len(time_ns) == n:
        raise ValueError("touch_events: columns differ in length")
    bound = min(len(scratch), len(opened))
    if any(not 0 <= f < bound for f in fid.tolist()) or any(
            not 0 <= d < len(passing) for d in ids.tolist()) or any(
            not 0 <= o < n for o in op.tolist()):
        raise ValueError("touch_events: a flow id, decision id or opener row is out of range")
    rep = np.flatnonzero((entry >= 0) & (preset == undecided))
    in_batch = earliest(fid[op], op, fid, n, scratch) <= np.arange(n) if op.size else \
        np.zeros(n, bool)
    fwd = np.flatnonzero(passing[ids] & ~excl & (entry < 0) & (opened[fid] | in_batch))
    rows = np.concatenate([rep, fwd]).astype(np.int64)
    ent = np.concatenate([entry[rep], fid[fwd]]).astype(np.int64)
    return rows, ent, time_ns[rows].astype(np.int64), int(rep.size)
