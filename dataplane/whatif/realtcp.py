"""The TCP throughput model (whatif/tcp.py) against real Linux TCP (docs/whatif.md).

Takes cases (VM cap, RTT, buffer maxima, parallel connections); emits one row per case with the
model's goodput and the goodput iperf3 measured between two network namespaces:

    sender ns                                       receiver ns
    iperf3 -c -> tun "wis0" --fd--> relay --fd--> tun "wir0" -> iperf3 -s
                 (tbf at the cap)    (one-way delay RTT/2 each way)

* The relay is a user-space delay line: one process that holds both TUN file descriptors (it
  opens each one inside its namespace with setns(2)), reads IP packets from one side and writes
  them to the other after RTT/2. Packets keep their order (a FIFO with one constant delay).
  This kernel has no netem, and a TUN relay needs nothing beyond /dev/net/tun.
* The shaper is `tc qdisc tbf` at the cap on the sender's TUN device, which is the VM's egress
  (docs/azure-behaviour.md §5: the cap is metered on egress). tbf counts IP bytes, the model's wire
  bytes (MTU 1500, MSS 1448). Without tbf the relay shapes instead: a FIFO link at the cap
  (virtual clock, departure = max(arrival, previous departure) + size / cap) with a drop-tail
  queue of one bandwidth-delay product.
* Each namespace gets the case's `net.ipv4.tcp_rmem` / `tcp_wmem` maxima (the model's
  rmem_max / wmem_max) and CUBIC, Linux's default congestion control, set explicitly because
  a new namespace inherits the host's choices.
* iperf3 runs for `duration` s. The steady-state goodput is the bytes the *receiver* reports in
  the intervals after `warmup` s, divided by their time. The first seconds hold slow start and
  receive-buffer autotuning.

Teardown always runs, on failure too. The relay process is terminated and the namespaces are
deleted (the TUN devices vanish with the relay's file descriptors). `unavailable()` gives the
reason the comparison cannot run here (not root, no `ip netns`, no /dev/net/tun, no iperf3),
or None.

CLI: `python -m dataplane.whatif.realtcp [--shaper auto|tbf|relay]` runs the default cases
and prints the table.
The relay runs as `python realtcp.py _relay ...` (this file by path, so it imports nothing
from the package).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import math
import os
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

MIB = 1024 * 1024
KIB = 1024

# Addresses exist only inside the two namespaces created here (point-to-point TUN links).
SENDER_ADDR = "10.201.0.1"
RECEIVER_ADDR = "10.201.0.2"
SENDER_DEV = "wis0"
RECEIVER_DEV = "wir0"
IPERF_PORT = 5299

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000


@dataclass(frozen=True)
class Case:
    """One comparison: a sender VM cap, a path RTT, the buffer maxima, parallel connections."""

    name: str
    cap_bps: float
    rtt_ms: float
    rmem_max: int = 6 * MIB  # Linux default tcp_rmem max (tcp.LINUX_RMEM_MAX)
    wmem_max: int = 4 * MIB  # Linux default tcp_wmem max (tcp.LINUX_WMEM_MAX)
    parallel: int = 1
    steady: bool = True  # a steady-state case: asserted within the tolerance
    note: str = ""


# Caps of 50-100 Mbit/s and RTTs of 20-80 ms: the Python relay sustains these rates with
# room to spare on 2 cores (see docs/whatif.md), and the RTTs are the regional-to-global
# peering range. Two window-limited cases with the receive buffer binding (W = rmem_max / 2
# below the BDP), one with the send buffer binding (W = wmem_max), two cap-limited ones (Linux
# default buffers: W = 3.75 MiB, far above the BDP), and the shared cap of the docs' "four
# windows on one sender" case, scaled down.
DEFAULT_CASES: tuple[Case, ...] = (
    Case("bdp 512KiB/40ms", 100e6, 40.0, rmem_max=512 * KIB,
         note="window-limited: W = 256 KiB"),
    Case("bdp 1MiB/80ms", 100e6, 80.0, rmem_max=1 * MIB,
         note="window-limited: W = 512 KiB"),
    Case("wmem 512KiB/80ms", 100e6, 80.0, wmem_max=512 * KIB,
         note="window-limited by the send buffer: W = 512 KiB"),
    Case("cap 50M/20ms", 50e6, 20.0, note="cap-limited, Linux default buffers"),
    Case("cap 100M/80ms", 100e6, 80.0, note="cap-limited, Linux default buffers"),
    Case("4 flows share 100M/40ms", 100e6, 40.0, parallel=4, rmem_max=1 * MIB,
         note="4 x W = 512 KiB > cap: max-min share of the cap"),
)


def model_goodput_bps(case: Case) -> tuple[float, str]:
    """The model's steady-state goodput for the case (all connections) and what binds.

    The same arithmetic as runner.metric_throughput: per-connection ceiling (window, loss) as a
    wire rate, max-min shares of the sender's cap, goodput = wire * MSS / MTU.
    """
    from dataplane.whatif.tcp import TcpParams, flow_limit_bps, max_min_share

    params = TcpParams(rmem_max=case.rmem_max, wmem_max=case.wmem_max)
    rtt_ns = case.rtt_ms * 1e6
    lim = flow_limit_bps(params, rtt_ns) / params.efficiency
    n = case.parallel
    rates = max_min_share([lim] * n, [["vm:sender"]] * n, {"vm:sender": case.cap_bps})
    kind = "window" if rates[0] >= lim * (1 - 1e-9) else "cap"
    return sum(rates) * params.efficiency, kind


def unavailable() -> str | None:
    """Why the real-TCP comparison cannot run on this machine, or None when it can."""
    if not sys.platform.startswith("linux"):
        return "needs Linux network namespaces"
    if os.geteuid() != 0:
        return "needs root (network namespaces, TUN devices, tc)"
    if shutil.which("ip") is None:
        return "`ip` (iproute2) is not installed"
    if shutil.which("iperf3") is None:
        return "iperf3 is not installed (apt-get install iperf3)"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing"
    name = f"wiprobe{os.getpid()}"
    r = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if r.returncode != 0:
        return f"`ip netns add` failed: {r.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return None


# ---------------------------------------------------------------- the relay (child process)

def _setns(path: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({path}): {os.strerror(err)}")
    finally:
        os.close(fd)


def _open_tun(netns: str, dev: str) -> int:
    """A TUN device named `dev` created inside network namespace `netns`; returns its fd."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        _setns(f"/var/run/netns/{netns}")
        fd = os.open("/dev/net/tun", os.O_RDWR)
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", dev.encode(), IFF_TUN | IFF_NO_PI))
    finally:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.setns(home, CLONE_NEWNET)
        os.close(home)
    os.set_blocking(fd, False)
    return fd


