"""Re-open fast path, plain-Python twin of ext/reopenscan.pyx (same signature).

none_reopen(rows, entries, times_ns, forward, proto, opened, last_ns, idle_timeout_ns) -> bool
    True when no touch can re-open its entry (engine/reopen.py `reopened_np`'s fast path):
    for every touch i (aligned rows/entries/times_ns) whose row is forward (`forward[rows[i]]`)
    TCP (`proto[rows[i]] == 6`), times_ns[i] minus its entry's floor is at most the timeout;
    the floor is last_ns[e] for an entry committed before the batch (`opened[e]`), else the
    smallest time of all touches (a lower bound of the entry's previous touch in the batch).
    True when no touch is a forward TCP one. This is `reopened_np`'s numpy form before the
    kernel.
Errors: IndexError when a row or entry id falls outside its array.
"""

from __future__ import annotations

import numpy as np

TCP = 6


def none_reopen(rows: np.ndarray, entries: np.ndarray, times_ns: np.ndarray,
                forward: np.ndarray, proto: np.ndarray, opened: np.ndarray,
                last_ns: np.ndarray, idle_timeout_ns: int) -> bool:
    cand = forward[rows] & (proto[rows] == TCP)
    if not cand.any():
        return True
    floor = np.where(opened[entries[cand]], last_ns[entries[cand]], times_ns.min())
    return bool((times_ns[cand] - floor <= idle_timeout_ns).all())
