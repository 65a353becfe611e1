"""Un-NAT state of opener rows, plain-Python twin of ext/unnat.pyx (same signature).

unnat(rows, ids, family, proto, src, dst, sport, dport, fsrc, fdst, fsport, fdport, unsnat,
      src_hi, src_lo, dst_hi, dst_lo, handle6) -> (ip int64[m], port int32[m], usrc int64[m])
    per row r of `rows` (int64 row numbers) with decision d = ids[r] and its final (translated)
    columns fsrc/fdst/fsport/fdport[d]: DNAT (final destination or port differs): ip = the
    original destination, port = the original destination port; else SNAT (final source or
    port differs): ip = original source | `unsnat`, port = original source port; else -1, -1.
    The port is 0 unless the protocol is TCP (6) or UDP (17) (-1 stays -1). usrc = original
    source << 16 | (source port if TCP/UDP else 0) when an IPv4 row's source or source port
    was translated, else -1. IPv6 rows (family 6) translate handles: their original address
    is `handle6(hi, lo)` of the halves (engine/address_handles.py), never moved in `usrc`.
This is engine/batch.py `_unnat_of`'s numpy form, kept as it was before the kernel.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def unnat(rows: np.ndarray, ids: np.ndarray, family: np.ndarray, proto: np.ndarray,
          src: np.ndarray, dst: np.ndarray, sport: np.ndarray, dport: np.ndarray,
          fsrc: np.ndarray, fdst: np.ndarray, fsport: np.ndarray, fdport: np.ndarray,
          unsnat: int, src_hi: np.ndarray, src_lo: np.ndarray, dst_hi: np.ndarray,
          dst_lo: np.ndarray, handle6: Callable[[np.ndarray, np.ndarray], np.ndarray]
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = ids[rows]
    ported = (proto[rows] == 6) | (proto[rows] == 17)
    dn = (fdst[d] != dst[rows]) | (fdport[d] != dport[rows])
    sn = ~dn & ((fsrc[d] != src[rows]) | (fsport[d] != sport[rows]))
    dst_r, src_r = dst[rows], src[rows]
    six = family[rows] == 6
    if six.any():
        m = six & dn
        dst_r = dst_r.copy()
        dst_r[m] = handle6(dst_hi[rows[m]], dst_lo[rows[m]])
        m = six & sn
        src_r = src_r.copy()
        src_r[m] = handle6(src_hi[rows[m]], src_lo[rows[m]])
    ip = np.where(dn, dst_r, np.where(sn, src_r | unsnat, -1))
    port = np.where(dn, dport[rows], np.where(sn, sport[rows], -1))
    moved = ~six & ((fsrc[d] != src[rows]) | (fsport[d] != sport[rows]))
    usrc = np.where(moved, (src[rows].astype(np.int64) << 16)
                    | np.where(ported, sport[rows], 0), -1)
    return (ip.astype(np.int64), np.where(ported | (port < 0), port, 0).astype(np.int32),
            usrc.astype(np.int64))
