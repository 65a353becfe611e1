"""Expired connection-tracking entries free capacity (issue 11; engine/conntrack.py and
engine/room.py, assumption conntrack-capacity): a new flow is refused an entry only when the
entries ALIVE at its capture time (latest touch within the idle timeout, conntrack-idle)
reach the table's capacity. Reference == batch over random batch sizes with a timeout of 0-3
ns and a capacity of 1-4 entries (dispositions, deciding labels, paths, translations), also
with the batch's flow ids compacted at every batch; and the room rule itself on both forms."""

from __future__ import annotations

import ipaddress

import numpy as np
from batch_harness import IPS, flows_over
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_conntrack_expiry import _compare, _timed
from test_firewall_nat import _flows, _hub

from dataplane.dispositions import Disposition as D
from dataplane.engine.compile import build_network
from dataplane.engine.conntrack import ConnTrack, flow_key
from dataplane.engine.reference import Packet, ReferencePipeline
from dataplane.engine.room import admit

IP_ = lambda a: int(ipaddress.IPv4Address(a))  # noqa: E731
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@SETTINGS
@given(data=st.data())
def test_capacity_reference_equals_batch_demo(demo_topology, data) -> None:
    """The demo's flows (NSGs, firewall, load balancer): tiny timeout and capacity, any
    split, flow ids compacted at every batch or never."""
    flows = [(*f, 0) for f in data.draw(st.lists(flows_over(IPS), min_size=1, max_size=6))]
    pkts, gaps, split, timeout = data.draw(_timed(flows))
    capacity = data.draw(st.integers(1, 4))
    _compare(build_network(demo_topology), pkts, gaps, split, timeout, capacity,
             data.draw(st.sampled_from([None, 0])))


@SETTINGS
@given(data=st.data())
def test_capacity_reference_equals_batch_firewall_translations(make_topology, data) -> None:
    """The firewall hub's DNAT/SNAT flows and the replies to their translated tuples."""
    net = build_network(_hub(make_topology, data.draw(st.sampled_from(
        ["", "255.255.255.255/32"]))), caps=False)
    pkts, gaps, split, timeout = data.draw(_timed(_flows(net)))
    capacity = data.draw(st.integers(1, 4))
    _compare(net, pkts, gaps, split, timeout, capacity, data.draw(st.sampled_from([None, 0])))


def _churn(rng, flows: list[tuple], replies: list[tuple], max_packets: int = 50):
    """(packets, gaps ns, batch size, timeout ns, capacity) from `rng` over 2-6 of `flows`:
    each packet a flow's forward packet, its reply captured at the VM (the reverse of the
    original tuple) or its reply to the translated tuple (`replies`, same order); gaps mostly
    shorter than the timeout, some longer, so entries are touched, idle out and free room.
    (Uniform draws: hypothesis's own size bias rarely builds the touch-then-refuse cases.)"""
    chosen = rng.sample(range(len(flows)), rng.randint(2, 6))
    out = []
    for _ in range(rng.randint(1, max_packets)):
        i, form = rng.choice(chosen), rng.randint(0, 3)
        s, d, p, sp, dp, k = flows[i]
        out.append(replies[i] if form == 3 else (d, s, p, dp, sp, k) if form == 2
                   else flows[i])
    gaps = [rng.choice([0, 1, 1, 2, 3, 6]) for _ in out]
    return out, gaps, rng.randint(1, max_packets), rng.randint(1, 3), rng.randint(1, 3)


@SETTINGS
@given(data=st.data())
def test_capacity_reference_equals_batch_churn(make_topology, data) -> None:
    """Short flows through the hub firewall (each SNATed, its reply returning through the
    firewall only while its entry lives): the table fills, touches keep entries alive,
    entries idle out and free room -- in any split, with or without compaction."""
    net = build_network(_hub(make_topology), caps=False)
    flows = _internet_flows(net, 40000, 8)
    pkts, gaps, split, timeout, capacity = _churn(data.draw(st.randoms(use_true_random=False)),
                                                  flows, _replies(net, flows))
    _compare(net, pkts, gaps, split, timeout, capacity, data.draw(st.sampled_from([None, 0])))


