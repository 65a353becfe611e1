"""Per-VM egress shaper, plain-Python twin: serialisation clock with a bounded queue.

State: `last_depart_ns[vm]` (int64), carried between batches; `drops[vm]` counters.
Per packet, in the order given (callers sort by arrival within a VM):
  start_ns  = max(arrival_ns, last_depart_ns[vm])
  wait_ns   = start_ns - arrival_ns                      (queueing delay)
  if wait_ns > queue_ns[vm]: dropped (depart -1, clock unchanged, drops[vm] += 1)
  else: depart_ns = start_ns + ceil(length_bytes * 8 * 1e9 / cap_bps[vm]); clock = depart_ns
`cap_bps[vm] == 0` means unshaped: no serialisation time, never queued, never dropped.
The queue bound is a delay (`queue_ns`); `queue_bytes` given to the constructor is converted at
the VM's rate: queue_ns = ceil(queue_bytes * 8e9 / cap_bps) (a packet is dropped when the bytes
already waiting ahead of it exceed the queue size).
`shape(vm: int32[n], arrival_ns: int64[n], length_bytes: int32[n]) -> (depart_ns int64[n],
dropped bool[n])`.
`shape_paths(leg_vm: int32[n, L], leg_cost_ns: int64[n, L], time_in_ns: int64[n],
length_bytes: int32[n]) -> (time_out_ns int64[n], dropped bool[n])`: whole paths in event
order; `advance(..., start_leg, start_ns, horizon_ns)` the same from given legs up to a
horizon (rows still travelling at the horizon come back with their next event). Row i's leg j leaves its sender at the packet's arrival there
(leg 0: time_in_ns[i]); leg_vm[i, j] is the sender's VM (shaped as above), -1 for an unshaped
sender (gateway, Internet edge: depart = arrival; an Azure Firewall has a slot of its own), -2 for no leg (the path ended). The leg arrives
at depart + leg_cost_ns[i, j]; time_out is the arrival of the last leg (time_in for a path
without legs, -1 when dropped). Shaped legs are taken in the order of the key (time the
packet reaches the sender, row, leg) across all rows -- the order the packets reach the
shapers -- so a packet never queues behind one that reaches the same VM later.
Errors: ValueError on a VM index out of range, negative length, or mismatched columns.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np

NS_PER_S = 1_000_000_000


def queue_limits(cap_bps: np.ndarray, queue_bytes: int | Sequence[int] | np.ndarray
                 ) -> np.ndarray:
    cap = np.asarray(cap_bps, dtype=np.int64)
    qb = np.broadcast_to(np.asarray(queue_bytes, dtype=np.int64), cap.shape)
    if np.any(cap < 0) or np.any(qb < 0):
        raise ValueError("cap_bps and queue_bytes must be >= 0")
    out = np.full(cap.shape, np.iinfo(np.int64).max, dtype=np.int64)
    shaped = cap > 0
    out[shaped] = [-(-int(b) * 8 * NS_PER_S // int(c)) for b, c in
                   zip(qb[shaped].tolist(), cap[shaped].tolist(), strict=True)]
    return out


NO_LEG = -2  # leg_vm: the path ended before this leg
UNSHAPED = -1  # leg_vm: the sender has no shaper (gateway, Internet edge)


def check_paths(n_vms: int, leg_vm: np.ndarray, leg_cost_ns: np.ndarray, time_in_ns: np.ndarray,
                length_bytes: np.ndarray) -> tuple[np.ndarray, ...]:
    v = np.ascontiguousarray(leg_vm, dtype=np.int32)
    c = np.ascontiguousarray(leg_cost_ns, dtype=np.int64)
    t = np.ascontiguousarray(time_in_ns, dtype=np.int64)
    b = np.ascontiguousarray(length_bytes, dtype=np.int32)
    if v.ndim != 2 or c.shape != v.shape or t.shape != b.shape or t.shape != v.shape[:1]:
        raise ValueError("leg_vm, leg_cost_ns, time_in_ns and length_bytes differ in shape")
    if v.size and (v.min() < NO_LEG or v.max() >= n_vms):
        raise ValueError("vm index out of range")
    if b.size and b.min() < 0:
        raise ValueError("negative packet length")
    return v, c, t, b


def check_columns(n_vms: int, vm: np.ndarray, arrival_ns: np.ndarray, length_bytes: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    v = np.ascontiguousarray(vm, dtype=np.int32)
    a = np.ascontiguousarray(arrival_ns, dtype=np.int64)
    b = np.ascontiguousarray(length_bytes, dtype=np.int32)
    if not v.shape == a.shape == b.shape or v.ndim != 1:
        raise ValueError("vm, arrival_ns and length_bytes differ in length")
    if v.size and (v.min() < 0 or v.max() >= n_vms):
        raise ValueError("vm index out of range")
    if b.size and b.min() < 0:
        raise ValueError("negative packet length")
    return v, a, b


class ShaperPy:
    """Serialisation clock per VM (the oracle)."""

    def __init__(self, cap_bps: Sequence[int] | np.ndarray,
                 queue_bytes: int | Sequence[int] | np.ndarray = 1 << 20) -> None:
        self.cap_bps = np.array(cap_bps, dtype=np.int64)
        self.queue_ns = queue_limits(self.cap_bps, queue_bytes)
        self.last_depart_ns = np.full(self.cap_bps.shape, np.iinfo(np.int64).min, dtype=np.int64)
        self.drops = np.zeros(self.cap_bps.shape, dtype=np.int64)

    def shape(self, vm: np.ndarray, arrival_ns: np.ndarray, length_bytes: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
        v, a, b = check_columns(self.cap_bps.size, vm, arrival_ns, length_bytes)
        depart = np.empty(v.size, dtype=np.int64)
        dropped = np.zeros(v.size, dtype=bool)
        for i, (m, t, nbytes) in enumerate(zip(v.tolist(), a.tolist(), b.tolist(), strict=True)):
            cap = int(self.cap_bps[m])
            if cap == 0:
                depart[i] = t
                continue
            start = max(t, int(self.last_depart_ns[m]))
            if start - t > int(self.queue_ns[m]):
                dropped[i] = True
                depart[i] = -1
                self.drops[m] += 1
                continue
            d = start + -(-nbytes * 8 * NS_PER_S // cap)
            depart[i] = d
            self.last_depart_ns[m] = d
        return depart, dropped

    def shape_paths(self, leg_vm: np.ndarray, leg_cost_ns: np.ndarray, time_in_ns: np.ndarray,
                    length_bytes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Whole paths through the shapers in event order: (time_out_ns, dropped)."""
        n = np.asarray(time_in_ns).size
        out, leg, done, dropped = self.advance(leg_vm, leg_cost_ns, time_in_ns, length_bytes,
                                               np.zeros(n, np.int32), time_in_ns, None)
        return out, dropped

    def advance(self, leg_vm: np.ndarray, leg_cost_ns: np.ndarray, time_in_ns: np.ndarray,
                length_bytes: np.ndarray, start_leg: np.ndarray, start_ns: np.ndarray,
                horizon_ns: int | None) -> tuple[np.ndarray, ...]:
        """Event order from each row's next leg (`start_leg`, reached at `start_ns`) up to
        `horizon_ns` (None: to the end): every event at or before it is taken, the rest wait.
        Returns (time_out_ns, leg, done, dropped): a finished row's arrival (-1 dropped) and
        the leg it was dropped at (-1 none); an unfinished row's next event time and leg."""
        v, c, t, b = check_paths(self.cap_bps.size, leg_vm, leg_cost_ns, time_in_ns,
                                 length_bytes)
        n, width = v.shape
        first = np.ascontiguousarray(start_leg, dtype=np.int32)
        at = np.ascontiguousarray(start_ns, dtype=np.int64)
        limit = np.iinfo(np.int64).max if horizon_ns is None else int(horizon_ns)
        out = at.copy()
        leg = np.full(n, -1, dtype=np.int32)
        done = np.ones(n, dtype=bool)
        dropped = np.zeros(n, dtype=bool)
        heap = [(int(at[i]), i, int(first[i])) for i in range(n)
                if int(first[i]) < width and v[i, int(first[i])] != NO_LEG]
        heapq.heapify(heap)
        while heap and heap[0][0] <= limit:
            now, i, j = heapq.heappop(heap)
            m = int(v[i, j])
            depart = now
            if m >= 0 and int(self.cap_bps[m]) > 0:
                cap = int(self.cap_bps[m])
                start = max(now, int(self.last_depart_ns[m]))
                if start - now > int(self.queue_ns[m]):
                    dropped[i] = True
                    out[i] = -1
                    leg[i] = j
                    self.drops[m] += 1
                    continue
                depart = start + -(-int(b[i]) * 8 * NS_PER_S // cap)
                self.last_depart_ns[m] = depart
            arrive = depart + int(c[i, j])
            if j + 1 < width and v[i, j + 1] != NO_LEG:
                heapq.heappush(heap, (arrive, i, j + 1))
            else:
                out[i] = arrive
        for now, i, j in heap:  # waiting for the next batch
            done[i], out[i], leg[i] = False, now, j
        return out, leg, done, dropped
