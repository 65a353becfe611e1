"""NSG rule classifier: first match over priority-ordered rules, one rule index per packet.

`AclClassifier(rules: Sequence[AclRule], addr_bits: int = 32)`, rules in evaluation order
(index 0 first; see acl_py.AclRule: interval sets per dimension, None = any, proto None = any).
IPv4 (addr_bits=32):
  `classify(src: uint32[n], dst: uint32[n], sport: uint16[n], dport: uint16[n], proto: uint8[n])
  -> int32[n]`: index of the first matching rule, -1 when none matches.
IPv6 (addr_bits=128; rule address intervals are 128-bit Python ints):
  `classify6(src_hi: uint64[n], src_lo: uint64[n], dst_hi: uint64[n], dst_lo: uint64[n],
  sport: uint16[n], dport: uint16[n], proto: uint8[n]) -> int32[n]` (hi = top 64 bits; the
  column form the packet pipeline holds), or `classify(src, dst, sport, dport, proto)` with
  sequences of 128-bit Python ints (converted, slower).
Structure (compiled): bit vectors over an interval partition per dimension, deduplicated into
equivalence classes; ports and protocol by direct 65536/256-entry tables, addresses by binary
search over the partition boundaries; the first set bit of the AND of five vectors is the answer
(ext/acl.pyx). Build cost O(R * rows) bits per dimension (rows <= 2 * intervals + 1).
`AclLinear`: the IPv4 interface over a compiled linear scan (benchmark peer).
IPv6 structure: the same bit vectors; address boundaries are (hi, lo) uint64 pairs, stored
interleaved, and the binary search compares (hi, lo) lexicographically (ext/acl.pyx
`classify_bv6`).
With DATAPLANE_PURE_PYTHON=1, `AclClassifier` is the twin (same signatures).
Errors: ValueError on malformed rules (see acl_py) or mismatched packet columns.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

import numpy as np

from dataplane.kernels import compiled
from dataplane.kernels.acl_py import (
    AclClassifierPy,
    AclRule,
    Interval,
    check_addr_bits,
    columns6,
    normalize,
)
from dataplane.kernels.lpm_py import split128

_ext = compiled("acl")


def _partition(rule_ivs: list[tuple[Interval, ...]], domain: int, words: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boundaries, class per elementary interval, class bit vectors (classes x words)."""
    cuts = {0}
    for ivs in rule_ivs:
        for a, b in ivs:
            cuts.add(a)
            if b + 1 < domain:
                cuts.add(b + 1)
    bounds = np.array(sorted(cuts), dtype=np.uint64)
    member = np.zeros((bounds.size, words * 64), dtype=bool)
    for r, ivs in enumerate(rule_ivs):
        for a, b in ivs:
            lo = int(np.searchsorted(bounds, a))
            hi = int(np.searchsorted(bounds, b + 1)) if b + 1 < domain else bounds.size
            member[lo:hi, r] = True
    return (bounds, *_classes(member))


