"""Unique Azure Firewall SNAT ports per pool (issue 11; engine/snat_ports.py): two live flows
whose hash ports collide get different ports, each gets its own replies back; a flow that idled
out frees its port for a later flow; reference == batch at every batch size. Azure gives each
connection its own SNAT port ("Scale SNAT ports with Azure NAT Gateway",
https://learn.microsoft.com/azure/firewall/integrate-with-nat-gateway: "2,496 SNAT ports per
public IP address configured per backend virtual machine scale set instance"); which flows are
SNATed: "Azure Firewall SNAT private IP address ranges",
https://learn.microsoft.com/azure/firewall/snat-private-range."""

from __future__ import annotations

import ipaddress

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ipv6_harness import columns
from test_conntrack_expiry import _compare
from test_firewall_nat import FW_PUBLIC, _hub

from dataplane.control.explain import describe
from dataplane.engine.batch import BatchPipeline
from dataplane.engine.compile import build_network
from dataplane.engine.reference import Packet, ReferencePipeline
from dataplane.engine.snat_ports import next_port

IP_ = lambda a: int(ipaddress.IPv4Address(a))  # noqa: E731
APP1, GOOGLE, PUBLIC = IP_("10.1.1.4"), IP_("8.8.8.8"), IP_(FW_PUBLIC)


def _colliding_sports(net) -> tuple[int, int, int, int]:
    """(first sport, second sport, their shared hash SNAT port, a sport whose hash port is
    the one after it) of app1's TCP flows to 8.8.8.8:443, found by the firewall's own hash:
    the third flow's hash port is where the second flow's probe lands."""
    nat = net.firewall_rules[0].nat
    sports = np.arange(10000, 60000, dtype=np.int64)
    n = sports.size
    address, port = nat.snat_np(np.ones(n, bool), np.full(n, APP1), np.full(n, GOOGLE),
                                np.full(n, 6), sports, np.full(n, 443))
    assert (address == PUBLIC).all()
    first_of: dict[int, int] = {}
    for s, p in zip(sports.tolist(), port.tolist(), strict=True):
        if p in first_of:
            after = [int(x) for x in sports[port == next_port(p)]]
            if after:
                return first_of[p], s, p, after[0]
        first_of.setdefault(p, s)
    raise AssertionError("no two sports collide")


def _packets(net, sports: list[int], gap_ns: int = 1) -> list[Packet]:
    return [Packet(net.ip_nic[APP1], APP1, GOOGLE, 6, s, 443, 64, k * gap_ns)
            for k, s in enumerate(sports)]


def _reply(port: int, t: int) -> Packet:
    return Packet(-1, GOOGLE, PUBLIC, 6, 443, port, 64, t)


def _batch(net, packets: list[Packet], size: int, timeout_ns: int | None = None
           ) -> list[tuple]:
    kw = {} if timeout_ns is None else {"idle_timeout_ns": timeout_ns}
    bp = BatchPipeline(net, **kw)
    out: list[tuple] = []
    for lo in range(0, len(packets), size):
        disp, _, _ = bp.run(columns(packets[lo:lo + size]))
        out += [(int(disp[i]), tuple(int(f[i]) for f in bp.final))
                for i in range(disp.size)]
    return out


