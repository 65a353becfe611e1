"""The TCP throughput model on cases with known answers (docs/whatif.md)."""

from __future__ import annotations

import math

import pytest

from dataplane.whatif.tcp import (
    LINUX_RMEM_MAX,
    LINUX_WMEM_MAX,
    RX_TRUESIZE_MTU1500,
    TcpParams,
    completion_time_ns,
    flow_limit_bps,
    gateway_cap_bps,
    mathis_bps,
    max_min_share,
    window_limit_bps,
)

MS = 1_000_000


def test_linux_default_window_is_scaling_ratio_of_rmem_max():
    # Default model: Linux >= 6.6 (Ubuntu 24.04's 6.8). truesize of a received MSS at MTU 1500:
    # 2048-byte receive buffer + 256-byte struct sk_buff = 2304. scaling_ratio =
    # (1448 << 8) // 2304 = 370688 // 2304 = 160 (160.89 truncated, as the kernel's do_div).
    # Window = (6291456 * 160) >> 8 = 3932160 B (3.75 MiB = 0.625 * rmem_max) < wmem_max 4 MiB.
    p = TcpParams()
    assert (LINUX_RMEM_MAX, LINUX_WMEM_MAX) == (6291456, 4194304)
    assert RX_TRUESIZE_MTU1500 == 2304
    assert p.rcv_window_model == "scaling_ratio"
    assert p.scaling_ratio == 160
    assert p.window_bytes == 3932160
    assert p.rcv_fraction == 0.625
    assert TcpParams(rmem_max=64 << 20, wmem_max=4 << 20).window_bytes == 4 << 20


def test_pre_6_6_window_is_adv_win_scale():
    # Linux < 6.6: window = space - space >> tcp_adv_win_scale; scale 1 (default) -> half,
    # scale 2 -> three quarters, scale -1 -> space >> 1 (ip-sysctl.rst: "bytes/2^-scale").
    p = TcpParams(rcv_window_model="adv_win_scale")
    assert p.window_bytes == 3 * 1024 * 1024  # min(6 MiB / 2, 4 MiB)
    q = TcpParams(rmem_max=1 << 20, rcv_window_model="adv_win_scale", tcp_adv_win_scale=2)
    assert q.window_bytes == (1 << 20) - (1 << 18)
    r = TcpParams(rmem_max=1 << 20, rcv_window_model="adv_win_scale", tcp_adv_win_scale=-1)
    assert r.window_bytes == 1 << 19


def test_scaling_ratio_follows_truesize_and_overrides():
    # a driver with 4 KiB receive buffers: truesize 4096 + 256, ratio (1448 << 8) // 4352 = 85
    p = TcpParams(rmem_max=1 << 20, rx_truesize=4096 + 256)
    assert p.scaling_ratio == 85
    assert p.window_bytes == ((1 << 20) * 85) >> 8
    # an explicit fraction wins over either model
    assert TcpParams(rcv_window_fraction=0.5).window_bytes == 3 * 1024 * 1024
    with pytest.raises(Exception, match="rcv_window_model"):
        TcpParams(rcv_window_model="bsd")


def test_bdp_limited_flow():
    # 3 MiB window over 100 ms RTT: 8 * 3145728 / 0.1 s = 251.66 Mbit/s
    assert window_limit_bps(3 * 1024 * 1024, 100 * MS) == pytest.approx(251_658_240)
    # the default window (3932160 B) over 100 ms: 8 * 3932160 / 0.1 s = 314.57 Mbit/s
    assert flow_limit_bps(TcpParams(), 100 * MS) == pytest.approx(314_572_800)
    # the flow alone, caps far above: its rate is the window limit
    lim = flow_limit_bps(TcpParams(), 100 * MS)
    assert max_min_share([lim], [["vm:a"]], {"vm:a": 12.5e9}) == [pytest.approx(lim)]