def _classes(member: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Membership rows (elementary interval x rule, bool) -> class per row, class bit vectors."""
    packed = np.packbits(member, axis=1, bitorder="little")
    bits = np.ascontiguousarray(packed).view("<u8").astype(np.uint64)
    classes, cls = np.unique(bits, axis=0, return_inverse=True)
    return cls.astype(np.int32).ravel(), np.ascontiguousarray(classes)


def _partition128(rule_ivs: list[tuple[Interval, ...]], words: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`_partition` over the 128-bit address space (Python-int intervals): boundaries as an
    (n, 2) uint64 array of (hi, lo) rows, class per elementary interval, class bit vectors."""
    top = 1 << 128
    cuts = {0}
    for ivs in rule_ivs:
        for a, b in ivs:
            cuts.add(a)
            if b + 1 < top:
                cuts.add(b + 1)
    bounds = sorted(cuts)
    member = np.zeros((len(bounds), words * 64), dtype=bool)
    for r, ivs in enumerate(rule_ivs):
        for a, b in ivs:
            lo = bisect_left(bounds, a)
            hi = bisect_left(bounds, b + 1) if b + 1 < top else len(bounds)
            member[lo:hi, r] = True
    return (np.ascontiguousarray(np.stack(split128(bounds), axis=1)), *_classes(member))


def _direct(bounds: np.ndarray, cls: np.ndarray, domain: int) -> np.ndarray:
    """Class per value 0..domain-1: each elementary interval's class repeated over its length
    (bounds ascending from 0)."""
    lengths = np.diff(np.append(bounds.astype(np.int64), domain))
    return np.ascontiguousarray(np.repeat(cls, lengths), dtype=np.int32)


def _columns(src: np.ndarray, dst: np.ndarray, sport: np.ndarray, dport: np.ndarray,
             proto: np.ndarray) -> tuple[np.ndarray, ...]:
    cols = (np.ascontiguousarray(src, dtype=np.uint32), np.ascontiguousarray(dst, dtype=np.uint32),
            np.ascontiguousarray(sport, dtype=np.uint16),
            np.ascontiguousarray(dport, dtype=np.uint16),
            np.ascontiguousarray(proto, dtype=np.uint8))
    if len({c.shape for c in cols}) != 1 or cols[0].ndim != 1:
        raise ValueError("packet columns differ in length")
    return cols


class AclClassifierCompiled:
    """First-match classifier over per-dimension bit vectors (compiled kernel), IPv4 or IPv6."""

    def __init__(self, rules: Sequence[AclRule], addr_bits: int = 32) -> None:
        if _ext is None:
            raise RuntimeError("compiled ACL kernel not loaded")
        self.addr_bits = check_addr_bits(addr_bits)
        self.rules = tuple(rules)
        norm = normalize(self.rules, addr_bits)
        words = max(1, (len(norm) + 63) // 64)
        if addr_bits == 32:
            sb, self._src_cls, self._src_bits = _partition([r[0] for r in norm], 1 << 32, words)
            db, self._dst_cls, self._dst_bits = _partition([r[1] for r in norm], 1 << 32, words)
            self._src_bound = sb.astype(np.uint32)
            self._dst_bound = db.astype(np.uint32)
        else:
            self._src_bound, self._src_cls, self._src_bits = _partition128(
                [r[0] for r in norm], words)
            self._dst_bound, self._dst_cls, self._dst_bits = _partition128(
                [r[1] for r in norm], words)
        tables = []
        for dim, domain in ((2, 65536), (3, 65536)):
            b, c, bits = _partition([r[dim] for r in norm], domain, words)
            tables.append((_direct(b, c, domain), bits))
        (self._sport_cls, self._sport_bits), (self._dport_cls, self._dport_bits) = tables
        proto_ivs = [((0, 255),) if r[4] < 0 else ((r[4], r[4]),) for r in norm]
        b, c, self._proto_bits = _partition(proto_ivs, 256, words)
        self._proto_cls = _direct(b, c, 256)

    def __len__(self) -> int:
        return len(self.rules)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in vars(self).values() if isinstance(a, np.ndarray))

    def classify(self, src: np.ndarray, dst: np.ndarray, sport: np.ndarray, dport: np.ndarray,
                 proto: np.ndarray) -> np.ndarray:
        """IPv4: uint32 address columns. IPv6 (addr_bits=128): sequences of 128-bit Python
        ints, as for the twin (converted here; `classify6` takes (hi, lo) columns directly)."""
        if self.addr_bits == 128:
            src_l, dst_l = [int(a) for a in src], [int(a) for a in dst]
            if len(src_l) != len(dst_l):
                raise ValueError("packet columns differ in length")
            return self.classify6(*split128(src_l), *split128(dst_l), sport, dport, proto)
        cols = _columns(src, dst, sport, dport, proto)
        out = np.empty(cols[0].shape[0], dtype=np.int32)
        _ext.classify_bv(self._src_bound, self._src_cls, self._dst_bound, self._dst_cls,
                         self._sport_cls, self._dport_cls, self._proto_cls,
                         self._src_bits, self._dst_bits, self._sport_bits, self._dport_bits,
                         self._proto_bits, *cols, out)
        return out

    def classify6(self, src_hi: np.ndarray, src_lo: np.ndarray, dst_hi: np.ndarray,
                  dst_lo: np.ndarray, sport: np.ndarray, dport: np.ndarray,
                  proto: np.ndarray) -> np.ndarray:
        """IPv6 columns: addresses as uint64 halves (hi = top 64 bits); needs addr_bits=128."""
        if self.addr_bits != 128:
            raise ValueError("classify6 needs a classifier built with addr_bits=128")
        cols = columns6(src_hi, src_lo, dst_hi, dst_lo, sport, dport, proto)
        out = np.empty(cols[0].shape[0], dtype=np.int32)
        _ext.classify_bv6(self._src_bound, self._src_cls, self._dst_bound, self._dst_cls,
                          self._sport_cls, self._dport_cls, self._proto_cls,
                          self._src_bits, self._dst_bits, self._sport_bits, self._dport_bits,
                          self._proto_bits, *cols, out)
        return out


class AclLinear:
    """IPv4 first-match classifier as a compiled linear scan (benchmark peer, second oracle)."""

    def __init__(self, rules: Sequence[AclRule]) -> None:
        if _ext is None:
            raise RuntimeError("compiled ACL kernel not loaded")
        self.rules = tuple(rules)
        norm = normalize(self.rules, 32)
        self._dims = []
        for dim in range(4):
            lo = [a for r in norm for a, _ in r[dim]]
            hi = [b for r in norm for _, b in r[dim]]
            off = np.cumsum([0] + [len(r[dim]) for r in norm]).astype(np.int64)
            self._dims += [np.array(lo, dtype=np.uint32), np.array(hi, dtype=np.uint32), off]
        self._proto = np.array([r[4] for r in norm], dtype=np.int16)

    def __len__(self) -> int:
        return len(self.rules)

    def classify(self, src: np.ndarray, dst: np.ndarray, sport: np.ndarray, dport: np.ndarray,
                 proto: np.ndarray) -> np.ndarray:
        cols = _columns(src, dst, sport, dport, proto)
        out = np.empty(cols[0].shape[0], dtype=np.int32)
        _ext.classify_linear(*self._dims, self._proto, *cols, out)
        return out


AclClassifier: type = AclClassifierCompiled if _ext is not None else AclClassifierPy

__all__ = ["AclClassifier", "AclClassifierCompiled", "AclClassifierPy", "AclLinear", "AclRule"]
