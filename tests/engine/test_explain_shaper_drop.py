"""explain_row rebuilds the flow table as the replay left it, shaper drops included (issue 15).

A flow's opener dropped by a forwarding NVA's shaper still opened the flow; one dropped by its
own source VM's shaper did not (assumption shaper-no-state, engine/conntrack.py). The demo:
db1 (spoke2) -> web1 (spoke1) TCP 443 goes db1 > nva1 > web1 (the spokes route through the hub
NVA); web1's answer to db1 passes only as a reply (db-nsg denies VirtualNetwork inbound at
priority 4000). A 9,000-byte packet sent just before the opener fills a 3,000-byte queue:
nva1's own, sent 1 ns before the opener reaches nva1, or db1's own, sent with the opener.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from dataplane.engine import Emulator
from dataplane.io.records import pcap_header, pcap_records

S = 1_000_000_000
OPENER = Ether() / IP(src="10.2.1.4", dst="10.1.1.4") / TCP(sport=40000, dport=443)
REPLY = Ether() / IP(src="10.1.1.4", dst="10.2.1.4") / TCP(sport=443, dport=40000)


def _big(src: str) -> object:
    return Ether() / IP(src=src, dst="10.0.2.4") / TCP(sport=40001, dport=443) / bytes(8900)


def _reaches_nva_ns(topology) -> int:
    """When a db1 packet of the opener's size, sent at 0, reaches nva1: one sent to nva1."""
    probe = Ether() / IP(src="10.2.1.4", dst="10.0.1.4") / TCP(sport=40000, dport=443)
    out = Emulator(topology, queue_bytes=3000).send([probe], times_ns=[0])
    assert out.row(0)["hops"] == "db1 > nva1"
    return int(out.columns["time_out"][0])


def _capture(path: Path, packets: list, times: list[int]) -> Path:
    frames = [bytes(p) for p in packets]
    caplens = np.array([len(f) for f in frames], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum(caplens)[:-1]]).astype(np.int64)
    data, _ = pcap_records(np.frombuffer(b"".join(frames), dtype=np.uint8), offsets, caplens,
                           caplens.copy(), np.array(times, np.int64))
    path.write_bytes(pcap_header(1) + data.tobytes())
    return path


def _runs(topology, tmp_path: Path, packets: list, times: list[int]):
    """The same packets sent at once and replayed from a capture one packet per batch."""
    capture = _capture(tmp_path / "c.pcap", packets, times)
    yield Emulator(topology, queue_bytes=3000).send(packets, times_ns=times)
    for batch in (65536, 1):
        yield Emulator(topology, queue_bytes=3000).replay(capture, auto_map=False, batch=batch)


def test_explain_agrees_with_the_replay_after_an_opener_dropped_at_the_nva(demo_topology,
                                                                           tmp_path):
    at = _reaches_nva_ns(demo_topology)
    times = [1000 * S, 1000 * S + at - 1, 1001 * S]
    for out in _runs(demo_topology, tmp_path, [OPENER, _big("10.0.1.4"), REPLY], times):
        assert [r["disposition"] for r in out.rows()] == ["SHAPER_DROP", "DELIVERED",
                                                          "DELIVERED"]
        opener = out.explain(0)
        assert opener["decision"] == "DELIVERED"  # what the stages decided before the shaper
        assert opener["shaper_drop"] == {"leg": 1, "at": "nva1"}
        reply = out.explain(2)
        assert reply["decision"] == "DELIVERED"  # a reply of the flow the opener opened:
        assert reply["hops"][0]["established"] is True  # it skips every NSG
        assert not [h for h in reply["hops"] if h["step"].startswith("nsg")]
        assert reply["shaper_drop"] is None


def test_explain_agrees_with_the_replay_after_an_opener_dropped_at_its_source(demo_topology,
                                                                              tmp_path):
    times = [1000 * S, 1000 * S, 1001 * S]
    for out in _runs(demo_topology, tmp_path, [_big("10.2.1.4"), OPENER, REPLY], times):
        assert [r["disposition"] for r in out.rows()] == ["DELIVERED", "SHAPER_DROP",
                                                          "DENIED_IN"]
        assert out.explain(1)["shaper_drop"] == {"leg": 0, "at": "db1"}
        reply = out.explain(2)
        assert reply["decision"] == "DENIED_IN"  # no flow: the reply is a new flow, denied
        assert reply["hops"][0]["established"] is False
        inbound = [h for h in reply["hops"] if h["step"] == "nsg-inbound"]
        assert (inbound[-1]["at"], inbound[-1]["access"]) == ("db1", "Deny")


@pytest.mark.parametrize("batch", [65536, 2, 1])
def test_shaper_drop_columns_do_not_depend_on_the_batch_size(demo_topology, tmp_path, batch):
    at = _reaches_nva_ns(demo_topology)
    packets = [OPENER, _big("10.0.1.4"), REPLY, _big("10.2.1.4"), OPENER]
    times = [1000 * S, 1000 * S + at - 1, 1001 * S, 1002 * S, 1002 * S]
    capture = _capture(tmp_path / "c.pcap", packets, times)
    out = Emulator(demo_topology, queue_bytes=3000).replay(capture, auto_map=False,
                                                          batch=batch)
    c = out.columns
    assert c["shaper_drop_leg"].tolist() == [1, -1, -1, -1, 0]
    assert [r["disposition"] for r in out.rows()] == ["SHAPER_DROP", "DELIVERED", "DELIVERED",
                                                      "DELIVERED", "SHAPER_DROP"]
    assert c["decision"].tolist() == [c["disposition"][1]] * 5  # every one DELIVERED before
