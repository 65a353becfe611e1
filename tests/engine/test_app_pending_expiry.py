"""Pending application-rule sessions idle out (issue 11 leftover 3; engine/pending.py,
assumption pending-idle): a record older than the flow table's idle timeout (4 minutes,
"Understanding Azure Firewall TCP session management and idle timeout behavior",
https://learn.microsoft.com/azure/firewall/tcp-session-behavior, "Idle timeout settings") is
gone, so a reply after it is evaluated as a new flow; both forms, any batch split, and the
explanation agree."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ipv6_harness import columns
from test_app_pending import HOSTS, NAMES, UNKNOWN_LABEL, traffic
from test_app_rules import _flow, _topology, client_hello

from dataplane.engine import Emulator
from dataplane.engine.batch import BatchPipeline
from dataplane.engine.compile import build_network
from dataplane.engine.conntrack import IDLE_TIMEOUT_NS
from dataplane.engine.pending import BatchPendingSessions, PendingSessions, PendingVerdict
from dataplane.engine.reference import Packet, ReferencePipeline, flow_key


def test_a_record_older_than_the_timeout_is_gone_in_both_forms() -> None:
    ref = PendingSessions(idle_timeout_ns=10)
    a = (1, 2, 6, 443, 40000)
    v = PendingVerdict(7, 30, "unknown")
    ref.record(a, v, 100)
    assert (ref.answer(a, 7, 110), ref.answer(a, 7, 111)) == (v, None)  # answers don't refresh
    ref.record(a, v, 200)  # the flow's next client packet records again
    assert ref.answer(a, 7, 210) == v
    batch = BatchPendingSessions(capacity=8, idle_timeout_ns=10)
    batch.register(np.array([3, 5]), 7, np.array([True, False]))
    # flow 10 records at t=100; replies (reverse id 10) dropped by rule 5 at 110 and 111
    fid, rid = np.array([10, 12, 12]), np.array([99, 10, 10])
    disp, label = np.array([30, 15, 15], np.uint8), np.array([3, 5, 5], np.int32)
    d, lab, _, _ = batch.settle(fid, rid, disp, label, np.zeros(3, bool),
                                np.array([100, 110, 111]))
    assert d.tolist() == [30, 30, 15] and lab.tolist() == [3, 3, 5]
    batch.commit()
    # the committed record (t=100) answers a later batch's reply at 110, not at 111
    d, lab, _, _ = batch.settle(np.array([12, 12]), np.array([10, 10]),
                                np.array([15, 15], np.uint8), np.array([5, 5], np.int32),
                                np.zeros(2, bool), np.array([110, 111]))
    assert d.tolist() == [30, 15] and lab.tolist() == [3, 5]


def test_a_syn_ack_after_the_timeout_is_a_new_flow(make_topology) -> None:
    """A handshake-only flow (the name never arrives): the SYN-ACK 4 minutes after the SYN
    takes the SYN's pending verdict; 4 minutes + 1 ns after it, the record is gone and the
    firewall's default rule decides (a new flow); the ACK records again. Explanations agree,
    and a later send call continues the clock (emulator assumption engine-clock)."""
    topology = _topology(make_topology)
    syn, syn_ack, ack = _flow(client_hello("www.contoso.com"))[:3]
    times = [0, IDLE_TIMEOUT_NS, IDLE_TIMEOUT_NS + 1]
    for later in (syn_ack, syn_ack.copy()):
        result = Emulator(topology).send([syn, later, ack], times_ns=[0, times[1], times[1]])
        assert [r["disposition"] for r in result.rows()] == ["FIREWALL_NAME_UNKNOWN"] * 3
        late = Emulator(topology).send([syn, later, ack], times_ns=[0, times[2], times[2]])
        rows = [(r["disposition"], r["deciding"]) for r in late.rows()]
        assert rows == [("FIREWALL_NAME_UNKNOWN", UNKNOWN_LABEL),
                        ("FIREWALL_DENIED", "firewall fw/default-deny"),
                        ("FIREWALL_NAME_UNKNOWN", UNKNOWN_LABEL)]
        for i in range(3):
            assert late.explain(i)["decision"] == rows[i][0]
    emu = Emulator(topology)
    emu.send(syn, times_ns=[0])
    split = emu.send([syn_ack, syn_ack], times_ns=[IDLE_TIMEOUT_NS, IDLE_TIMEOUT_NS + 1])
    assert [r["disposition"] for r in split.rows()] == ["FIREWALL_NAME_UNKNOWN",
                                                        "FIREWALL_DENIED"]
    assert [split.explain(i)["decision"] for i in range(2)] == ["FIREWALL_NAME_UNKNOWN",
                                                                "FIREWALL_DENIED"]


@settings(max_examples=60, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(drawn=traffic(), data=st.data())
def test_batch_and_reference_forms_agree_with_a_tiny_timeout(make_topology, drawn, data) -> None:
    packets, split, capacity, flow_limit = drawn
    timeout = data.draw(st.integers(0, 4))
    gaps = data.draw(st.lists(st.integers(0, 3), min_size=len(packets), max_size=len(packets)))
    net = build_network(_topology(make_topology), caps=False)
    pkts, names, t = [], [], 0
    for (client, server, sport, dport, name, reply), gap in zip(packets, gaps, strict=True):
        t += gap
        s, d, sp, dp = (server, client, dport, sport) if reply else (client, server, sport, dport)
        pkts.append(Packet(net.ip_nic.get(s, net.ip_nic[HOSTS[0]]), s, d, 6, sp, dp, 100, t))
        names.append(NAMES[name])
    ref = ReferencePipeline(net, capacity=capacity, idle_timeout_ns=timeout)
    want = []
    for p, name in zip(pkts, names, strict=True):
        ref.server_names[flow_key(p)] = name
        w = ref.walk(p)
        ref.commit(p, w)
        want.append((int(w.disposition), w.deciding))
    bp = BatchPipeline(net, flow_capacity=capacity or 1 << 20, idle_timeout_ns=timeout)
    bp.flow_limit = flow_limit
    got = []
    for lo in range(0, len(pkts), split):
        cols = columns(pkts[lo:lo + split])
        cols.server_name[:] = [bp.flow_names.table.intern(n) for n in names[lo:lo + split]]
        disp, dec, _ = bp.run(cols)
        got += [(int(a), bp.labels.names[b] if b >= 0 else "") for a, b in zip(
            disp.tolist(), dec.tolist(), strict=True)]
    assert got == want
