"""Issue 12 item 3, the reply direction: a flow an Azure Firewall's application rules do not
allow opens no connection-tracking entry, yet every packet of it -- the server's SYN-ACK and
ACKs included -- carries the flow's verdict (engine/pending.py: pending application-rule
sessions), in the batch form, the reference walk (explain) and the outputs, whatever the
replay's batch size. A flow an application rule allows answers through its session."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from ipv6_harness import columns
from scapy.layers.inet import IP, TCP
from scapy.utils import rdpcap
from test_app_rules import APP, DB, _flow, _topology, client_hello
from test_app_rules_batches import _pcap, _replay

from dataplane.control.explain import describe
from dataplane.engine import Emulator
from dataplane.engine.batch import BatchPipeline
from dataplane.engine.compile import build_network
from dataplane.engine.payload import FlowName, synthetic
from dataplane.engine.pending import BatchPendingSessions, PendingSessions, PendingVerdict
from dataplane.engine.reference import Packet, ReferencePipeline, flow_key
from dataplane.io.writers import Outputs, ReplayWriter
from dataplane.kernels.servername_py import NameKind

UNKNOWN_LABEL = ("firewall fw: application rule apps/web/contoso may allow it; server name "
                 "unknown: no payload of this flow is in the capture (yet)")
UNMATCHED = "firewall fw/default-deny (no application rule matches the flow's server name)"


def _firewall_hop(result, i: int) -> dict:
    return next(h for h in result.explain(i)["hops"] if h.get("kind") == "AzureFirewall")


def _sent(topology, packets: list) -> tuple[list[tuple[str, str]], list[dict]]:
    """(disposition, deciding) per packet and the firewall hop of each packet's explanation
    (the reference walk over the flow state as it stood before the packet)."""
    result = Emulator(topology).send(packets, times_ns=[i * 1000 for i in range(len(packets))])
    rows = [(r["disposition"], r["deciding"]) for r in result.rows()]
    return rows, [_firewall_hop(result, i) for i in range(len(packets))]


def test_a_handshake_only_flow_is_unknown_on_both_directions(make_topology) -> None:
    """SYN, SYN-ACK, ACK and nothing more: the name never arrives; the SYN-ACK takes the
    SYN's pending verdict (was: FIREWALL_DENIED fw/default-deny, evaluated as a new flow)."""
    rows, hops = _sent(_topology(make_topology), _flow(client_hello("www.contoso.com"))[:3])
    assert rows == [("FIREWALL_NAME_UNKNOWN", UNKNOWN_LABEL)] * 3
    assert [h.get("session") for h in hops] == [None, "pending", None]
    assert [h["result"] for h in hops] == ["ServerNameUnknown"] * 3
    said = describe(hops[1])  # the explanation's text (control/explain.py)
    assert f"ServerNameUnknown by {UNKNOWN_LABEL} (a reply of a flow its application " \
        "rules did not allow: the flow's verdict, pending session)" in said
    assert "by its session" not in said


def test_a_first_payload_that_is_not_tls_or_http_denies_every_packet(make_topology) -> None:
    rows, hops = _sent(_topology(make_topology), _flow(b"SSH-2.0-OpenSSH_9.6\r\n"))
    label = ("firewall fw/default-deny (first payload is neither a TLS ClientHello nor an "
             "HTTP/1.x request: no application rule can match it)")
    assert rows == [("FIREWALL_DENIED", label)] * 5
    assert [h.get("session") for h in hops] == [None, "pending", None, None, "pending"]


def test_a_flow_denied_by_name_denies_its_replies_with_the_same_rule(make_topology) -> None:
    rows, hops = _sent(_topology(make_topology), _flow(client_hello("www.fabrikam.com")))
    assert rows == [("FIREWALL_DENIED", UNMATCHED)] * 5
    assert all(h["serverName"] == "SNI www.fabrikam.com" for h in hops)


def test_a_deny_application_rule_names_itself_on_the_replies(make_topology) -> None:
    """The Deny-everything application rule on 8443 (no network rule allows it here)."""
    from test_app_rules import POLICY
    apps_only = {**POLICY, "properties": {"ruleCollectionGroups":
                                          POLICY["properties"]["ruleCollectionGroups"][:1]}}
    rows, _ = _sent(_topology(make_topology, apps_only),
                    _flow(client_hello("www.contoso.com"), dport=8443))
    assert rows == [("FIREWALL_DENIED", "firewall fw/apps/deny-8443/all")] * 5


