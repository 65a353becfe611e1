"""TCP throughput and flow-completion model (docs/whatif.md has the formulas and sources).

Takes plain numbers (RTT in ns, caps in bit/s, buffer sizes in bytes); emits per-flow rates
and completion times. No topology, no engine: the runner feeds it the path the pipeline found.

Per sub-flow (one TCP connection) the steady-state rate is
    min(window limit, loss limit, fair share of every capacity on its path)
* window limit  = 8 * W / RTT, W = min(tcp_win_from_space(rmem_max), wmem_max)
  (Linux defaults: net.ipv4.tcp_rmem max 6 MiB, tcp_wmem max 4 MiB,
  Documentation/networking/ip-sysctl.rst). tcp_win_from_space (include/net/tcp.h), the
  share of the receive buffer advertised as window, depends on the kernel
  (TcpParams.rcv_window_model):
    "adv_win_scale" (Linux < 6.6): space - space >> tcp_adv_win_scale (scale 1: half);
    "scaling_ratio" (Linux >= 6.6, commit dfa2f0483360 "tcp: get rid of
      sysctl_tcp_adv_win_scale"): space * scaling_ratio >> 8, where scaling_ratio =
      (skb->len << 8) / skb->truesize of a full-sized received segment
      (tcp_measure_rcv_mss, net/ipv4/tcp_input.c): MSS / rx_truesize, 1448 / 2304 -> 160/256;
  the send side is W = wmem_max (no documented formula for the payload share of sk_sndbuf);
* loss limit    = 8 * MSS / RTT * sqrt(3 / (2 p))  (Mathis, Semke, Mahdavi, Ott 1997,
  "The macroscopic behavior of the TCP congestion avoidance algorithm", CCR 27(3); C = 1.22);
* capacities    = sender VM egress cap (docs/azure-behaviour.md §5: metered on egress, per VM,
  shared by all its flows), the egress cap of every NVA VM the path crosses (an NVA's
  forwarded traffic leaves through its own NICs, so it counts against its size's cap,
  section 5), the gateway SKU's aggregate throughput (GATEWAY_SKU_BPS). Peering adds no
  bandwidth limit (section 5, FAQ). Shares are max-min fair (progressive filling), the
  steady state TCP flows with equal RTTs converge to.
Caps are wire rates; goodput = rate * MSS / MTU (IP + TCP headers with timestamps).
Finite transfers: handshake (1 RTT) + slow start from the initial window (RFC 6928: 10
segments), cwnd doubling per RTT until it reaches the allocated rate's window, then the rest
at that rate, plus the last byte's one-way delay (RTT / 2).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

from dataplane.errors import InputError

# Linux defaults (Documentation/networking/ip-sysctl.rst: tcp_rmem "4096 131072 6291456",
# tcp_wmem "4096 16384 4194304"; before 6.6 also tcp_adv_win_scale 1 -> window = buffer / 2).
LINUX_RMEM_MAX = 6 * 1024 * 1024
LINUX_WMEM_MAX = 4 * 1024 * 1024
# include/net/tcp.h: TCP_RMEM_TO_WIN_SCALE 8; scaling_ratio is a u8 fraction of 256.
TCP_RMEM_TO_WIN_SCALE = 8
# skb->truesize of one received full-sized segment at MTU 1500 (docs/whatif.md derives it):
# the driver's per-packet receive buffer of 2048 bytes (half a 4 KiB page; kmalloc-2048 for
# a copied 1500-byte frame), which holds the data and the skb_shared_info, plus the struct
# sk_buff, 256 bytes after SKB_DATA_ALIGN on x86_64 (include/linux/skbuff.h SKB_TRUESIZE,
# net/core/skbuff.c __build_skb_around / __alloc_skb). Driver-dependent: a parameter.
RX_TRUESIZE_MTU1500 = 2048 + 256
RCV_WINDOW_MODELS = ("adv_win_scale", "scaling_ratio")
# Azure VM MTU 1500 (Azure docs "Configure MTU for Azure VMs": the default is 1500 bytes);
# MSS 1500 - 20 (IPv4) - 20 (TCP) - 12 (timestamps option, Linux default) = 1448.
DEFAULT_MTU = 1500
DEFAULT_MSS = 1448

# VPN/ExpressRoute gateway aggregate throughput benchmarks, bit/s (Microsoft Learn, "About
# VPN Gateway configuration settings", table "Gateway SKUs by tunnel, connection, and
# throughput"; ExpressRoute "About ExpressRoute virtual network gateways"). VpnGw1-3 take the
# Generation1 figures (the model has no generation field); VpnGw4/5 exist only in Gen2.
GATEWAY_SKU_BPS: dict[str, int] = {
    "basic": 100_000_000,
    "vpngw1": 650_000_000, "vpngw1az": 650_000_000,
    "vpngw2": 1_000_000_000, "vpngw2az": 1_000_000_000,
    "vpngw3": 1_250_000_000, "vpngw3az": 1_250_000_000,
    "vpngw4": 5_000_000_000, "vpngw4az": 5_000_000_000,
    "vpngw5": 10_000_000_000, "vpngw5az": 10_000_000_000,
    "standard": 1_000_000_000, "highperformance": 2_000_000_000,
    "ultraperformance": 10_000_000_000,
    "ergw1az": 1_000_000_000, "ergw2az": 2_000_000_000, "ergw3az": 10_000_000_000,
}


def gateway_cap_bps(sku: str) -> int:
    try:
        return GATEWAY_SKU_BPS[sku.lower()]
    except KeyError:
        raise InputError(f"gateway SKU '{sku}' has no throughput figure; known: "
                         f"{', '.join(sorted(GATEWAY_SKU_BPS))}") from None


@dataclass(frozen=True)
class TcpParams:
    """Per-connection TCP settings; defaults are Linux's (module docstring)."""

    rmem_max: int = LINUX_RMEM_MAX
    wmem_max: int = LINUX_WMEM_MAX
    # How the receiver turns its buffer into advertised window (module docstring). Default
    # "scaling_ratio": Linux >= 6.6, what current Azure Linux images run (Ubuntu 24.04 LTS
    # ships 6.8, Azure Linux 3.0 ships 6.6). "adv_win_scale" for older kernels (Ubuntu
    # 22.04's 5.15).
    rcv_window_model: str = "scaling_ratio"
    tcp_adv_win_scale: int = 1  # "adv_win_scale" model: net.ipv4.tcp_adv_win_scale
    rx_truesize: int = RX_TRUESIZE_MTU1500  # "scaling_ratio" model: bytes per received MSS
    rcv_window_fraction: float | None = None  # explicit share of rmem_max; overrides the model
    mss: int = DEFAULT_MSS
    mtu: int = DEFAULT_MTU
    initial_window: int = 10  # segments, RFC 6928
    loss: float = 0.0  # packet loss probability for the Mathis term (0 = none)
    handshake: bool = True  # count the SYN / SYN-ACK round trip in completion times

    def __post_init__(self) -> None:
        if self.rcv_window_model not in RCV_WINDOW_MODELS:
            raise InputError(f"rcv_window_model '{self.rcv_window_model}' is not one of "
                             f"{', '.join(RCV_WINDOW_MODELS)}")
        if self.rx_truesize <= 0:
            raise InputError("rx_truesize must be positive")

    @property
    def scaling_ratio(self) -> int:
        """tp->scaling_ratio as tcp_measure_rcv_mss sets it: (len << 8) / truesize, >= 1."""
        return max(1, min(255, (self.mss << TCP_RMEM_TO_WIN_SCALE) // self.rx_truesize))

    @property
    def rcv_window_bytes(self) -> int:
        """The largest window the receiver advertises: tcp_win_from_space(rmem_max)."""
        space = self.rmem_max
        if self.rcv_window_fraction is not None:
            return int(space * self.rcv_window_fraction)
        if self.rcv_window_model == "adv_win_scale":
            # Linux < 6.6 include/net/tcp.h tcp_win_from_space
            scale = self.tcp_adv_win_scale
            return space >> -scale if scale <= 0 else space - (space >> scale)
        # "scaling_ratio": Linux >= 6.6 include/net/tcp.h __tcp_win_from_space
        return (space * self.scaling_ratio) >> TCP_RMEM_TO_WIN_SCALE

    @property
    def rcv_fraction(self) -> float:
        """rcv_window_bytes / rmem_max."""
        return self.rcv_window_bytes / self.rmem_max

    @property
    def window_bytes(self) -> int:
        return int(min(self.rcv_window_bytes, self.wmem_max))

    @property
    def efficiency(self) -> float:
        return self.mss / self.mtu

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def window_limit_bps(window_bytes: float, rtt_ns: float) -> float:
    """8 W / RTT: at most one window in flight per round trip."""
    if rtt_ns <= 0:
        return math.inf
    return 8.0 * window_bytes * 1e9 / rtt_ns


def mathis_bps(mss: int, rtt_ns: float, loss: float, c: float = math.sqrt(1.5)) -> float:
    """Mathis et al. 1997: rate = MSS / RTT * C / sqrt(p), C = sqrt(3/2)."""
    if loss <= 0 or rtt_ns <= 0:
        return math.inf
    return 8.0 * mss * 1e9 / rtt_ns * c / math.sqrt(loss)


def flow_limit_bps(params: TcpParams, rtt_ns: float) -> float:
    """The per-connection ceiling that does not depend on other flows."""
    return min(window_limit_bps(params.window_bytes, rtt_ns),
               mathis_bps(params.mss, rtt_ns, params.loss))


def max_min_share(limits: Sequence[float], uses: Sequence[Sequence[str]],
                  capacities: Mapping[str, float]) -> list[float]:
    """Max-min fair rates by progressive filling.

    limits[i]: flow i's own ceiling (inf allowed); uses[i]: the capacity names it crosses;
    capacities: name -> bit/s. Every flow with a finite limit or a capacity ends frozen.
    """
    n = len(limits)
    rate = [0.0] * n
    active = set(range(n))
    left = dict(capacities)
    for i in range(n):
        for name in uses[i]:
            if name not in left:
                raise KeyError(f"flow {i} uses unknown capacity {name!r}")
    while active:
        # the largest equal increment every active flow can take
        inc = math.inf
        for name, cap in left.items():
            users = sum(1 for i in active if name in uses[i])
            if users:
                inc = min(inc, cap / users)
        for i in active:
            inc = min(inc, limits[i] - rate[i])
        if math.isinf(inc):
            for i in active:
                rate[i] = math.inf
            break
        frozen = set()
        for i in active:
            rate[i] += inc
            if rate[i] >= limits[i] * (1 - 1e-12):
                frozen.add(i)
        for name in left:
            users = [i for i in active if name in uses[i]]
            left[name] -= inc * len(users)
            if users and left[name] <= left_tol(capacities[name]):
                frozen.update(users)
        for name in left:
            left[name] = max(left[name], 0.0)
        active -= frozen
    return rate


def left_tol(cap: float) -> float:
    return cap * 1e-12


def completion_time_ns(size_bytes: int, rate_bps: float, rtt_ns: float,
                       params: TcpParams) -> float:
    """Time from the first SYN (if params.handshake) to the last byte at the receiver.

    Slow start sends IW, 2 IW, 4 IW ... segments per round trip until the window reaches
    the steady-state window rate * RTT; the remainder flows at `rate_bps`.
    """
    if size_bytes <= 0:
        return 0.0
    if rate_bps <= 0:
        return math.inf
    rtt = float(rtt_ns)
    t = rtt if params.handshake else 0.0
    target = max(rate_bps * rtt / 1e9 / 8.0, params.mss)  # steady window, bytes
    cwnd = float(params.initial_window * params.mss)
    left = float(size_bytes)
    while cwnd < target:
        chunk = min(cwnd, left)
        left -= chunk
        serial = chunk * 8e9 / rate_bps
        if left <= 0:
            return t + serial + rtt / 2
        t += max(rtt, serial)
        cwnd *= 2
    return t + left * 8e9 / rate_bps + rtt / 2
