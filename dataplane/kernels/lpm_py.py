"""Longest-prefix match, plain-Python twin: one dict per prefix length, longest first.

Takes (both families): `prefixes` (network integers, host bits zero), `lengths` (0..32 or
0..128), `next_hops` (ints >= 0, < 2**31 - 1), all of equal length. A duplicate (prefix, length)
keeps the last next hop given.
Returns: `lookup(address) -> int` and `lookup_batch(...) -> int32 array`; -1 means no match.
Errors: ValueError on a bad length, host bits set, a negative next hop or mismatched lengths.
The compiled tables in dataplane/kernels/lpm.py have the same interface; this is their oracle.
IPv6 addresses in a batch are two uint64 arrays (hi = top 64 bits, lo = low 64 bits).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NH_MAX = (1 << 31) - 2
_U64 = (1 << 64) - 1


def validate(prefixes: Sequence[int], lengths: Sequence[int], next_hops: Sequence[int],
             bits: int) -> list[tuple[int, int, int]]:
    """Check a routing table and return it as (prefix, length, next hop) Python ints."""
    if not len(prefixes) == len(lengths) == len(next_hops):
        raise ValueError("prefixes, lengths and next_hops differ in length")
    rows = []
    for p, n, h in zip(prefixes, lengths, next_hops, strict=True):
        p, n, h = int(p), int(n), int(h)
        if not 0 <= n <= bits:
            raise ValueError(f"prefix length {n} outside 0..{bits}")
        if not 0 <= p < (1 << bits):
            raise ValueError(f"prefix {p:#x} outside the {bits}-bit address space")
        if p & ((1 << (bits - n)) - 1):
            raise ValueError(f"prefix {p:#x}/{n} has host bits set")
        if not 0 <= h <= NH_MAX:
            raise ValueError(f"next hop {h} outside 0..{NH_MAX}")
        rows.append((p, n, h))
    return rows


class _DictLpm:
    bits = 32

    def __init__(self, prefixes: Sequence[int], lengths: Sequence[int],
                 next_hops: Sequence[int]) -> None:
        self._by_length: dict[int, dict[int, int]] = {}
        for p, n, h in validate(prefixes, lengths, next_hops, self.bits):
            self._by_length.setdefault(n, {})[p] = h
        self._lengths = sorted(self._by_length, reverse=True)
        self._size = sum(len(d) for d in self._by_length.values())

    def __len__(self) -> int:
        return self._size

    def lookup(self, address: int) -> int:
        address = int(address)
        for n in self._lengths:
            key = (address >> (self.bits - n)) << (self.bits - n)
            hop = self._by_length[n].get(key)
            if hop is not None:
                return hop
        return -1


class LpmTablePy(_DictLpm):
    """IPv4 LPM reference: dict per length."""

    bits = 32

    def lookup_batch(self, addresses: np.ndarray) -> np.ndarray:
        return np.array([self.lookup(a) for a in np.asarray(addresses).tolist()],
                        dtype=np.int32)


class Lpm6TablePy(_DictLpm):
    """IPv6 LPM reference: dict per length; batch addresses as (hi, lo) uint64 arrays."""

    bits = 128

    def lookup_batch(self, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        his = np.asarray(hi).tolist()
        los = np.asarray(lo).tolist()
        if len(his) != len(los):
            raise ValueError("hi and lo differ in length")
        return np.array([self.lookup((h << 64) | lo_) for h, lo_ in zip(his, los, strict=True)],
                        dtype=np.int32)


def split128(addresses: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """IPv6 addresses as Python ints -> (hi, lo) uint64 arrays."""
    ints = [int(a) for a in addresses]
    hi = np.array([a >> 64 for a in ints], dtype=np.uint64)
    lo = np.array([a & _U64 for a in ints], dtype=np.uint64)
    return hi, lo