def test_an_allowed_flow_answers_through_its_session(make_topology) -> None:
    rows, hops = _sent(_topology(make_topology), _flow(client_hello("www.contoso.com")))
    assert [d for d, _ in rows] == ["DELIVERED"] * 5
    assert [h.get("session") for h in hops] == [None, "established", None, None,
                                                "established"]
    assert [h["rule"] for h in hops] == ["firewall fw/apps/web/contoso", None,
                                         "firewall fw/apps/web/contoso",
                                         "firewall fw/apps/web/contoso", None]


def test_a_late_name_turns_the_pending_verdict_for_later_replies(make_topology,
                                                                 tmp_path: Path) -> None:
    """The name comes after the SYN's wait and is denied: the SYN-ACK (before it) takes the
    unknown verdict, the server's ACK (after it) the denial -- the latest record wins -- at
    every batch size."""
    topology = _topology(make_topology)
    packets = _flow(client_hello("www.fabrikam.com"))
    path = _pcap(tmp_path / "late.pcap", packets, [0, 1000, 2000, 12_000, 13_000])
    whole = _replay(topology, path, batch=1 << 16, wait_ns=4000)
    for batch in (1, 2, 3):
        assert _replay(topology, path, batch=batch, wait_ns=4000) == whole
    assert [r[0] for r in whole] == ["FIREWALL_NAME_UNKNOWN"] * 3 + ["FIREWALL_DENIED"] * 2
    assert whole[1][1] == whole[0][1] and whole[4][1] == whole[3][1] == UNMATCHED


def test_replies_and_explanations_agree_at_every_batch_size(make_topology,
                                                            tmp_path: Path) -> None:
    topology = _topology(make_topology)
    packets = (_flow(client_hello("www.contoso.com"), sport=40001)[:3]   # handshake only
               + _flow(client_hello("evil.example"), sport=40002)
               + _flow(client_hello("www.contoso.com"), sport=40003))
    path = _pcap(tmp_path / "mix.pcap", packets, [i * 1000 for i in range(len(packets))])
    whole = _replay(topology, path, batch=1 << 16)
    for batch in (1, 2, 4):
        assert _replay(topology, path, batch=batch) == whole
    em = Emulator(topology)
    result = em.replay(path, auto_map=False, batch=2, progress=False)
    verdicts = {"FIREWALL_DENIED": "FirewallDenied",
                "FIREWALL_NAME_UNKNOWN": "ServerNameUnknown", "DELIVERED": "Forwarded"}
    for i, row in enumerate(result.rows()):
        hop = _firewall_hop(result, i)
        assert hop["result"] == verdicts[row["disposition"]]
        if row["disposition"] != "DELIVERED":
            assert hop["rule"] == row["deciding"]


def test_packets_csv_and_both_vm_pcaps_agree(make_topology, tmp_path: Path) -> None:
    """Issue 12 item 3: packets.csv and the per-VM pcaps agree for both directions: the
    allowed flow's client packets reach db1 and its server's replies reach app1; nothing of
    the denied or undecided flows reaches either VM; every packet names its flow's server
    name (gap 2: the server's replies too)."""
    topology = _topology(make_topology)
    allowed = _flow(client_hello("www.contoso.com"), sport=40001)
    denied = _flow(client_hello("evil.example"), sport=40002)
    handshake = _flow(client_hello("www.contoso.com"), sport=40003)[:3]
    packets = allowed + denied + handshake
    path = _pcap(tmp_path / "o.pcap", packets, [i * 1000 for i in range(len(packets))])
    em = Emulator(topology)
    out = tmp_path / "out"
    writer = ReplayWriter(out, em, Outputs(csv=True))
    try:
        em.replay(path, auto_map=False, sink=writer, batch=3, progress=False)
    finally:
        writer.close()
    with (out / "packets.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["disposition"] for r in rows] == (["DELIVERED"] * 5 + ["FIREWALL_DENIED"] * 5
                                                + ["FIREWALL_NAME_UNKNOWN"] * 3)
    assert [r["serverName"] for r in rows] == ["www.contoso.com"] * 5 + ["evil.example"] * 5 \
        + [""] * 3
    assert len({r["deciding"] for r in rows[5:10]}) == len({r["deciding"] for r in rows[10:]}) == 1
    to_app = [p["TCP"] for p in rdpcap(str(out / "app1.pcap"))]
    to_db = [p["TCP"] for p in rdpcap(str(out / "db1.pcap"))]
    assert [(t.sport, str(t.flags)) for t in to_app] == [(443, "SA"), (443, "A")]
    assert [str(t.flags) for t in to_db] == ["S", "A", "PA"]  # SNATed: sports translated
    delivered = [r for r in rows if r["disposition"] == "DELIVERED"]
    assert sorted(int(r["finalSourcePort"]) for r in delivered if r["destinationIp"] == DB) \
        == sorted(t.sport for t in to_db)