def relay(ns_a: str, ns_b: str, delay_ns: int, shape_bps: float = 0.0,
          queue_bytes: int = 0) -> None:
    """Delay line between TUN devices in two namespaces; runs until SIGTERM.

    a -> b (data): optionally a FIFO link at `shape_bps` with a drop-tail queue of
    `queue_bytes`, then `delay_ns`. b -> a (ACKs): `delay_ns`.
    """
    # Real-time priority keeps the delay line on time while iperf3 and the two TCP stacks
    # share the cores (without it, a quarter of the packets left > 1 ms late on 2 cores).
    prio = "fifo"
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    except (OSError, AttributeError):
        prio = "nice"
        try:
            os.nice(-10)
        except OSError:
            prio = "normal"
    fa = _open_tun(ns_a, SENDER_DEV)
    fb = _open_tun(ns_b, RECEIVER_DEV)
    stop = False

    def _term(*_: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGINT, _term)
    print("ready", flush=True)
    fwd: deque[tuple[int, bytes]] = deque()  # (release time ns, packet) for a -> b
    rev: deque[tuple[int, bytes]] = deque()
    out = {fa: (fwd, fb), fb: (rev, fa)}
    clock = time.monotonic_ns
    last_depart = 0
    queue_ns = queue_bytes * 8e9 / shape_bps if shape_bps else 0.0
    stats = {"fwd": 0, "rev": 0, "dropped": 0, "max_lag_us": 0, "late_1ms": 0, "lag_sum_us": 0}
    while not stop:
        now = clock()
        heads = [q[0][0] for q in (fwd, rev) if q]
        timeout = max(0.0, (min(heads) - now) / 1e9) if heads else 0.5
        try:
            ready, _, _ = select.select([fa, fb], [], [], timeout)
        except InterruptedError:
            continue
        now = clock()
        for fd in ready:
            q, _ = out[fd]
            for _ in range(512):
                try:
                    pkt = os.read(fd, 65536)
                except BlockingIOError:
                    break
                except OSError:
                    stop = True
                    break
                if fd == fa and shape_bps:
                    depart = max(now, last_depart) + len(pkt) * 8e9 / shape_bps
                    if depart - now > queue_ns:
                        stats["dropped"] += 1
                        continue
                    last_depart = depart
                    q.append((int(depart) + delay_ns, pkt))
                else:
                    q.append((now + delay_ns, pkt))
        now = clock()
        for q, dst, key in ((fwd, fb, "fwd"), (rev, fa, "rev")):
            while q and q[0][0] <= now:
                due, pkt = q.popleft()
                lag = (now - due) // 1000
                stats["lag_sum_us"] += lag
                stats["late_1ms"] += lag > 1000
                stats["max_lag_us"] = max(stats["max_lag_us"], lag)
                with contextlib.suppress(OSError):
                    os.write(dst, pkt)
                stats[key] += 1
    stats["cpu_s"] = round(time.process_time(), 2)
    stats["priority"] = prio
    print(json.dumps(stats), flush=True)
    os.close(fa)
    os.close(fb)


