"""Reverse-tuple ids after translated tuples get new ids (batch.BatchPipeline._reverse_ids):
only rows whose reverse tuple had no id are looked up again, also when the new ids grow the
conntrack arrays (the "no id" sentinel moves). Replies to an Azure Firewall's public IP in the
same batch as their flows are the rows whose reverse tuple (the flow's translated tuple) gets
its id only then; each must reach its own flow (tests/engine/test_firewall_nat.py's hub:
app1 -> Internet through fw, SNAT to its public IP)."""

from __future__ import annotations

import ipaddress

import numpy as np
from test_firewall_nat import FW_PUBLIC, _hub

from dataplane.dispositions import Disposition as D
from dataplane.engine.batch import UNDECIDED, BatchPipeline, Columns
from dataplane.engine.compile import build_network

IP_ = lambda a: int(ipaddress.IPv4Address(a))  # noqa: E731
APP1, DB1, PUBLIC, SERVER = (IP_(a) for a in ("10.1.1.4", "10.2.1.4", FW_PUBLIC, "8.8.8.8"))
FLOWS = 2_000  # SNATed flows (below the pool's limit: one port each)
FIRST_IDS = 1 << 16  # ids the conntrack arrays hold at first (conntrack.BatchConnTrack)
FILL = FIRST_IDS - 1 - 2 * FLOWS - 100  # earlier flows' ids: the flows' rows still fit


def _rows(nic: int, src: np.ndarray, dst: np.ndarray, sport: np.ndarray, dport: np.ndarray,
          time_ns: np.ndarray) -> Columns:
    n = src.size
    return Columns(
        nic=np.full(n, nic, np.int32), src=src.astype(np.int64), dst=dst.astype(np.int64),
        proto=np.full(n, 6, np.int16), sport=sport.astype(np.int32),
        dport=dport.astype(np.int32), length=np.full(n, 64, np.int32),
        time_ns=time_ns.astype(np.int64), preset=np.full(n, UNDECIDED, np.uint8),
        family=np.full(n, 4, np.uint8), src_hi=np.zeros(n, np.uint64),
        src_lo=src.astype(np.uint64), dst_hi=np.zeros(n, np.uint64),
        dst_lo=dst.astype(np.uint64))


def test_replies_in_the_flows_batch_reach_their_flows_when_the_arrays_grow(
        make_topology) -> None:
    """After a batch of FILL other flows (app1 -> db1), FLOWS TCP flows app1 -> 8.8.8.8:443
    (distinct source ports), then one reply per flow from 8.8.8.8:443 to the public IP and
    the port the flow left with (learnt from a run of the forward rows alone), all in one
    batch: its forward and reply tuples still fit the conntrack arrays' first size, the
    translated tuples do not. Every flow EXITS_INTERNET, every reply is DELIVERED to app1 at
    its own flow's source port."""
    net = build_network(_hub(make_topology), caps=False)
    nic = net.ip_nic[APP1]
    k = np.arange(FILL)
    fill = _rows(nic, np.full(FILL, APP1), np.full(FILL, DB1), 1024 + k % 60_000,
                 1 + k // 60_000, k)
    sport = np.arange(20_000, 20_000 + FLOWS)
    t = FILL + np.arange(FLOWS)
    forward = _rows(nic, np.full(FLOWS, APP1), np.full(FLOWS, SERVER), sport,
                    np.full(FLOWS, 443), t)
    alone = BatchPipeline(net)
    alone.run(forward)
    out_port = alone.final[2].copy()
    assert np.unique(out_port).size == FLOWS  # one SNAT port per flow
    replies = _rows(-1, np.full(FLOWS, SERVER), np.full(FLOWS, PUBLIC), np.full(FLOWS, 443),
                    out_port, FLOWS + t)
    both = Columns(**{f: np.concatenate([getattr(forward, f), getattr(replies, f)])
                      for f in Columns.__dataclass_fields__})
    bp = BatchPipeline(net)
    bp.run(fill)
    assert bp.ct.opened.size == FIRST_IDS
    disp, _, _ = bp.run(both)
    assert FIRST_IDS - 1 < bp.flow_index.size < FIRST_IDS - 1 + FLOWS + 1  # translated ids
    assert (disp[:FLOWS] == D.EXITS_INTERNET).all()
    assert (bp.final[2][:FLOWS] == out_port).all()
    assert (disp[FLOWS:] == D.DELIVERED).all()
    assert (bp.final[1][FLOWS:] == APP1).all()
    assert (bp.final[3][FLOWS:] == sport).all()