# -- the reference and batch forms on drawn traffic ------------------------------------------

NAMES = [synthetic(sni="www.contoso.com"), synthetic(sni="evil.example"), synthetic(),
         FlowName(NameKind.OTHER), synthetic(host="api.contoso.com")]
HOSTS = [int.from_bytes(bytes(map(int, a.split("."))), "big") for a in (APP, "10.1.1.9", DB)]


@st.composite
def traffic(draw) -> tuple[list[tuple], int, int | None, int]:
    """Packets (client, server, sport, dport, name index, reply?) of a few TCP flows, some
    replies before their flow's first packet, a batch size, maybe a small table, the number
    of flow ids past which the batch form compacts its ids (pending flows are kept)."""
    flows = draw(st.lists(st.tuples(st.sampled_from(HOSTS[:2]), st.just(HOSTS[2]),
                                    st.sampled_from([40000, 40001, 443]),
                                    st.sampled_from([443, 80, 8443, 22])),
                          min_size=1, max_size=4))
    packets = [(*draw(st.sampled_from(flows)), draw(st.integers(0, len(NAMES) - 1)),
                draw(st.booleans())) for _ in range(draw(st.integers(1, 30)))]
    return (packets, draw(st.integers(1, 8)), draw(st.sampled_from([None, None, 1, 2])),
            draw(st.sampled_from([1 << 30, 2, 4])))


EXAMPLE = ([(HOSTS[0], HOSTS[2], 40000, 443, 2, False), (HOSTS[0], HOSTS[2], 40000, 443, 2, True),
            (HOSTS[0], HOSTS[2], 40000, 443, 1, False), (HOSTS[0], HOSTS[2], 40000, 443, 1, True)],
           1, None, 1 << 30)  # unknown, its reply; denied by name, its reply (own batches)