# ---------------------------------------------------------------- the parent side

def _run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(list(cmd), capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip() or r.stdout.strip()}")
    return r


def tbf_available() -> bool:
    """Whether `tc qdisc ... tbf` works (tested on a throwaway TUN device in a namespace)."""
    ns = f"witbf{os.getpid()}"
    _run("ip", "netns", "add", ns)
    try:
        _run("ip", "netns", "exec", ns, "ip", "tuntap", "add", "dev", "witbf0", "mode", "tun")
        r = _run("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "witbf0", "root",
                 "tbf", "rate", "10mbit", "burst", "16kb", "limit", "100kb", check=False)
        return r.returncode == 0
    finally:
        _run("ip", "netns", "del", ns, check=False)


@dataclass
class Measured:
    goodput_bps: float  # receiver-side, steady-state intervals
    mean_rtt_ms: float  # sender's smoothed RTT averaged over the steady-state intervals
    retransmits: int
    relay: dict[str, Any] = field(default_factory=dict)
    per_flow_bps: list[float] = field(default_factory=list)
    # From `ss -ti` on the sender, sampled each second of the steady state (median per
    # connection, mean over connections): the window the receiver advertised (snd_wnd) and
    # the data in flight (unacked segments * MSS), bytes.
    adv_window_bytes: float = math.nan
    inflight_bytes: float = math.nan


