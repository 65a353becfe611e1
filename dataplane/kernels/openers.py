"""Conntrack openers of a batch: public entry points (compiled kernel or twin).

Used by engine/batch.py's fixed point (conntrack.py: an entry is opened by the first passing,
not shaper-excluded packet of a flow that is not a reply and not yet open).
`first_openers(fid, ids, passing, rkey, excl, opened, limit, scratch) -> int64[k]`: rows r,
ascending, at most `limit`, with passing[ids[r]] and not rkey[r], excl[r], opened[fid[r]],
first of their fid among such rows.
`earliest(keys, by, query, none, scratch) -> int64[q]`: per query key, the least `by` of the
entries with that key, `none` when there is none.
`touch_events(entry, preset, undecided, fid, ids, passing, excl, opened, op, time_ns,
scratch) -> (rows, ent, t, nrep)`: the conntrack touches of a batch (batch.py `_alive`):
replies first (entry >= 0, preset == undecided), nrep of them, then forward rows of open
flows (entry < 0, passing, not excluded, opened or opened in the batch by an opener row of
`op` at or before them); ent the entry id / flow id, t the row's time_ns.
Takes: `fid`, `ids`, `keys`, `by`, `query` int64; `passing`, `rkey`, `excl`, `opened` bool;
`scratch` a writable C-contiguous int64 work array indexed by flow id (contents unspecified
after a call). Errors: ValueError when an id falls outside `scratch`/`opened`/`passing` or
columns differ in length; `entry`, `time_ns` int64 and `preset` uint8 in touch_events.
"""

from __future__ import annotations

import numpy as np

from dataplane.kernels import compiled, openers_py

_ext = compiled("openers")


def _u8(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=bool).view(np.uint8)


def _i64(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.int64)


def first_openers(fid: np.ndarray, ids: np.ndarray, passing: np.ndarray, rkey: np.ndarray,
                  excl: np.ndarray, opened: np.ndarray, limit: int, scratch: np.ndarray
                  ) -> np.ndarray:
    if _ext is None:
        return openers_py.first_openers(fid, ids, passing, rkey, excl, opened, limit, scratch)
    return _ext.first_openers(_i64(fid), _i64(ids), _u8(passing), _u8(rkey), _u8(excl),
                              _u8(opened), max(int(limit), 0), scratch)


def earliest(keys: np.ndarray, by: np.ndarray, query: np.ndarray, none: int,
             scratch: np.ndarray) -> np.ndarray:
    if _ext is None:
        return openers_py.earliest(keys, by, query, none, scratch)
    return _ext.earliest(_i64(keys), _i64(by), _i64(query), int(none), scratch)


def touch_events(entry: np.ndarray, preset: np.ndarray, undecided: int, fid: np.ndarray,
                 ids: np.ndarray, passing: np.ndarray, excl: np.ndarray, opened: np.ndarray,
                 op: np.ndarray, time_ns: np.ndarray, scratch: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    if _ext is None:
        return openers_py.touch_events(entry, preset, undecided, fid, ids, passing, excl,
                                       opened, op, time_ns, scratch)
    return _ext.touch_events(_i64(entry), np.ascontiguousarray(preset, np.uint8), undecided,
                             _i64(fid), _i64(ids), _u8(passing), _u8(excl), _u8(opened),
                             _i64(op), _i64(time_ns), scratch)