def test_cap_limited_flow():
    # same region, 0.2 ms RTT: window limit 125 Gbit/s; a D2s_v3 (1 Gbit/s) caps it
    lim = flow_limit_bps(TcpParams(), 0.2 * MS)
    assert lim > 100e9
    assert max_min_share([lim], [["vm:a"]], {"vm:a": 1e9}) == [pytest.approx(1e9)]


def test_parallel_flows_share_the_sender_cap():
    lim = window_limit_bps(3 << 20, 84 * MS)  # ~300 Mbit/s each
    rates = max_min_share([lim] * 4, [["vm:a"]] * 4, {"vm:a": 1e9})
    assert sum(rates) == pytest.approx(1e9)
    assert rates == [pytest.approx(250e6)] * 4
    two = max_min_share([lim] * 2, [["vm:a"]] * 2, {"vm:a": 1e9})
    assert two == [pytest.approx(lim)] * 2  # 2 x 300 < 1000: still window-limited


def test_nva_bottleneck():
    # four senders (12.5 Gbit/s each) through one NVA with a 2 Gbit/s egress cap
    caps = {"vm:s1": 12.5e9, "vm:s2": 12.5e9, "vm:s3": 12.5e9, "vm:s4": 12.5e9, "vm:nva": 2e9}
    uses = [[f"vm:s{i}", "vm:nva"] for i in range(1, 5)]
    rates = max_min_share([math.inf] * 4, uses, caps)
    assert rates == [pytest.approx(500e6)] * 4


def test_max_min_gives_leftover_to_unconstrained_flows():
    # flow 0 limited to 100 Mbit/s by its window; flow 1 takes the rest of the 1 Gbit/s cap
    rates = max_min_share([100e6, math.inf], [["vm:a"], ["vm:a"]], {"vm:a": 1e9})
    assert rates == [pytest.approx(100e6), pytest.approx(900e6)]


def test_mathis_loss_term():
    # MSS 1448 B, RTT 100 ms, p = 1e-4: 1448*8/0.1 * 1.2247 / 0.01 = 14.19 Mbit/s
    assert mathis_bps(1448, 100 * MS, 1e-4) == pytest.approx(
        1448 * 8 / 0.1 * math.sqrt(1.5) / 0.01)
    assert mathis_bps(1448, 100 * MS, 0) == math.inf
    p = TcpParams(loss=1e-4)
    assert flow_limit_bps(p, 100 * MS) == pytest.approx(mathis_bps(1448, 100 * MS, 1e-4))


def test_completion_time_within_initial_window():
    # 10 segments fit the initial window: handshake RTT + serialisation + RTT/2
    p = TcpParams()
    size = 10 * p.mss
    t = completion_time_ns(size, 1e9, 100 * MS, p)
    assert t == pytest.approx(100 * MS + size * 8 + 50 * MS)
    assert completion_time_ns(size, 1e9, 100 * MS, TcpParams(handshake=False)) == \
        pytest.approx(size * 8 + 50 * MS)


def test_completion_time_slow_start_then_rate():
    p = TcpParams(handshake=False)
    rtt = 100 * MS
    rate = 8 * p.mss * 80 / 0.1  # steady window = 80 segments
    # rounds of 10, 20, 40 segments (70) then the rest at the rate
    size = 1000 * p.mss
    expected = 3 * rtt + (size - 70 * p.mss) * 8e9 / rate + rtt / 2
    assert completion_time_ns(size, rate, rtt, p) == pytest.approx(expected)
    # long transfers approach size / rate
    big = 10**9
    assert completion_time_ns(big, 1e9, 1 * MS, p) == pytest.approx(8e9, rel=0.01)


def test_gateway_skus():
    assert gateway_cap_bps("VpnGw1") == 650_000_000
    assert gateway_cap_bps("vpngw2") == 1_000_000_000
    with pytest.raises(Exception, match="no throughput figure"):
        gateway_cap_bps("VpnGw9")