class Link:
    """Two namespaces joined by the relay; a context manager that always tears down."""

    def __init__(self, case: Case, shaper: str = "auto") -> None:
        self.case = case
        tag = f"{os.getpid()}x{time.monotonic_ns() % 100000}"
        self.ns_s = f"wisnd{tag}"
        self.ns_r = f"wircv{tag}"
        self.shaper = ("tbf" if tbf_available() else "relay") if shaper == "auto" else shaper
        self.proc: subprocess.Popen[str] | None = None
        self.relay_stats: dict[str, Any] = {}
        self._made: list[str] = []

    def __enter__(self) -> Link:
        try:
            self._setup()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _ns(self, ns: str, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _run("ip", "netns", "exec", ns, *cmd, check=check)

    def _setup(self) -> None:
        c = self.case
        for ns in (self.ns_s, self.ns_r):
            _run("ip", "netns", "add", ns)
            self._made.append(ns)
            self._ns(ns, "ip", "link", "set", "lo", "up")
            for key, val in (("net.ipv4.tcp_rmem", f"4096 131072 {c.rmem_max}"),
                             ("net.ipv4.tcp_wmem", f"4096 16384 {c.wmem_max}"),
                             ("net.ipv4.tcp_no_metrics_save", "1")):
                self._ns(ns, "sysctl", "-q", "-w", f"{key}={val}")
        one_way = int(c.rtt_ms * 1e6 / 2)
        bdp = int(c.cap_bps * c.rtt_ms / 1e3 / 8)
        args = [sys.executable, os.path.abspath(__file__), "_relay", self.ns_s, self.ns_r,
                str(one_way)]
        if self.shaper == "relay":
            args += [str(c.cap_bps), str(max(bdp, 64 * KIB))]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise RuntimeError(f"relay did not start: {line} {err.strip()}")
        for ns, dev, me, peer in ((self.ns_s, SENDER_DEV, SENDER_ADDR, RECEIVER_ADDR),
                                  (self.ns_r, RECEIVER_DEV, RECEIVER_ADDR, SENDER_ADDR)):
            self._ns(ns, "ip", "link", "set", dev, "mtu", "1500", "txqueuelen", "10000", "up")
            self._ns(ns, "ip", "addr", "add", me, "peer", f"{peer}/32", "dev", dev)
        if self.shaper == "tbf":
            # burst: 1 ms at the cap (at least two packets); limit: one BDP of queue
            burst = max(int(c.cap_bps / 8 / 1000), 2 * 1500)
            limit = max(bdp, 64 * KIB)
            self._ns(self.ns_s, "tc", "qdisc", "add", "dev", SENDER_DEV, "root", "tbf",
                     "rate", f"{int(c.cap_bps)}bit", "burst", str(burst), "limit", str(limit))

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    out, _ = self.proc.communicate(timeout=5)
                    last = (out or "").strip().splitlines()
                    if last:
                        with contextlib.suppress(ValueError):
                            self.relay_stats = json.loads(last[-1])
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.communicate()
            self.proc = None
        while self._made:
            _run("ip", "netns", "del", self._made.pop(), check=False)

    def iperf(self, duration: float, warmup: float) -> Measured:
        """iperf3 from the sender namespace to the receiver; steady-state receiver goodput."""
        c = self.case
        server = subprocess.Popen(
            ["ip", "netns", "exec", self.ns_r, "iperf3", "-s", "-1", "-J", "-B", RECEIVER_ADDR,
             "-p", str(IPERF_PORT)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        samples: list[list[tuple[int, int]]] = []
        done = threading.Event()

        def sample() -> None:
            if done.wait(warmup + 0.5):
                return
            while True:
                samples.append(self.sender_windows())
                if done.wait(1.0):
                    return

        sampler = threading.Thread(target=sample, daemon=True)
        try:
            client = None
            sampler.start()
            for _ in range(50):
                client = self._ns(
                    self.ns_s, "iperf3", "-c", RECEIVER_ADDR, "-p", str(IPERF_PORT),
                    "-t", str(duration), "-i", "1", "-J", "-P", str(c.parallel),
                    "-C", "cubic", check=False)
                if client.returncode == 0 or "refused" not in client.stdout + client.stderr:
                    break
                time.sleep(0.1)
            srv_out, srv_err = server.communicate(timeout=duration + 15)
        finally:
            done.set()
            sampler.join(timeout=10)
            if server.poll() is None:
                server.kill()
                server.communicate()
        assert client is not None
        if client.returncode != 0:
            raise RuntimeError(f"iperf3 client failed: {client.stdout[-500:]} {client.stderr}")
        m = _parse(json.loads(srv_out), json.loads(client.stdout), warmup)
        conns = list(zip(*[x for x in samples if x], strict=False))
        if conns:
            m.adv_window_bytes = statistics.fmean(
                statistics.median(w for w, _ in c) for c in conns)
            m.inflight_bytes = statistics.fmean(
                statistics.median(f for _, f in c) for c in conns)
        return m

    def sender_windows(self) -> list[tuple[int, int]]:
        """(advertised window, bytes in flight) of each data connection of the sender."""
        out = self._ns(self.ns_s, "ss", "-tin", "state", "established", "dst", RECEIVER_ADDR,
                       check=False).stdout
        got = []
        for line in out.splitlines():
            f = {k: int(v) for k, v in re.findall(r"\b(\w+):(\d+)\b(?![./])", line)}
            if f.get("bytes_acked", 0) > 1_000_000:  # not iperf3's control connection
                got.append((f.get("snd_wnd", 0), f.get("unacked", 0) * f.get("mss", 0)))
        return sorted(got)


def _parse(srv: dict[str, Any], cli: dict[str, Any], warmup: float) -> Measured:
    steady = [iv for iv in srv["intervals"] if iv["sum"]["start"] >= warmup - 1e-6]
    if not steady:
        raise RuntimeError("iperf3 reported no interval after the warm-up")
    secs = sum(iv["sum"]["seconds"] for iv in steady)
    good = sum(iv["sum"]["bytes"] for iv in steady) * 8 / secs
    nflows = len(steady[0]["streams"])
    per_flow = [sum(iv["streams"][k]["bytes"] for iv in steady) * 8 / secs
                for k in range(nflows)]
    rtts = [st["rtt"] for iv in cli["intervals"] if iv["sum"]["start"] >= warmup - 1e-6
            for st in iv["streams"] if "rtt" in st]
    retr = sum(st["sender"].get("retransmits", 0) for st in cli["end"]["streams"])
    return Measured(good, (sum(rtts) / len(rtts) / 1000) if rtts else math.nan, retr,
                    per_flow_bps=per_flow)


@dataclass
class Row:
    case: Case
    model_bps: float
    limit: str
    measured: Measured
    shaper: str

    @property
    def ratio(self) -> float:
        return self.measured.goodput_bps / self.model_bps

    @property
    def window_fraction(self) -> float:
        """Advertised window / rmem_max (the model: MSS/truesize = 0.625 on Linux >= 6.6)."""
        return self.measured.adv_window_bytes / self.case.rmem_max

    @property
    def model_window_bytes(self) -> int:
        from dataplane.whatif.tcp import TcpParams

        return TcpParams(rmem_max=self.case.rmem_max, wmem_max=self.case.wmem_max).window_bytes

    @property
    def inflight_fraction(self) -> float:
        """Bytes really in flight / the model's window W."""
        return self.measured.inflight_bytes / self.model_window_bytes

    @property
    def inflight_bps(self) -> float:
        """8 W / RTT (the model's formula) with W = the bytes really in flight."""
        return self.measured.inflight_bytes * 8e3 / self.case.rtt_ms

    def agrees(self, tol: float) -> bool:
        return abs(self.ratio - 1.0) <= tol


def compare(cases: tuple[Case, ...] = DEFAULT_CASES, duration: float = 8.0, warmup: float = 3.0,
            shaper: str = "auto") -> list[Row]:
    rows = []
    for case in cases:
        model, limit = model_goodput_bps(case)
        with Link(case, shaper) as link:
            m = link.iperf(duration, warmup)
        m.relay = link.relay_stats
        rows.append(Row(case, model, limit, m, link.shaper))
    return rows


def table(rows: list[Row]) -> str:
    head = ("| case | cap Mbit/s | RTT ms | rmem/wmem max | flows | model Mbit/s (binds) | "
            "measured Mbit/s | measured/model | mean sRTT ms | retransmits | "
            "advertised window (/ rmem_max) | in flight (/ model W) |")
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        c, m = r.case, r.measured
        lines.append(
            f"| {c.name} | {c.cap_bps / 1e6:g} | {c.rtt_ms:g} | "
            f"{_size(c.rmem_max)}/{_size(c.wmem_max)} | {c.parallel} | "
            f"{r.model_bps / 1e6:.1f} ({r.limit}) | {m.goodput_bps / 1e6:.1f} | "
            f"{r.ratio:.3f} | {m.mean_rtt_ms:.1f} | {m.retransmits} | "
            f"{_adv(r)} | {_inflight(r)} |")
    return "\n".join(lines)


def _adv(r: Row) -> str:
    w = r.measured.adv_window_bytes
    if math.isnan(w):
        return "-"
    return f"{w / KIB:.0f} KiB ({r.window_fraction:.3f})"


def _inflight(r: Row) -> str:
    w = r.measured.inflight_bytes
    if math.isnan(w):
        return "-"
    return f"{w / KIB:.0f} KiB ({r.inflight_fraction:.3f})"


def _size(n: int) -> str:
    return f"{n // MIB}MiB" if n % MIB == 0 else f"{n // KIB}KiB"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_relay":  # the child process started by Link
        ns_a, ns_b, delay = argv[1], argv[2], int(argv[3])
        shape = float(argv[4]) if len(argv) > 4 else 0.0
        queue = int(argv[5]) if len(argv) > 5 else 0
        relay(ns_a, ns_b, delay, shape, queue)
        return 0
    import argparse

    ap = argparse.ArgumentParser(prog="python -m dataplane.whatif.realtcp",
                                 description="The TCP throughput model against real TCP.")
    ap.add_argument("--shaper", choices=("auto", "tbf", "relay"), default="auto",
                    help="where the cap is enforced (auto: tbf when the kernel has it)")
    ap.add_argument("--duration", type=float, default=8.0, help="iperf3 seconds per case")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds left out of the mean")
    args = ap.parse_args(argv)
    reason = unavailable()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    rows = compare(duration=args.duration, warmup=args.warmup, shaper=args.shaper)
    print(f"shaper: {rows[0].shaper}, kernel {os.uname().release}")
    print(table(rows))
    for r in rows:
        print(f"{r.case.name}: per-flow Mbit/s "
              f"{[round(x / 1e6, 1) for x in r.measured.per_flow_bps]}, relay {r.measured.relay}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
