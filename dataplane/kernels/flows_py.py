"""Flow table, plain-Python twin: a dict from the full 5-tuple to an int state.

Keys (`FlowKeys`, equal-length columns): version (4 or 6), src and dst as (hi, lo) uint64 halves
(IPv4: hi = 0, lo = address), sport, dport, proto. Values: int states >= 0.
Operations (batch, processed in order, so a later row sees an earlier row's effect):
  lookup(keys) -> int64[n]     state, or -1 (MISSING) when the flow is not in the table;
  insert(keys, state) -> uint8[n]  INSERTED (new flow), UPDATED (state replaced), REFUSED (table
                               full: the new flow is not stored; counted in `refused`);
  remove(keys) -> bool[n]      True where the flow was present.
Capacity: at most `capacity` flows (default 500_000, Azure's per-direction per-VM flow limit).
When full, new flows are refused and counted; existing flows can still be updated or removed.
Errors: ValueError on a version other than 4/6, a negative state, or mismatched columns.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

import numpy as np

DEFAULT_CAPACITY = 500_000
MISSING = -1


class InsertStatus(IntEnum):
    INSERTED = 0
    UPDATED = 1
    REFUSED = 2


class FlowKeys(NamedTuple):
    """A batch of 5-tuples as columns (build with `v4`/`v6`; `reversed()` for return traffic)."""

    version: np.ndarray  # uint8: 4 or 6
    src_hi: np.ndarray  # uint64
    src_lo: np.ndarray  # uint64
    dst_hi: np.ndarray  # uint64
    dst_lo: np.ndarray  # uint64
    sport: np.ndarray  # uint16
    dport: np.ndarray  # uint16
    proto: np.ndarray  # uint8

    @classmethod
    def v4(cls, src: np.ndarray, dst: np.ndarray, sport: np.ndarray, dport: np.ndarray,
           proto: np.ndarray) -> FlowKeys:
        src = np.asarray(src, dtype=np.uint64)
        zero = np.zeros(src.shape, dtype=np.uint64)
        return cls.make(np.full(src.shape, 4, dtype=np.uint8), zero, src, zero.copy(),
                        np.asarray(dst, dtype=np.uint64), sport, dport, proto)

    @classmethod
    def v6(cls, src_hi: np.ndarray, src_lo: np.ndarray, dst_hi: np.ndarray, dst_lo: np.ndarray,
           sport: np.ndarray, dport: np.ndarray, proto: np.ndarray) -> FlowKeys:
        n = np.asarray(src_hi).shape
        return cls.make(np.full(n, 6, dtype=np.uint8), src_hi, src_lo, dst_hi, dst_lo, sport,
                        dport, proto)

    @classmethod
    def make(cls, version: np.ndarray, src_hi: np.ndarray, src_lo: np.ndarray,
             dst_hi: np.ndarray, dst_lo: np.ndarray, sport: np.ndarray, dport: np.ndarray,
             proto: np.ndarray) -> FlowKeys:
        keys = cls(*(np.ascontiguousarray(c, dtype=t) for c, t in zip(
            (version, src_hi, src_lo, dst_hi, dst_lo, sport, dport, proto),
            (np.uint8, np.uint64, np.uint64, np.uint64, np.uint64, np.uint16, np.uint16,
             np.uint8), strict=True)))
        if len({c.shape for c in keys}) != 1 or keys.version.ndim != 1:
            raise ValueError("flow key columns differ in length")
        if np.any((keys.version != 4) & (keys.version != 6)):
            raise ValueError("flow key version must be 4 or 6")
        return keys

    def reversed(self) -> FlowKeys:
        """The return direction: source and destination (addresses and ports) swapped."""
        return FlowKeys(self.version, self.dst_hi, self.dst_lo, self.src_hi, self.src_lo,
                        self.dport, self.sport, self.proto)

    def __len__(self) -> int:  # type: ignore[override]
        return int(self.version.shape[0])

    def rows(self) -> list[tuple[int, ...]]:
        return list(zip(*(c.tolist() for c in self), strict=True))


def check_states(keys: FlowKeys, state: np.ndarray) -> np.ndarray:
    s = np.ascontiguousarray(state, dtype=np.int64)
    if s.shape != keys.version.shape:
        raise ValueError("state column length differs from the keys")
    if s.size and s.min() < 0:
        raise ValueError("flow states must be >= 0")
    return s


class FlowTablePy:
    """Bounded 5-tuple -> state map (the oracle)."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = int(capacity)
        self.refused = 0
        self._d: dict[tuple[int, ...], int] = {}

    def __len__(self) -> int:
        return len(self._d)

    def clear(self) -> None:
        self._d.clear()
        self.refused = 0

    def lookup(self, keys: FlowKeys) -> np.ndarray:
        return np.array([self._d.get(k, MISSING) for k in keys.rows()], dtype=np.int64)

    def insert(self, keys: FlowKeys, state: np.ndarray) -> np.ndarray:
        states = check_states(keys, state).tolist()
        out = np.empty(len(states), dtype=np.uint8)
        for i, (k, s) in enumerate(zip(keys.rows(), states, strict=True)):
            if k in self._d:
                self._d[k] = s
                out[i] = InsertStatus.UPDATED
            elif len(self._d) >= self.capacity:
                self.refused += 1
                out[i] = InsertStatus.REFUSED
            else:
                self._d[k] = s
                out[i] = InsertStatus.INSERTED
        return out

    def remove(self, keys: FlowKeys) -> np.ndarray:
        return np.array([self._d.pop(k, None) is not None for k in keys.rows()], dtype=bool)
