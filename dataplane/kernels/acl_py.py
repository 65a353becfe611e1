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
