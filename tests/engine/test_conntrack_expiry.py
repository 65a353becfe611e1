"""Idle expiry of connection-tracking entries (issue 11; engine/conntrack.py, assumption
conntrack-idle): a reply answers its flow only while the flow has been idle at most the timeout
(capture time); alive replies and committed forward packets touch the entry; a reply after
expiry is judged as a new flow; the forward direction re-opens the entry. The timeout is 4
minutes ("Understanding Azure Firewall TCP session management and idle timeout behavior",
https://learn.microsoft.com/azure/firewall/tcp-session-behavior, "Idle timeout settings").
Reference == batch over random batch splits with a timeout of a few ns."""

from __future__ import annotations

import ipaddress

from batch_harness import IPS, flows_over
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ipv6_harness import columns
from scapy.layers.inet import IP, TCP
from test_firewall_nat import _flows, _hub

from dataplane.engine import Emulator
from dataplane.engine.batch import BatchPipeline
from dataplane.engine.compile import build_network
from dataplane.engine.conntrack import IDLE_TIMEOUT_NS, ConnTrack, flow_key
from dataplane.engine.reference import Packet, ReferencePipeline

IP_ = lambda a: int(ipaddress.IPv4Address(a))  # noqa: E731


def _compare(net, pkts, gaps, split, timeout_ns, capacity: int | None = None,
             flow_limit: int | None = None) -> list[int]:
    """Reference and batch (chunks of `split`) over `pkts` sent at the running sum of `gaps`
    (ns), with a flow table of `capacity` entries (None: unbounded) and the batch's ids
    compacted past `flow_limit`; asserts equal answers (final addresses and ports included:
    allocated SNAT ports, engine/snat_ports.py) and returns the reference dispositions."""
    t, packets = 0, []
    for (s, d, p, sp, dp, k), gap in zip(pkts, gaps, strict=True):
        t += gap
        packets.append(Packet(net.ip_nic.get(s, -1) if k == 0 else k - 1, s, d, p, sp, dp, 100,
                              t))
    walks = ReferencePipeline(net, capacity, idle_timeout_ns=timeout_ns).run(packets)
    bp = BatchPipeline(net, flow_capacity=capacity or 1 << 20, idle_timeout_ns=timeout_ns)
    if flow_limit is not None:
        bp.flow_limit = flow_limit
    got = []
    for lo in range(0, len(packets), split):
        part = packets[lo:lo + split]
        disp, dec, nodes = bp.run(columns(part))
        got += [(int(disp[i]), bp.labels.names[dec[i]] if dec[i] >= 0 else "",
                 [int(x) for x in nodes[i] if x >= 0], tuple(int(f[i]) for f in bp.final))
                for i in range(len(part))]
    assert got == [(int(w.disposition), w.deciding, w.nodes, w.out) for w in walks]
    return [int(w.disposition) for w in walks]


@st.composite
def _timed(draw, flows, max_packets: int = 50):
    """(packets, gaps ns, batch size, timeout ns): flows and their replies at random gaps."""
    chosen = draw(st.lists(st.sampled_from(flows), min_size=1, max_size=6))
    out = []
    for _ in range(draw(st.integers(1, max_packets))):
        s, d, p, sp, dp, k = draw(st.sampled_from(chosen))
        if draw(st.booleans()):
            s, d, sp, dp = d, s, dp, sp
        out.append((s, d, p, sp, dp, k))
    gaps = draw(st.lists(st.integers(0, 4), min_size=len(out), max_size=len(out)))
    return out, gaps, draw(st.integers(1, max_packets)), draw(st.integers(0, 3))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_expiry_reference_equals_batch_demo(demo_topology, data) -> None:
    """The demo's flows (NSGs, firewall, load balancer) with a tiny timeout, any split."""
    flows = [(*f, k) for f in data.draw(st.lists(flows_over(IPS), min_size=1, max_size=6))
             for k in (0,)]
    pkts, gaps, split, timeout = data.draw(_timed(flows))
    _compare(build_network(demo_topology), pkts, gaps, split, timeout)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_expiry_reference_equals_batch_firewall_translations(make_topology, data) -> None:
    """The firewall hub's DNAT/SNAT flows and the replies to their translated tuples."""
    net = build_network(_hub(make_topology, data.draw(st.sampled_from(["", "255.255.255.255/32"]))),
                        caps=False)
    pkts, gaps, split, timeout = data.draw(_timed(_flows(net)))
    _compare(net, pkts, gaps, split, timeout)


