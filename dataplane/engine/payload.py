"""Per TCP flow, the server name its first payload asks for (TLS SNI or HTTP/1.x Host): plain
and batch forms side by side, state kept across batches.

Contract. `payload_columns(rb, hc, rows)` cuts a capture batch (io/capture.py RecordBatch and the
header kernel's columns) into `PayloadColumns`: per packet the TCP payload's start in the
batch buffer, the bytes captured, the bytes on the wire and the TCP sequence number.
`FlowNames.observe(p, src, dst, sport, dport)` (batch form) and `FlowNamesReference.observe`
(plain form, one packet at a time) read them and return, per packet, the server name of the
packet's flow (5-tuple as the engine keys it: mapped addresses) as it stands after the whole
batch: every packet of a flow (its handshake too) carries the name of the flow's first payload
when that payload is in the same batch or an earlier one. Batch form: name ids (int32) into
`FlowNames.table` (a `NameTable`; id 0 = `NOT_SEEN`); plain form: `FlowName`s. Both give the
same names (tests/engine/test_app_rules_payload.py, hypothesis).

What is read: the first payload bytes of each flow, through the server-name kernel
(kernels/servername.py: TLS ClientHello server_name, HTTP/1.x Host). A ClientHello (or HTTP
header block) split over segments is reassembled from the flow's next payload segments, in
capture order, each starting at the sequence number where the previous one ended, up to
`REASSEMBLY_LIMIT_BYTES` (one full TLS record: RFC 8446 section 5.1, 2^14 bytes of plaintext
and a 5-byte header). What is not reassembled gives a name that is *unknown* (never guessed,
`FlowName.missing` says why): a segment cut by the capture's snaplen before the name, a
segment out of order or retransmitted, more than the limit, a ClientHello continuing into a
second TLS record, a malformed handshake, a flow whose payload is not (yet) in the capture.
A first payload that is complete but holds no name (TLS without SNI, HTTP without Host,
neither TLS nor HTTP) is *absent*: the flow carries no name Azure Firewall could match.
Assumptions (PAYLOAD_ASSUMPTIONS): the first payload segment in capture order starts the flow's
byte stream (a lost or reordered first segment is read as it comes); a 5-tuple keeps the name
of its first payload for the whole replay (a later connection reusing it is not told apart);
names are known from the batch holding the first payload on (replay batches are decided one
after the other: a flow's packets in an earlier batch, its handshake cut off by a batch
boundary, carry no name and end FIREWALL_NAME_UNKNOWN where an application rule could allow
the flow).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from dataplane.control.application_rules import normal_name
from dataplane.io.capture import RecordBatch
from dataplane.kernels.pipeline import KEY_WORDS, KeyIndex, flow_keys
from dataplane.kernels.servername import NameKind, server_names
from dataplane.kernels.servername_py import server_names as server_names_py

REASSEMBLY_LIMIT_BYTES = 5 + (1 << 14)  # RFC 8446 5.1: TLSPlaintext.length <= 2^14

SNAPLEN_CUT = "the capture cut the first payload (snaplen) before the server name"
OUT_OF_ORDER = "a segment of the first payload is out of order or retransmitted"
OVER_LIMIT = f"the first payload continues beyond {REASSEMBLY_LIMIT_BYTES} bytes (reassembly limit)"
MULTI_RECORD = "the ClientHello continues into a second TLS record (not reassembled)"
MALFORMED = "the first payload is a malformed TLS handshake"
NOT_IN_CAPTURE = "no payload of this flow is in the capture (yet)"
PENDING = "the first payload continues beyond the capture read so far"

PAYLOAD_ASSUMPTIONS = (
    "payload-first-name: a TCP flow's server name is the TLS SNI or HTTP/1.x Host of its first "
    f"payload; segments split in order are reassembled up to {REASSEMBLY_LIMIT_BYTES} bytes; the "
    "flow's first payload segment in capture order is taken as the start of its byte stream (a "
    "lost or reordered first segment is read as it comes); a 5-tuple keeps that name for the "
    "whole replay; a flow's packets in a batch before the one holding its first payload (replay "
    "batches: 65,536 packets by default) are decided without the name (FIREWALL_NAME_UNKNOWN "
    "where an application rule could allow the flow) (engine/payload.py).",
)

_KNOWN = {NameKind.TLS_SNI: "https", NameKind.HTTP_HOST: "http"}
_ABSENT = {NameKind.TLS_NO_SNI: "a TLS ClientHello without server_name (SNI)",
           NameKind.HTTP_NO_HOST: "an HTTP request without a Host header",
           NameKind.OTHER: "neither a TLS ClientHello nor an HTTP/1.x request"}


class FlowName(NamedTuple):
    """The name a flow asks for. `kind`: kernels/servername_py.NameKind; `name`: as written,
    ASCII (other bytes escaped), '' when none; `missing`: why it is unknown, '' otherwise."""

    kind: int
    name: str = ""
    missing: str = ""

    @property
    def protocol(self) -> str:
        """'https' (TLS SNI), 'http' (HTTP Host) or '' (no name)."""
        return _KNOWN.get(self.kind, "")  # IntEnum keys hash as their ints

    @property
    def absent(self) -> bool:
        """The first payload is all there and holds no name."""
        return self.kind in _ABSENT and not self.missing

    @property
    def unknown(self) -> bool:
        return not self.protocol and not self.absent

    def describe(self) -> str:
        if self.protocol:
            return f"{'SNI' if self.protocol == 'https' else 'Host'} {self.name}"
        return _ABSENT[NameKind(self.kind)] if self.absent else f"server name unknown: {self.missing}"


NOT_SEEN = FlowName(NameKind.NO_PAYLOAD, "", NOT_IN_CAPTURE)


def synthetic(sni: str | None = None, host: str | None = None) -> FlowName:
    """The name of a synthetic flow (explain/trace `--sni` / `--host`); NOT_SEEN for neither.
    Raises ValueError for both."""
    if sni and host:
        raise ValueError("give --sni or --host, not both")
    if sni:
        return FlowName(NameKind.TLS_SNI, sni)
    if host:
        return FlowName(NameKind.HTTP_HOST, host)
    return FlowName(NameKind.NO_PAYLOAD, "", "no --sni or --host given")


def first_payload(sni: str | None = None, host: str | None = None) -> bytes:
    """The first payload of a synthetic flow asking for a name (trace --sni / --host): a TLS
    1.2 ClientHello record with that server_name (RFC 6066 section 3), or an HTTP/1.1 GET with
    that Host; b"" for neither. Raises ValueError for both, or a name that is not ASCII."""
    synthetic(sni, host)
    if host:
        return f"GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: dataplane\r\n\r\n".encode("ascii")
    if not sni:
        return b""
    from scapy.layers.tls.extensions import ServerName, TLS_Ext_ServerName
    from scapy.layers.tls.handshake import TLSClientHello
    from scapy.layers.tls.record import TLS

    return bytes(TLS(msg=[TLSClientHello(ext=[TLS_Ext_ServerName(
        servernames=[ServerName(servername=sni.encode("ascii"))])])]))


UNKNOWN, HTTPS, HTTP, ABSENT = 0, 1, 2, 3  # NameTable.codes
_CODES = {"https": HTTPS, "http": HTTP}


class NameTable:
    """Interned FlowNames; id 0 is NOT_SEEN. Per id, computed once: `codes` (int8: UNKNOWN,
    HTTPS, HTTP or ABSENT) and `asked` (the name application rules compare, normalised:
    control/application_rules.normal_name; '' without one)."""

    def __init__(self, names: Iterable[FlowName] = ()) -> None:
        self.names: list[FlowName] = []
        self.asked: list[str] = []
        self._codes = np.zeros(64, dtype=np.int8)
        self._ids: dict[FlowName, int] = {}
        for name in (NOT_SEEN, *names):
            self.intern(name)

    @property
    def codes(self) -> np.ndarray:
        return self._codes[:len(self.names)]

    def intern(self, name: FlowName) -> int:
        return self.intern_many([name])[0]

    def intern_many(self, names: list[FlowName]) -> list[int]:
        """Ids of `names`, the new ones appended in order (their codes and normalised names
        computed together)."""
        ids, new = [], []
        for name in names:
            i = self._ids.get(name)
            if i is None:
                i = self._ids[name] = len(self.names)
                self.names.append(name)
                new.append(name)
            ids.append(i)
        if new:
            start, stop = len(self.asked), len(self.names)
            protocols = [_KNOWN.get(name.kind, "") for name in new]
            self.asked += [normal_name(n.name, p) if p else ""
                           for n, p in zip(new, protocols, strict=True)]
            if stop > self._codes.size:
                self._codes = np.resize(self._codes, max(2 * self._codes.size, stop))
            self._codes[start:stop] = [_CODES.get(p, ABSENT if n.absent else UNKNOWN)
                                       for n, p in zip(new, protocols, strict=True)]
        return ids


class PayloadColumns(NamedTuple):
    buf: np.ndarray        # uint8: the batch's frames
    start: np.ndarray      # int64 start of the TCP payload in buf; -1: no TCP payload
    captured: np.ndarray   # int32 payload bytes captured
    wire_len: np.ndarray   # int32 payload bytes on the wire
    seq: np.ndarray        # int64 TCP sequence number of the payload's first byte


def payload_columns(rb: RecordBatch, hc: object, rows: np.ndarray | None = None
                    ) -> PayloadColumns:
    """Per packet of `rb` (header kernel columns `hc`; only `rows` of them when given): its TCP
    payload, when it has one (parsed IPv4/IPv6 TCP, payload_len > 0, one byte captured)."""
    pick = slice(None) if rows is None else rows
    off = hc.payload_offset[pick].astype(np.int64)  # type: ignore[attr-defined]
    wire = hc.payload_len[pick].astype(np.int32)  # type: ignore[attr-defined]
    frame = rb.offsets[pick]
    captured = np.clip(rb.caplens[pick].astype(np.int64) - off, 0, wire).astype(np.int32)
    has = ((hc.status[pick] == 0) & (hc.proto[pick] == 6) & (off >= 0) & (wire > 0)  # type: ignore[attr-defined]
           & (captured > 0))
    start = np.where(has, frame + off, -1)
    seq = np.zeros(off.size, dtype=np.int64)
    at = frame[has] + hc.l4_offset[pick][has].astype(np.int64) + 4  # type: ignore[attr-defined]
    for k in range(4):
        seq[has] = (seq[has] << 8) | rb.buf[at + k]
    return PayloadColumns(rb.buf, start, np.where(has, captured, 0).astype(np.int32),
                          np.where(has, wire, 0).astype(np.int32), seq)


@dataclass
class _Reassembly:
    data: bytes
    next_seq: int


def _settle(kind: int, name: bytes, size: int, needed: int, cut: bool, seq_end: int,
            data: bytes) -> FlowName | _Reassembly:
    """A flow's name from what the parser said of its first `size` payload bytes; a
    _Reassembly when more segments may complete it."""
    if kind in _KNOWN:
        return FlowName(kind, name.decode("ascii", "backslashreplace"))
    if kind in _ABSENT:
        return FlowName(kind)
    if kind == NameKind.MULTI_RECORD:
        return FlowName(kind, "", MULTI_RECORD)
    if kind != NameKind.INCOMPLETE:  # MALFORMED (BAD_RECORD, NO_PAYLOAD cannot occur here)
        return FlowName(kind, "", MALFORMED)
    if cut:
        return FlowName(kind, "", SNAPLEN_CUT)
    if size >= REASSEMBLY_LIMIT_BYTES or needed > REASSEMBLY_LIMIT_BYTES:
        return FlowName(kind, "", OVER_LIMIT)
    return _Reassembly(data, seq_end)


def _parse(data: bytes, cut: bool, seq_end: int, parse: Callable = server_names_py
           ) -> FlowName | _Reassembly:
    got = parse(data, np.zeros(1, np.int64), np.array([len(data)], np.int32))
    o, n = int(got.name_offset[0]), int(got.name_len[0])
    return _settle(int(got.kind[0]), data[o:o + n] if o >= 0 else b"", len(data),
                   int(got.needed_len[0]), cut, seq_end, data)


def _step(state: _Reassembly | None, segment: bytes, seq: int, wire_len: int,
          parse: Callable = server_names_py) -> FlowName | _Reassembly:
    """One more payload segment of a flow whose name is not settled (the plain form's every
    segment, parsed by the plain twin; the batch form's continuations, by the kernel)."""
    if state is not None and seq != state.next_seq:
        return FlowName(NameKind.INCOMPLETE, "", OUT_OF_ORDER)
    data = segment if state is None else state.data + segment
    return _parse(data, len(segment) < wire_len, (seq + wire_len) & 0xFFFFFFFF, parse)


def _pending(r: FlowName | _Reassembly) -> FlowName:
    return r if isinstance(r, FlowName) else FlowName(NameKind.INCOMPLETE, "", PENDING)


class FlowNamesReference:
    """Plain form: one packet at a time, state in dicts keyed by 5-tuple."""

    def __init__(self) -> None:
        self.settled: dict[tuple[int, ...], FlowName] = {}
        self.pending: dict[tuple[int, ...], _Reassembly] = {}

    def observe(self, p: PayloadColumns, src: np.ndarray, dst: np.ndarray, sport: np.ndarray,
                dport: np.ndarray) -> list[FlowName]:
        keys = list(zip(src.tolist(), dst.tolist(), sport.tolist(), dport.tolist(), strict=True))
        buf = p.buf.tobytes()
        for i, key in enumerate(keys):
            start = int(p.start[i])
            if start < 0 or key in self.settled:
                continue
            r = _step(self.pending.pop(key, None), buf[start:start + int(p.captured[i])],
                      int(p.seq[i]), int(p.wire_len[i]))
            if isinstance(r, FlowName):
                self.settled[key] = r
            else:
                self.pending[key] = r
        return [self.settled[k] if k in self.settled else
                _pending(self.pending[k]) if k in self.pending else NOT_SEEN for k in keys]


class FlowNames:
    """Batch form: flows interned by the key kernel (kernels/pipeline.py), first payloads
    through the compiled server-name kernel, only split ones continued in Python."""

    def __init__(self) -> None:
        self.table = NameTable()
        self.index = KeyIndex(KEY_WORDS, 1 << 12)
        self.name_of = np.zeros(1 << 12, dtype=np.int32)  # flow id -> name id (0: not seen)
        self.pending: dict[int, _Reassembly] = {}
        self._by_bytes: dict[tuple[int, bytes], int] = {}  # (kind, name bytes) -> name id
        self._pending_id = self.table.intern(FlowName(NameKind.INCOMPLETE, "", PENDING))

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]

    def observe_batch(self, rb: RecordBatch, hc: object, src: np.ndarray, dst: np.ndarray,
                      ports: np.ndarray) -> np.ndarray:
        """int32[n] name ids of a capture batch's packets (`src`/`dst`: as the engine keys
        them, mapped); only parsed IPv4 TCP packets to one of `ports` (the ports application
        rules name: stages/firewall.py application_ports) are read, every other packet is 0."""
        if ports.size == 0:
            return np.zeros(len(rb), dtype=np.int32)
        tcp = np.flatnonzero((hc.status == 0) & (hc.ip_version == 4) & (hc.proto == 6)  # type: ignore[attr-defined]
                             & np.isin(hc.dport, ports))  # type: ignore[attr-defined]
        out = np.zeros(len(rb), dtype=np.int32)
        if tcp.size:
            out[tcp] = self.observe(payload_columns(rb, hc, tcp), src[tcp], dst[tcp],
                                    hc.sport[tcp], hc.dport[tcp])  # type: ignore[attr-defined]
        return out

    def observe(self, p: PayloadColumns, src: np.ndarray, dst: np.ndarray, sport: np.ndarray,
                dport: np.ndarray) -> np.ndarray:
        """int32[n] name ids into `self.table` (see the module contract)."""
        n = src.size
        zero = np.zeros(n, np.uint64)  # IPv4 flows: family 4, high halves 0
        keys, hashes = flow_keys(np.full(n, 4, np.uint8), zero, src, zero, dst,
                                 np.full(n, 6, np.int16), sport, dport)
        fid, _ = self.index.index(hashes[:n], keys[:n])
        if self.name_of.size < self.index.size:
            self.name_of = np.resize(self.name_of, max(2 * self.name_of.size, self.index.size))
            self.name_of[self.name_of.size // 2:] = 0
        open_ = (p.start >= 0) & ((self.name_of[fid] == 0) | (self.name_of[fid] == self._pending_id))
        rows = np.flatnonzero(open_)
        if rows.size:
            done = self._first_segments(p, fid, rows)
            self._continue(p, fid, rows, done)
        return self.name_of[fid]

    def _first_segments(self, p: PayloadColumns, fid: np.ndarray, rows: np.ndarray
                        ) -> np.ndarray:
        """The compiled kernel on each new flow's first payload segment; returns those rows."""
        fresh = rows[self.name_of[fid[rows]] == 0]
        _, first = np.unique(fid[fresh], return_index=True)
        first = fresh[np.sort(first)]
        got = server_names(p.buf, p.start[first], p.captured[first])
        buf, table = p.buf, self.table
        ids = np.empty(first.size, dtype=np.int32)
        named = (got.kind == NameKind.TLS_SNI) | (got.kind == NameKind.HTTP_HOST)
        if named.any():  # the common case, on columns: names interned by their bytes
            ids[named] = self._intern_named(buf, got.kind[named], got.name_offset[named],
                                            got.name_len[named])
        fids = fid[first].tolist()
        for j in np.flatnonzero(~named).tolist():
            row, o, kind = int(first[j]), int(got.name_offset[j]), int(got.kind[j])
            size, start = int(p.captured[row]), int(p.start[row])
            r = _settle(kind, buf[o:o + int(got.name_len[j])].tobytes() if o >= 0 else b"",
                        size, int(got.needed_len[j]), size < int(p.wire_len[row]),
                        (int(p.seq[row]) + int(p.wire_len[row])) & 0xFFFFFFFF,
                        buf[start:start + size].tobytes() if kind == NameKind.INCOMPLETE else b"")
            if isinstance(r, _Reassembly):
                self.pending[fids[j]] = r
            ids[j] = table.intern(_pending(r))
        self.name_of[fid[first]] = ids
        return first

    def _intern_named(self, buf: np.ndarray, kinds: np.ndarray, offsets: np.ndarray,
                      lengths: np.ndarray) -> np.ndarray:
        """Name ids of names at buf[offsets : offsets + lengths]: the bytes gathered in one
        go, each distinct (kind, bytes) interned once (the same FlowName as `_settle`'s)."""
        lengths = lengths.astype(np.int64)
        ends = np.cumsum(lengths)
        begins = ends - lengths
        blob = buf[np.repeat(offsets - begins, lengths) + np.arange(int(ends[-1]))].tobytes()
        pieces = [blob[a:b] for a, b in zip(begins.tolist(), ends.tolist(), strict=True)]
        return np.array(self._ids_of(list(zip(kinds.tolist(), pieces, strict=True))),
                        dtype=np.int32)

    def _ids_of(self, keys: list[tuple[int, bytes]]) -> list[int]:
        """Name ids of (kind, name bytes) keys, each new one interned once (the same FlowName
        as `_settle`'s)."""
        by_bytes = self._by_bytes
        out = [by_bytes.get(k) for k in keys]
        fresh = list(dict.fromkeys(k for k, i in zip(keys, out, strict=True) if i is None))
        if fresh:  # each new (kind, bytes) once, in order
            by_bytes.update(zip(fresh, self.table.intern_many([FlowName(
                k, b.decode("ascii", "backslashreplace")) for k, b in fresh]), strict=True))
            out = [by_bytes[k] for k in keys]
        return out

    def _continue(self, p: PayloadColumns, fid: np.ndarray, rows: np.ndarray,
                  done: np.ndarray) -> None:
        """Later segments of flows still pending, in capture order."""
        if not self.pending:
            return
        wanted = np.isin(fid[rows], np.fromiter(self.pending, dtype=np.int64)) & ~np.isin(
            rows, done)
        for row in rows[wanted].tolist():
            f = int(fid[row])
            if f not in self.pending:
                continue
            start = int(p.start[row])
            self._record(f, _step(self.pending.pop(f), p.buf[start:start + int(
                p.captured[row])].tobytes(), int(p.seq[row]), int(p.wire_len[row]),
                server_names))

    def _record(self, f: int, r: FlowName | _Reassembly) -> None:
        if isinstance(r, _Reassembly):
            self.pending[f] = r
        self.name_of[f] = self.table.intern(_pending(r))


__all__ = ["NOT_SEEN", "PAYLOAD_ASSUMPTIONS", "REASSEMBLY_LIMIT_BYTES", "FlowName", "FlowNames",
           "FlowNamesReference", "NameTable", "first_payload", "PayloadColumns", "payload_columns", "synthetic"]