def test_colliding_flows_get_their_own_ports_and_replies(make_topology) -> None:
    """Two flows whose hash ports collide: the first keeps the hash port, the second takes the
    next port; a third flow whose hash port is that next port probes on. Each flow's reply
    (to the firewall's public IP:its port) is DELIVERED to its own original source port; the
    flows' later packets leave with their own ports. Batch sizes 1, 3, 4096: the same."""
    net = build_network(_hub(make_topology), caps=False)
    first, second, port, third = _colliding_sports(net)
    p2, p3 = next_port(port), next_port(next_port(port))
    packets = _packets(net, [first, second, third])
    packets += [_reply(q, 10 + k) for k, q in enumerate((port, p2, p3))]
    packets += [Packet(net.ip_nic[APP1], APP1, GOOGLE, 6, s, 443, 64, 20 + k)
                for k, s in enumerate((second, first))]
    walks = ReferencePipeline(net).run(packets)
    names = [w.disposition.name for w in walks]
    assert names == ["EXITS_INTERNET"] * 3 + ["DELIVERED"] * 3 + ["EXITS_INTERNET"] * 2
    assert [w.out[2] for w in walks[:3]] == [port, p2, p3]
    assert [(w.out[1], w.out[3]) for w in walks[3:6]] == [(APP1, s) for s in
                                                          (first, second, third)]
    assert [w.reply_of.original[3] for w in walks[3:6]] == [first, second, third]
    assert [w.out[2] for w in walks[6:]] == [p2, port]
    expected = [(int(w.disposition), w.out) for w in walks]
    for size in (1, 3, 4096):
        assert _batch(net, packets, size) == expected, size


def test_an_idled_out_flow_frees_its_port(make_topology) -> None:
    """Timeout 5 ns: the first flow idles out; the second flow, whose hash port is the
    first's, takes that very port (not the next) and its reply is its own; before the
    timeout it would take the next port. Batch sizes 1, 3, 4096: the same."""
    net = build_network(_hub(make_topology), caps=False)
    first, second, port, _ = _colliding_sports(net)
    for gap, want in ((10, port), (3, next_port(port))):
        packets = _packets(net, [first, second], gap) + [_reply(want, gap + 1)]
        walks = ReferencePipeline(net, idle_timeout_ns=5).run(packets)
        assert [w.disposition.name for w in walks] == ["EXITS_INTERNET"] * 2 + ["DELIVERED"]
        assert walks[1].out[2] == want, gap
        assert (walks[2].out[1], walks[2].out[3]) == (APP1, second)
        expected = [(int(w.disposition), w.out) for w in walks]
        for size in (1, 3, 4096):
            assert _batch(net, packets, size, 5) == expected, (gap, size)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_reference_equals_batch_on_colliding_flows(make_topology, data) -> None:
    """The colliding flows and the replies to the ports they may take, in random order at
    random gaps around a tiny idle timeout, any batch split (test_conntrack_expiry._compare:
    dispositions, labels, paths, final addresses and ports)."""
    net = build_network(_hub(make_topology), caps=False)
    first, second, port, third = _colliding_sports(net)
    flows = [(APP1, GOOGLE, 6, s, 443, 0) for s in (first, second, third)]
    flows += [(GOOGLE, PUBLIC, 6, 443, q, 0)
              for q in (port, next_port(port), next_port(next_port(port)))]
    pkts = data.draw(st.lists(st.sampled_from(flows), min_size=1, max_size=14))
    gaps = data.draw(st.lists(st.integers(0, 4), min_size=len(pkts), max_size=len(pkts)))
    _compare(net, pkts, gaps, data.draw(st.integers(1, 14)), data.draw(st.integers(0, 6)))


