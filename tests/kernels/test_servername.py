"""Server-name kernel (TLS SNI, HTTP Host): scapy-built ClientHellos (TLS 1.2 and 1.3), HTTP
requests, split and truncated hellos, and the compiled kernel == its twin on fuzzed payloads."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.tls.extensions import (
    ServerName,
    TLS_Ext_ServerName,
    TLS_Ext_SupportedGroups,
    TLS_Ext_SupportedVersion_CH,
)
from scapy.layers.tls.handshake import TLSClientHello
from scapy.layers.tls.record import TLS

from dataplane.kernels import servername
from dataplane.kernels.servername import NameKind, server_names_py

compiled_only = pytest.mark.skipif(servername._ext is None, reason="compiled kernel not built")


def names(buf: bytes, spans: list[tuple[int, int]], kernel=servername.server_names):
    cols = kernel(buf, np.array([o for o, _ in spans], dtype=np.int64),
                  np.array([n for _, n in spans], dtype=np.int32))
    out = []
    for kind, start, length, needed in zip(*cols, strict=True):
        name = buf[start:start + length] if start >= 0 else None
        out.append((NameKind(int(kind)), name, int(needed)))
    return out


def one(payload: bytes):
    return names(payload, [(0, len(payload))])[0]


def hello(name: bytes | None, tls13: bool = False, padding: int = 0) -> bytes:
    ext = [TLS_Ext_SupportedGroups(groups=[29, 23])]
    if tls13:
        ext.insert(0, TLS_Ext_SupportedVersion_CH(versions=[0x0304, 0x0303]))
    if padding:
        ext.append(TLS_Ext_SupportedGroups(groups=list(range(1, padding // 2 + 1))))
    if name is not None:
        ext.append(TLS_Ext_ServerName(servernames=[ServerName(servername=name)]))
    record_version = 0x0301 if tls13 else 0x0303
    return bytes(TLS(version=record_version, msg=[TLSClientHello(version=0x0303, ext=ext)]))


@pytest.mark.parametrize("tls13", [False, True])
def test_client_hello_server_name(tls13: bool) -> None:
    assert one(hello(b"www.microsoft.com", tls13)) == (NameKind.TLS_SNI, b"www.microsoft.com", -1)
    assert one(hello(None, tls13)) == (NameKind.TLS_NO_SNI, None, -1)


def test_http_host_header() -> None:
    request = b"GET /index.html HTTP/1.1\r\nUser-Agent: curl\r\nhOsT: \t example.com:8080 \r\n\r\n"
    assert one(request) == (NameKind.HTTP_HOST, b"example.com:8080", -1)
    assert one(b"POST / HTTP/1.0\r\nAccept: */*\r\n\r\n") == (NameKind.HTTP_NO_HOST, None, -1)
    assert one(b"GET / HTTP/1.1\r\nHost: exa")[0] == NameKind.INCOMPLETE
    assert one(b"get / HTTP/1.1\r\nHost: x\r\n\r\n")[0] == NameKind.OTHER  # methods are upper case
    assert one(b"SSH-2.0-OpenSSH_9.6\r\n")[0] == NameKind.OTHER
    assert one(b"")[0] == NameKind.NO_PAYLOAD


def test_split_client_hello_is_incomplete_until_reassembled() -> None:
    """A large ClientHello (post-quantum key shares) spans TCP segments: the first segment alone
    says how many bytes the record needs; the concatenated segments give the name."""
    whole = hello(b"login.microsoftonline.com", tls13=True, padding=1400)
    first = whole[:1448]
    kind, name, needed = one(first)
    assert (kind, name, needed) == (NameKind.INCOMPLETE, None, len(whole))
    assert one(whole) == (NameKind.TLS_SNI, b"login.microsoftonline.com", -1)


def test_name_before_the_cut_is_found_in_the_first_segment() -> None:
    early = bytes(TLS(msg=[TLSClientHello(ext=[
        TLS_Ext_ServerName(servernames=[ServerName(servername=b"a.example")]),
        TLS_Ext_SupportedGroups(groups=list(range(1, 600)))])]))
    assert one(early[:200]) == (NameKind.TLS_SNI, b"a.example", -1)


def test_truncated_and_malformed_hellos() -> None:
    whole = hello(b"www.microsoft.com")
    name_at = whole.index(b"www.microsoft.com")
    assert one(whole[:name_at + 3])[0] == NameKind.INCOMPLETE  # snaplen cut inside the name
    assert one(whole[:3]) == (NameKind.INCOMPLETE, None, 5)
    lying = bytearray(whole)
    lying[name_at - 2:name_at] = struct.pack("!H", 200)  # name longer than its list
    assert one(bytes(lying))[0] == NameKind.MALFORMED
    server_hello = bytearray(whole)
    server_hello[5] = 2
    assert one(bytes(server_hello))[0] == NameKind.OTHER


def test_client_hello_spanning_two_records() -> None:
    whole = hello(None, padding=200)
    body = whole[5:]
    split = 60
    two_records = (whole[:3] + struct.pack("!H", split) + body[:split]
                   + whole[:3] + struct.pack("!H", len(body) - split) + body[split:])
    assert one(two_records)[0] == NameKind.MULTI_RECORD


def test_payloads_outside_the_buffer() -> None:
    kinds = [k for k, _, _ in names(b"GET", [(-1, 2), (2, 5), (0, -1)])]
    assert kinds == [NameKind.BAD_RECORD] * 3


# --- compiled == twin on fuzzed payloads ---------------------------------------------------------

@st.composite
def client_hellos_with_names(draw) -> tuple[bytes, bytes | None]:
    """A well-formed ClientHello record and the host name it carries (the first host_name entry
    of its server_name extension), or None."""
    extensions, expected = [], None
    for _ in range(draw(st.integers(0, 4))):
        extensions.append(struct.pack("!HH", draw(st.integers(1, 65535)), 0))
    if draw(st.booleans()):
        entries = b""
        for _ in range(draw(st.integers(1, 3))):
            name = draw(st.binary(min_size=0, max_size=40))
            name_type = draw(st.sampled_from([0, 0, 1]))
            if name_type == 0 and expected is None:
                expected = name
            entries += struct.pack("!BH", name_type, len(name)) + name
        sni = struct.pack("!H", len(entries)) + entries
        extensions.insert(draw(st.integers(0, len(extensions))),
                          struct.pack("!HH", 0, len(sni)) + sni)
    ext = b"".join(extensions)
    session = draw(st.binary(max_size=32))
    suites = draw(st.binary(max_size=20))
    body = (b"\x03\x03" + bytes(32) + bytes([len(session)]) + session
            + struct.pack("!H", len(suites)) + suites + b"\x01\x00")
    if ext or draw(st.booleans()):
        body += struct.pack("!H", len(ext)) + ext
    handshake = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(handshake)) + handshake, expected


def client_hellos():
    return client_hellos_with_names().map(lambda pair: pair[0])


@st.composite
def http_requests(draw) -> bytes:
    method = draw(st.sampled_from([b"GET", b"POST", b"CONNECT", b"X"]))
    lines = [draw(st.sampled_from([b"Host: ", b"host:", b"Accept: ", b"X-Host: ", b"Hos: "]))
             + draw(st.binary(max_size=20)).replace(b"\r", b"") for _ in range(draw(st.integers(0, 4)))]
    return method + b" / HTTP/1.1\r\n" + b"".join(line + b"\r\n" for line in lines) + b"\r\n"


@st.composite
def payloads(draw) -> bytes:
    data = bytearray(draw(st.one_of(client_hellos(), http_requests(), st.binary(max_size=80))))
    for _ in range(draw(st.integers(0, 3))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[:draw(st.integers(0, len(data)))] if draw(st.booleans()) else data)


@compiled_only
@given(st.lists(payloads(), min_size=1, max_size=8), st.data())
def test_compiled_matches_twin(items: list[bytes], data) -> None:
    buf = b"".join(items)
    spans, at = [], 0
    for item in items:
        spans.append((at, len(item)))
        at += len(item)
    spans.append((data.draw(st.integers(-3, len(buf) + 3)), data.draw(st.integers(-3, 60))))
    assert names(buf, spans, servername.server_names_compiled) == names(buf, spans, server_names_py)


@given(client_hellos_with_names())
def test_a_well_formed_hello_gives_its_first_host_name(pair: tuple[bytes, bytes | None]) -> None:
    payload, expected = pair
    kind, name, needed = one(payload)
    if expected is None:
        assert (kind, name) == (NameKind.TLS_NO_SNI, None)
    else:
        assert (kind, name) == (NameKind.TLS_SNI, expected)
    cut = payload[:len(payload) // 2]
    if one(cut)[0] != NameKind.TLS_SNI:  # the name may lie in the first half
        assert one(cut)[0] == NameKind.INCOMPLETE and one(cut)[2] == len(payload)