def _replies(net, flows: list[tuple]) -> list[tuple]:
    """The Internet replies to `flows` as the firewall translates each (to its public address
    and SNAT port), as (src, dst, proto, sport, dport, nic choice)."""
    probe = ReferencePipeline(net)
    out = []
    for f in flows:
        src, _, sport, _ = probe.walk(Packet(net.ip_nic[f[0]], *f[:5], 100, 0)).out
        out.append((f[1], src, f[2], f[4], sport, 0))
    return out


def _internet_flows(net, first_port: int, count: int) -> list[tuple]:
    """`count` flows app1 -> 8.8.8.8:443 (SNATed by the hub firewall), from successive source
    ports, as (src, dst, proto, sport, dport, nic choice)."""
    return [(IP_("10.1.1.4"), IP_("8.8.8.8"), 6, first_port + i, 443, 0) for i in range(count)]


def test_three_expired_flows_free_room_for_three_new_flows(make_topology) -> None:
    """Capacity 3, timeout 10 ns: flows A, B, C open at t 0-2 and idle out; at t 100 flows D,
    E, F open (their replies are DELIVERED, established at the firewall) although the table
    still holds A, B, C; a fourth new flow G at t 101 is refused (three entries alive: its
    reply is a new flow the firewall denies); at t 200 G opens. Reference and batch, one
    batch and one packet per batch."""
    net = build_network(_hub(make_topology), caps=False)
    old, new, late = (_internet_flows(net, 40000, 3), _internet_flows(net, 41000, 3),
                      _internet_flows(net, 42000, 1))
    back = dict(zip(old + new + late, _replies(net, old + new + late), strict=True))
    plan = [(f, t) for f, t in zip(old, (0, 1, 2), strict=True)]
    plan += [(f, 100) for f in new] + [(back[f], 100) for f in new]
    plan += [(late[0], 101), (back[late[0]], 101), (late[0], 200), (back[late[0]], 200)]
    pkts = [f for f, _ in plan]
    gaps = np.diff([0] + [t for _, t in plan]).tolist()
    want = ["EXITS_INTERNET"] * 6 + ["DELIVERED"] * 3 + ["EXITS_INTERNET", "FIREWALL_DENIED",
                                                         "EXITS_INTERNET", "DELIVERED"]
    for split in (len(pkts), 1, 4):
        got = _compare(net, pkts, gaps, split, 10, capacity=3)
        assert [D(d).name for d in got] == want, split


def test_reference_table_counts_only_live_entries() -> None:
    """ConnTrack(capacity=2, timeout 10): two entries alive refuse a third flow; once one
    has idled out the third opens; a forward packet revives an expired entry whatever the
    room (it is still held)."""
    ct = ConnTrack(capacity=2, idle_timeout_ns=10)
    a, b, c = (flow_key(1, 9, 6, p, 443) for p in (1000, 1001, 1002))
    ct.commit(a, a, frozenset(), 0)
    ct.commit(b, b, frozenset(), 5)
    ct.commit(c, c, frozenset(), 10)  # a (idle 10) and b alive: refused
    assert c not in ct.by_original and ct.live(10) == 2
    ct.commit(c, c, frozenset(), 11)  # a idle 11 > 10: expired, room for c
    assert c in ct.by_original and ct.live(11) == 2 and len(ct) == 3
    ct.commit(a, a, frozenset(), 12)  # a's forward packet revives it
    assert ct.live(12) == 3
    assert ct.reply_of(flow_key(9, 1, 6, 443, 1000), 12) is not None


def test_admit_counts_entries_alive_at_each_row() -> None:
    """room.admit: capacity 2, timeout 5; held entries 10 (last touch 0) and 11 (3); rows
    0-4 at t 4, 6, 6, 9, 20 want keys 1, 2, 2, 3, 4; row 1 touches entry 11 at t 6. Row 0:
    both held alive, refused. Row 1: entry 10 idle 6 > 5, 11 alive (its own touch counts
    only for later rows): opens key 2. Row 2: key 2 is open, nothing. Row 3 (t 9): 11 alive
    by row 1's touch, key 2 alive: refused (without the touch 11 would be dead). Row 4:
    everything idle, opens key 4."""
    time_ns = np.array([4, 6, 6, 9, 20], np.int64)
    cand = np.arange(5, dtype=np.int64)
    got = admit(cand, np.array([1, 2, 2, 3, 4], np.int64), time_ns,
                np.array([10, 11], np.int64), np.array([0, 3], np.int64),
                np.array([1], np.int64), np.array([11], np.int64), np.array([6], np.int64),
                2, 5)
    assert got.tolist() == [1, 4]


