"""Per TCP flow, the server name its first payload asks for (TLS SNI or HTTP/1.x Host): plain
and batch forms side by side, state kept across batches.

Contract. `payload_columns(rb, hc, rows)` cuts a capture batch (io/capture.py RecordBatch and the
header kernel's columns) into `PayloadColumns`: per packet the TCP payload's start in the
batch buffer, the bytes captured, the bytes on the wire and the TCP sequence number.
`FlowNames.observe(p, keys)` (batch form) and `FlowNamesReference.observe` (plain form, one
packet at a time) read them and return, per packet, the server name of the packet's flow as
it stands after the whole batch: every packet of a flow (its handshake too) carries the name
of the flow's first payload when that payload is in the same batch or an earlier one.
A flow is keyed (`FlowKeys`) by its client->server 5-tuple as the engine keys it (mapped
addresses), both address families (family and 64-bit address halves: two IPv6 flows on the
same ports are two flows); a server->client packet (`FlowKeys.reply`: its source port is
the one application rules name) belongs to the flow of its reverse tuple and carries that
flow's name (packets.csv's serverName), its own payload never read. Batch form: name ids
(int32) into `FlowNames.table` (a `NameTable`; id 0 = `NOT_SEEN`); plain form: `FlowName`s.
Both give the same names (tests/engine/test_app_rules_payload.py, hypothesis;
tests/engine/test_app_names_keys.py: IPv6 flows, replies).

What is read: the first payload bytes of each flow, through the server-name kernel
(kernels/servername.py: TLS ClientHello server_name, HTTP/1.x Host). A ClientHello (or HTTP
header block) split over segments is reassembled from the flow's next payload segments, in
capture order, each starting at the sequence number where the previous one ended, up to
`REASSEMBLY_LIMIT_BYTES` (one full TLS record: RFC 8446 section 5.1, 2^14 bytes of plaintext
and a 5-byte header). What is not reassembled gives a name that is *unknown* (never guessed,
`FlowName.missing` says why): a segment cut by the capture's snaplen before the name, a
segment out of order or retransmitted (a first segment too, when the flow's first packet in
the capture is the client's SYN and says the byte stream begins elsewhere: RFC 9293 3.4.1, the
SYN's sequence number + 1), more than the limit, a ClientHello continuing into a second TLS record, a malformed
handshake, a flow whose payload is not (yet) in the capture.
A first payload that is complete but holds no name (TLS without SNI, HTTP without Host,
neither TLS nor HTTP) is *absent*: the flow carries no name Azure Firewall could match.
When a packet learns its name (the rule that makes a flow's verdict independent of how the
replay is cut into batches): every observed packet is stamped with the capture clock (the
running maximum of capture timestamps, ns) and its position in the capture (packets read
before it); a packet stamped (t, i) carries the name its flow has once the capture has been
read up to t + `NAME_WAIT_NS` and up to position i + `NAME_WAIT_PACKETS`, whichever comes
first -- the settled name when the packet that settled it lies within both, else PENDING when
the flow's first payload does, else NOT_SEEN -- or, at the end of the capture, what the flow
has then (`FlowNames.names_at` / `FlowNamesReference.names_at`, one rule: `_stage_at`).
`FlowNames.waiting` says which packets cannot know yet (the replay holds them, and every
packet after them, undecided until they can: engine/emulator.py; at most NAME_WAIT_PACKETS
packets are held for names). So a flow's handshake, in a batch before its ClientHello,
carries the ClientHello's name, and a name that comes later than either bound after a packet
leaves that packet unknown (FIREWALL_NAME_UNKNOWN where an application rule could allow it),
whatever the batch size.
Assumptions (PAYLOAD_ASSUMPTIONS): when the flow's first packet in the capture is not the client's
SYN, the first payload segment in capture order starts the flow's byte stream (a lost or
reordered one is read as it comes); when it is, a first segment elsewhere leaves the name
unknown (a SYN retried with another sequence number is not read); a 5-tuple keeps the name
of its first payload for the whole replay (a later connection reusing it is not told apart);
the name wait above.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from itertools import repeat
from operator import itemgetter
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from dataplane.control.application_rules import FqdnMatcher, normal_name
from dataplane.io.capture import RecordBatch
from dataplane.kernels.pipeline import KEY_WORDS, KeyIndex, flow_keys
from dataplane.kernels.pipeline_py import mix64
from dataplane.kernels.servername import NameKind, server_names
from dataplane.kernels.servername_py import server_names as server_names_py

REASSEMBLY_LIMIT_BYTES = 5 + (1 << 14)  # RFC 8446 5.1: TLSPlaintext.length <= 2^14
# How long (capture time) a packet of a flow waits for the flow's name: a client sends its
# ClientHello / request right after the handshake (one round trip, well under a second);
# Microsoft documents no wait of the firewall's proxy. Chosen, and stated in PAYLOAD_ASSUMPTIONS.
NAME_WAIT_NS = 1_000_000_000
# ... and at most this many packets of the capture (bounds the rows a replay holds for names).
NAME_WAIT_PACKETS = 1 << 18
NEVER = np.iinfo(np.int64).max  # a time not (yet) reached

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
    "flow's byte stream begins where the client's SYN says (sequence number + 1; a first "
    "segment elsewhere is out of order: name unknown) when that SYN is the flow's first packet "
    "in the capture, else at its first payload segment in capture order (a lost or reordered "
    "first segment is then read as it comes); a 5-tuple keeps that name for the whole replay, "
    "a new connection on it too (engine/payload.py).",
    f"payload-name-wait: every packet of a flow (its handshake too) carries the name the flow "
    f"has {NAME_WAIT_NS // 1_000_000} ms of capture time or {NAME_WAIT_PACKETS:,} packets of "
    "the capture after the packet, whichever comes first (or at the end of the capture), "
    "whatever the replay's batch size: the replay holds a packet undecided until then; a name "
    "first seen later leaves the earlier packets FIREWALL_NAME_UNKNOWN where an "
    "application rule could allow the flow (Microsoft documents no wait of the firewall's "
    "proxy; chosen: a client sends its first payload one round trip after the handshake) "
    "(engine/payload.py NAME_WAIT_NS).",
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


# FlowName from a (kind, name, missing) tuple without a Python-level call (what its __new__ does)
_flow_name = partial(tuple.__new__, FlowName)
NOT_SEEN = FlowName(NameKind.NO_PAYLOAD, "", NOT_IN_CAPTURE)
WAITING = FlowName(NameKind.INCOMPLETE, "", PENDING)  # first payload begun, name not settled


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
    control/application_rules.normal_name; '' without one); `names`, the FlowNames, made when
    first asked for. A name with a protocol (TLS SNI, HTTP Host) and nothing missing whose
    text is ASCII without NUL, at most `KEYED_MAX_BYTES` long, is *keyed*: interned by its
    kind byte and text bytes through the key-interning kernel (kernels/pipeline.py KeyIndex,
    one per key width: 8, 16, ... 256 bytes), a batch's names at once (`intern_rows`); the
    others (absent, unknown, pending: few) through a dict."""

    def __init__(self, names: Iterable[FlowName] = ()) -> None:
        self.asked: list[str] = []
        self._fields: tuple[list[int], list[str], list[str]] = ([], [], [])  # kind, name, missing
        self._names: list[FlowName] = []  # the first ids' FlowNames, made (`names`)
        self._codes = np.zeros(64, dtype=np.int8)
        self._ids: dict[FlowName, int] = {}  # the names that are not keyed
        self._keys: dict[int, tuple[KeyIndex, np.ndarray]] = {}  # words -> index, table ids
        self._matched: dict[FqdnMatcher, np.ndarray] = {}  # matcher -> `matches` so far
        for name in (NOT_SEEN, *names):
            self.intern(name)

    def __len__(self) -> int:
        return len(self.asked)

    @property
    def names(self) -> list[FlowName]:
        """The FlowName of each id (a list: index it by id)."""
        done = len(self._names)
        if done < len(self):
            self._names += map(_flow_name, zip(*(f[done:] for f in self._fields), strict=True))
        return self._names

    @property
    def codes(self) -> np.ndarray:
        return self._codes[:len(self)]

    def matches(self, targets: FqdnMatcher) -> np.ndarray:
        """bool[len(self)]: per id, whether `targets` (an application rule's) match its asked
        name ('' for a name without a protocol: index by the ids of names with one). Each id's
        answer is computed once per matcher while this table lives: a batch's rounds and the
        next batches ask again for the same names."""
        done = self._matched.get(targets, np.zeros(0, bool))
        if done.size < len(self):
            done = self._matched[targets] = np.concatenate(
                [done, targets.normal(self.asked[done.size:])])
        return done

    def intern(self, name: FlowName) -> int:
        return self.intern_many([name])[0]

    def intern_many(self, names: list[FlowName]) -> list[int]:
        """Ids of `names`, the new ones appended in order of first appearance."""
        keyed = list(map(_keyed, names))
        if all(keyed):
            texts = [n.name.encode("ascii") for n in names]
            size = np.array(list(map(len, texts)), np.int64)
            body = _gather(np.frombuffer(b"".join(texts) + bytes(int(size.max())), np.uint8),
                           np.cumsum(size) - size, size)
            return self.intern_rows(np.array([n.kind for n in names], np.uint8), body,
                                    size).tolist()
        if any(keyed):  # some of each (rare): one at a time, in order
            return [self.intern_many([name])[0] for name in names]
        ids = self._ids
        new = [name for name in dict.fromkeys(names) if name not in ids]
        if new:
            ids.update(zip(new, range(len(self), len(self) + len(new)), strict=True))
            protocols = list(map(_KNOWN.get, map(itemgetter(0), new), repeat("")))
            self._append(list(map(itemgetter(0), new)), list(map(itemgetter(1), new)),
                         list(map(itemgetter(2), new)), [
                             _CODES[p] if p else ABSENT if n.absent else UNKNOWN
                             for n, p in zip(new, protocols, strict=True)],
                         [normal_name(n.name, p) if p else ""
                          for n, p in zip(new, protocols, strict=True)])
        return list(map(ids.__getitem__, names))

    def intern_rows(self, kinds: np.ndarray, body: np.ndarray, size: np.ndarray
                    ) -> np.ndarray:
        """int32[n] ids of keyed names given as columns: `kinds` (uint8[n], TLS_SNI or
        HTTP_HOST), `body` (uint8[n, w]: each name's ASCII text bytes, zero-padded) and
        `size` (int64[n] text bytes, 1 to KEYED_MAX_BYTES). Those not interned yet are added
        in order of first appearance."""
        n = kinds.size
        if n == 0:
            return np.zeros(0, np.int32)
        words = _KEY_WORDS[np.searchsorted(_KEY_WORDS, (size + 8) // 8)]  # kind byte + text
        key = np.zeros((n, 8 * int(words.max())), np.uint8)
        key[:, 0] = kinds
        m = min(body.shape[1], key.shape[1] - 1)
        key[:, 1:1 + m] = body[:, :m]
        ids = np.empty(n, dtype=np.int32)
        found = []  # per key width: (width, rows, local ids, new)
        for w in np.unique(words).tolist():
            rows = np.flatnonzero(words == w)
            k = np.ascontiguousarray(key[rows, :8 * w]).view(np.uint64)
            index = self._keys.setdefault(w, (KeyIndex(w, 256), np.zeros(0, np.int32)))[0]
            found.append((w, rows, *index.index(_key_hash(k), k)))
        first = np.sort(np.concatenate([rows[new] for _, rows, _, new in found]))
        for w, rows, local, new in found:  # new names: the next ids, in row order
            index, table_ids = self._keys[w]
            if new.any():
                grown = np.empty(index.size, np.int32)
                grown[:table_ids.size] = table_ids
                grown[local[new]] = len(self) + np.searchsorted(first, rows[new])
                self._keys[w] = (index, table_ids := grown)
            ids[rows] = table_ids[local]
        if first.size:
            self._append_keyed(kinds[first], body[first], size[first])
        return ids

    def _append_keyed(self, kinds: np.ndarray, body: np.ndarray, size: np.ndarray) -> None:
        """Add keyed names (columns as intern_rows') as the next ids."""
        texts = list(map(bytes.decode, body.view(f"S{body.shape[1]}").ravel().tolist()))
        asked = list(map(str.lower, texts))  # ASCII: as normal_name, unless odd below
        odd = ((body == 32) | ((body >= 9) & (body <= 13)) | ((body >= 28) & (body <= 31))
               ).any(axis=1)  # bytes str.strip() may remove (Python's whitespace)
        odd |= body[np.arange(kinds.size), size - 1] == ord(".")
        odd |= (kinds == NameKind.HTTP_HOST) & (body == ord(":")).any(axis=1)  # a port
        protocols = list(map(_KNOWN.__getitem__, kinds.tolist()))
        for i in np.flatnonzero(odd).tolist():  # spaces, a trailing dot, a port: in Python
            asked[i] = normal_name(texts[i], protocols[i])
        self._append(kinds.tolist(), texts, [""] * kinds.size,
                     list(map(_CODES.__getitem__, protocols)), asked)

    def _append(self, kinds: list[int], names: list[str], missing: list[str],
                 codes: list[int], asked: list[str]) -> None:
        """Add names (their fields, codes and asked names) as the next ids."""
        start, stop = len(self), len(self) + len(kinds)
        for field, values in zip(self._fields, (kinds, names, missing), strict=True):
            field += values
        if stop > self._codes.size:
            self._codes = np.resize(self._codes, max(2 * self._codes.size, stop))
        self._codes[start:stop] = codes
        self.asked += asked


KEYED_MAX_BYTES = 255  # RFC 1035 section 2.3.4: a domain name is at most 255 bytes
_KEY_WORDS = np.array([1, 2, 4, 8, 16, 32])  # NameTable's key widths (uint64 words)


def _key_hash(k: np.ndarray) -> np.ndarray:
    """uint64[n]: a hash of each row of keys `k` (uint64[n, w]): any function of the key does
    (KeyIndex compares keys in full); the project's mix64 folded over the words."""
    h = np.zeros(k.shape[0], np.uint64)
    for j in range(k.shape[1]):
        h = mix64(h, k[:, j])
    return h


def _gather(buf: np.ndarray, offsets: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """uint8[n, w]: the bytes buf[offsets : offsets + lengths], zero-padded, w the largest
    length. Needs offsets + w <= buf.size."""
    width = max(int(lengths.max()) if lengths.size else 1, 1)
    body = sliding_window_view(buf, width)[offsets].copy()
    body[np.arange(width) >= lengths[:, None]] = 0
    return body


def _keyed(name: FlowName) -> bool:
    """Whether NameTable keys `name` (its contract)."""
    return name.kind in _KNOWN and not name.missing and name.name.isascii() \
        and "\0" not in name.name and 0 < len(name.name) <= KEYED_MAX_BYTES


class PayloadColumns(NamedTuple):
    buf: np.ndarray        # uint8: the batch's frames
    start: np.ndarray      # int64 start of the TCP payload in buf; -1: no TCP payload
    captured: np.ndarray   # int32 payload bytes captured
    wire_len: np.ndarray   # int32 payload bytes on the wire
    seq: np.ndarray        # int64 TCP sequence number of the payload's first byte (a SYN's:
    #                        its own + 1, where the byte stream begins: RFC 9293 3.4.1)
    syn: np.ndarray | None = None  # bool: a client's SYN (SYN set, ACK clear); None: no SYNs


def payload_columns(rb: RecordBatch, hc: object, rows: np.ndarray | None = None
                    ) -> PayloadColumns:
    """Per packet of `rb` (header kernel columns `hc`; only `rows` of them when given): its TCP
    payload, when it has one (parsed IPv4/IPv6 TCP, payload_len > 0, one byte captured), and
    whether it is a SYN without ACK (its `seq`: where the flow's byte stream begins)."""
    pick = slice(None) if rows is None else rows
    off = hc.payload_offset[pick].astype(np.int64)  # type: ignore[attr-defined]
    wire = hc.payload_len[pick].astype(np.int32)  # type: ignore[attr-defined]
    frame = rb.offsets[pick]
    captured = np.clip(rb.caplens[pick].astype(np.int64) - off, 0, wire).astype(np.int32)
    tcp = (hc.status[pick] == 0) & (hc.proto[pick] == 6)  # type: ignore[attr-defined]
    has = tcp & (off >= 0) & (wire > 0) & (captured > 0)
    start = np.where(has, frame + off, -1)
    syn, seq = _syn_seq(rb.buf, frame + hc.l4_offset[pick].astype(np.int64), tcp)  # type: ignore[attr-defined]
    return PayloadColumns(rb.buf, start, np.where(has, captured, 0).astype(np.int32),
                          np.where(has, wire, 0).astype(np.int32), seq, syn)


def _syn_seq(buf: np.ndarray, l4: np.ndarray, tcp: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """(bool[n] the TCP rows (`tcp`; their headers at buf[l4]) that are a SYN without ACK,
    int64[n] each TCP row's sequence number, a SYN's + 1: where its payload or the byte stream
    begins; RFC 9293 section 3.1: sequence number at byte 4, flags at byte 13, SYN 0x02, ACK
    0x10; 3.4.1: the SYN takes one sequence number)."""
    syn = np.zeros(l4.size, bool)
    seq = np.zeros(l4.size, np.int64)
    at = l4[tcp]
    syn[tcp] = (buf[at + 13] & 0x12) == 0x02
    seq[tcp] = ((buf[at + 4].astype(np.int64) << 24) | (buf[at + 5].astype(np.int64) << 16)
                | (buf[at + 6].astype(np.int64) << 8) | buf[at + 7])
    seq[syn] = (seq[syn] + 1) & 0xFFFFFFFF
    return syn, seq


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
    return r if isinstance(r, FlowName) else WAITING


Stamp = tuple  # (capture clock ns, position in the capture): where a flow's name changed


def _stage_at(settled: Stamp, first: Stamp, deadline: Stamp) -> np.ndarray:
    """The one rule of both forms (module contract): per packet, 2 when its flow's name
    settled within the `deadline` (time, position), 1 when its first payload began within it
    (PENDING), 0 (NOT_SEEN) else. Stamps and deadlines: pairs of ints or int64 arrays."""
    def within(at: Stamp) -> np.ndarray:
        return (at[0] <= deadline[0]) & (at[1] <= deadline[1])
    return np.where(within(settled), 2, np.where(within(first), 1, 0))


class FlowNamesReference:
    """Plain form: one packet at a time, state in dicts keyed by 5-tuple."""

    def __init__(self) -> None:
        self.settled: dict[tuple[int, ...], FlowName] = {}
        self.pending: dict[tuple[int, ...], _Reassembly] = {}
        self.first_at: dict[tuple[int, ...], Stamp] = {}  # the first payload's stamp
        self.settled_at: dict[tuple[int, ...], Stamp] = {}
        self.stream_start: dict[tuple[int, ...], int] = {}  # from the client's SYN
        self.seen: set[tuple[int, ...]] = set()

    def observe(self, p: PayloadColumns, keys: FlowKeys, time_ns: np.ndarray | None = None,
                position: np.ndarray | None = None) -> list[FlowName]:
        """Per packet, its flow's name after the whole batch; `time_ns`, `position`: each
        packet's stamp (capture clock, position in the capture; default 0)."""
        flows = keys.flows()
        times = list(zip(*(([0] * len(flows)) if a is None else a.tolist()
                           for a in (time_ns, position)), strict=True))
        buf = p.buf.tobytes()
        syn = [False] * len(flows) if p.syn is None else p.syn.tolist()
        for i, (key, reply) in enumerate(zip(flows, keys.replies().tolist(), strict=True)):
            start = int(p.start[i])
            lead = key not in self.seen  # the flow's first packet
            self.seen.add(key)
            if lead and syn[i] and not reply:  # the client's SYN: where the stream begins
                self.stream_start[key] = int(p.seq[i])
            if start < 0 or reply or key in self.settled:
                continue
            self.first_at.setdefault(key, times[i])
            begun = self.stream_start.get(key)
            r = _step(self.pending.pop(key, None if begun is None else _Reassembly(b"", begun)),
                      buf[start:start + int(p.captured[i])], int(p.seq[i]),
                      int(p.wire_len[i]))
            if isinstance(r, FlowName):
                self.settled[key] = r
                self.settled_at[key] = times[i]
            else:
                self.pending[key] = r
        return [self._now(k) for k in flows]

    def _now(self, key: tuple[int, ...]) -> FlowName:
        return self.settled[key] if key in self.settled else _pending(
            self.pending[key]) if key in self.pending else NOT_SEEN

    def names_at(self, keys: FlowKeys, deadline_ns: np.ndarray, deadline_position: np.ndarray
                 ) -> list[FlowName]:
        """Per packet, its flow's name as it stood at its deadline (module contract)."""
        out = []
        never = (NEVER, NEVER)
        for key, deadline in zip(keys.flows(), zip(
                deadline_ns.tolist(), deadline_position.tolist(), strict=True), strict=True):
            stage = int(_stage_at(self.settled_at.get(key, never),
                                  self.first_at.get(key, never), deadline))
            out.append(self.settled[key] if stage == 2 else NOT_SEEN if stage == 0 else
                       WAITING)
        return out


class FlowKeys(NamedTuple):
    """Per packet (n rows), its flow as the engine keys it (mapped addresses): `family` (4 or
    6), source and destination addresses as uint64 halves (IPv4: in `*_lo`, `*_hi` 0), TCP
    ports, and `reply` (bool; None: none): the packet goes server->client, its flow is its
    reverse tuple and its payload is not read."""

    family: np.ndarray
    src_hi: np.ndarray
    src_lo: np.ndarray
    dst_hi: np.ndarray
    dst_lo: np.ndarray
    sport: np.ndarray
    dport: np.ndarray
    reply: np.ndarray | None = None

    @classmethod
    def ipv4(cls, src: np.ndarray, dst: np.ndarray, sport: np.ndarray, dport: np.ndarray,
             reply: np.ndarray | None = None) -> FlowKeys:
        """IPv4 packets by their integer addresses."""
        zero = np.zeros(np.asarray(src).size, np.uint64)
        return cls(np.full(zero.size, 4, np.uint8), zero, np.asarray(src, np.uint64), zero,
                   np.asarray(dst, np.uint64), sport, dport, reply)

    def replies(self) -> np.ndarray:
        return np.zeros(self.sport.size, bool) if self.reply is None else \
            np.asarray(self.reply, bool)

    def flows(self) -> list[tuple[int, ...]]:
        """Each packet's flow as a plain tuple (family, client halves, server halves, client
        port, server port): a reply's fields reversed."""
        fields = [np.asarray(a).tolist() for a in self[:7]]
        out = []
        for (f, shi, slo, dhi, dlo, sp, dp), reply in zip(zip(*fields, strict=True),
                                                           self.replies().tolist(), strict=True):
            out.append((f, dhi, dlo, shi, slo, dp, sp) if reply else
                       (f, shi, slo, dhi, dlo, sp, dp))
        return out


def _among(values: np.ndarray, ports: np.ndarray) -> np.ndarray:
    """bool[n]: which `values` are among `ports` (the few ports application rules name: one
    comparison each, cheaper than np.isin's sort or table; np.isin for many)."""
    if ports.size > 8:
        return np.isin(values, ports)
    out = np.zeros(values.size, bool)
    for port in ports.tolist():
        out |= values == port
    return out


class FlowNames:
    """Batch form: flows interned by the key kernel (kernels/pipeline.py), first payloads
    through the compiled server-name kernel, only split ones continued in Python. Per flow id:
    its name id (`name_of`), the stamp (capture clock, position) of its first payload
    (`first_at`, `first_pos`) and of the packet that settled its name (`settled_at`,
    `settled_pos`; NEVER while not settled)."""

    def __init__(self) -> None:
        self.table = NameTable()
        self.index = KeyIndex(KEY_WORDS, 1 << 12)
        self.name_of = np.zeros(1 << 12, dtype=np.int32)  # flow id -> name id (0: not seen)
        self.first_at = np.full(1 << 12, NEVER, dtype=np.int64)
        self.settled_at = np.full(1 << 12, NEVER, dtype=np.int64)
        self.first_pos = np.full(1 << 12, NEVER, dtype=np.int64)
        self.settled_pos = np.full(1 << 12, NEVER, dtype=np.int64)
        self.stream_start = np.full(1 << 12, -1, dtype=np.int64)  # from the SYN; -1: none
        self.pending: dict[int, _Reassembly] = {}
        self._pending_id = self.table.intern(WAITING)

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]

    def observe_batch(self, rb: RecordBatch, hc: object, family: np.ndarray,
                      src_hi: np.ndarray, src_lo: np.ndarray, dst_hi: np.ndarray,
                      dst_lo: np.ndarray, ports: np.ndarray, time_ns: np.ndarray | None = None,
                      position: np.ndarray | None = None) -> np.ndarray:
        """int64[n] flow ids (into this object's state; -1: not read) of a capture batch's
        packets (`family`, the address halves: as the engine keys them, mapped; `time_ns`,
        `position`: each packet's stamp, default 0); only parsed IPv4 and IPv6 TCP packets
        to one of `ports` (the ports application rules name: stages/firewall.py
        application_ports) or from one (a server's replies: the flow of their reverse
        tuple) are read. Their names: `names_at`."""
        out = np.full(len(rb), -1, dtype=np.int64)
        if ports.size == 0:
            return out
        tcp = (hc.status == 0) & (hc.proto == 6)  # type: ignore[attr-defined]
        to = _among(hc.dport, ports)  # type: ignore[attr-defined]
        from_ = _among(hc.sport, ports) & ~to  # type: ignore[attr-defined]
        rows = np.flatnonzero(tcp & (to | from_))
        if rows.size == 0:
            return out
        reply = from_[rows]
        fid, new = self._flow_ids(FlowKeys(family[rows], src_hi[rows], src_lo[rows], dst_hi[rows],
                                      dst_lo[rows], hc.sport[rows], hc.dport[rows],  # type: ignore[attr-defined]
                                      reply))
        lead = np.flatnonzero(new & ~reply)  # a flow's first packet, the client's: a SYN?
        if lead.size:
            syn, seq = _syn_seq(rb.buf, rb.offsets[rows[lead]] + hc.l4_offset[rows[lead]]  # type: ignore[attr-defined]
                                .astype(np.int64), np.ones(lead.size, bool))  # all TCP
            self.stream_start[fid[lead[syn]]] = seq[syn]
        # only a client packet with a payload, of a flow whose name is not settled, is read:
        # the payload columns of those rows alone (payload_columns drops the empty ones)
        sel = ~reply & (hc.payload_len[rows] > 0) & self._unsettled(fid)  # type: ignore[attr-defined]
        if sel.any():
            read = rows[sel]
            self._read(payload_columns(rb, hc, read), fid[sel],
                       *(None if a is None else a[read] for a in (time_ns, position)))
        out[rows] = fid
        return out

    def observe(self, p: PayloadColumns, keys: FlowKeys, time_ns: np.ndarray | None = None,
                position: np.ndarray | None = None) -> np.ndarray:
        """int32[n] name ids into `self.table`: each packet's flow's name after the whole
        batch (see the module contract)."""
        return self.name_of[self.flows(p, keys, time_ns, position)]

    def flows(self, p: PayloadColumns, keys: FlowKeys, time_ns: np.ndarray | None = None,
              position: np.ndarray | None = None) -> np.ndarray:
        """Read the packets (in order); int64[n] their flow ids."""
        fid, new = self._flow_ids(keys)
        lead = new & ~keys.replies() & (False if p.syn is None else p.syn)
        self.stream_start[fid[lead]] = p.seq[lead]
        self._read(p, fid, time_ns, position, ~keys.replies())
        return fid

    def _flow_ids(self, keys: FlowKeys) -> tuple[np.ndarray, np.ndarray]:
        """(int64[n] each packet's flow id (a reply's: its reverse tuple's), interned; bool[n]
        the packets that are their flow's first); the per-flow columns grown to hold them."""
        n = keys.sport.size
        reply = keys.replies()

        def client(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # a reply's flow: reversed
            return np.where(reply, b, a) if reply.any() else a

        words, hashes = flow_keys(keys.family, client(keys.src_hi, keys.dst_hi),
                                  client(keys.src_lo, keys.dst_lo),
                                  client(keys.dst_hi, keys.src_hi),
                                  client(keys.dst_lo, keys.src_lo), np.full(n, 6, np.int16),
                                  client(keys.sport, keys.dport), client(keys.dport, keys.sport))
        fid, new = self.index.index(hashes[:n], words[:n])
        if self.name_of.size < self.index.size:
            size = max(2 * self.name_of.size, self.index.size)
            old = self.name_of.size
            self.name_of = np.resize(self.name_of, size)
            self.name_of[old:] = 0
            for column in ("first_at", "settled_at", "first_pos", "settled_pos",
                           "stream_start"):
                grown = np.full(size, -1 if column == "stream_start" else NEVER, np.int64)
                grown[:old] = getattr(self, column)
                setattr(self, column, grown)
        return fid, new

    def _unsettled(self, fid: np.ndarray) -> np.ndarray:
        """bool[n]: flows whose name is not settled (not seen, or its first payload pending)."""
        name = self.name_of[fid]
        return (name == 0) | (name == self._pending_id)

    def _read(self, p: PayloadColumns, fid: np.ndarray, time_ns: np.ndarray | None,
              position: np.ndarray | None, client: np.ndarray | bool = True) -> None:
        """Read, in order, the payloads `p` of packets of flows `fid` (stamps `time_ns`,
        `position`), only those of `client` packets (a reply's payload is never read)."""
        rows = np.flatnonzero((p.start >= 0) & client & self._unsettled(fid))
        if rows.size:
            n = fid.size
            t = tuple(np.zeros(n, np.int64) if a is None else a.astype(np.int64)
                      for a in (time_ns, position))
            done = self._first_segments(p, fid, rows, t)
            self._continue(p, fid, rows, done, t)

    def names_at(self, fid: np.ndarray, deadline_ns: np.ndarray,
                 deadline_position: np.ndarray) -> np.ndarray:
        """int32[n] name ids: each packet's flow (`fid` from `flows`/`observe_batch`, -1: no
        name read) as it stood at its deadline (capture clock, position; module contract)."""
        f = np.maximum(fid, 0)
        stage = np.where(fid >= 0, _stage_at(
            (self.settled_at[f], self.settled_pos[f]), (self.first_at[f], self.first_pos[f]),
            (deadline_ns, deadline_position)), 0)
        return np.where(stage == 2, self.name_of[f],
                        np.where(stage == 1, self._pending_id, 0)).astype(np.int32)

    def waiting(self, fid: np.ndarray, deadline_ns: np.ndarray, deadline_position: np.ndarray,
                heard_ns: int, read: int) -> np.ndarray:
        """bool[n]: packets whose name is not settled yet and whose deadline the capture read
        so far (`read` packets, up to the clock `heard_ns`: later packets may still carry that
        time) has not passed; they cannot know their name yet."""
        f = np.maximum(fid, 0)
        return ((fid >= 0) & (self.settled_at[f] == NEVER) & (deadline_ns >= heard_ns)
                & (deadline_position >= read))

    def _first_segments(self, p: PayloadColumns, fid: np.ndarray, rows: np.ndarray,
                        t: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """The compiled kernel on each new flow's first payload segment; returns those rows.
        A segment that does not begin where the flow's SYN (its first packet, when that is
        the client's SYN: `stream_start`) says the byte stream begins is out of order: the
        name is unknown (OUT_OF_ORDER), never read from the middle of the stream."""
        fresh = rows[self.name_of[fid[rows]] == 0]
        _, first = np.unique(fid[fresh], return_index=True)
        first = fresh[np.sort(first)]
        begins = self.stream_start[fid[first]]
        astray = (begins >= 0) & (p.seq[first] != begins)
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
        if astray.any():
            ids[astray] = table.intern(FlowName(NameKind.INCOMPLETE, "", OUT_OF_ORDER))
            for f in fid[first[astray]].tolist():
                self.pending.pop(f, None)
        flows = fid[first]
        self.name_of[flows] = ids
        self.first_at[flows], self.first_pos[flows] = t[0][first], t[1][first]
        settled = ids != self._pending_id
        at = first[settled]
        self.settled_at[flows[settled]], self.settled_pos[flows[settled]] = t[0][at], t[1][at]
        return first

    def _intern_named(self, buf: np.ndarray, kinds: np.ndarray, offsets: np.ndarray,
                      lengths: np.ndarray) -> np.ndarray:
        """Name ids of the names at buf[offsets : offsets + lengths] (kinds TLS SNI or HTTP
        Host): the same FlowNames as `_settle`'s, gathered as rows of bytes in one go and
        interned at once (NameTable.intern_rows); a name whose bytes are not its text as
        they are (a byte that is not ASCII, escaped in the text; a NUL), too long to key
        or too near the buffer's end to gather is made on its own."""
        lengths = lengths.astype(np.int64)
        offsets = offsets.astype(np.int64)
        ids = np.empty(kinds.size, dtype=np.int32)
        alone = (lengths > KEYED_MAX_BYTES) | (offsets + int(lengths.max()) > buf.size)
        rows = np.flatnonzero(~alone)
        if rows.size:
            size = lengths[rows]
            body = _gather(buf, offsets[rows], size)
            odd = (((body == 0) | (body >= 0x80))
                   & (np.arange(body.shape[1]) < size[:, None])).any(axis=1)
            ids[rows[~odd]] = self.table.intern_rows(kinds[rows[~odd]].astype(np.uint8),
                                                     body[~odd], size[~odd])
            alone[rows[odd]] = True
        for r in np.flatnonzero(alone).tolist():
            o, k = int(offsets[r]), int(lengths[r])
            ids[r] = self.table.intern(FlowName(int(kinds[r]), buf[o:o + k].tobytes().decode(
                "ascii", "backslashreplace")))
        return ids

    def _continue(self, p: PayloadColumns, fid: np.ndarray, rows: np.ndarray,
                  done: np.ndarray, t: tuple[np.ndarray, np.ndarray]) -> None:
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
            r = _step(self.pending.pop(f), p.buf[start:start + int(p.captured[row])].tobytes(),
                      int(p.seq[row]), int(p.wire_len[row]), server_names)
            if isinstance(r, _Reassembly):
                self.pending[f] = r
            else:
                self.settled_at[f], self.settled_pos[f] = t[0][row], t[1][row]
            self.name_of[f] = self.table.intern(_pending(r))


__all__ = ["NAME_WAIT_NS", "NAME_WAIT_PACKETS", "NOT_SEEN", "PAYLOAD_ASSUMPTIONS",
           "REASSEMBLY_LIMIT_BYTES", "FlowKeys", "FlowName", "FlowNames",
           "FlowNamesReference", "NameTable", "first_payload", "PayloadColumns", "payload_columns", "synthetic"]