def test_replay_rows_and_explain_carry_each_flows_port(make_topology, tmp_path) -> None:
    """`Emulator.replay` (batches of 1, 2, 64) of the colliding flows and their replies: the
    rows' final source ports differ, each reply is DELIVERED to its own flow's source port,
    the explanation of the second reply (the table rebuilt as the run found it) restores it
    to the second flow, and the second flow's SNAT hop shows its port and why."""
    from scapy.layers.inet import IP, TCP
    from scapy.utils import wrpcap

    from dataplane.engine import Emulator

    topology = _hub(make_topology)
    first, second, port, _ = _colliding_sports(build_network(topology, caps=False))
    packets = [IP(src="10.1.1.4", dst="8.8.8.8") / TCP(sport=s, dport=443)
               for s in (first, second)]
    packets += [IP(src="8.8.8.8", dst=FW_PUBLIC) / TCP(sport=443, dport=q)
                for q in (port, next_port(port))]
    for k, p in enumerate(packets):
        p.time = 1_000_000 + k
    wrpcap(str(tmp_path / "in.pcap"), packets)
    for size in (1, 2, 64):
        result = Emulator(topology).replay(tmp_path / "in.pcap", auto_map=False, batch=size)
        rows = [result.row(i) for i in range(4)]
        assert [r["disposition"] for r in rows] == ["EXITS_INTERNET"] * 2 + ["DELIVERED"] * 2
        assert [r["final_sport"] for r in rows[:2]] == [port, next_port(port)], size
        assert [(r["final_dst"], r["final_dport"]) for r in rows[2:]] == [
            ("10.1.1.4", first), ("10.1.1.4", second)], size
        hops = result.explain(3)["hops"]
        restored = [h for h in hops if h.get("step") == "nat"]
        assert restored and restored[-1]["translated"]["destinationPort"] == second, hops
        (snat,) = [h for h in result.explain(1)["hops"] if h.get("kind") == "SNAT (firewall)"]
        assert snat["translated"]["sourcePort"] == next_port(port)
        assert f"port {port} (the flow's hash port" in snat["note"]
        line = describe(snat)
        assert f":{next_port(port)} (port {port} (the flow's hash port" in line, line


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_reference_equals_batch_in_a_crowded_port_range(make_topology, monkeypatch,
                                                        data) -> None:
    """A port range of 4 (hash and probe both; the pool limit stays 2,496, so a fifth live
    flow finds no free port and keeps its hash port, conntrack-first-wins): six flows and the
    replies to every port, random order and gaps around a tiny timeout, any batch split --
    probing, wrapping, take-overs of idled-out holders within and across batches."""
    from dataplane.engine import snat_ports
    from dataplane.engine.stages import firewall_nat

    monkeypatch.setattr(firewall_nat, "PORT_COUNT", 4)
    monkeypatch.setattr(snat_ports, "PORT_COUNT", 4)
    net = build_network(_hub(make_topology), caps=False)
    flows = [(APP1, GOOGLE, 6, s, 443, 0) for s in range(40000, 40006)]
    flows += [(GOOGLE, PUBLIC, 6, 443, q, 0) for q in range(1024, 1028)]
    pkts = data.draw(st.lists(st.sampled_from(flows), min_size=1, max_size=24))
    gaps = data.draw(st.lists(st.integers(0, 4), min_size=len(pkts), max_size=len(pkts)))
    _compare(net, pkts, gaps, data.draw(st.integers(1, 24)), data.draw(st.integers(0, 8)))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_reference_equals_batch_with_many_flows_in_few_ports(make_topology, monkeypatch,
                                                             data) -> None:
    """A port range of 16 to 160 and up to 40 flows (batch._snat_probe walks only the openers
    that may not keep their hash port -- owned or drawn twice, then those whose hash port a
    walked opener took --, the others keep theirs unwalked): chains of probes into other
    flows' hash ports, wrapping, take-overs around a tiny timeout, any batch split, replies
    to some ports."""
    from dataplane.engine import snat_ports
    from dataplane.engine.stages import firewall_nat

    span = data.draw(st.sampled_from([16, 48, 160]))
    monkeypatch.setattr(firewall_nat, "PORT_COUNT", span)
    monkeypatch.setattr(snat_ports, "PORT_COUNT", span)
    net = build_network(_hub(make_topology), caps=False)
    count = data.draw(st.integers(2, 40))
    flows = [(APP1, GOOGLE, 6, s, 443, 0) for s in range(40000, 40000 + count)]
    replies = [(GOOGLE, PUBLIC, 6, 443, q, 0) for q in range(1024, 1024 + span, 5)]
    pkts = data.draw(st.permutations(flows)) + data.draw(
        st.lists(st.sampled_from(flows + replies), max_size=30))
    gaps = data.draw(st.lists(st.integers(0, 3), min_size=len(pkts), max_size=len(pkts)))
    _compare(net, pkts, gaps, data.draw(st.integers(1, len(pkts))),
             data.draw(st.sampled_from([0, 2, 10, 1000])))
