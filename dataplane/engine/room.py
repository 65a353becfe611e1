"""Room in a bounded table whose entries idle out (assumption `conntrack-capacity`): which
rows of a batch may open a new entry, counting only the entries ALIVE at each row's capture
time. One rule for the batch forms of the flow table (engine/batch.py `_openers`) and of the
pending application-rule sessions (engine/pending.py `_within_room`); the reference forms
(conntrack.ConnTrack.commit, pending.PendingSessions.record) count the same way, one packet
at a time.

Rule. An entry is alive at time t while t - (its latest touch) <= `timeout_ns`. A row at t
that would open a new entry opens it only while fewer than `capacity` entries are alive at
t -- entries held before the batch (`held_last_ns`, as touched by earlier rows) and entries
this batch opened at earlier rows (opened at their row's time, then touched). A refused row
opens nothing; a later row of the same key is asked again (room frees as entries idle out).
Microsoft documents no size for these tables: the capacity is the emulator's bound
(docs/azure-behaviour.md section 12b).

Speed: callers check cheap bounds first (held entries + openers < capacity: nothing to
count); this exact scan runs only near the limit. It loops in Python over the candidate
rows and counts the possibly-alive entries with numpy (O(candidates x entries) worst case).
"""

from __future__ import annotations

import numpy as np

NEVER_NS = -(1 << 62)


def admit(cand: np.ndarray, cand_key: np.ndarray, time_ns: np.ndarray,
          held_key: np.ndarray, held_last_ns: np.ndarray,
          touch_rows: np.ndarray, touch_key: np.ndarray, touch_ns: np.ndarray,
          capacity: int, timeout_ns: int) -> np.ndarray:
    """The rows of `cand` (int64, ascending row numbers) that open an entry.

    cand_key: int64 per candidate, the key the row would open (a flow id), never a held
    key; a candidate whose key an earlier admitted row opened opens nothing (returned rows
    have distinct keys, each its first admitted row). time_ns: int64[rows] capture time of every
    row (ns). held_key / held_last_ns: int64, the entries held before the batch (distinct
    keys) and their latest touch (ns). touch_rows / touch_key / touch_ns: events (any
    order) that touch an entry at a row (ns): they count for rows after theirs; events of
    keys neither held nor admitted before them are ignored. Returns int64 rows ascending."""
    if cand.size == 0:
        return cand
    lowest = int(time_ns[cand].min()) - timeout_ns  # older entries are dead unless touched
    touched_held = np.isin(held_key, touch_key)
    keep = (held_last_ns >= lowest) | touched_held
    keys = held_key[keep]
    last = np.full(keys.size + cand.size, NEVER_NS, np.int64)
    last[:keys.size] = held_last_ns[keep]
    slot = {int(k): i for i, k in enumerate(keys.tolist())}
    used = keys.size
    out = []
    order = np.argsort(touch_rows, kind="stable")
    t_rows, t_key, t_ns = touch_rows[order], touch_key[order], touch_ns[order]
    j = 0
    for r, k in zip(cand.tolist(), cand_key.tolist(), strict=True):
        while j < t_rows.size and t_rows[j] < r:  # touches by rows before r
            s = slot.get(int(t_key[j]))
            if s is not None:
                last[s] = max(last[s], int(t_ns[j]))
            j += 1
        if k in slot:
            continue
        now = int(time_ns[r])
        if used >= capacity and int((now - last[:used] <= timeout_ns).sum()) >= capacity:
            continue
        slot[k] = used
        last[used] = now
        used += 1
        out.append(r)
    return np.asarray(out, np.int64)


__all__ = ["admit"]