def test_reply_after_the_timeout_is_a_new_flow_and_the_forward_direction_reopens() -> None:
    ct = ConnTrack(idle_timeout_ns=10)
    fwd = flow_key(1, 2, 6, 1000, 443)
    back = flow_key(2, 1, 6, 443, 1000)
    ct.commit(fwd, fwd, frozenset(), 100)
    assert ct.reply_of(back, 110) is not None  # idle exactly the timeout: alive, touched
    assert ct.reply_of(back, 120) is not None  # 10 after the touch at 110
    assert ct.reply_of(back, 131) is None  # idle 11 > 10: expired, no touch
    ct.commit(back, back, frozenset(), 140)  # the reply key opens nothing
    assert flow_key(1, 2, 6, 1000, 443) in ct.by_original and back not in ct.by_original
    ct.commit(fwd, fwd, frozenset(), 200)  # the forward direction re-opens the entry
    assert ct.reply_of(back, 205) is not None


MINUTES_4 = IDLE_TIMEOUT_NS


def test_firewall_reply_after_four_idle_minutes_is_a_new_flow(make_topology, tmp_path) -> None:
    """Through the hub firewall (an Internet flow SNATed to its public IP): a reply 4 minutes
    after the request is established and returns through the firewall; the next, 4 minutes
    + 1 us (a capture's resolution) after that reply, finds the flow expired: a new flow
    to the firewall's public address, which no DNAT rule matches (default deny); the request
    sent again re-opens the flow and its reply passes. Same answers replayed one packet per
    batch, two and 64."""
    from scapy.utils import wrpcap

    topology = _hub(make_topology)
    out = IP(src="10.1.1.4", dst="8.8.8.8") / TCP(sport=40000, dport=443)
    first = Emulator(topology).send(out, source="app1").row(0)
    assert (first["disposition"], first["final_src"]) == ("EXITS_INTERNET", "203.0.113.10")
    back = IP(src="8.8.8.8", dst="203.0.113.10") / TCP(sport=443, dport=first["final_sport"])
    us = 1000  # a capture file holds microseconds
    plan = [(out, 0), (back, MINUTES_4), (back, 2 * MINUTES_4 + us), (out, 2 * MINUTES_4 + 2 * us),
            (back, 2 * MINUTES_4 + 3 * us)]
    packets = []
    for p, t in plan:
        q = p.copy()
        q.time = 1_000_000 + t / 1e9
        packets.append(q)
    expected = ["EXITS_INTERNET", "DELIVERED", "FIREWALL_DENIED", "EXITS_INTERNET", "DELIVERED"]
    times = [1_000_000 * 10**9 + t for _, t in plan]
    result = Emulator(topology).send(packets, times_ns=times)
    rows = [result.row(i) for i in range(len(plan))]
    assert [r["disposition"] for r in rows] == expected
    assert rows[1]["hops"] == "internet > fw > app1"
    assert rows[2]["hops"] == "internet > fw"
    assert rows[2]["deciding"] == (  # stages/gateway.py expired-reply-at-firewall
        f"firewall fw/default-deny (the reply of the flow fw translated to 203.0.113.10:"
        f"{first['final_sport']}, after the flow idled out (conntrack-idle: no state after 4 "
        f"idle minutes): a new flow no DNAT rule matches)")
    wrpcap(str(tmp_path / "in.pcap"), packets)
    for size in (1, 2, 64):
        replayed = Emulator(topology).replay(tmp_path / "in.pcap", auto_map=False, batch=size)
        assert [replayed.row(i)["disposition"] for i in range(len(plan))] == expected, size
