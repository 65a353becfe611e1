"""Header extraction: compiled kernel against the twin on generated, truncated, mutated and random
frames (no crash, no out-of-bounds read, identical columns), plus ground truth from scapy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP, fragment
from scapy.layers.inet6 import (
    ICMPv6EchoRequest,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.layers.ipsec import AH
from scapy.layers.l2 import ARP, Dot1AD, Dot1Q, Ether
from scapy.layers.sctp import SCTP

from dataplane.kernels import compiled
from dataplane.kernels.headers import (
    FRAG_FIRST,
    FRAG_LATER,
    FRAG_NONE,
    ParseStatus,
    extract,
    extract_compiled,
    extract_py,
)

need_ext = pytest.mark.skipif(compiled("headers") is None, reason="compiled kernel not loaded")

ports = st.sampled_from([0, 1, 53, 443, 65535])


@st.composite
def l4(draw: st.DrawFn, v6: bool):
    kind = draw(st.sampled_from(["tcp", "udp", "icmp", "sctp", "none"]))
    sp, dp = draw(ports), draw(ports)
    if kind == "tcp":
        return TCP(sport=sp, dport=dp)
    if kind == "udp":
        return UDP(sport=sp, dport=dp)
    if kind == "sctp":
        return SCTP(sport=sp, dport=dp)
    if kind == "icmp":
        return ICMPv6EchoRequest() if v6 else ICMP(type=draw(st.integers(0, 255)),
                                                   code=draw(st.integers(0, 255)))
    return None


@st.composite
def ip_packet(draw: st.DrawFn):
    if draw(st.booleans()):
        opts = draw(st.sampled_from([b"", b"\x01\x01\x01\x00", b"\x00" * 8]))
        pkt = IP(src=draw(st.sampled_from(["0.0.0.0", "10.0.0.1", "255.255.255.255"])),
                 dst="192.168.1.2", ttl=draw(st.integers(0, 255)), options=opts,
                 flags=draw(st.sampled_from([0, 1, 2])), frag=draw(st.sampled_from([0, 0, 1, 8191])),
                 id=draw(st.sampled_from([0, 1, 0xBEEF, 0xFFFF])))
        upper = draw(l4(False))
    else:
        pkt = IPv6(src="2001:db8::1", dst=draw(st.sampled_from(["::", "ff02::1", "2001:db8:ffff::9"])),
                   hlim=draw(st.integers(0, 255)))
        for ext in draw(st.lists(st.sampled_from(["hbh", "dst", "rt", "frag", "ah"]), max_size=3)):
            if ext == "frag":
                pkt = pkt / IPv6ExtHdrFragment(offset=draw(st.sampled_from([0, 0, 5, 8191])),
                                               m=draw(st.integers(0, 1)),
                                               id=draw(st.sampled_from([0, 7, 0xFFFFFFFF])))
            else:
                pkt = pkt / {"hbh": IPv6ExtHdrHopByHop, "dst": IPv6ExtHdrDestOpt,
                             "rt": IPv6ExtHdrRouting, "ah": lambda: AH(icv=b"\x00" * 12)}[ext]()
        upper = draw(l4(True))
    if upper is not None:
        pkt = pkt / upper
    return pkt / draw(st.binary(max_size=8))


@st.composite
def frame(draw: st.DrawFn) -> tuple[bytes, int]:
    """(frame bytes, link type): scapy-built, then maybe truncated and mutated."""
    linktype = draw(st.sampled_from([1, 1, 1, 101, 228, 229]))
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=80)), linktype
    pkt = draw(ip_packet())
    if linktype == 1:
        eth = Ether(src="00:00:00:00:00:01", dst="00:00:00:00:00:02")
        for tag in draw(st.lists(st.sampled_from([Dot1Q, Dot1AD]), max_size=3)):
            eth = eth / tag(vlan=draw(st.integers(0, 4095)))
        pkt = eth / (pkt if draw(st.integers(0, 9)) else ARP())
    data = bytearray(bytes(pkt))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    for _ in range(draw(st.integers(0, 2))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data), linktype


def assert_same(a, b) -> None:
    for name, x, y in zip(a._fields, a, b, strict=True):
        assert x.dtype == y.dtype, name
        assert x.tolist() == y.tolist(), name


@need_ext
@settings(max_examples=60)
@given(st.lists(frame(), min_size=1, max_size=6), st.randoms())
def test_compiled_matches_twin_on_fuzzed_frames(frames: list[tuple[bytes, int]], rnd) -> None:
    for linktype in {lt for _, lt in frames}:
        chunks = [f for f, lt in frames if lt == linktype]
        buf = bytearray()
        offs, caps = [], []
        for f in chunks:
            buf += bytes(rnd.randrange(3))  # gap between records
            offs.append(len(buf))
            caps.append(len(f))
            buf += f
        # records outside the buffer, negative values, and an empty record
        offs += [len(buf), len(buf) + 1, -1, 0, max(len(buf) - 2, 0)]
        caps += [0, 0, 4, -1, 60]
        a = extract_compiled(bytes(buf), np.array(offs), np.array(caps), linktype)
        b = extract_py(bytes(buf), np.array(offs), np.array(caps), linktype)
        assert_same(a, b)


@need_ext
@settings(max_examples=40)
@given(st.binary(max_size=200), st.lists(st.tuples(st.integers(-5, 210), st.integers(-5, 210)),
                                         max_size=10), st.sampled_from([0, 1, 101, 228, 229]))
def test_random_bytes_and_records(buf: bytes, recs: list[tuple[int, int]], linktype: int) -> None:
    offs = np.array([o for o, _ in recs], dtype=np.int64)
    caps = np.array([c for _, c in recs], dtype=np.int32)
    # the compiled kernel gets an exact-size copy so any overread would hit the allocation edge
    assert_same(extract_compiled(bytearray(buf), offs, caps, linktype),
                extract_py(buf, offs, caps, linktype))


def one(pkt, linktype: int = 1) -> dict[str, int]:
    data = bytes(pkt)
    cols = extract(data, np.array([0]), np.array([len(data)]), linktype)
    return {name: int(col[0]) for name, col in zip(cols._fields, cols, strict=True)}


def test_ground_truth_examples() -> None:
    r = one(Ether() / Dot1AD(vlan=5) / Dot1Q(vlan=7) / IP(src="10.0.0.1", dst="10.0.0.2", ttl=9)
            / TCP(sport=1234, dport=443))
    assert r["status"] == ParseStatus.OK and r["vlan_count"] == 2 and r["ethertype"] == 0x0800
    assert (r["src4"], r["dst4"], r["proto"], r["sport"], r["dport"], r["ttl"]) == (
        0x0A000001, 0x0A000002, 6, 1234, 443, 9)
    assert r["l3_offset"] == 22 and r["l4_offset"] == 42 and r["frag"] == FRAG_NONE

    r = one(IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrHopByHop()
            / IPv6ExtHdrFragment(offset=0, m=1) / UDP(sport=53, dport=5353), linktype=229)
    assert r["status"] == ParseStatus.OK and r["proto"] == 17 and r["frag"] == FRAG_FIRST
    assert (r["src_hi"], r["src_lo"]) == (0x20010DB800000000, 1) and r["dport"] == 5353

    r = one(Ether() / IPv6() / IPv6ExtHdrFragment(offset=3, nh=6) / (b"x" * 20))
    assert r["status"] == ParseStatus.NON_FIRST_FRAGMENT and r["proto"] == 6
    assert r["frag"] == FRAG_LATER and r["sport"] == 0

    r = one(IP(frag=10, proto=17) / (b"y" * 20), linktype=101)
    assert r["status"] == ParseStatus.NON_FIRST_FRAGMENT and r["frag"] == FRAG_LATER

    r = one(Ether() / IP() / ICMP(type=3, code=4))
    assert (r["status"], r["proto"], r["sport"], r["dport"]) == (ParseStatus.OK, 1, 3, 4)

    assert one(Ether() / ARP())["status"] == ParseStatus.NOT_IP
    assert one(bytes(Ether() / IP() / TCP())[:30])["status"] == ParseStatus.TRUNCATED
    assert one(bytes(Ether() / IP() / TCP())[:36])["status"] == ParseStatus.L4_TRUNCATED
    assert one(b"\x45" + bytes(30), linktype=229)["status"] == ParseStatus.TRUNCATED
    assert one(b"\x75" + bytes(30), linktype=101)["status"] == ParseStatus.BAD_IP_HEADER
    assert one(Ether() / IP(), linktype=7)["status"] == ParseStatus.BAD_LINKTYPE
    # IP total length shorter than the captured frame: padding is not read as ports
    padded = bytes(Ether() / IP(proto=6, len=20)) + bytes(30)
    assert one(padded)["status"] == ParseStatus.L4_TRUNCATED


def frag_fields(r: dict[str, int]) -> tuple[int, int, int, int, int]:
    return r["frag"], r["frag_id"], r["frag_offset"], r["frag_more"], r["frag_len"]


def test_fragment_columns_ipv4() -> None:
    """Identification, offset (8-byte units), more-fragments flag and the bytes carried."""
    data = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=7000, dport=7001) / (b"z" * 3000))
    frags = fragment(IP(data), fragsize=1480)
    rows = [one(Ether() / f) for f in frags]
    assert [frag_fields(r)[0] for r in rows] == [FRAG_FIRST, FRAG_LATER, FRAG_LATER]
    ident = IP(data).id
    assert [r["frag_id"] for r in rows] == [ident] * 3
    assert [r["frag_offset"] for r in rows] == [0, 185, 370]
    assert [r["frag_more"] for r in rows] == [1, 1, 0]
    assert [r["frag_len"] for r in rows] == [1480, 1480, 3008 - 2960]
    # the next in-order fragment starts where this one ends
    assert rows[0]["frag_offset"] + rows[0]["frag_len"] // 8 == rows[1]["frag_offset"]
    # options move the header, not the carried length
    r = one(Ether() / IP(id=0x1234, flags=1, options=b"\x01\x01\x01\x00") / UDP() / b"ab")
    assert frag_fields(r) == (FRAG_FIRST, 0x1234, 0, 1, 8 + 2)
    # not a fragment: all four are 0, whatever the identification and DF
    assert frag_fields(one(Ether() / IP(id=99, flags=2) / UDP()))[1:] == (0, 0, 0, 0)


def test_fragment_columns_ipv6() -> None:
    """The fragment header inside an extension chain: 32-bit id; the length is the bytes
    after the fragment header; an atomic fragment (offset 0, M clear) is no fragment."""
    r = one(IPv6() / IPv6ExtHdrHopByHop() / IPv6ExtHdrFragment(offset=0, m=1, id=0xDEADBEEF)
            / UDP(sport=53, dport=9) / (b"q" * 16), linktype=229)
    assert frag_fields(r) == (FRAG_FIRST, 0xDEADBEEF, 0, 1, 8 + 16)
    r = one(Ether() / IPv6() / IPv6ExtHdrFragment(offset=181, m=0, id=1, nh=17) / (b"w" * 40))
    assert frag_fields(r) == (FRAG_LATER, 1, 181, 0, 40)
    assert r["status"] == ParseStatus.NON_FIRST_FRAGMENT
    r = one(Ether() / IPv6() / IPv6ExtHdrFragment(offset=0, m=0, id=5) / UDP())
    assert frag_fields(r) == (FRAG_NONE, 0, 0, 0, 0)
    # a destination-options header after the fragment header travels inside the fragment
    r = one(Ether() / IPv6() / IPv6ExtHdrFragment(offset=0, m=1, id=2) / IPv6ExtHdrDestOpt()
            / UDP(), linktype=1)
    assert frag_fields(r) == (FRAG_FIRST, 2, 0, 1, 8 + 8)


def test_empty_inputs() -> None:
    cols = extract(b"", np.array([0, 0]), np.array([0, 1]), 1)
    assert cols.status.tolist() == [ParseStatus.TRUNCATED, ParseStatus.BAD_RECORD]
    assert extract(b"", np.array([], dtype=np.int64), np.array([], dtype=np.int32), 1).status.size == 0


def test_payload_offsets() -> None:
    """Where the layer-4 payload starts (issue 12: the application-name kernel reads it)."""
    options = [("MSS", 1460), ("NOP", None), ("WScale", 7)]
    pkt = Ether() / IP() / TCP(sport=40000, dport=443, options=options) / b"\x16\x03\x01hello"
    r, data = one(pkt), bytes(pkt)
    assert r["l4_offset"] == 34 and r["payload_offset"] == 34 + len(bytes(TCP(options=options)))
    assert data[r["payload_offset"]:r["payload_offset"] + r["payload_len"]] == b"\x16\x03\x01hello"

    r = one(IPv6() / UDP(dport=53) / b"query", linktype=229)
    assert (r["payload_offset"], r["payload_len"]) == (48, 5)

    # Snaplen cut inside the payload: the offset stands, the length is the IP length's.
    frame = bytes(Ether() / IP() / TCP() / (b"G" * 100))
    cols = extract(frame, np.array([0]), np.array([60]), 1)
    assert (int(cols.payload_offset[0]), int(cols.payload_len[0])) == (54, 100)

    # Cut inside the TCP header, a data offset below 5, ICMP: no payload offset.
    cols = extract(frame, np.array([0]), np.array([40]), 1)
    assert int(cols.payload_offset[0]) == -1 and int(cols.payload_len[0]) == 0
    bad = bytearray(frame)
    bad[14 + 20 + 12] = 0x40
    assert one_bytes(bytes(bad))["payload_offset"] == -1
    assert one(Ether() / IP() / ICMP() / b"ping")["payload_offset"] == -1


def one_bytes(data: bytes) -> dict[str, int]:
    cols = extract(data, np.array([0]), np.array([len(data)]), 1)
    return {name: int(col[0]) for name, col in zip(cols._fields, cols, strict=True)}
