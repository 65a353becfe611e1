"""Replay writers (io/writers.py and the modules it assembles): the outputs written from columns
say what the engine's per-packet results say; file names are safe; nothing leaves --out;
arrival times beyond 32-bit seconds survive in pcapng and are clamped with a caveat in pcap."""

from __future__ import annotations

import csv
import ipaddress
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import PcapNgReader, rdpcap, wrpcap

from dataplane.cli import main
from dataplane.cli.demo import _packets, demo_text, demo_topology
from dataplane.engine import Emulator
from dataplane.io.aggregates import bucket_floor, latency_bucket
from dataplane.io.capture import read_batches
from dataplane.io.records import (
    comment_options,
    epb_records,
    pcap_header,
    pcap_records,
    pcapng_interface_block,
    pcapng_section_header,
)
from dataplane.io.rewrite import rewrite, rewrite_frames
from dataplane.io.writers import Outputs, ReplayWriter, safe_file_name


@pytest.fixture(scope="module")
def demo_capture(tmp_path_factory):
    path = tmp_path_factory.mktemp("cap") / "demo.pcap"
    wrpcap(str(path), _packets()[0])
    return path


@pytest.fixture(scope="module")
def replayed(tmp_path_factory, demo_capture):
    """The demo capture replayed with every output on, and the engine's own result kept."""
    out = tmp_path_factory.mktemp("out")
    em = Emulator(demo_topology())
    writer = ReplayWriter(out, em, Outputs(csv=True))
    try:
        result = em.replay(demo_capture, sink=writer, batch=100)  # several batches
    finally:
        writer.close()
    return out, result, writer.write_summary(result)


def test_summary_aggregates_equal_the_engine_result(replayed):
    _, result, summary = replayed
    engine = result.summary()
    assert summary["read"] == engine["read"] == 696 and summary["accountingOk"]
    assert summary["dispositions"] == engine["dispositions"]
    assert summary["byVmPair"] == engine["by_vm_pair"]
    assert summary["byDecidingRule"] == engine["by_deciding_rule"]
    assert summary["bytesPerPeeringLink"] == engine["bytes_per_peering_link"]
    for kind, exact in engine["latency_ns"].items():
        mine = summary["latencyNs"][kind]
        assert mine["count"] == exact["count"] and mine["max"] == exact["max"]
        for q in ("p50", "p90", "p99"):
            assert exact[q] * (1 - 2**-10) <= mine[q] <= exact[q]


def test_latency_buckets_bound_the_error():
    values = np.array([0, 1, 1023, 1024, 1025, 2047, 2048, 10**5, 46_112_345, 2**40 + 12345])
    floors = bucket_floor(latency_bucket(values))
    assert floors[:4].tolist() == [0, 1, 1023, 1024]
    assert np.all(floors <= values) and np.all(values - floors <= values / 1024)


def test_packet_table_rows_equal_the_engine_rows(replayed):
    out, result, _ = replayed
    rows = result.rows()
    table = pq.read_table(out / "packets.parquet").to_pylist()
    with (out / "packets.csv").open() as f:
        text_rows = list(csv.DictReader(f))
    assert len(table) == len(text_rows) == len(rows)
    for mine, text, engine in zip(table, text_rows, rows, strict=True):
        arrived = engine["time_out_ns"] >= 0
        assert (mine["index"], mine["sourceIp"], mine["destinationIp"], mine["destinationPort"],
                mine["disposition"], mine["deciding"], mine["hops"]) == (
            engine["index"], engine["src"], engine["dst"], engine["dport"],
            engine["disposition"], engine["deciding"], engine["hops"])
        assert mine["protocol"].upper() == engine["proto"]
        assert mine["latencyNs"] == (engine["latency_ns"] if arrived else None)
        assert text["latencyNs"] == (str(engine["latency_ns"]) if arrived else "")
        assert text["disposition"] == engine["disposition"] and text["hops"] == engine["hops"]


def test_pcaps_hold_the_delivered_frames_at_their_arrival(replayed):
    out, result, summary = replayed
    rows = result.rows()
    for vm, file in summary["pcapFiles"].items():
        got = rdpcap(str(out / file))
        mine = [r for r in rows if r["disposition"] == "DELIVERED"
                and r["hops"].split(" > ")[-1] == vm]
        assert len(got) == len(mine) > 0
        assert [round(float(p.time) * 1e9) for p in got] == [r["time_out_ns"] for r in mine]


