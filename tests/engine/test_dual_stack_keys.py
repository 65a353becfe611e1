"""Dual-stack flow keys in the batch pipeline (issue 9 item 2): IPv6 packets (preset
UNSUPPORTED until the IPv6 issue fills the stages) get flow ids of their own, distinct per
IPv6 5-tuple and never shared with an IPv4 tuple of the same low address bits; the IPv4 rows
beside them are decided as before."""

from __future__ import annotations

import ipaddress

import numpy as np

from dataplane.dispositions import Disposition as D
from dataplane.engine.batch import UNDECIDED, BatchPipeline, Columns
from dataplane.engine.compile import build_network


def _halves(a: str) -> tuple[int, int]:
    v = int(ipaddress.ip_address(a))
    return v >> 64, v & ((1 << 64) - 1)


def test_ipv6_rows_get_their_own_flow_ids(demo_topology):
    net = build_network(demo_topology)
    bp = BatchPipeline(net)
    web1, db1 = (int(ipaddress.IPv4Address(a)) for a in ("10.1.1.4", "10.2.1.4"))
    v6 = [_halves(a) for a in ("fd00::a01:104", "fd00::a02:104", "fd00:1::a01:104")]
    # rows: IPv4 web1 -> db1, then three IPv6 flows with the same low halves (web1, db1)
    # and different high halves
    fam = np.array([4, 6, 6, 6], np.uint8)
    src_hi = np.array([0, v6[0][0], v6[2][0], v6[0][0]], np.uint64)
    src_lo = np.array([web1, web1, web1, web1], np.uint64)
    dst_hi = np.array([0, v6[1][0], v6[1][0], v6[2][0]], np.uint64)
    dst_lo = np.array([db1, db1, db1, db1], np.uint64)
    n = 4
    c = Columns(nic=np.full(n, int(net.ip_nic[web1]), np.int32),
                src=np.array([web1, 0, 0, 0], np.int64), dst=np.array([db1, 0, 0, 0], np.int64),
                proto=np.full(n, 6, np.int16), sport=np.full(n, 40000, np.int32),
                dport=np.full(n, 1433, np.int32), length=np.full(n, 100, np.int32),
                time_ns=np.arange(n, dtype=np.int64),
                preset=np.array([UNDECIDED] + [D.UNSUPPORTED] * 3, np.uint8),
                family=fam, src_hi=src_hi, src_lo=src_lo, dst_hi=dst_hi, dst_lo=dst_lo)
    disp, _, _ = bp.run(c)
    assert bp.flow_index.size == 4  # four distinct tuples, four ids (was one for all IPv6)
    assert disp[1:].tolist() == [D.UNSUPPORTED] * 3
    assert disp[0] != D.UNSUPPORTED
    assert len(bp.entries()) <= 1 and all(e[0][:2] == (web1, db1) for e in bp.entries())
