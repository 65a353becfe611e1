"""NSG rule classifier, plain-Python twin: linear first-match scan.

Rules: a priority-ordered sequence of `AclRule` (index 0 is evaluated first). Each dimension is a
set of inclusive intervals, or None for "any":
  src, dst     address intervals (first, last): IPv4 for the compiled classifier; the twin
               accepts any ints, so it also serves IPv6 rule sets (128-bit Python ints);
  sport, dport port intervals within 0..65535;
  proto        an IP protocol number 0..255, or None for any.
An empty interval tuple matches nothing. A packet matches a rule when every dimension contains
its value; the result is the index of the first matching rule, -1 when none matches.
`classify(src, dst, sport, dport, proto) -> int32[n]` takes equal-length columns.
`classify6(src_hi, src_lo, dst_hi, dst_lo, sport, dport, proto) -> int32[n]` (addr_bits=128 only):
IPv6 addresses as uint64 halves (hi = top 64 bits), the column form of the packet pipeline;
the compiled classifier (kernels/acl.py) has both methods with the same meaning.
Errors: ValueError on an interval with first > last, out of its domain, or a bad protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Interval = tuple[int, int]
PORT_MAX = 65535
PROTO_MAX = 255


@dataclass(frozen=True)
class AclRule:
    """One rule: interval sets per dimension (None = any), protocol number or None (any)."""

    src: tuple[Interval, ...] | None = None
    dst: tuple[Interval, ...] | None = None
    sport: tuple[Interval, ...] | None = None
    dport: tuple[Interval, ...] | None = None
    proto: int | None = None


def _norm(ivs: Sequence[Interval] | None, top: int, what: str) -> tuple[Interval, ...]:
    if ivs is None:
        return ((0, top),)
    out = []
    for a, b in ivs:
        a, b = int(a), int(b)
        if not 0 <= a <= b <= top:
            raise ValueError(f"{what} interval [{a}, {b}] invalid or outside 0..{top}")
        out.append((a, b))
    return tuple(out)


def normalize(rules: Sequence[AclRule], addr_bits: int) -> list[tuple]:
    """Rules as (src, dst, sport, dport, proto) with explicit intervals; proto -1 = any."""
    top = (1 << addr_bits) - 1
    out = []
    for r in rules:
        if r.proto is not None and not 0 <= int(r.proto) <= PROTO_MAX:
            raise ValueError(f"protocol {r.proto} outside 0..{PROTO_MAX}")
        out.append((_norm(r.src, top, "src"), _norm(r.dst, top, "dst"),
                    _norm(r.sport, PORT_MAX, "sport"), _norm(r.dport, PORT_MAX, "dport"),
                    -1 if r.proto is None else int(r.proto)))
    return out


class AclClassifierPy:
    """Linear first-match scan (the oracle). `addr_bits` is 32 (IPv4) or 128 (IPv6)."""

    def __init__(self, rules: Sequence[AclRule], addr_bits: int = 32) -> None:
        self.addr_bits = int(addr_bits)
        self.rules = tuple(rules)
        self._rules = normalize(self.rules, addr_bits)

    def __len__(self) -> int:
        return len(self._rules)

    def classify_one(self, src: int, dst: int, sport: int, dport: int, proto: int) -> int:
        def inside(v: int, ivs: tuple[Interval, ...]) -> bool:
            return any(a <= v <= b for a, b in ivs)

        for k, (s, d, sp, dp, pr) in enumerate(self._rules):
            if (pr in (-1, proto) and inside(src, s) and inside(dst, d)
                    and inside(sport, sp) and inside(dport, dp)):
                return k
        return -1

    def classify(self, src: Sequence[int], dst: Sequence[int], sport: Sequence[int],
                 dport: Sequence[int], proto: Sequence[int]) -> np.ndarray:
        cols = [np.asarray(c).tolist() if isinstance(c, np.ndarray) else list(c)
                for c in (src, dst, sport, dport, proto)]
        if len({len(c) for c in cols}) > 1:
            raise ValueError("packet columns differ in length")
        return np.array([self.classify_one(*row) for row in zip(*cols, strict=True)],
                        dtype=np.int32)

    def classify6(self, src_hi: Sequence[int], src_lo: Sequence[int], dst_hi: Sequence[int],
                  dst_lo: Sequence[int], sport: Sequence[int], dport: Sequence[int],
                  proto: Sequence[int]) -> np.ndarray:
        """IPv6 columns as uint64 halves; the rows are joined into 128-bit ints."""
        if self.addr_bits != 128:
            raise ValueError("classify6 needs a classifier built with addr_bits=128")
        sh, sl, dh, dl, *rest = columns6(src_hi, src_lo, dst_hi, dst_lo, sport, dport, proto)
        src = [(h << 64) | lo for h, lo in zip(sh.tolist(), sl.tolist(), strict=True)]
        dst = [(h << 64) | lo for h, lo in zip(dh.tolist(), dl.tolist(), strict=True)]
        return self.classify(src, dst, *rest)


def check_addr_bits(addr_bits: int) -> int:
    if addr_bits not in (32, 128):
        raise ValueError(f"addr_bits must be 32 (IPv4) or 128 (IPv6), not {addr_bits}")
    return int(addr_bits)


def columns6(src_hi: Sequence[int], src_lo: Sequence[int], dst_hi: Sequence[int],
             dst_lo: Sequence[int], sport: Sequence[int], dport: Sequence[int],
             proto: Sequence[int]) -> tuple[np.ndarray, ...]:
    """IPv6 packet columns as contiguous typed arrays; ValueError when lengths differ."""
    cols = tuple(np.ascontiguousarray(c, dtype=t) for c, t in zip(
        (src_hi, src_lo, dst_hi, dst_lo, sport, dport, proto),
        (np.uint64, np.uint64, np.uint64, np.uint64, np.uint16, np.uint16, np.uint8),
        strict=True))
    if len({c.shape for c in cols}) != 1 or cols[0].ndim != 1:
        raise ValueError("packet columns differ in length")
    return cols
