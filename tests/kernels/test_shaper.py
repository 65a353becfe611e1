"""Egress shaper: compiled loop against the twin, and worked examples."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataplane.kernels import compiled
from dataplane.kernels.shaper import Shaper, ShaperCompiled, ShaperPy

need_ext = pytest.mark.skipif(compiled("shaper") is None, reason="compiled kernel not loaded")

packet = st.tuples(st.integers(0, 2), st.integers(0, 50_000), st.sampled_from([0, 1, 64, 1500, 9000]))


@need_ext
@given(st.lists(st.sampled_from([0, 1_000_000, 1_000_000_000, 7_000_000_001]), min_size=3,
                max_size=3),
       st.sampled_from([0, 1500, 10_000, 1 << 20]),
       st.lists(st.lists(packet, max_size=30), max_size=4))
def test_compiled_matches_twin(caps: list[int], queue: int, batches: list) -> None:
    fast, twin = ShaperCompiled(caps, queue), ShaperPy(caps, queue)
    clock = 0
    for batch in batches:
        vm = np.array([p[0] for p in batch], dtype=np.int32)
        arrival = clock + np.cumsum([p[1] for p in batch], dtype=np.int64)
        clock = int(arrival[-1]) if len(batch) else clock
        size = np.array([p[2] for p in batch], dtype=np.int32)
        d1, x1 = fast.shape(vm, arrival, size)
        d2, x2 = twin.shape(vm, arrival, size)
        assert d1.tolist() == d2.tolist() and x1.tolist() == x2.tolist()
        assert fast.last_depart_ns.tolist() == twin.last_depart_ns.tolist()
        assert fast.drops.tolist() == twin.drops.tolist()


@pytest.mark.parametrize("cls", [ShaperPy, Shaper])
def test_worked_example(cls: type) -> None:
    # 1 Gbit/s: 1500 B takes 12 us; queue of 3000 B = 24 us of waiting allowed
    s = cls([1_000_000_000, 0], 3000)
    depart, dropped = s.shape(np.array([0, 0, 0, 0, 1]), np.array([0, 0, 0, 0, 5]),
                              np.array([1500, 1500, 1500, 1500, 1500]))
    assert depart.tolist() == [12_000, 24_000, 36_000, -1, 5]
    assert dropped.tolist() == [False, False, False, True, False]
    assert s.drops.tolist() == [1, 0]
    # state carries over: next batch queues behind 36 us
    depart, dropped = s.shape(np.array([0]), np.array([20_000]), np.array([125]))
    assert depart.tolist() == [37_000]
    # ceil: 1 byte at 3 bit/s -> 8/3 s rounded up
    t = cls([3], 10**6)
    assert t.shape(np.array([0]), np.array([0]), np.array([1]))[0].tolist() == [2_666_666_667]


def test_bad_input() -> None:
    s = Shaper([1000])
    with pytest.raises(ValueError):
        s.shape(np.array([1]), np.array([0]), np.array([1]))
    with pytest.raises(ValueError):
        s.shape(np.array([0, 0]), np.array([0]), np.array([1]))
    with pytest.raises(ValueError):
        Shaper([-1])


leg = st.tuples(st.integers(-2, 2), st.integers(0, 20_000))  # (sender vm or -1/-2, cost ns)


@need_ext
@given(st.lists(st.sampled_from([0, 1_000_000, 1_000_000_000, 7_000_000_001]), min_size=3,
                max_size=3),
       st.sampled_from([0, 1500, 10_000, 1 << 20]),
       st.lists(st.tuples(st.lists(st.tuples(st.integers(0, 30_000),
                                             st.sampled_from([0, 64, 1500, 9000]),
                                             st.lists(leg, min_size=3, max_size=3),
                                             st.integers(0, 3)), max_size=25),
                          st.none() | st.integers(0, 40_000)), max_size=3),
       st.booleans())
def test_advance_compiled_matches_twin(caps: list[int], queue: int, batches: list,
                                       in_order: bool) -> None:
    """Start times unsorted, or ascending as a replay's new rows come (the kernel queues
    start legs already in key order apart from its heap: same event order either way)."""
    fast, twin = ShaperCompiled(caps, queue), ShaperPy(caps, queue)
    for batch, horizon in batches:
        start = np.array([p[0] for p in batch], dtype=np.int64)
        if in_order:
            start = np.sort(start)
        size = np.array([p[1] for p in batch], dtype=np.int32)
        vm = np.array([[x[0] for x in p[2]] for p in batch], dtype=np.int32).reshape(-1, 3)
        cost = np.array([[x[1] for x in p[2]] for p in batch], dtype=np.int64).reshape(-1, 3)
        first = np.array([p[3] for p in batch], dtype=np.int32)
        got = fast.advance(vm, cost, start, size, first, start, horizon)
        want = twin.advance(vm, cost, start, size, first, start, horizon)
        for a, b in zip(got, want, strict=True):
            assert a.tolist() == b.tolist()
        assert fast.last_depart_ns.tolist() == twin.last_depart_ns.tolist()
        assert fast.drops.tolist() == twin.drops.tolist()


@pytest.mark.parametrize("cls", [ShaperPy, Shaper])
def test_shape_paths_takes_legs_in_arrival_order(cls: type) -> None:
    """Packet 0 reaches VM 1 (its second leg) at 1_000 + 12_000 + 500 = 13_500 ns; packet 1
    starts at VM 1 later (20_000 ns). In event order packet 0 is sent first and packet 1
    queues behind it until 25_500; leg order (all first legs, then all second legs) would
    have queued packet 0 behind packet 1 (depart 44_000)."""
    s = cls([1_000_000_000, 1_000_000_000], 1 << 20)
    vm = np.array([[0, 1], [1, -2]], dtype=np.int32)
    cost = np.array([[500, 700], [300, 0]], dtype=np.int64)
    out, dropped = s.shape_paths(vm, cost, np.array([1_000, 20_000]), np.array([1500, 1500]))
    # 1500 B at 1 Gbit/s = 12_000 ns
    assert out.tolist() == [13_500 + 12_000 + 700, 25_500 + 12_000 + 300]
    assert dropped.tolist() == [False, False]
    assert s.last_depart_ns.tolist() == [13_000, 37_500]
    with pytest.raises(ValueError):
        s.shape_paths(np.array([[3]], np.int32), np.array([[0]]), np.array([0]), np.array([1]))


@pytest.mark.parametrize("cls", [ShaperPy, Shaper])
def test_advance_stops_at_the_horizon_and_resumes(cls: type) -> None:
    """The same two packets with a horizon at 15_000 ns: packet 0's second leg (13_500) is
    taken, packet 1 (20_000) waits; resuming from where they stand gives the answer of one
    run to the end."""
    s = cls([1_000_000_000, 1_000_000_000], 1 << 20)
    vm = np.array([[0, 1], [1, -2]], dtype=np.int32)
    cost = np.array([[500, 700], [300, 0]], dtype=np.int64)
    size = np.array([1500, 1500])
    out, leg, done, dropped = s.advance(vm, cost, np.array([1_000, 20_000]), size,
                                        np.array([0, 0]), np.array([1_000, 20_000]), 15_000)
    assert done.tolist() == [True, False] and leg.tolist() == [-1, 0]
    assert out.tolist() == [26_200, 20_000]
    out, leg, done, dropped = s.advance(vm[1:], cost[1:], out[1:], size[1:], leg[1:], out[1:],
                                        None)
    assert done.tolist() == [True] and out.tolist() == [37_800]
