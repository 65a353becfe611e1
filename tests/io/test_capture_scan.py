"""The scanner-driven reader == the previous pure-Python reader (tests/io/legacy_reader.py).

Random pcap and pcapng files, well-formed and damaged (truncated, bad lengths, bad trailers,
unknown interfaces, oversized records), tiny read chunks so every refill path runs, random batch
sizes: same frames, origlens, link types, timestamps, record indices, batch sizes, counts and
damage messages. With DATAPLANE_PURE_PYTHON=1 the scanner is the twin; the compiled run also
checks the reader driven by the twin.
"""

from __future__ import annotations

import struct

import legacy_reader  # tests/io is on sys.path under pytest's default (prepend) import mode
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dataplane.errors import InputError
from dataplane.io import capture
from dataplane.kernels import pcapscan, pcapscan_py

words = st.integers(0, 2**32 - 1)


def _opt(o: str, code: int, value: bytes) -> bytes:
    return struct.pack(o + "HH", code, len(value)) + value + bytes(-len(value) % 4)


def _block(o: str, btype: int, body: bytes) -> bytes:
    body += bytes(-len(body) % 4)
    blen = len(body) + 12
    return struct.pack(o + "II", btype, blen) + body + struct.pack(o + "I", blen)


@st.composite
def pcap_files(draw):
    magic = draw(st.sampled_from([0xA1B2C3D4, 0xA1B23C4D]))
    o = draw(st.sampled_from("<>"))
    version = (2, 4) if draw(st.integers(0, 9)) else (1, 4)
    out = struct.pack(o + "IHHiIII", magic, *version, 0, 0, 65535, draw(st.sampled_from([1, 101])))
    for _ in range(draw(st.integers(0, 25))):
        payload = draw(st.binary(max_size=70))
        out += struct.pack(o + "IIII", draw(words), draw(st.integers(0, 999_999)), len(payload),
                           draw(st.integers(0, 2000))) + payload
    return out


@st.composite
def pcapng_files(draw):
    out = b""
    for _ in range(draw(st.integers(1, 2))):
        o = draw(st.sampled_from("<>"))
        bom = struct.pack(o + "I", 0x1A2B3C4D)
        opts = draw(st.sampled_from([b"", _opt(o, 4, b"test"), struct.pack(o + "HH", 4, 200)]))
        out += _block(o, 0x0A0D0D0A, bom + struct.pack(o + "HHq", 1, 0, -1) + opts)
        nif = 0
        for _ in range(draw(st.integers(0, 20))):
            kind = draw(st.sampled_from(["idb", "epb", "epb", "epb", "pb", "spb", "other"]))
            if kind == "idb" or (nif == 0 and draw(st.booleans())):
                res = draw(st.sampled_from([b"", _opt(o, 9, b"\x09"), _opt(o, 9, b"\x86")]))
                out += _block(o, 1, struct.pack(o + "HHI", draw(st.sampled_from([1, 101])), 0,
                                                0) + res)
                nif += 1
            elif kind == "epb":
                payload = draw(st.binary(max_size=70))
                out += _block(o, 6, struct.pack(o + "IIIII", draw(st.integers(0, nif)),
                                                draw(st.integers(0, 2**20)), draw(words),
                                                len(payload), draw(st.integers(0, 2000)))
                              + payload)
            elif kind == "pb":
                payload = draw(st.binary(max_size=70))
                out += _block(o, 2, struct.pack(o + "HHIIII", draw(st.integers(0, nif)), 0,
                                                draw(st.integers(0, 2**20)), draw(words),
                                                len(payload), draw(st.integers(0, 2000)))
                              + payload)
            elif kind == "spb":
                payload = draw(st.binary(max_size=70))
                out += _block(o, 3, struct.pack(o + "I", draw(st.integers(0, 100))) + payload)
            else:
                out += _block(o, draw(st.sampled_from([4, 5, 0xBAD])), draw(st.binary(max_size=30)))
    return out


