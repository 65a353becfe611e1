"""Every real capture replays with the accounting invariant; damaged ones say why."""

from __future__ import annotations

import struct
from importlib import resources

import pytest

import dataplane
from dataplane.engine import Disposition as D
from dataplane.engine import Emulator
from dataplane.errors import InputError
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


@pytest.mark.parametrize("content", [b"hello world, not a capture", b"\xd4\xc3", b""])
def test_not_a_capture_is_an_input_error(tmp_path, em, content):
    """Issue 10: a file that is not a capture exits 2 (InputError naming the file)."""
    p = tmp_path / "x.pcap"
    p.write_bytes(content)
    with pytest.raises(InputError) as err:
        em.replay(p)
    assert err.value.file == str(p)
    assert "not a pcap" in err.value.message or "shorter than" in err.value.message


def test_bootp_asan_link_type_reads_as_libpcap_does(real_dir):
    """Its link-type field is 0x04000001 (LT_FCS_LENGTH_PRESENT set, FCS length 0)."""
    stats = CaptureStats("bootp")
    batches = list(read_batches(real_dir / "pcap" / "tcpdump__bootp_asan.pcap", stats))
    assert stats.linktypes == {1} and stats.fcs_bytes == 0
    assert all(set(b.linktypes.tolist()) == {1} for b in batches)


@pytest.mark.parametrize(("field", "link", "fcs"), [
    (0x04000001, 1, 0), (0x44000001, 1, 8), (0x03FF0065, 101, 0), (0x24000071, 113, 4)])
def test_link_type_field_bits(tmp_path, field, link, fcs):
    """LT_LINKTYPE is the low 16 bits; FCS length (16-bit words) in the top 4 when 0x04000000
    is set; reserved bits 0x03FF0000 ignored (libpcap pcap/pcap.h)."""
    p = tmp_path / "f.pcap"
    p.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, field)
                  + struct.pack("<IIII", 1, 0, 4, 4) + b"abcd")
    stats = CaptureStats(str(p))
    [batch] = list(read_batches(p, stats))
    assert batch.linktypes.tolist() == [link] and stats.fcs_bytes == fcs


def _pcapng_with_ticks(ticks: int) -> bytes:
    shb = struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack("<I", 28)
    idb = struct.pack("<IIHHI", 1, 20, 1, 0, 65535) + struct.pack("<I", 20)
    frame = b"\0" * 4
    epb = struct.pack("<IIIIIII", 6, 36, 0, ticks >> 32, ticks & 0xFFFFFFFF, 4, 4) + frame
    return shb + idb + epb + struct.pack("<I", 36)


@pytest.mark.parametrize(("seconds", "clamped"), [(2**32 + 5, 0), (2**40, 1)])
def test_timestamps_beyond_32_bit_seconds(tmp_path, seconds, clamped):
    """pcapng in microseconds: 2**32 s reads exactly; 2**40 s is past 2**63 ns: clamped there
    and counted (never wrapped to a negative time)."""
    p = tmp_path / "t.pcapng"
    p.write_bytes(_pcapng_with_ticks(seconds * 1_000_000))
    stats = CaptureStats(str(p))
    [batch] = list(read_batches(p, stats))
    expected = seconds * 10**9 if not clamped else 2**63 - 1
    assert batch.time_ns.tolist() == [expected] and stats.timestamps_clamped == clamped


def test_explicit_mapping(tmp_path, em):
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap
    p = tmp_path / "m.pcap"
    wrpcap(str(p), [Ether() / IP(src="1.1.1.1", dst="2.2.2.2") / TCP(dport=1433)])
    em.reset()
    r = em.replay(p, mapping={"1.1.1.1": "web1", "2.2.2.2": "db1"}, auto_map=False)
    assert r.dispositions() == [D.DELIVERED]
