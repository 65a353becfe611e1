"""Explanations and separate send calls see the flow state the rows saw (issue 11 leftovers
1 and 4; engine/emulator.py `explain_row`, `_flows_before`, assumption engine-clock):
the explain rebuild keeps each entry's age (conntrack.py conntrack-idle: a flow idle more than
4 minutes, "Understanding Azure Firewall TCP session management and idle timeout behavior",
https://learn.microsoft.com/azure/firewall/tcp-session-behavior, "Idle timeout settings")
and the SNAT port pool it holds (stages/firewall_nat.py firewall-snat-port), so an expired
reply and an exhausted row explain with their own answer; one capture clock runs across
send calls, so a reply sent in a later call after the idle timeout is a new flow."""

from __future__ import annotations

from scapy.layers.inet import IP, TCP
from test_firewall_nat import FW_PUBLIC, _hub
from test_firewall_nat_exhaustion import _same_pool_sports

from dataplane.engine import Emulator
from dataplane.engine.compile import build_network
from dataplane.engine.conntrack import IDLE_TIMEOUT_NS
from dataplane.engine.stages import firewall_nat

OUT = IP(src="10.1.1.4", dst="8.8.8.8") / TCP(sport=40000, dport=443)


def _denied(sport: int) -> str:
    """The label of the reply to the firewall's public address:`sport` after its flow idled
    out (stages/gateway.py expired-reply-at-firewall): the default deny, saying why."""
    return (f"firewall fw/default-deny (the reply of the flow fw translated to {FW_PUBLIC}:"
            f"{sport}, after the flow idled out (conntrack-idle: no state after 4 idle "
            f"minutes): a new flow no DNAT rule matches)")


def _back(sport: int) -> IP:
    return IP(src="8.8.8.8", dst=FW_PUBLIC) / TCP(sport=443, dport=sport)


def _agree(result, i: int) -> dict:
    """Row i's explanation, asserting it decides what the row decided."""
    row, said = result.row(i), result.explain(i)
    assert said["decision"] == row["disposition"], i
    return said


def test_explain_of_an_expired_reply_agrees_with_the_row(make_topology) -> None:
    """Out, a reply at exactly the timeout (alive), a reply 1 ns past the timeout after that
    touch (expired: a new flow to the firewall's public address, default deny): each row's
    explanation decides the same (the rebuild used to keep every entry forever)."""
    emu = Emulator(_hub(make_topology))
    sport = emu.send(OUT, source="app1").row(0)["final_sport"]
    emu.reset()
    back = _back(sport)
    result = emu.send([OUT, back, back], times_ns=[0, IDLE_TIMEOUT_NS, 2 * IDLE_TIMEOUT_NS + 1])
    assert [r["disposition"] for r in result.rows()] == ["EXITS_INTERNET", "DELIVERED",
                                                         "FIREWALL_DENIED"]
    assert result.row(2)["deciding"] == _denied(sport)
    for i in range(3):
        _agree(result, i)
    first, second = result.explain(1)["hops"][:2]  # enters at the firewall, by its session
    assert (first["step"], first["kind"], second["kind"]) == ("ingress", "Internet", "un-SNAT")
    assert [(h["kind"], h["result"]) for h in result.explain(2)["hops"]] == [
        ("DNAT (firewall)", "FirewallDenied")]  # a new flow: the firewall's DNAT rules


def test_explain_of_an_exhausted_row_agrees_with_the_row(make_topology, monkeypatch) -> None:
    """One SNAT port per pool: the second flow on the pool is FIREWALL_SNAT_EXHAUSTED, in the
    same call and in a later call (the entry from the earlier call holds the port); its
    explanation says so (it used to explain as EXITS_INTERNET). Once the first flow has been
    idle past the timeout the second flow passes, and explains as passing."""
    monkeypatch.setattr(firewall_nat, "SNAT_PORTS_PER_PUBLIC_IP", 1)
    topology = _hub(make_topology)
    a, b = _same_pool_sports(build_network(topology, caps=False), 2)
    flow_a, flow_b = (IP(src="10.1.1.4", dst="8.8.8.8") / TCP(sport=s, dport=443)
                      for s in (a, b))
    result = Emulator(topology).send([flow_a, flow_b], source="app1")
    assert [r["disposition"] for r in result.rows()] == ["EXITS_INTERNET",
                                                         "FIREWALL_SNAT_EXHAUSTED"]
    assert _agree(result, 1)["deciding"].startswith("firewall fw/SNAT ports exhausted (1 per")
    emu = Emulator(topology)
    emu.send(flow_a, source="app1", times_ns=[0])
    later = emu.send([flow_b, flow_b], source="app1",
                     times_ns=[IDLE_TIMEOUT_NS, IDLE_TIMEOUT_NS + IDLE_TIMEOUT_NS // 2])
    assert [r["disposition"] for r in later.rows()] == ["FIREWALL_SNAT_EXHAUSTED",
                                                        "EXITS_INTERNET"]
    for i in range(2):
        _agree(later, i)


def test_one_capture_clock_across_send_calls(make_topology) -> None:
    """A reply sent in a later call more than the timeout after the request is a new flow;
    an untimed send continues at the latest time (not at t=0): the request sent again
    untimed re-opens the flow and its untimed reply is established; reset() starts a new
    clock."""
    emu = Emulator(_hub(make_topology))
    sport = emu.send(OUT, source="app1", times_ns=[5_000]).row(0)["final_sport"]
    back = _back(sport)
    assert emu.send(back, times_ns=[5_000 + IDLE_TIMEOUT_NS]).row(0)["disposition"] == \
        "DELIVERED"  # idle exactly the timeout
    late = emu.send(back, times_ns=[5_000 + 2 * IDLE_TIMEOUT_NS + 1])
    assert (late.row(0)["disposition"], late.row(0)["deciding"]) == ("FIREWALL_DENIED", _denied(sport))
    _agree(late, 0)
    assert emu.send(back).row(0)["disposition"] == "FIREWALL_DENIED"  # still expired
    assert emu.send(OUT, source="app1").row(0)["disposition"] == "EXITS_INTERNET"
    again = emu.send(back)
    assert again.row(0)["disposition"] == "DELIVERED"
    assert int(again.columns["time_in"][0]) == 2 * IDLE_TIMEOUT_NS + 1  # origin: the first timestamp
    emu.reset()
    assert int(emu.send(back, times_ns=[10**15]).columns["time_in"][0]) == 0