@st.composite
def damaged(draw, files):
    data = bytearray(draw(files))
    for _ in range(draw(st.integers(0, 2))):
        what = draw(st.sampled_from(["cut", "word", "byte", "huge"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if what == "cut":
            data = data[:at]
        elif what == "byte":
            data[at] = draw(st.integers(0, 255))
        else:
            value = draw(words) if what == "word" else capture.MAX_RECORD + draw(st.integers(1, 9))
            data[at:at + 4] = struct.pack("<I", value)[:len(data) - at]
    return bytes(data)


NOT_A_CAPTURE = ("not a pcap", "file shorter than")


def _read(mod, path, batch):
    """Batches and stats; a file that is not a capture is an InputError now, which the legacy
    reader reported as damage with the same message."""
    stats = capture.CaptureStats(str(path))
    out = []
    try:
        batches = list(mod.read_batches(path, stats, batch))
    except InputError as error:
        return "not a capture", error.message
    if stats.damage and stats.damage.startswith(NOT_A_CAPTURE) and not batches:
        return "not a capture", stats.damage
    for rb in batches:
        frames = [bytes(rb.buf[o:o + c]) for o, c in zip(rb.offsets.tolist(),
                                                         rb.caplens.tolist(), strict=True)]
        out.append((frames, rb.origlens.tolist(), rb.linktypes.tolist(), rb.time_ns.tolist(),
                    rb.record.tolist()))
    seen = stats.as_dict()
    seen.pop("fcsBytes", None)  # fields the legacy reader did not have
    seen.pop("timestampsClamped", None)
    return out, seen


def _legacy(path, batch):
    try:
        result = _read(legacy_reader, path, batch)
    except OverflowError:  # the old reader crashed on origlen >= 2**31 or huge pcapng times
        assume(False)
    if result[0] == "not a capture":
        return result
    # The old reader kept the link-type field's upper bits; libpcap (LT_LINKTYPE) and the new
    # reader keep the low 16 (tests/io/test_capture.py checks that on its own).
    out, stats = result
    stats["linktypes"] = sorted({t & 0xFFFF for t in stats["linktypes"]})
    return [(f, o, [t & 0xFFFF for t in links], times, rec)
            for f, o, links, times, rec in out], stats


@pytest.fixture
def tiny_chunks(monkeypatch):
    monkeypatch.setattr(capture, "_CHUNK", 64)


files = st.one_of(damaged(pcap_files()), damaged(pcapng_files()))


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=files, batch=st.sampled_from([1, 3, 8, 65536]))
def test_reader_matches_legacy(tmp_path, tiny_chunks, data, batch):
    path = tmp_path / "x.cap"
    path.write_bytes(data)
    assert _read(capture, path, batch) == _legacy(path, batch)


@pytest.mark.skipif(pcapscan._ext is None, reason="compiled pcapscan not loaded")
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=files, batch=st.sampled_from([2, 65536]))
def test_reader_on_twin_matches_compiled(tmp_path, monkeypatch, data, batch):
    path = tmp_path / "x.cap"
    path.write_bytes(data)
    want = _read(capture, path, batch)
    monkeypatch.setattr(capture, "scan_pcap", pcapscan_py.scan_pcap)
    monkeypatch.setattr(capture, "scan_pcapng", pcapscan_py.scan_pcapng)
    assert _read(capture, path, batch) == want


def test_batches_are_views_that_stay_valid(tmp_path, tiny_chunks):
    """A batch's frames stay intact after the reader refilled its window."""
    o = "<"
    recs = [struct.pack(o + "IIII", i, 0, 40, 40) + bytes([i]) * 40 for i in range(20)]
    path = tmp_path / "v.pcap"
    path.write_bytes(struct.pack(o + "IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1) + b"".join(recs))
    batches = list(capture.read_batches(path, batch=3))
    got = [bytes(rb.buf[o_:o_ + c]) for rb in batches
           for o_, c in zip(rb.offsets.tolist(), rb.caplens.tolist(), strict=True)]
    assert got == [bytes([i]) * 40 for i in range(20)]
