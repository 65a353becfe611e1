"""Two flows on one Azure Firewall SNAT address:port (issue 11 interim, engine/snat_collision.py):
the flow that draws an address:port another flow holds (it lost conntrack-first-wins) carries
the caveat `firewall-snat-port-collision` naming the firewall and the address:port -- reference
and batch forms (any batch split), Result rows and caveats(), replay's summary.json and
terminal; the first flow and a non-colliding flow do not. ("Scale SNAT ports with Azure NAT
Gateway", https://learn.microsoft.com/azure/firewall/integrate-with-nat-gateway: Azure gives
each connection its own port.)"""

from __future__ import annotations

import ipaddress
import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ipv6_harness import columns
from scapy.layers.inet import IP, TCP
from scapy.utils import wrpcap
from test_conntrack_expiry import _compare
from test_firewall_nat import FW_PUBLIC, HUB, _hub

from dataplane.engine import Emulator
from dataplane.engine.batch import BatchPipeline
from dataplane.engine.compile import build_network
from dataplane.engine.reference import Packet, ReferencePipeline
from dataplane.engine.snat_collision import KEY, firewall_caveat, row_caveat

IP_ = lambda a: int(ipaddress.IPv4Address(a))  # noqa: E731
APP1, GOOGLE = IP_("10.1.1.4"), IP_("8.8.8.8")


def _colliding_sports(net) -> tuple[int, int, int, int]:
    """(first sport, second sport, the shared SNAT port, a sport colliding with nobody in this
    set) of app1's TCP flows to 8.8.8.8:443, found by the firewall's own port hash."""
    nat = net.firewall_rules[0].nat
    sports = np.arange(10000, 16000, dtype=np.int64)
    n = sports.size
    address, port = nat.snat_np(np.ones(n, bool), np.full(n, APP1), np.full(n, GOOGLE),
                                np.full(n, 6), sports, np.full(n, 443))
    inst = nat.instance_np(np.full(n, APP1), np.full(n, GOOGLE), np.full(n, 6), sports,
                           np.full(n, 443))
    seen: dict[tuple[int, int, int], int] = {}
    for s, a, p, i in zip(sports.tolist(), address.tolist(), port.tolist(), inst.tolist(),
                          strict=True):
        if (a, p, i) in seen:
            first = seen[(a, p, i)]
            lone = next(x for x in sports.tolist() if x not in (first, s))
            assert a == IP_(FW_PUBLIC)
            return first, s, p, lone
        seen[(a, p, i)] = s
    raise AssertionError("no two sports collide")


def _packets(net, sports: list[int]) -> list[Packet]:
    return [Packet(net.ip_nic[APP1], APP1, GOOGLE, 6, s, 443, 64, k)
            for k, s in enumerate(sports)]


def test_both_forms_flag_the_second_flow_on_a_held_port(make_topology) -> None:
    """The first flow, a lone flow, the second flow on the first's address:port, the first
    again: only the second is flagged, in the reference and in every batch split."""
    net = build_network(_hub(make_topology), caps=False)
    first, second, port, lone = _colliding_sports(net)
    packets = _packets(net, [first, lone, second, first])
    expected = [False, False, True, False]
    walks = ReferencePipeline(net).run(packets)
    assert [w.disposition.name for w in walks] == ["EXITS_INTERNET"] * 4
    assert walks[0].out[2] == walks[2].out[2] == port
    assert [w.snat_collision for w in walks] == expected
    for split in range(1, len(packets) + 1):
        bp = BatchPipeline(net)
        got: list[bool] = []
        for lo in range(0, len(packets), split):
            bp.run(columns(packets[lo:lo + split]))
            got += bp.snat_collided.tolist()
        assert got == expected, split


def test_result_rows_and_caveats_name_the_firewall_and_address_port(make_topology,
                                                                    tmp_path) -> None:
    """Emulator.send and .replay (batches of 1, 2, 64): the second flow's row names the
    firewall and the address:port; caveats() counts one packet for the firewall."""
    topology = _hub(make_topology)
    first, second, port, lone = _colliding_sports(build_network(topology, caps=False))
    packets = [IP(src="10.1.1.4", dst="8.8.8.8") / TCP(sport=s, dport=443)
               for s in (first, lone, second)]
    result = Emulator(topology).send(packets, source="app1")
    line = row_caveat("fw", IP_(FW_PUBLIC), port)
    assert [line in result.row(i)["caveats"] for i in range(3)] == [False, False, True]
    assert f"firewall fw SNAT {FW_PUBLIC}:{port}" in line
    for words in ("attributed to that other flow", "its own SNAT port",
                  "integrate-with-nat-gateway"):
        assert words in line, words
    assert result.caveats()[firewall_caveat("fw")] == 1
    assert result.summary()["caveats"][firewall_caveat("fw")] == 1
    for k, p in enumerate(packets):
        p.time = 1_000_000 + k
    wrpcap(str(tmp_path / "in.pcap"), packets)
    for size in (1, 2, 64):
        replayed = Emulator(topology).replay(tmp_path / "in.pcap", auto_map=False, batch=size)
        assert [line in replayed.row(i)["caveats"] for i in range(3)] == [False, False, True]
        assert replayed.caveats()[firewall_caveat("fw")] == 1, size


def test_replay_summary_counts_and_prints_the_collision(make_topology, tmp_path,
                                                        capsys) -> None:
    """`dataplane replay`: summary.json counts one colliding packet
    under the key and the terminal prints it; without the second flow, nothing."""
    from dataplane.cli import main

    topo = tmp_path / "hub.yaml"
    topo.write_text(HUB.replace("    SNAT\n", ""))
    first, second, _, lone = _colliding_sports(build_network(_hub(make_topology), caps=False))
    for sports, expected in (([first, lone, second], [1]), ([first, lone], [])):
        packets = [IP(src="10.1.1.4", dst="8.8.8.8") / TCP(sport=s, dport=443) for s in sports]
        for k, p in enumerate(packets):
            p.time = 1_000_000 + k
        wrpcap(str(tmp_path / "in.pcap"), packets)
        assert main(["replay", str(topo), str(tmp_path / "in.pcap"), "--out",
                     str(tmp_path / "out"), "--no-auto-map"]) == 0
        summary = json.loads((tmp_path / "out" / "summary.json").read_text())
        counted = [c["packets"] for c in summary["caveats"] if c["key"] == KEY]
        printed = f"caveat {KEY} (1 packet(s))" in capsys.readouterr().out
        assert (counted, printed) == (expected, bool(expected)), sports


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_reference_equals_batch_on_which_flows_collide(make_topology, data) -> None:
    """The colliding pair, a lone flow and the replies to the shared address:port, in random
    order at random gaps around a tiny idle timeout, any batch split: the batch form flags
    exactly the rows the reference's commit flags (test_conntrack_expiry._compare)."""
    net = build_network(_hub(make_topology), caps=False)
    first, second, port, lone = _colliding_sports(net)
    flows = [(APP1, GOOGLE, 6, s, 443, 0) for s in (first, second, lone)]
    flows.append((GOOGLE, IP_(FW_PUBLIC), 6, 443, port, 0))  # a reply to the shared port
    pkts = data.draw(st.lists(st.sampled_from(flows), min_size=1, max_size=12))
    gaps = data.draw(st.lists(st.integers(0, 4), min_size=len(pkts), max_size=len(pkts)))
    _compare(net, pkts, gaps, data.draw(st.integers(1, 12)), data.draw(st.integers(0, 6)))
