"""Server name from a flow's first payload bytes, plain-Python twin: TLS SNI or HTTP Host.

Takes: `buf` (bytes-like), `offsets` (int64[n]: where each payload starts in `buf`), `lengths`
(int32[n]: how many payload bytes are there; a flow's first payload segment, or several
segments concatenated by the caller). Returns `ServerNameColumns` (one entry per payload):
  kind        uint8  NameKind below
  name_offset int64  where the name starts in `buf` (-1 when no name)
  name_len    int32  its length in bytes (0 when no name)
  needed_len  int32  for INCOMPLETE TLS: the bytes a complete first TLS record needs
                     (5 + record length), so a caller knows how much to reassemble; else -1
Nothing outside buf[offset : offset + length] is ever read.

What is parsed (the names Azure Firewall application rules match; Microsoft, "Azure Firewall
FAQ" and "Azure Firewall rule processing logic": HTTP/S rules match the HTTP Host header or the
TLS Server Name Indication extension):
* TLS (RFC 8446 section 4.1.2 / RFC 5246 section 7.4.1.2, SNI: RFC 6066 section 3): a handshake
  record (content type 22, major version 3) holding a ClientHello (type 1), its extensions, the
  server_name extension (type 0) and the first host_name entry (name type 0). TLS 1.0-1.3
  ClientHellos share this layout. Only the first TLS record is read: a ClientHello that
  continues into a second record without the name in the first is MULTI_RECORD.
* HTTP/1.x (RFC 9112 section 3, RFC 9110 section 7.2): a request line that starts with an
  upper-case method token and a space, then header lines up to the empty line; the first
  `Host:` header (name case-insensitive), its value with surrounding spaces and tabs trimmed
  (a port, if written, stays part of the value).
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

import numpy as np

from dataplane.kernels.slices import records

MAX_TLS_RECORD = 16384 + 2048  # RFC 8446 5.2: TLSCiphertext length limit (2^14 + 2048)
MAX_METHOD = 16


class NameKind(IntEnum):
    NO_PAYLOAD = 0       # zero payload bytes
    TLS_SNI = 1          # a ClientHello's server_name host_name
    TLS_NO_SNI = 2       # a complete ClientHello without a server_name host_name
    HTTP_HOST = 3        # an HTTP/1.x request's Host header
    HTTP_NO_HOST = 4     # a complete HTTP/1.x header block without Host
    INCOMPLETE = 5       # ClientHello or header block continues beyond the bytes given
    OTHER = 6            # neither a TLS ClientHello nor an HTTP/1.x request
    MALFORMED = 7        # a TLS handshake record whose lengths contradict each other
    BAD_RECORD = 8       # offset/length negative or outside the buffer
    MULTI_RECORD = 9     # ClientHello spans TLS records and the name is not in the first


COLUMNS: tuple[tuple[str, type], ...] = (
    ("kind", np.uint8), ("name_offset", np.int64), ("name_len", np.int32),
    ("needed_len", np.int32),
)


class ServerNameColumns(NamedTuple):
    kind: np.ndarray
    name_offset: np.ndarray
    name_len: np.ndarray
    needed_len: np.ndarray

    @classmethod
    def empty(cls, n: int) -> ServerNameColumns:
        out = cls(*(np.zeros(n, dtype=t) for _, t in COLUMNS))
        out.name_offset[:] = -1
        out.needed_len[:] = -1
        return out


class _Short(Exception):
    """A read past the bytes given."""


def _u16(b: bytes, p: int, limit: int) -> int:
    if p + 2 > limit:
        raise _Short
    return (b[p] << 8) | b[p + 1]


def _u8(b: bytes, p: int, limit: int) -> int:
    if p + 1 > limit:
        raise _Short
    return b[p]


def _tls(b: bytes, n: int) -> tuple[int, int, int, int]:
    """(kind, name start, name length, needed) for a payload starting with byte 22."""
    if n < 5:
        return NameKind.INCOMPLETE, -1, 0, 5
    if b[1] != 3:
        return NameKind.OTHER, -1, 0, -1
    record_len = (b[3] << 8) | b[4]
    if record_len == 0 or record_len > MAX_TLS_RECORD:
        return NameKind.MALFORMED, -1, 0, -1
    record_end = 5 + record_len
    cut = n < record_end
    limit = min(n, record_end)
    short = (NameKind.INCOMPLETE, -1, 0, record_end) if cut else (NameKind.MALFORMED, -1, 0, -1)
    try:
        if _u8(b, 5, limit) != 1:
            return NameKind.OTHER, -1, 0, -1
        if limit < 9:
            raise _Short
        hello_end = 9 + ((b[6] << 16) | (b[7] << 8) | b[8])
        if hello_end > record_end and not cut:
            short = (NameKind.MULTI_RECORD, -1, 0, -1)
        p = 9 + 2 + 32
        p += 1 + _u8(b, p, limit)                # session id
        p += 2 + _u16(b, p, limit)               # cipher suites
        p += 1 + _u8(b, p, limit)                # compression methods
        if p > hello_end:
            return NameKind.MALFORMED, -1, 0, -1
        if p == hello_end:
            return NameKind.TLS_NO_SNI, -1, 0, -1
        extensions_end = p + 2 + _u16(b, p, limit)
        p += 2
        if extensions_end > hello_end:
            return NameKind.MALFORMED, -1, 0, -1
        while p + 4 <= extensions_end:
            ext_type, ext_len = _u16(b, p, limit), _u16(b, p + 2, limit)
            p += 4
            if p + ext_len > extensions_end:
                return NameKind.MALFORMED, -1, 0, -1
            if ext_type == 0:
                list_end = p + 2 + _u16(b, p, limit)
                if list_end > p + ext_len:
                    return NameKind.MALFORMED, -1, 0, -1
                q = p + 2
                while q + 3 <= list_end:
                    name_type, name_len = _u8(b, q, limit), _u16(b, q + 1, limit)
                    q += 3
                    if q + name_len > list_end:
                        return NameKind.MALFORMED, -1, 0, -1
                    if name_type == 0:
                        if q + name_len > limit:
                            raise _Short
                        return NameKind.TLS_SNI, q, name_len, -1
                    q += name_len
            p += ext_len
        if extensions_end > limit:
            raise _Short
        return NameKind.TLS_NO_SNI, -1, 0, -1  # every extension seen: no name
    except _Short:
        return short


def _is_method(b: bytes, n: int) -> bool:
    i = 0
    while i < n and i <= MAX_METHOD and 65 <= b[i] <= 90:
        i += 1
    return 0 < i <= MAX_METHOD and i < n and b[i] == 32


def _line_end(b: bytes, p: int, n: int) -> int:
    """Index of the CR of the next CRLF at or after p, or -1."""
    while p + 1 < n:
        if b[p] == 13 and b[p + 1] == 10:
            return p
        p += 1
    return -1


def _http(b: bytes, n: int) -> tuple[int, int, int, int]:
    end = _line_end(b, 0, n)
    if end < 0:
        return NameKind.INCOMPLETE, -1, 0, -1
    p = end + 2
    while True:
        end = _line_end(b, p, n)
        if end < 0:
            return NameKind.INCOMPLETE, -1, 0, -1
        if end == p:
            return NameKind.HTTP_NO_HOST, -1, 0, -1
        if (end - p >= 5 and b[p] | 32 == 104 and b[p + 1] | 32 == 111 and b[p + 2] | 32 == 115
                and b[p + 3] | 32 == 116 and b[p + 4] == 58):
            start, stop = p + 5, end
            while start < stop and b[start] in (32, 9):
                start += 1
            while stop > start and b[stop - 1] in (32, 9):
                stop -= 1
            return NameKind.HTTP_HOST, start, stop - start, -1
        p = end + 2


def _one(b: bytes) -> tuple[int, int, int, int]:
    n = len(b)
    if n == 0:
        return NameKind.NO_PAYLOAD, -1, 0, -1
    if b[0] == 22:
        return _tls(b, n)
    if _is_method(b, n):
        return _http(b, n)
    return NameKind.OTHER, -1, 0, -1


def server_names(buf: bytes | bytearray | memoryview | np.ndarray, offsets: np.ndarray,
                 lengths: np.ndarray) -> ServerNameColumns:
    out = ServerNameColumns.empty(len(offsets))
    for i, payload in records(buf, offsets, lengths):
        if payload is None:
            out.kind[i] = NameKind.BAD_RECORD
            continue
        kind, start, length, needed = _one(payload)
        out.kind[i] = kind
        out.name_offset[i] = int(offsets[i]) + start if start >= 0 else -1
        out.name_len[i] = length
        out.needed_len[i] = needed
    return out
