"""A forward TCP packet of an idled-out flow re-opens it (engine/reopen.py, assumption
`conntrack-reopen`): its answer names the caveat, in both forms, in any batch split; answers
within the timeout, replies, UDP and a flow's first packet do not. ("Understanding Azure
Firewall TCP session management and idle timeout behavior",
https://learn.microsoft.com/azure/firewall/tcp-session-behavior, "Idle timeout settings":
idle TCP sessions are closed; TCP flags are not read here, so the re-opening is our choice.)"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ipv6_harness import columns
from scapy.layers.inet import IP, TCP, UDP
from scapy.utils import wrpcap
from test_conntrack_expiry import _timed
from test_firewall_nat import _flows, _hub

from dataplane.engine import Emulator
from dataplane.engine.batch import BatchPipeline
from dataplane.engine.compile import build_network
from dataplane.engine.conntrack import IDLE_TIMEOUT_NS
from dataplane.engine.reference import Packet, ReferencePipeline
from dataplane.engine.reopen import REOPEN_CAVEAT

US = 1000  # a capture file holds microseconds
T0 = 1_000_000 * 10**9


def _reopen_named(row: dict) -> bool:
    return any(c.startswith("conntrack-reopen:") for c in row["caveats"])


def test_a_forward_packet_after_the_timeout_carries_the_caveat(make_topology, tmp_path) -> None:
    """app1 -> 8.8.8.8:443 through the hub firewall: the request again 3 minutes later (alive:
    no caveat), then 4 minutes + 1 us after that (expired: re-opens, caveat), its reply passes
    as established; a UDP flow re-opened the same way has no caveat (no handshake to miss).
    Same answers replayed one packet per batch, two and 64; summary counts them."""
    topology = _hub(make_topology)
    out = IP(src="10.1.1.4", dst="8.8.8.8") / TCP(sport=40000, dport=443, flags="A")
    udp = IP(src="10.1.1.4", dst="8.8.8.8") / UDP(sport=40001, dport=1433)
    first = Emulator(topology).send(out, source="app1").row(0)
    back = IP(src="8.8.8.8", dst="203.0.113.10") / TCP(sport=443, dport=first["final_sport"])
    minutes_3 = 3 * 60 * 10**9
    late = minutes_3 + IDLE_TIMEOUT_NS + US
    plan = [(out, 0), (udp, 0), (out, minutes_3), (out, late), (back, late + US),
            (udp, late + 2 * US)]
    packets = []
    for p, t in plan:
        q = p.copy()
        q.time = (T0 + t) / 1e9
        packets.append(q)
    result = Emulator(topology).send(packets, times_ns=[T0 + t for _, t in plan])
    rows = [result.row(i) for i in range(len(plan))]
    assert [r["disposition"] for r in rows] == ["EXITS_INTERNET", "EXITS_INTERNET",
                                                "EXITS_INTERNET", "EXITS_INTERNET",
                                                "DELIVERED", "EXITS_INTERNET"]
    assert [_reopen_named(r) for r in rows] == [False, False, False, True, False, False]
    assert result.caveats()[REOPEN_CAVEAT] == 1
    assert result.summary()["caveats"][REOPEN_CAVEAT] == 1
    assert _reopen_named(result.explain(3))
    wrpcap(str(tmp_path / "in.pcap"), packets)
    for size in (1, 2, 64):
        replayed = Emulator(topology).replay(tmp_path / "in.pcap", auto_map=False, batch=size)
        assert [_reopen_named(replayed.row(i)) for i in range(len(plan))] == [
            False, False, False, True, False, False], size


def test_the_caveat_text_says_what_was_chosen() -> None:
    assert REOPEN_CAVEAT.startswith("conntrack-reopen: ")
    for words in ("re-opened", "TCP flags are not read", "non-SYN", "tcp-session-behavior"):
        assert words in REOPEN_CAVEAT, words


def _both(net, pkts, gaps, split, timeout_ns) -> tuple[list[bool], list[bool]]:
    """(reference, batch) re-open flags of `pkts` sent at the running sum of `gaps` (ns), the
    batch form in chunks of `split`."""
    t, packets = 0, []
    for (s, d, p, sp, dp, k), gap in zip(pkts, gaps, strict=True):
        t += gap
        packets.append(Packet(net.ip_nic.get(s, -1) if k == 0 else k - 1, s, d, p, sp, dp, 100,
                              t))
    walks = ReferencePipeline(net, idle_timeout_ns=timeout_ns).run(packets)
    bp = BatchPipeline(net, idle_timeout_ns=timeout_ns)
    got: list[bool] = []
    for lo in range(0, len(packets), split):
        bp.run(columns(packets[lo:lo + split]))
        got += bp.reopened.tolist()
    return [w.reopens for w in walks], got


def test_both_forms_flag_the_reopening_rows(make_topology) -> None:
    """Timeout 10 ns: app1's TCP flow to 8.8.8.8 at 0, 5 (alive), 20 (re-opens), its reply at
    25 (alive: not forward), the request at 40 (re-opens again); a UDP flow at 0 and 50 (no
    caveat); every batch split."""
    net = build_network(_hub(make_topology))
    tcp, udp = _flows(net)[2], _flows(net)[3]
    reply = (tcp[1], tcp[0], 6, tcp[4], tcp[3], 0)  # to the original tuple (captured at the VM)
    pkts = [tcp, udp, tcp, tcp, reply, tcp, udp]
    gaps = [0, 0, 5, 15, 5, 15, 10]
    expected = [False, False, False, True, False, True, False]
    for split in range(1, len(pkts) + 1):
        assert _both(net, pkts, gaps, split, 10) == (expected, expected), split


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_reference_equals_batch_on_which_rows_reopen(make_topology, data) -> None:
    """The hub's flows and replies at random gaps with a timeout of a few ns, any batch split:
    the batch form flags exactly the rows the reference's commit finds re-opening."""
    net = build_network(_hub(make_topology))
    pkts, gaps, split, timeout = data.draw(_timed(_flows(net)))
    ref, batch = _both(net, pkts, gaps, split, timeout)
    assert batch == ref


