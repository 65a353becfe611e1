"""Per-flow first payload (engine/payload.py): the batch form (compiled kernel, key interning)
and the plain form give every packet the same server name, batch after batch; split
ClientHellos are reassembled in sequence up to the documented limit, the rest is named."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.tls.extensions import ServerName, TLS_Ext_ServerName
from scapy.layers.tls.handshake import TLSClientHello
from scapy.layers.tls.record import TLS

from dataplane.control.application_rules import normal_name
from dataplane.engine.payload import (
    NOT_SEEN,
    OUT_OF_ORDER,
    PENDING,
    SNAPLEN_CUT,
    FlowKeys,
    FlowName,
    FlowNames,
    FlowNamesReference,
    NameTable,
    PayloadColumns,
    first_payload,
)
from dataplane.kernels.servername_py import NameKind


def hello(name: str) -> bytes:
    return bytes(TLS(msg=[TLSClientHello(ext=[TLS_Ext_ServerName(servernames=[ServerName(
        servername=name.encode())])])]))


PAYLOADS = [hello("www.contoso.com"), hello("a.b"), b"GET / HTTP/1.1\r\nHost: x.example\r\n\r\n",
            b"GET / HTTP/1.1\r\nUser-Agent: y\r\n\r\n", b"\x16\x03\x01\x00", b"SSH-2.0-x\r\n",
            b"\x16\x03\x01\x40\x06\x01",
            # names the batch form cannot key from its gathered bytes as they are (a byte that
            # is not ASCII, a NUL, longer than a domain name) or that must normalise
            # (NameTable.asked): each is read on its own and must give the plain form's name
            b"GET / HTTP/1.1\r\nHost: h\xc3\xa9.example\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\\xc3\\xa9.example\r\n\r\n",  # the same text
            b"GET / HTTP/1.1\r\nHost: a\x00b.example\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: WWW.Example.COM.:8080\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: " + b"x" * 300 + b".example\r\n\r\n",
            hello("Login.Contoso.com.")]


def _columns(segments: list[tuple]) -> tuple[PayloadColumns, np.ndarray]:
    """(flow, bytes captured, bytes on the wire, seq[, SYN]) per packet -> columns and flow
    ids; a SYN's seq: where the flow's byte stream begins (its own + 1)."""
    buf, start = bytearray(), []
    for _, data, *_ in segments:
        start.append(len(buf) if data else -1)
        buf += data
    cols = PayloadColumns(np.frombuffer(bytes(buf) or b"\0", np.uint8),
                          np.array(start, np.int64),
                          np.array([len(d) for _, d, *_ in segments], np.int32),
                          np.array([w for _, _, w, *_ in segments], np.int32),
                          np.array([q for _, _, _, q, *_ in segments], np.int64),
                          np.array([len(x) > 4 and x[4] for x in segments], bool))
    return cols, np.array([f for f, *_ in segments], np.int64)


def _keys(flow: np.ndarray) -> FlowKeys:
    """Flow k: 10.1.1.k:40000+k -> 10.2.1.4:443."""
    return FlowKeys.ipv4(flow + 0x0A010100, np.full(flow.size, 0x0A020104), 40000 + flow,
                         np.full(flow.size, 443))


def _both(batches: list[list[tuple[int, bytes, int, int]]]) -> tuple[list, list]:
    batch, plain = FlowNames(), FlowNamesReference()
    got, want = [], []
    for segments in batches:
        cols, flow = _columns(segments)
        key = _keys(flow)
        got += [batch.table.names[i] for i in batch.observe(cols, key).tolist()]
        want += plain.observe(cols, key)
    table = batch.table  # every name once, its code and asked name as computed for it alone
    assert len(set(table.names)) == len(table.names)
    alone = NameTable(table.names[1:])
    assert alone.names == table.names and alone.asked == table.asked
    assert table.asked == [normal_name(n.name, n.protocol) if n.protocol else ""
                           for n in table.names]
    assert (alone.codes == table.codes).all()
    return got, want


@st.composite
def traffic(draw) -> list[list[tuple[int, bytes, int, int]]]:
    """Flows whose first payload is one of PAYLOADS, cut into segments (some captured short,
    some out of sequence, some packets without payload), interleaved, in one or two batches."""
    packets: list[tuple[int, bytes, int, int]] = []
    for flow in range(draw(st.integers(1, 5))):
        data = draw(st.sampled_from(PAYLOADS))
        cuts = sorted(draw(st.sets(st.integers(1, max(len(data) - 1, 1)), max_size=3)))
        seq = draw(st.integers(0, 2**32 - 1))
        if draw(st.booleans()):  # the client's SYN: where the stream begins (or, once, not)
            packets.append((flow, b"", 0, (seq + draw(st.sampled_from([0, 0, 3])))
                            & 0xFFFFFFFF, True))
        pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        for piece in pieces:
            if not piece:
                continue
            short = draw(st.booleans()) and draw(st.booleans())
            captured = piece[:max(1, len(piece) // 2)] if short else piece
            bump = draw(st.sampled_from([0, 0, 0, 7]))
            packets.append((flow, captured, len(piece), (seq + bump) & 0xFFFFFFFF))
            seq = (seq + len(piece)) & 0xFFFFFFFF
        packets.append((flow, b"", 0, 0))  # a packet of the flow without payload
    order = draw(st.permutations(range(len(packets))))
    # keep each flow's own segments in their order, interleave flows
    by_flow: dict[int, list] = {}
    for p in packets:
        by_flow.setdefault(p[0], []).append(p)
    mixed = [by_flow[packets[i][0]].pop(0) for i in order]
    at = draw(st.integers(0, len(mixed)))
    return [mixed[:at], mixed[at:]]


@settings(max_examples=150, deadline=None)
@given(traffic())
def test_batch_and_plain_forms_agree(batches) -> None:
    got, want = _both(batches)
    assert got == want


def test_a_first_segment_that_does_not_begin_the_stream_the_syn_began_is_not_read() -> None:
    """A split ClientHello whose second segment comes first: with the flow's SYN in the
    capture, that segment is known not to begin the stream, so the name is unknown (out of
    order), never read from the middle (which would say: not TLS); in order, it is read."""
    data = hello("www.contoso.com")
    one, two = data[:20], data[20:]
    astray = [(0, b"", 0, 1001, True), (0, two, len(two), 1001 + len(one)), (0, one, 20, 1001)]
    in_order = [(0, b"", 0, 1001, True), (0, one, 20, 1001), (0, two, len(two), 1001 + 20)]
    for cut in range(4):  # whole, and with the batch boundary anywhere
        got, want = _both([astray[:cut], astray[cut:]])
        assert got == want
        assert got[-1] == FlowName(NameKind.INCOMPLETE, "", OUT_OF_ORDER)
        got, want = _both([in_order[:cut], in_order[cut:]])
        assert got == want
        assert got[-1] == FlowName(NameKind.TLS_SNI, "www.contoso.com")
    # without its SYN the capture cannot tell: read as it comes (assumption payload-first-name)
    got, _ = _both([astray[1:]])
    assert got[-1].kind != NameKind.TLS_SNI


def test_a_split_hello_across_batches_and_every_packet_of_the_flow() -> None:
    data = hello("www.contoso.com")
    got, _ = _both([[(0, b"", 0, 0), (0, data[:30], 30, 100)],
                    [(0, data[30:], len(data) - 30, 130), (0, b"", 0, 0)]])
    pending = FlowName(NameKind.INCOMPLETE, "", PENDING)
    sni = FlowName(NameKind.TLS_SNI, "www.contoso.com")
    assert got == [pending, pending, sni, sni]  # the second batch's packets know the name


def test_cut_and_out_of_order_segments_are_named() -> None:
    data = hello("www.contoso.com")
    cut, _ = _both([[(0, data[:20], len(data), 1)]])
    gap, _ = _both([[(0, data[:30], 30, 1), (0, data[30:], len(data) - 30, 99)]])
    assert cut == [FlowName(NameKind.INCOMPLETE, "", SNAPLEN_CUT)]
    assert gap == [FlowName(NameKind.INCOMPLETE, "", OUT_OF_ORDER)] * 2


def test_synthetic_first_payloads_parse_back() -> None:
    for payload, name in ((first_payload(sni="www.contoso.com"), FlowName(NameKind.TLS_SNI,
                                                                         "www.contoso.com")),
                          (first_payload(host="api.contoso.com"), FlowName(NameKind.HTTP_HOST,
                                                                          "api.contoso.com"))):
        got, _ = _both([[(0, payload, len(payload), 5)]])
        assert got == [name]
    assert first_payload() == b""


@settings(max_examples=100, deadline=None)
@given(traffic(), st.data())
def test_names_at_a_deadline_agree_and_follow_the_rule(batches, data) -> None:
    """Both forms stamp packets with (capture clock, position); a packet's name at a
    deadline (time, position) is the settled name when the packet that settled it lies within
    both, PENDING when the flow's first payload does, else NOT_SEEN (payload.py "When a packet
    learns its name"), batch after batch."""
    batch, plain, stepper = FlowNames(), FlowNamesReference(), FlowNamesReference()
    clock, read = 0, 0
    got, want, rule = [], [], []
    settled: dict[int, tuple[tuple[int, int], FlowName]] = {}
    began: dict[int, tuple[int, int]] = {}
    for segments in batches:
        cols, flow = _columns(segments)
        times = []
        for _ in segments:
            clock += data.draw(st.sampled_from([0, 1, 5]))
            times.append(clock)
        t = np.array(times, np.int64)
        pos = np.arange(read, read + len(segments), dtype=np.int64)
        read += len(segments)
        key = _keys(flow)
        after = plain.observe(cols, key, t, pos)
        fid = batch.flows(cols, key, t, pos)
        assert len(after) == len(segments)
        for i, f in enumerate(flow.tolist()):  # the rule, one packet at a time
            (now,) = stepper.observe(PayloadColumns(*(c if j == 0 else c[i:i + 1]
                                                      for j, c in enumerate(cols))),
                                     _keys(flow[i:i + 1]))
            stamp = (times[i], int(pos[i]))
            if cols.start[i] >= 0:
                began.setdefault(f, stamp)
            if f not in settled and now != NOT_SEEN and now.missing != PENDING:
                settled[f] = (stamp, now)
        deadline = t + np.array([data.draw(st.sampled_from([0, 2, 10])) for _ in segments],
                                np.int64)
        deadline_pos = pos + np.array([data.draw(st.sampled_from([0, 1, 3, 50]))
                                       for _ in segments], np.int64)
        got += [batch.table.names[i] for i in batch.names_at(fid, deadline, deadline_pos)]
        want += plain.names_at(key, deadline, deadline_pos)

        def within(stamp: tuple[int, int], d: int, q: int) -> bool:
            return stamp[0] <= d and stamp[1] <= q
        for f, d, q in zip(flow.tolist(), deadline.tolist(), deadline_pos.tolist(), strict=True):
            if f in settled and within(settled[f][0], d, q):
                rule.append(settled[f][1])
            elif f in began and within(began[f], d, q):
                rule.append(FlowName(NameKind.INCOMPLETE, "", PENDING))
            else:
                rule.append(NOT_SEEN)
    assert got == want
    assert want == rule