@settings(max_examples=60, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(traffic())
@example(EXAMPLE)
def test_batch_and_reference_forms_agree_on_pending_sessions(make_topology, drawn) -> None:
    packets, split, capacity, flow_limit = drawn
    net = build_network(_topology(make_topology), caps=False)
    pkts, names = [], []
    for i, (client, server, sport, dport, name, reply) in enumerate(packets):
        s, d, sp, dp = (server, client, dport, sport) if reply else (client, server, sport, dport)
        pkts.append(Packet(net.ip_nic.get(s, net.ip_nic[HOSTS[0]]), s, d, 6, sp, dp, 100, i))
        names.append(NAMES[name])
    ref = ReferencePipeline(net, capacity=capacity)
    want = []
    for p, name in zip(pkts, names, strict=True):
        ref.server_names[flow_key(p)] = name
        w = ref.walk(p)
        ref.commit(p, w)
        want.append((int(w.disposition), w.deciding))
    if drawn == EXAMPLE:  # the pending verdicts were given (not a default deny)
        assert [d for d, _ in want] == [30, 30, 15, 15] and want[1] == want[0]
    bp = BatchPipeline(net, flow_capacity=capacity or 1 << 20)
    bp.flow_limit = flow_limit
    got = []
    for lo in range(0, len(pkts), split):
        cols = columns(pkts[lo:lo + split])
        cols.server_name[:] = [bp.flow_names.table.intern(n) for n in names[lo:lo + split]]
        disp, dec, _ = bp.run(cols)
        got += [(int(a), bp.labels.names[b] if b >= 0 else "") for a, b in zip(
            disp.tolist(), dec.tolist(), strict=True)]
    assert got == want


def test_the_tables_keep_the_latest_verdict_and_their_capacity() -> None:
    ref = PendingSessions(capacity=1)
    a, b = (1, 2, 6, 443, 40000), (1, 2, 6, 443, 40001)
    ref.record(a, PendingVerdict(7, 30, "unknown"))
    ref.record(b, PendingVerdict(7, 15, "denied"))  # full: refused
    ref.record(a, PendingVerdict(7, 15, "denied"))  # the same flow: replaced
    assert (ref.answer(a, 7), ref.answer(a, 8), ref.answer(b, 7)) == (
        PendingVerdict(7, 15, "denied"), None, None)
    batch = BatchPendingSessions(capacity=1)
    batch.register(np.array([3, 4, 5]), 7, np.array([True, True, False]))
    # rows: flow 10 records (label 3, then 4), flow 11 would record (full), flow 12's reply
    # (reverse id 10) is dropped by rule 5 and answers the latest record before it
    fid = np.array([10, 11, 10, 12, 12])
    rid = np.array([99, 99, 99, 10, 10])
    disp = np.array([30, 15, 15, 15, 15], np.uint8)
    label = np.array([3, 4, 4, 5, 5], np.int32)
    excluded = np.zeros(5, bool)
    d, lab, rec, used = batch.settle(fid, rid, disp, label, excluded)
    assert rec.tolist() == [0, 2] and used.tolist() == [2]
    assert d.tolist() == [30, 15, 15, 15, 15] and lab.tolist() == [3, 4, 4, 4, 4]
    batch.commit()
    assert batch.export() == {10: (7, 15, 4)}


def test_a_reply_before_its_flow_answers_no_pending_session(make_topology) -> None:
    """The server's packet comes first (a capture started mid-flow): no client packet has
    recorded yet, so it is evaluated as a new flow -- in the batch and in its explanation,
    although the table holds the record by the time it is explained."""
    syn, syn_ack, ack = _flow(client_hello("www.contoso.com"))[:3]
    rows, hops = _sent(_topology(make_topology), [syn_ack, syn, ack])
    assert rows == [("FIREWALL_DENIED", "firewall fw/default-deny")] + [
        ("FIREWALL_NAME_UNKNOWN", UNKNOWN_LABEL)] * 2
    assert (hops[0]["result"], hops[0]["rule"], hops[0].get("session")) == (
        "FirewallDenied", "firewall fw/default-deny", None)


def test_a_client_packet_its_own_shaper_drops_records_nothing(make_topology,
                                                              tmp_path: Path) -> None:
    """Like a flow opener (assumption shaper-no-state): the SYN dropped by app1's egress
    shaper (a 9,000-byte packet just before it fills a 3,000-byte queue) never reached the
    firewall, so the SYN-ACK answers no pending session; the ACK, 2 ms later, records. Sent at
    once (the batch re-decided without the dropped SYN) and replayed one packet per batch."""
    topology = _topology(make_topology)
    big = IP(src=APP, dst=DB) / TCP(sport=40009, dport=8443) / bytes(8900)
    syn, syn_ack, ack = _flow(client_hello("www.contoso.com"))[:3]
    packets, times = [big, syn, syn_ack, ack], [0, 0, 1_000_000, 2_000_000]
    path = _pcap(tmp_path / "s.pcap", packets, times)
    runs = [Emulator(topology, queue_bytes=3000).send(packets, times_ns=times)] + [
        Emulator(topology, queue_bytes=3000).replay(path, auto_map=False, batch=b,
                                                    progress=False) for b in (1, 1 << 16)]
    for result in runs:
        rows = [(r["disposition"], r["deciding"]) for r in result.rows()]
        assert [d for d, _ in rows] == ["DELIVERED", "SHAPER_DROP", "FIREWALL_DENIED",
                                        "FIREWALL_NAME_UNKNOWN"]
        assert rows[2][1] == "firewall fw/default-deny"
        hop = _firewall_hop(result, 2)
        assert (hop["rule"], hop.get("session")) == ("firewall fw/default-deny", None)