def test_dropped_pcapng_holds_every_drop_with_its_reason(replayed):
    out, result, _ = replayed
    dropped = [r for r in result.rows() if r["disposition"] not in (
        "DELIVERED", "EXITS_INTERNET", "EXITS_ON_PREMISES")]
    got = list(PcapNgReader(str(out / "dropped.pcapng")))
    assert len(got) == len(dropped) > 0
    for pkt, row in zip(got, dropped, strict=True):
        comment = pkt.comments[0].decode() if pkt.comments else ""
        assert comment.startswith(row["disposition"] + ": ") and row["deciding"] in comment


def test_outputs_can_be_skipped(tmp_path, demo_capture):
    em = Emulator(demo_topology())
    writer = ReplayWriter(tmp_path, em, Outputs(csv=False, parquet=False, pcaps=False,
                                                dropped=False))
    try:
        result = em.replay(demo_capture, sink=writer, keep=False)
    finally:
        writer.close()
    summary = writer.write_summary(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]
    assert summary["files"] == ["summary.json"] and summary["dispositions"]["DELIVERED"] == 654


@pytest.mark.parametrize("name, stem", [("../../X", "X"), ("/abs/X", "abs_X"),
                                        ("web1", "web1"), ("..", "vm"), ("summary", "summary-vm"),
                                        ("a b/c\\d", "a_b_c_d")])
def test_safe_file_names(name, stem):
    assert safe_file_name(name, set()) == stem
    taken: set[str] = set()
    assert [safe_file_name(name, taken) for _ in range(3)] == [stem, f"{stem}-2", f"{stem}-3"]


def _demo_with_vm_named(tmp_path: Path, name: str) -> tuple[Path, Path, set[Path]]:
    """The demo topology with db1 renamed, an --out folder three levels down, and what the
    temporary folder held before the run."""
    topo = tmp_path / "work" / "t.yaml"
    topo.parent.mkdir()
    topo.write_text(demo_text().replace("  db1: {", f'  "{name}": {{'))
    return topo, tmp_path / "work" / "a" / "b" / "out", set(tmp_path.rglob("*"))


