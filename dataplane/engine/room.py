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
Microsoft documents a per-NIC flow limit, not these global tables: the capacity is the
emulator's bound (assumption text in conntrack.py; docs/azure-behaviour.md section 12b).

Speed: callers check cheap bounds first (held entries + openers < capacity: nothing to
count); this exact scan runs only near the limit: a Python loop over the candidate rows,
with a sweep over the entries' touch times when the rows are in time order (always so in a
capture: engine-clock), else a count per candidate.
"""

from __future__ import annotations

import bisect
import heapq

import numpy as np

NEVER_NS = -(1 << 62)


def admit(cand: np.ndarray, cand_key: np.ndarray, time_ns: np.ndarray,
          held_key: np.ndarray, held_last_ns: np.ndarray,
          touch_rows: np.ndarray, touch_key: np.ndarray, touch_ns: np.ndarray,
          capacity: int, timeout_ns: int) -> np.ndarray:
    """The rows of `cand` (int64, ascending row numbers) that open an entry.

    cand_key: int64 per candidate, the key the row would open (a flow id), never a held
    key; a candidate whose key an earlier admitted row opened opens nothing (returned rows
    have distinct keys, each its first admitted row). time_ns: int64[rows] capture time of
    every row (ns). held_key / held_last_ns: int64, the entries held before the batch
    (distinct keys) and their latest touch (ns). touch_rows / touch_key / touch_ns: events
    (any order) that touch an entry at a row (ns): they count for rows after theirs; events
    of keys neither held nor admitted before them are ignored. Returns int64 rows ascending.
    Rows in time order (a capture, engine-clock) take a sweep (`_admit_sweep`); otherwise
    every candidate counts the entries (`_admit_counting`); both give the same rows."""
    if cand.size == 0:
        return cand
    order = np.argsort(touch_rows, kind="stable")
    args = (cand, cand_key, time_ns, held_key, held_last_ns, touch_rows[order],
            touch_key[order], touch_ns[order], capacity, timeout_ns)
    if bool((time_ns[1:] >= time_ns[:-1]).all()):
        return _admit_sweep(*args)
    return _admit_counting(*args)


def _admit_counting(cand, cand_key, time_ns, held_key, held_last_ns, t_rows, t_key, t_ns,
                    capacity, timeout_ns) -> np.ndarray:
    """admit() for rows in any time order (touches sorted by row): each candidate counts the
    possibly-alive entries (O(candidates x entries))."""
    lowest = int(time_ns[cand].min()) - timeout_ns  # older entries are dead unless touched
    keep = (held_last_ns >= lowest) | np.isin(held_key, t_key)
    keys = held_key[keep]
    last = np.full(keys.size + cand.size, NEVER_NS, np.int64)
    last[:keys.size] = held_last_ns[keep]
    slot = {int(k): i for i, k in enumerate(keys.tolist())}
    used = keys.size
    out = []
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


def _admit_sweep(cand, cand_key, time_ns, held_key, held_last_ns, t_rows, t_key, t_ns,
                 capacity, timeout_ns) -> np.ndarray:
    """admit() for rows in time order: an entry expired at one candidate's time stays
    expired for the later ones unless touched. Untouched held entries are counted from
    their touch times sorted once (a pointer moves past the expired ones); touched held
    entries and admitted entries live in a heap of (latest touch, key) with lazy deletion.
    O((entries + events) log entries)."""
    by_last = np.argsort(held_last_ns, kind="stable")
    static_last = held_last_ns[by_last]
    removed = np.zeros(static_last.size, bool)  # moved to the heap by a touch
    key_order = np.argsort(held_key, kind="stable")
    rank = np.empty(held_key.size, np.int64)
    rank[by_last] = np.arange(held_key.size)
    t_static = np.full(t_key.size, -1, np.int64)  # each touch's held entry, by_last position
    if held_key.size:
        sorted_keys = held_key[key_order]
        at = np.minimum(np.searchsorted(sorted_keys, t_key), held_key.size - 1)
        hit = sorted_keys[at] == t_key
        t_static[hit] = rank[key_order[at[hit]]]
    pointer, static_alive = 0, int(static_last.size)
    static_list = static_last.tolist()  # Python scalars in the loop (bisect, no numpy calls)
    t_rows_l, t_key_l, t_ns_l, t_static_l = (a.tolist() for a in (t_rows, t_key, t_ns, t_static))
    n_touch = len(t_rows_l)
    latest: dict[int, int] = {}  # heap entries: key -> latest touch
    alive: set[int] = set()
    heap: list[tuple[int, int]] = []
    out = []
    j = 0

    def touch(k: int, t: int) -> None:
        latest[k] = t = max(latest.get(k, t), t)
        alive.add(k)
        heapq.heappush(heap, (t, k))

    times = time_ns.tolist()
    for r, k in zip(cand.tolist(), cand_key.tolist(), strict=True):
        while j < n_touch and t_rows_l[j] < r:  # touches by rows before r
            tk, tt, i = t_key_l[j], t_ns_l[j], t_static_l[j]
            if i >= 0 and not removed[i]:
                removed[i] = True
                static_alive -= i >= pointer
                latest[tk] = static_list[i]
                touch(tk, tt)
            elif tk in latest:
                touch(tk, tt)
            j += 1
        if k in latest:
            continue
        now = times[r]
        frontier = now - timeout_ns  # alive: latest touch >= frontier
        moved = bisect.bisect_left(static_list, frontier, lo=pointer)
        if moved > pointer:
            static_alive -= moved - pointer - int(removed[pointer:moved].sum())
            pointer = moved
        while heap and heap[0][0] < frontier:
            t, hk = heapq.heappop(heap)
            if latest[hk] == t:
                alive.discard(hk)
        if static_alive + len(alive) >= capacity:
            continue
        touch(k, now)
        out.append(r)
    return np.asarray(out, np.int64)


__all__ = ["admit"]
