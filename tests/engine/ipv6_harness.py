"""Dual-stack packets for both engine forms: reference `Packet`s (family 4 | 6, addresses as
integers) -> batch `Columns` (family and 64-bit halves; `src`/`dst` the IPv4 addresses, 0 for
IPv6), and the comparison of one batch run against the reference walks."""

from __future__ import annotations

import numpy as np

from dataplane.engine.batch import UNDECIDED, BatchPipeline, Columns
from dataplane.engine.reference import Packet, ReferencePipeline

LOW64 = (1 << 64) - 1


def columns(packets: list[Packet]) -> Columns:
    six = [p.family == 6 for p in packets]
    col = {f: [getattr(p, f) for p in packets] for f in Packet._fields}
    return Columns(
        nic=np.array(col["nic"], np.int32),
        src=np.array([0 if s else p.src for p, s in zip(packets, six, strict=True)], np.int64),
        dst=np.array([0 if s else p.dst for p, s in zip(packets, six, strict=True)], np.int64),
        proto=np.array(col["proto"], np.int16), sport=np.array(col["sport"], np.int32),
        dport=np.array(col["dport"], np.int32), length=np.array(col["length"], np.int32),
        time_ns=np.array(col["time_ns"], np.int64),
        preset=np.full(len(packets), UNDECIDED, np.uint8),
        family=np.array(col["family"], np.uint8),
        src_hi=np.array([p.src >> 64 for p in packets], np.uint64),
        src_lo=np.array([p.src & LOW64 for p in packets], np.uint64),
        dst_hi=np.array([p.dst >> 64 for p in packets], np.uint64),
        dst_lo=np.array([p.dst & LOW64 for p in packets], np.uint64))


def compare(net, packets: list[Packet], split: int | None = None) -> list:
    """Reference walks == batch answers (disposition, deciding label, node path; final
    addresses of both families: IPv4 in `final`, IPv6 halves in `final6`), the batch run in chunks of `split` rows (state carried)."""
    walks = ReferencePipeline(net).run(packets)
    bp = BatchPipeline(net)
    split = split or len(packets)
    for start in range(0, len(packets), split):
        chunk = packets[start:start + split]
        disp, dec, nodes = bp.run(columns(chunk))
        for j, p in enumerate(chunk):
            w = walks[start + j]
            got = (int(disp[j]), bp.labels.names[dec[j]] if dec[j] >= 0 else "",
                   [int(x) for x in nodes[j] if x >= 0])
            assert got == (int(w.disposition), w.deciding, w.nodes), (start + j, p, w.hops)
            if p.family == 4:
                assert tuple(int(f[j]) for f in bp.final) == w.out, (start + j, p)
            else:  # IPv6 final addresses as halves (a dual-stack ILB's DNAT / un-DNAT)
                shi, slo, dhi, dlo = (int(f[j]) for f in bp.final6)
                got6 = (shi << 64 | slo, dhi << 64 | dlo, int(bp.final[2][j]),
                        int(bp.final[3][j]))
                assert got6 == (w.out or (p.src, p.dst, p.sport, p.dport)), (start + j, p)
                assert (int(bp.final[0][j]), int(bp.final[1][j])) == (0, 0), (start + j, p)
    return walks
