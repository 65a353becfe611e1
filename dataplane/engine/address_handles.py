"""IPv6 addresses as int64 handles for the batch pipeline's translation columns (issue 17).

Contract. The batch pipeline keeps a translated packet's addresses, its cached final
addresses and the conntrack un-NAT address in int64 columns built for IPv4 (engine/batch.py,
engine/conntrack.py). An IPv6 address that a translation writes there (a dual-stack internal
load balancer's DNAT to a backend, the un-DNAT of its replies: stages/loadbalancer.py) is
stored as a handle: HANDLE_BASE | i, i the address's position in this table, interned once
and kept for the pipeline's life, so a handle means one address exactly (decision-cache and
conntrack-state keys stay exact). Handles lie above every IPv4 address (< 2**32) and below
conntrack.UNSNAT (2**40), so the un-NAT flag tests read them as destination restores.
`halves_np` gives the uint64 (hi, lo) halves back; rows of family 6 whose column is no
handle keep their own halves (they were never translated).
"""

from __future__ import annotations

import numpy as np

HANDLE_BASE = 1 << 36


class Ipv6Handles:
    """Interned IPv6 addresses (128-bit) <-> int64 handles."""

    def __init__(self) -> None:
        self.index: dict[int, int] = {}
        self.hi = np.zeros(0, np.uint64)
        self.lo = np.zeros(0, np.uint64)

    def handle_np(self, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        """int64 handles of the addresses given as uint64 halves (interned when new)."""
        out = np.empty(hi.size, np.int64)
        new_hi, new_lo = [], []
        for j, (h, x) in enumerate(zip(hi.tolist(), lo.tolist(), strict=True)):
            key = int(h) << 64 | int(x)
            i = self.index.get(key)
            if i is None:
                i = self.index[key] = len(self.index)
                new_hi.append(h)
                new_lo.append(x)
            out[j] = HANDLE_BASE | i
        if new_hi:
            self.hi = np.concatenate([self.hi, np.array(new_hi, np.uint64)])
            self.lo = np.concatenate([self.lo, np.array(new_lo, np.uint64)])
        return out

    @staticmethod
    def is_handle(values: np.ndarray) -> np.ndarray:
        return (values >= HANDLE_BASE) & (values < HANDLE_BASE << 1)

    def halves_np(self, values: np.ndarray, hi: np.ndarray, lo: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
        """(hi, lo) uint64: the address of each handle in `values`, the given halves where
        the value is no handle."""
        h = self.is_handle(values)
        at = np.where(h, values - HANDLE_BASE, 0).astype(np.int64)
        if self.hi.size == 0:
            return hi.astype(np.uint64), lo.astype(np.uint64)
        hi, lo = np.asarray(hi).astype(np.uint64), np.asarray(lo).astype(np.uint64)  # never
        # mix int64 with uint64 in np.where: that promotes to float64 and loses low bits
        return (np.where(h, self.hi[np.minimum(at, self.hi.size - 1)], hi),
                np.where(h, self.lo[np.minimum(at, self.lo.size - 1)], lo))


__all__ = ["HANDLE_BASE", "Ipv6Handles"]