def test_touches_keep_the_table_full(make_topology) -> None:
    """Capacity 1, timeout 2 ns: flow A opens at t 0 and is touched at t 2 -- by its own
    forward packet, or by its reply; flow B at t 3 finds A alive (idle 1) and is refused: its
    reply is a new flow the firewall denies. Untouched, A has idled out (3 > 2) and B opens.
    Reference and batch, any split."""
    net = build_network(_hub(make_topology), caps=False)
    a, b = _internet_flows(net, 40000, 2)
    back = dict(zip((a, b), _replies(net, [a, b]), strict=True))
    for toucher, want in ((a, "FIREWALL_DENIED"), (back[a], "FIREWALL_DENIED"),
                          (None, "DELIVERED")):
        plan = [(a, 0)] + ([(toucher, 2)] if toucher else []) + [(b, 3), (back[b], 3)]
        gaps = np.diff([0] + [t for _, t in plan]).tolist()
        for split in (1, 2, len(plan)):
            got = _compare(net, [f for f, _ in plan], gaps, split, 2, capacity=1)
            assert D(got[-1]).name == want, (toucher, split)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_admit_sweep_equals_counting(data) -> None:
    """room.admit's two forms (the sweep for rows in time order, the count per candidate for
    any order) admit the same rows: random held entries, touches and candidates."""
    from dataplane.engine.room import _admit_counting, _admit_sweep

    n = data.draw(st.integers(1, 30))
    time_ns = np.cumsum(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    held = data.draw(st.lists(st.integers(0, 9), unique=True, max_size=6))
    held_key = np.array(held, np.int64)
    held_last = np.array(data.draw(st.lists(st.integers(-5, 5), min_size=len(held),
                                            max_size=len(held))), np.int64)
    cand = np.array(sorted(data.draw(st.sets(st.integers(0, n - 1), min_size=1))), np.int64)
    cand_key = np.array([data.draw(st.integers(10, 14)) for _ in cand.tolist()], np.int64)
    m = data.draw(st.integers(0, 20))
    t_rows = np.sort(np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=m,
                                                 max_size=m)), np.int64))
    t_key = np.array(data.draw(st.lists(st.integers(0, 14), min_size=m, max_size=m)), np.int64)
    t_ns = time_ns[t_rows].astype(np.int64)
    args = (cand, cand_key, time_ns.astype(np.int64), held_key, held_last, t_rows, t_key, t_ns,
            data.draw(st.integers(1, 5)), data.draw(st.integers(0, 4)))
    assert _admit_sweep(*args).tolist() == _admit_counting(*args).tolist()


def test_expired_pending_records_free_room_in_both_forms() -> None:
    """Pending application-rule records (engine/pending.py) count the same way: capacity 1,
    timeout 10 ns. Flow 10 records at t 0; flow 11 at t 5 is refused (10 alive); flow 11 at
    t 11 records (10 idle 11 > 10). Reference PendingSessions and BatchPendingSessions, in
    one batch and across two (the committed record's age is read from the table)."""
    from dataplane.engine.pending import BatchPendingSessions, PendingSessions, PendingVerdict

    ref = PendingSessions(capacity=1, idle_timeout_ns=10)
    a, b = (1, 2, 6, 443, 40000), (1, 2, 6, 443, 40001)
    v = PendingVerdict(7, 30, "unknown")
    ref.record(a, v, 0)
    ref.record(b, v, 5)
    assert ref.answer(b, 7, 5) is None
    ref.record(b, v, 11)
    assert ref.answer(b, 7, 11) == v
    fid, t = np.array([10, 11, 11]), np.array([0, 5, 11])
    for cut in (3, 1):
        batch = BatchPendingSessions(capacity=1, idle_timeout_ns=10)
        batch.register(np.array([3]), 7, np.array([True]))
        recorded = []
        for lo, hi in ((0, cut), (cut, 3)):
            if lo == hi:
                continue
            _, _, rec, _ = batch.settle(fid[lo:hi], np.full(hi - lo, 99), np.full(
                hi - lo, 30, np.uint8), np.full(hi - lo, 3, np.int32), np.zeros(hi - lo, bool),
                t[lo:hi])
            recorded += (rec + lo).tolist()
            batch.commit()
        assert recorded == [0, 2], cut
        assert set(batch.export()) == {10, 11}
