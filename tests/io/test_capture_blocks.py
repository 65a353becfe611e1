"""pcapng block lengths: any length the format allows (>= 12, a multiple of 4, 32-bit) is a
block, however large: a Decryption Secrets Block holding a 1 MiB TLS key log between two
packets is skipped and both packets are read, whatever the window size; only lengths the
format forbids are damage. And mixed link types (io/writers.py): per-VM pcaps per link type."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from dataplane.cli.demo import demo_topology
from dataplane.dispositions import Disposition as D
from dataplane.engine import Emulator
from dataplane.io import capture
from dataplane.io.capture import CaptureStats, read_batches
from dataplane.io.writers import Outputs, ReplayWriter

SHB = struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack("<I", 28)
IDB = struct.pack("<IIHHI", 1, 20, 1, 0, 65535) + struct.pack("<I", 20)


def _epb(ticks: int, frame: bytes) -> bytes:
    pad = frame + b"\0" * (-len(frame) % 4)
    blen = 32 + len(pad)
    return struct.pack("<IIIIIII", 6, blen, 0, ticks >> 32, ticks & 0xFFFFFFFF, len(frame),
                       len(frame)) + pad + struct.pack("<I", blen)


def _dsb(secret_bytes: int) -> bytes:
    """Decryption Secrets Block (type 0x0000000A), TLS key log (0x544c534b)."""
    body = b"CLIENT_RANDOM " * (secret_bytes // 14) + b"\n"
    body += b"\0" * (-len(body) % 4)
    blen = 20 + len(body)
    return struct.pack("<IIII", 0x0A, blen, 0x544C534B, len(body)) + body + \
        struct.pack("<I", blen)


@pytest.mark.parametrize("secret", [330 * 1024, 1 << 20, 9 << 20])
def test_large_block_is_not_damage(tmp_path, monkeypatch, secret):
    monkeypatch.setattr(capture, "_CHUNK", 64 * 1024)  # blocks larger than the window too
    p = tmp_path / "keys.pcapng"
    frames = [bytes(range(60)), bytes(range(70))]
    p.write_bytes(SHB + IDB + _epb(1, frames[0]) + _dsb(secret) + _epb(2, frames[1]))
    stats = CaptureStats(str(p))
    batches = list(read_batches(p, stats))
    assert stats.damage is None and stats.unreadable == 0
    got = [bytes(b.buf[o:o + c]) for b in batches for o, c in zip(
        b.offsets.tolist(), b.caplens.tolist(), strict=True)]
    assert got == frames
    assert np.concatenate([b.time_ns for b in batches]).tolist() == [1000, 2000]


@pytest.mark.parametrize("blen", [8, 30])
def test_lengths_the_format_forbids_are_damage(tmp_path, blen):
    p = tmp_path / "bad.pcapng"
    block = struct.pack("<II", 0x0A, blen) + b"\0" * 28
    p.write_bytes(SHB + IDB + _epb(1, b"x" * 60) + block)
    stats = CaptureStats(str(p))
    batches = list(read_batches(p, stats))
    assert sum(len(b) for b in batches) == 1
    assert stats.unreadable == 1 and "invalid block length" in (stats.damage or "")


def test_per_vm_pcaps_keep_each_packets_link_type(tmp_path):
    """A pcapng with an Ethernet and a raw-IP interface, both delivering to web2: one pcap per
    link type (a classic pcap holds one), each frame in the file of its own link type."""

    raw_idb = struct.pack("<IIHHI", 1, 20, 101, 0, 65535) + struct.pack("<I", 20)
    eth = bytes(Ether() / IP(src="10.1.1.4", dst="10.1.1.5") / TCP(sport=40000, dport=443))
    raw = bytes(IP(src="10.1.1.4", dst="10.1.1.5") / TCP(sport=40001, dport=443))
    epb_raw = bytearray(_epb(2, raw))
    epb_raw[8:12] = struct.pack("<I", 1)  # interface 1: raw IP
    p = tmp_path / "mixed.pcapng"
    p.write_bytes(SHB + IDB + raw_idb + _epb(1, eth) + bytes(epb_raw))
    em = Emulator(demo_topology())
    out = tmp_path / "out"
    writer = ReplayWriter(out, em, Outputs(parquet=False))
    result = em.replay(p, sink=writer, auto_map=False)
    writer.close()
    summary = writer.write_summary(result)
    assert result.columns["disposition"].tolist() == [D.DELIVERED, D.DELIVERED]
    files = summary["pcapFilesByLinkType"]["web2"]
    assert files == {"1": "web2.pcap", "101": "web2.linktype101.pcap"}
    assert summary["pcapFiles"]["web2"] == "web2.pcap"
    for link, frame in ((1, eth), (101, raw)):
        data = (out / files[str(link)]).read_bytes()
        assert struct.unpack_from("<I", data, 20)[0] == link  # the pcap header's link type
        caplen = struct.unpack_from("<I", data, 24 + 8)[0]
        assert data[24 + 16:24 + 16 + caplen] == frame  # the one record is that frame
        assert len(data) == 24 + 16 + caplen
