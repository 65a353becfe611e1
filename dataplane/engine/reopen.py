"""Forward TCP packets that re-open an idled-out flow (assumption `conntrack-reopen`) --
reference and batch forms.

Contract. engine/conntrack.py (assumption `conntrack-idle`): an entry idle longer than the
timeout no longer answers replies, and a committed forward packet of its flow touches it again,
re-opening it (forward decisions read no state: the packet is judged as any packet of a new
flow). TCP flags are not read (conntrack.py), so a non-SYN TCP segment of an expired flow --
a keep-alive or data after a long pause -- re-opens its flow here, where stateful firewalls
commonly drop it: Azure Firewall closes idle TCP sessions ("Understanding Azure Firewall TCP
session management and idle timeout behavior",
https://learn.microsoft.com/azure/firewall/tcp-session-behavior, "Idle timeout settings") and
documents no re-opening; other vendors' stateful firewalls drop data packets after the idle
timeout and take only the next SYN as a new flow. The answer of every TCP packet that
re-opens its expired flow carries the caveat REOPEN_CAVEAT (key `conntrack-reopen`) so a
reader knows the verdict rests on this choice.

A row *re-opens* when it is a forward packet of a flow whose entry exists (it is not a reply
key of an entry), it passes (is committed: the caller decides that) and its time minus the
entry's latest touch before it (committed touch, replies alive at their time, earlier
committed forward packets) is more than the idle timeout.
Reference form `reopens(conntrack, key, time_ns)` (read before the packet is committed); batch
form `reopened_np` from the touches engine/batch.py `_alive` gives (capture times are
non-decreasing in row order: engine/emulator.py assumption `engine-clock`).
"""

from __future__ import annotations

import numpy as np

from dataplane.engine.conntrack import ConnTrack, Key
from dataplane.kernels.reopenscan import none_reopen

REOPEN_CAVEAT = (
    "conntrack-reopen: a forward TCP packet of a flow idle for longer than the idle timeout "
    "(conntrack-idle) re-opened the flow here and was judged as a new flow's packet; TCP flags "
    "are not read, and a stateful firewall commonly drops a non-SYN packet without a session "
    "(Azure Firewall closes idle TCP sessions and documents no re-opening: 'Understanding "
    "Azure Firewall TCP session management and idle timeout behavior', "
    "https://learn.microsoft.com/azure/firewall/tcp-session-behavior) -- unless this packet "
    "opens a new connection on the same 5-tuple, Azure may drop it (engine/reopen.py).")
TCP = 6


def reopens(conntrack: ConnTrack, key: Key, proto: int, time_ns: int) -> bool:
    """Reference form: a passing packet with flow key `key` (conntrack.flow_key) at `time_ns`
    re-opens its flow's idled-out entry (TCP only; module contract). Read it before
    `ConnTrack.commit`."""
    if proto != TCP or key in conntrack.by_reply or key not in conntrack.by_original:
        return False
    return time_ns - conntrack.last_ns[key] > conntrack.idle_timeout_ns


def reopened_np(n: int, rows: np.ndarray, entries: np.ndarray, times_ns: np.ndarray,
                forward: np.ndarray, proto: np.ndarray, opened: np.ndarray,
                last_ns: np.ndarray, idle_timeout_ns: int) -> np.ndarray:
    """Batch form: bool[n], the rows that re-open their flow's idled-out entry.

    `rows`, `entries`, `times_ns` (aligned): the touches the commit applies (engine/batch.py
    `_alive`: live replies and committed forward packets, with their entry's opener id);
    `forward` (bool[n]): rows that are no reply of an entry; `proto` (int[n]); `opened` /
    `last_ns` (by opener id): the committed table before this batch."""
    out = np.zeros(n, bool)
    # fast path: each entry's previous touch is at least its committed one, or (opened in
    # this batch) the batch's first time; within the timeout of that bound, nothing re-opens
    # (kernels/reopenscan.py; also True when no touch is a forward TCP packet)
    if none_reopen(rows, entries, times_ns, forward, proto, opened, last_ns, idle_timeout_ns):
        return out
    order = np.lexsort((rows, entries))
    rows, entries, times_ns = rows[order], entries[order], times_ns[order]
    first = np.r_[True, entries[1:] != entries[:-1]]
    before = np.r_[np.int64(0), times_ns[:-1]]  # the entry's previous touch in this batch
    held = opened[entries] & first  # else: no touch before (the row opens its flow)
    before[first] = np.where(held[first], last_ns[entries[first]], 0)
    has_before = ~first | held
    hit = has_before & forward[rows] & (proto[rows] == TCP) & (
        times_ns - before > idle_timeout_ns)
    out[rows[hit]] = True
    return out


__all__ = ["REOPEN_CAVEAT", "reopened_np", "reopens"]