@pytest.mark.parametrize("name", ["../../X", "/abs/X"])
def test_hostile_vm_names_are_refused_before_anything_is_written(tmp_path, capsys, demo_capture,
                                                                   name):
    """Issue 10's reproducer: the loader refuses the name (Azure forbids '/' in names), one line,
    exit 2, and nothing is written anywhere."""
    topo, out, before = _demo_with_vm_named(tmp_path, name)
    assert main(["replay", str(topo), str(demo_capture), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"'{name}' is not a valid resource name" in err[0]
    assert set(tmp_path.rglob("*")) - before <= {out, out.parent, out.parent.parent}
    assert not any(out.rglob("*")) if out.exists() else True
    assert not Path("/abs/X.pcap").exists()


@pytest.mark.parametrize("name, file", [("..", "vm.pcap"), ("dropped", "dropped-vm.pcap"),
                                        ("a:b*c?", "a_b_c.pcap")])
def test_unsafe_file_names_from_valid_vm_names_stay_inside_out(tmp_path, demo_capture, name,
                                                               file):
    """Names Azure accepts but a file system does not like are sanitised inside --out, and the
    name -> file map is in summary.json."""
    topo, out, before = _demo_with_vm_named(tmp_path, name)
    assert main(["replay", str(topo), str(demo_capture), "--out", str(out)]) == 0
    written = set(tmp_path.rglob("*")) - before
    assert all(out in p.parents or p == out or p in out.parents for p in written), written
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pcapFiles"][name] == file
    received = sum(counts.get("DELIVERED", 0) for pair, counts in summary["byVmPair"].items()
                   if pair.endswith(" -> " + name))
    assert len(rdpcap(str(out / file))) == received > 0


def _frames(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    frames = [bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(dport=53) / (b"x" * i))
              for i in range(n)]
    lens = np.array([len(f) for f in frames], np.int64)
    offsets = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    return np.frombuffer(b"".join(frames), np.uint8), offsets, lens


def test_arrival_beyond_32_bit_seconds(tmp_path):
    buf, offsets, lens = _frames(3)
    t = np.array([5, 2**32 * 10**9 + 7, 2**33 * 10**9], np.int64)
    data, clamped = pcap_records(buf, offsets, lens, lens, t)
    assert clamped == 2
    pcap = tmp_path / "a.pcap"
    pcap.write_bytes(pcap_header(1) + data.tobytes())
    assert [b.time_ns.tolist() for b in read_batches(pcap)][0][1:] == [(2**32 - 1) * 10**9
                                                                       + 10**9 - 1] * 2
    ng = tmp_path / "a.pcapng"
    epb = epb_records(buf, offsets, lens, lens, t, np.zeros(3, np.int64),
                      comment_options(["c"]), np.zeros(3, np.int64))
    ng.write_bytes(pcapng_section_header() + pcapng_interface_block(1) + epb.tobytes())
    (batch,) = read_batches(ng)
    assert batch.time_ns.tolist() == t.tolist()
    assert [batch.buf[o:o + n].tobytes() for o, n in zip(batch.offsets, batch.caplens,
                                                        strict=True)] == [
        buf[o:o + n].tobytes() for o, n in zip(offsets, lens, strict=True)]


def _checksums_ok(frame: bytes) -> bool:
    pkt = Ether(frame)
    fresh = pkt.copy()
    del fresh[IP].chksum
    l4 = TCP if TCP in fresh else UDP
    del fresh[l4].chksum
    fresh = Ether(bytes(fresh))
    return fresh[IP].chksum == pkt[IP].chksum and fresh[l4].chksum == pkt[l4].chksum


def test_vectorised_rewrite_equals_full_recomputation():
    frames = [bytes(Ether() / IP(src="1.2.3.4", dst="5.6.7.8", flags=f) / l4 / (b"z" * k))
              for k, f, l4 in [(0, 0, TCP(dport=1)), (301, 0, TCP(dport=2)),
                               (7, 2, UDP(dport=3)), (1, 0, UDP(dport=4))]]
    lens = np.array([len(f) for f in frames], np.int64)
    offsets = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    buf = np.frombuffer(b"".join(frames), np.uint8)
    src = np.array([0x0A000104, 0x01020304, 0x0A000105, 0x0A000106])
    dst = np.array([0x0A020104, 0x05060708, 0x05060708, 0x0A020107])
    dport = np.array([1433, 2, 3, 4433])
    out, changed = rewrite_frames(buf, offsets, lens, np.ones(4, np.int64), src, dst, dport)
    assert changed == 3 and out is not buf
    assert out[offsets[1]:offsets[1] + lens[1]].tobytes() == frames[1]  # unchanged: as captured
    for k in range(4):
        frame = out[offsets[k]:offsets[k] + lens[k]].tobytes()
        assert _checksums_ok(frame)
        assert rewrite(frames[k], 1, int(src[k]), int(dst[k]), int(dport[k])) == frame
        assert Ether(frame)[IP].dst == str(ipaddress.IPv4Address(int(dst[k])))


def test_final_addresses_from_the_engine_are_written(tmp_path, demo_capture):
    """When a batch carries the engine's translated addresses (final_* columns), delivered
    frames carry them (checksums right) and the table has final* columns."""
    em = Emulator(demo_topology())
    writer = ReplayWriter(tmp_path, em, Outputs())
    injected = []

    def sink(cols, nodes, rb):
        final = {"final_src": (cols["src"] + 256) & 0xFFFFFFFF, "final_dst": cols["dst"].copy(),
                 "final_sport": (cols["sport"] + 1) & 0xFFFF, "final_dport": cols["dport"]}
        injected.append(final)
        writer({**cols, **final}, nodes, rb)

    try:
        result = em.replay(demo_capture, sink=sink)
    finally:
        writer.close()
    rows = pq.read_table(tmp_path / "packets.parquet").to_pylist()
    final_src = np.concatenate([f["final_src"] for f in injected])
    assert [r["finalSourceIp"] for r in rows] == [str(ipaddress.IPv4Address(int(v)))
                                                  for v in final_src]
    delivered = [(r, e) for r, e in zip(rows, result.rows(), strict=True)
                 if e["disposition"] == "DELIVERED" and e["hops"].endswith("db1")]
    got = rdpcap(str(tmp_path / "db1.pcap"))
    assert len(got) == len(delivered) > 0
    for pkt, (row, _) in zip(got, delivered, strict=True):
        assert pkt[IP].src == row["finalSourceIp"] and pkt[TCP].sport == row["finalSourcePort"]
        assert _checksums_ok(bytes(pkt))


def test_link_type_with_fcs_bits(tmp_path):
    """A pcap link-type field with libpcap's FCS bits set (tcpdump's bootp_asan.pcap): the
    frames still reach dropped.pcapng, whose interface carries the low 16 bits."""
    buf, offsets, lens = _frames(2)
    data, _ = pcap_records(buf, offsets, lens, lens, np.array([1, 2]) * 10**9)
    capture = tmp_path / "fcs.pcap"
    capture.write_bytes(pcap_header(0x14000001) + data.tobytes())
    out = tmp_path / "out"
    assert main(["replay", demo_topology_file(tmp_path), str(capture), "--out", str(out)]) == 0
    (batch,) = read_batches(out / "dropped.pcapng")
    assert len(batch) == 2 and set(batch.linktypes.tolist()) == {1}


def demo_topology_file(tmp_path) -> str:
    path = tmp_path / "demo.yaml"
    path.write_text(demo_text())
    return str(path)