def test_the_idle_assumption_says_the_sources_disagree_and_which_we_chose(make_topology) -> None:
    """Printed with every run (summary.json assumptions): the east-west idle timeout is
    4 minutes, 5 minutes without RST, or none depending on Microsoft's version; 4 chosen."""
    (idle,) = [a for a in Emulator(_hub(make_topology)).send(
        IP(src="10.1.1.4", dst="8.8.8.8") / TCP(sport=1, dport=443), source="app1")
        .summary()["assumptions"] if a.startswith("conntrack-idle:")]
    for words in ("east-west", "disagree", "4 minutes", "5 minutes without a TCP RST",
                  "no idle timeout is enforced", "we chose 4 minutes", "conntrack-reopen"):
        assert words in idle, words


def test_replay_prints_and_counts_the_caveat(tmp_path, capsys) -> None:
    """`dataplane replay`: summary.json's caveats count the re-opening packet and the terminal
    prints the caveat; the same flow 3 minutes apart re-opens nothing."""
    import csv
    import json

    from test_firewall_nat import HUB

    from dataplane.cli import main

    topo = tmp_path / "hub.yaml"
    topo.write_text(HUB.replace("    SNAT\n", ""))
    out = IP(src="10.1.1.4", dst="8.8.8.8") / TCP(sport=40000, dport=443, flags="A")
    for gap_s, expected in ((300, 1), (180, 0)):
        packets = []
        for t in (0, gap_s):
            q = out.copy()
            q.time = 1_000_000 + t
            packets.append(q)
        wrpcap(str(tmp_path / "in.pcap"), packets)
        assert main(["replay", str(topo), str(tmp_path / "in.pcap"), "--out",
                     str(tmp_path / "out"), "--no-auto-map", "--csv"]) == 0
        summary = json.loads((tmp_path / "out" / "summary.json").read_text())
        counted = [c["packets"] for c in summary["caveats"] if c["key"] == "conntrack-reopen"]
        printed = "caveat conntrack-reopen (1 packet(s))" in capsys.readouterr().out
        assert (counted, printed) == (([1], True) if expected else ([], False)), gap_s
        with (tmp_path / "out" / "packets.csv").open() as f:  # the re-opening row names it
            cells = ["conntrack-reopen" in row["caveats"].split(";") for row in csv.DictReader(f)]
        assert cells == [False, bool(expected)], gap_s
