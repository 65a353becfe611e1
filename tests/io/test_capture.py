"""Every real capture replays with the accounting invariant; damaged ones say why."""

from __future__ import annotations

import struct
from importlib import resources

import pytest

import dataplane
from dataplane.engine import Disposition as D
from dataplane.engine import Emulator
from dataplane.io.capture import CaptureStats, read_batches

MALFORMED = {"libpcap__pcap-invalid-version-1.pcap": "unsupported pcap version",
             "libpcap__shb-option-too-long.pcapng": "offset 0",
             "tcpdump__babel_update_oobr.pcap": None}


@pytest.fixture(scope="module")
def em():
    return Emulator(dataplane.load(str(resources.files("dataplane.data").joinpath("demo.yaml"))))


def test_every_real_capture_accounts(real_dir, em):
    files = sorted((real_dir / "pcap").iterdir())
    assert files
    for path in files:
        em.reset()
        r = em.replay(path, timing="asap")
        stats = r.captures[0]
        assert r.check_accounting(), path.name
        assert stats.records == r.read == sum(r.counts().values())
        if path.name in MALFORMED and MALFORMED[path.name]:
            assert MALFORMED[path.name] in stats.damage, (path.name, stats.damage)
        if path.name == "tcpdump__babel_update_oobr.pcap":
            assert r.counts().get("UNPARSED", 0) + r.counts().get("UNSUPPORTED", 0) > 0


def test_multiple_captures_merged(real_dir, em):
    paths = [real_dir / "pcap" / "zeek__vlan-qinqinq.pcap",
             real_dir / "pcap" / "zeek__vlan-collisions.pcap"]
    r = em.replay(paths, timing="capture")
    assert r.read == 14 + 42 and r.check_accounting()
    assert r.mapping  # automatic map printed


def test_truncated_record_counted(tmp_path):
    hdr = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    rec = struct.pack("<IIII", 1, 0, 60, 60) + b"\0" * 60
    broken = struct.pack("<IIII", 2, 0, 60, 60) + b"\0" * 10
    p = tmp_path / "t.pcap"
    p.write_bytes(hdr + rec + rec + broken)
    s = CaptureStats(str(p))
    assert sum(len(b) for b in read_batches(p, s)) == 2
    assert s.unreadable == 1 and "record 2" in s.damage


def test_not_a_capture(tmp_path, em):
    p = tmp_path / "x.pcap"
    p.write_bytes(b"hello world, not a capture")
    r = em.replay(p)
    assert r.read == 0 and "not a pcap" in r.captures[0].damage


def test_explicit_mapping(tmp_path, em):
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap
    p = tmp_path / "m.pcap"
    wrpcap(str(p), [Ether() / IP(src="1.1.1.1", dst="2.2.2.2") / TCP(dport=1433)])
    em.reset()
    r = em.replay(p, mapping={"1.1.1.1": "web1", "2.2.2.2": "db1"}, auto_map=False)
    assert r.dispositions() == [D.DELIVERED]
