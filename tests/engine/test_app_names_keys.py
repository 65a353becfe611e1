"""Issue 12 gaps 2 and 3: engine/payload.py keys a flow by both address families (family and
64-bit address halves), so IPv6 flows sharing ports keep their own names, an IPv4 flow never
shares an IPv6 flow's; a server's reply carries its flow's name (packets.csv serverName)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import numpy as np
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from test_app_rules import _topology, client_hello
from test_app_rules_batches import _pcap

from dataplane.engine import Emulator
from dataplane.engine.payload import FlowKeys, FlowNames, FlowNamesReference, PayloadColumns

SERVER6 = "2001:db8:ffff::2"
CLIENTS6 = ["2001:db8::1", "2001:db8:1::1"]  # the same low 64 bits: only the high halves differ
M64 = (1 << 64) - 1


def _halves(address: str) -> tuple[int, int]:
    v = int(ipaddress.ip_address(address))
    return v >> 64, v & M64


def _keys(rows: list[tuple[int, str, str, int, int, bool]]) -> FlowKeys:
    """Rows (family, source, destination, sport, dport, reply) -> key columns."""
    cols = []
    for family, s, d, sp, dp, reply in rows:
        cols.append((family, *_halves(s), *_halves(d), sp, dp, reply))
    a = list(zip(*cols, strict=True))
    return FlowKeys(np.array(a[0], np.uint8), *(np.array(x, np.uint64) for x in a[1:5]),
                    np.array(a[5], np.int32), np.array(a[6], np.int32), np.array(a[7], bool))


def test_ipv6_flows_on_the_same_ports_keep_their_names_in_both_forms() -> None:
    hellos = [client_hello("www.contoso.com"), client_hello("evil.example")]
    v4 = "::a01:104"  # an IPv4 flow whose low half equals this IPv6 address's
    rows = [(6, CLIENTS6[0], SERVER6, 40000, 443, False), (6, CLIENTS6[1], SERVER6, 40000, 443,
                                                           False),
            (4, "::a01:104", "::a02:104", 40000, 443, False),
            (6, SERVER6, CLIENTS6[1], 443, 40000, True), (6, v4, "::a02:104", 40000, 443, False)]
    payloads = [hellos[0], hellos[1], b"", b"", b""]
    buf = b"".join(payloads)
    starts = np.cumsum([0] + [len(p) for p in payloads[:-1]])
    cols = PayloadColumns(np.frombuffer(buf, np.uint8),
                          np.where([len(p) > 0 for p in payloads], starts, -1).astype(np.int64),
                          np.array([len(p) for p in payloads], np.int32),
                          np.array([len(p) for p in payloads], np.int32),
                          np.full(len(rows), 1000, np.int64))
    keys = _keys(rows)
    batch, plain = FlowNames(), FlowNamesReference()
    got = [batch.table.names[i].describe() for i in batch.observe(cols, keys).tolist()]
    assert got == [n.describe() for n in plain.observe(cols, keys)]
    # two IPv6 flows, one IPv4 flow on the same ports; the reply of the second flow; an IPv6
    # flow whose address equals the IPv4 flow's low half is not the IPv4 flow
    assert got[:2] == ["SNI www.contoso.com", "SNI evil.example"]
    assert got[3] == "SNI evil.example"
    assert got[2] == got[4] == "server name unknown: no payload of this flow is in the capture (yet)"
    assert len(set(batch.flows(cols, keys).tolist())) == 4


def test_a_replayed_ipv6_capture_names_each_flow_and_its_replies(make_topology,
                                                                tmp_path: Path) -> None:
    """Through the emulator (the header kernel's columns, mapped halves): packets.csv's
    serverName column per packet, IPv6 flows apart, replies named."""
    packets = []
    for client, name in zip(CLIENTS6, ("www.contoso.com", "evil.example"), strict=True):
        c, s = IPv6(src=client, dst=SERVER6), IPv6(src=SERVER6, dst=client)
        packets += [c / TCP(sport=40000, dport=443, flags="S", seq=1),
                    s / TCP(sport=443, dport=40000, flags="SA", seq=7, ack=2),
                    c / TCP(sport=40000, dport=443, flags="PA", seq=2) / client_hello(name)]
    packets.append(IP(src="10.1.1.4", dst="10.2.1.4") / TCP(sport=40000, dport=443, flags="S"))
    path = _pcap(tmp_path / "v6.pcap", packets, [i * 1000 for i in range(len(packets))])
    em = Emulator(_topology(make_topology))
    result = em.replay(path, auto_map=False, batch=2, progress=False)
    assert result.check_accounting()
    names = em.batch.flow_names.table.names
    said = [names[int(i)].describe() for i in result.columns["server_name"]]
    assert said == ["SNI www.contoso.com"] * 3 + ["SNI evil.example"] * 3 + [
        "server name unknown: no payload of this flow is in the capture (yet)"]
