"""pcapscan kernel == its plain-Python twin on random, truncated and damaged record streams."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataplane.kernels import pcapscan
from dataplane.kernels.pcapscan_py import MAX_RECORD, ScanStatus, scan_pcap, scan_pcapng

compiled = pytest.mark.skipif(pcapscan._ext is None, reason="compiled pcapscan not loaded")


def _cols(n: int, linktypes: bool = False) -> list[np.ndarray]:
    cols = [np.full(n, -7, np.int64), np.full(n, -7, np.int32), np.full(n, -7, np.int32)]
    if linktypes:
        cols.append(np.full(n, -7, np.int32))
    return [*cols, np.full(n, -7, np.int64)]


words = st.integers(0, 2**32 - 1)
small_caplen = st.integers(0, 80)
pcap_record = st.tuples(words, words, st.one_of(small_caplen, words, st.just(MAX_RECORD + 1)),
                        words, st.binary(max_size=80))


@st.composite
def pcap_streams(draw):
    big = draw(st.booleans())
    o = ">" if big else "<"
    out = bytearray()
    for sec, frac, caplen, orig, payload in draw(st.lists(pcap_record, max_size=12)):
        if draw(st.booleans()):  # mostly well-formed: caplen = len(payload)
            caplen = len(payload)
        out += struct.pack(o + "IIII", sec, frac, caplen, orig) + payload
    cut = draw(st.integers(0, len(out)))
    return big, bytes(out[:cut] if draw(st.booleans()) else out)


block_types = st.sampled_from([1, 2, 3, 4, 5, 6, 6, 6, 0x0A0D0D0A, 0xBAD])


@st.composite
def pcapng_streams(draw):
    big = draw(st.booleans())
    o = ">" if big else "<"
    out = bytearray()
    for _ in range(draw(st.integers(0, 10))):
        btype = draw(block_types)
        if btype == 6:
            caplen = draw(small_caplen)
            body = struct.pack(o + "IIIII", draw(st.integers(0, 3)), draw(words), draw(words),
                               caplen, draw(words)) + bytes(draw(st.integers(0, 90)))
        elif btype == 2:
            body = struct.pack(o + "HHIIII", draw(st.integers(0, 3)), 0, draw(words),
                               draw(words), draw(small_caplen), draw(words)) + bytes(
                draw(st.integers(0, 90)))
        elif btype == 3:
            body = struct.pack(o + "I", draw(st.integers(0, 100))) + bytes(
                draw(st.integers(0, 90)))
        else:
            body = draw(st.binary(max_size=40))
        body += bytes(-len(body) % 4)
        blen = len(body) + 12
        if draw(st.integers(0, 9)) == 0:  # damaged framing
            blen = draw(st.one_of(words, st.integers(0, 64)))
        trailer = blen if draw(st.integers(0, 9)) else draw(words)
        out += struct.pack(o + "II", btype, blen) + body + struct.pack(o + "I", trailer)
    cut = draw(st.integers(0, len(out)))
    return big, bytes(out[:cut] if draw(st.booleans()) else out)


def _run_both(fn_c, fn_py, make_args):
    a, b = make_args(), make_args()
    ra, rb = fn_c(*a), fn_py(*b)
    assert (int(ra[0]), int(ra[1]), int(ra[2])) == (int(rb[0]), int(rb[1]), int(rb[2]))
    for x, y in zip(a, b, strict=True):
        if isinstance(x, np.ndarray):
            assert np.array_equal(x, y)
    return rb


@compiled
@settings(max_examples=150, deadline=None)
@given(pcap_streams(), st.integers(0, 12), st.integers(0, 3), st.sampled_from([1, 1000]))
def test_scan_pcap_matches_twin(stream, cap, first, unit):
    big, data = stream
    buf = np.frombuffer(data, np.uint8)
    first = min(first, cap)

    def args():
        return [buf, 0, big, unit, *_cols(cap), first]

    n, pos, status = _run_both(pcapscan.scan_pcap_compiled, scan_pcap, args)
    assert 0 <= pos <= buf.size and n <= cap - first
    assert status in ScanStatus.__members__.values()


@compiled
@settings(max_examples=150, deadline=None)
@given(pcapng_streams(), st.integers(0, 12), st.integers(0, 3), st.integers(0, 3))
def test_scan_pcapng_matches_twin(stream, cap, first, nif):
    big, data = stream
    buf = np.frombuffer(data, np.uint8)
    first = min(first, cap)
    if_link = np.array([1, 101, 228][:nif], np.int32)
    if_tick = np.array([1000, 1, 10**9][:nif], np.int64)

    def args():
        return [buf, 0, big, if_link, if_tick, *_cols(cap, True), first]

    n, pos, _ = _run_both(pcapscan.scan_pcapng_compiled, scan_pcapng, args)
    assert 0 <= pos <= buf.size and n <= cap - first


def test_pcap_statuses():
    rec = struct.pack("<IIII", 1, 2, 4, 60) + b"abcd"
    cols = _cols(4)
    buf = np.frombuffer(rec * 2 + rec[:10], np.uint8)
    n, pos, status = pcapscan.scan_pcap(buf, 0, False, 1000, *cols, 0)
    assert (n, pos, status) == (2, 40, ScanStatus.PARTIAL)
    assert cols[0][:2].tolist() == [16, 36] and cols[3][0] == 1_000_002_000
    n, pos, status = pcapscan.scan_pcap(buf[:40], 0, False, 1000, *cols, 3)
    assert (n, pos, status) == (1, 20, ScanStatus.FULL)
    long = np.frombuffer(struct.pack("<IIII", 0, 0, MAX_RECORD + 1, 0), np.uint8)
    assert pcapscan.scan_pcap(long, 0, False, 1, *_cols(1), 0)[2] == ScanStatus.TOO_LONG


def test_pcapng_stops_at_section_and_interface():
    shb = b"\x0a\x0d\x0d\x0a" + struct.pack("<I", 28) + bytes(16) + struct.pack("<I", 28)
    idb = struct.pack("<IIHHI", 1, 20, 1, 0, 0) + struct.pack("<I", 20)
    epb = struct.pack("<IIIIIII", 6, 36, 0, 0, 5, 4, 60) + b"abcd" + struct.pack("<I", 36)
    link, tick = np.array([1], np.int32), np.array([1000], np.int64)
    buf = np.frombuffer(epb + idb + shb, np.uint8)
    cols = _cols(4, True)
    n, pos, status = pcapscan.scan_pcapng(buf, 0, False, link, tick, *cols, 0)
    assert (n, pos, status) == (1, 36, ScanStatus.INTERFACE)
    assert cols[0][0] == 28 and cols[4][0] == 5000
    assert pcapscan.scan_pcapng(buf, 56, False, link, tick, *cols, 0)[2] == ScanStatus.SECTION
    none = np.zeros(0, np.int32), np.zeros(0, np.int64)
    assert pcapscan.scan_pcapng(buf, 0, False, *none, *cols, 0)[2] == \
        ScanStatus.UNKNOWN_INTERFACE
