"""Issues 11 and 12 (inet item 1): the server's replies of an Internet flow that an Azure
Firewall's application rules did not allow, captured at the VM (addressed to its private
address: assumption conntrack.py snat-capture-at-vm), enter through that firewall and take
the flow's verdict (engine/pending.py, "Internet replies"), as the SNATed replies of an
allowed flow enter through it; they used to end UNMAPPED ("app1 has no public IPv4 address").

Microsoft: "Azure Firewall rule processing logic" (https://learn.microsoft.com/azure/firewall/
rule-processing, "Application rules": the TLS SNI / HTTP Host decides) and "Azure Firewall
SNAT private IP address ranges" (https://learn.microsoft.com/azure/firewall/snat-private-range:
"Application rules are always SNATed using a transparent proxy"); the emulator's choice for
the handshake and the reply direction: docs/azure-behaviour.md 12.1 (firewall-app-handshake)."""

from __future__ import annotations

import csv
from pathlib import Path

from inet_topo import APP, FW_PUBLIC, SERVER, internet_flow, internet_topology
from scapy.utils import rdpcap
from test_app_rules_batches import _pcap, _replay

from dataplane.control.explain import describe
from dataplane.engine import Emulator
from dataplane.engine.conntrack import IDLE_TIMEOUT_NS
from dataplane.io.writers import Outputs, ReplayWriter

UNMATCHED = "firewall fw/default-deny (no application rule matches the flow's server name)"
UNKNOWN = ("firewall fw: application rule apps/web/contoso may allow it; server name unknown: "
           "no payload of this flow is in the capture (yet)")
NOT_EXPOSED = ("ingress internet: app1 has no public IPv4 address (and the packet answers no "
               "live flow: one dropped on its way out opened none)")
SERVER_ROWS = [1, 4, 5]  # internet_flow with a ClientHello: the server's SYN-ACK, ACK, data


def _times(n: int, step: int = 1000) -> list[int]:
    return [i * step for i in range(n)]


def test_a_denied_sni_denies_the_servers_replies_at_the_firewall(make_topology,
                                                                 tmp_path: Path) -> None:
    """VM -> Internet:443 through the policy firewall, ClientHello naming evil.example (no
    application rule allows it): the SYN-ACK, ACK and data captured at app1 are
    FIREWALL_DENIED by the same rule at fw (path internet > fw), at every batch size."""
    topology = internet_topology(make_topology)
    packets = internet_flow("evil.example")
    path = _pcap(tmp_path / "denied.pcap", packets, _times(len(packets)))
    whole = _replay(topology, path, batch=1 << 16)
    for batch in (1, 2, 3):
        assert _replay(topology, path, batch=batch) == whole
    assert [(r[0], r[1]) for r in whole] == [("FIREWALL_DENIED", UNMATCHED)] * 6
    result = Emulator(topology).send(packets, times_ns=_times(len(packets)))
    assert [result.row(i)["hops"] for i in SERVER_ROWS] == ["internet > fw"] * 3
    for i in SERVER_ROWS:
        said = result.explain(i)
        assert said["decision"] == "FIREWALL_DENIED"
        (hop,) = [h for h in said["hops"] if h.get("kind") == "AzureFirewall"]
        assert (hop["rule"], hop["result"], hop["session"]) == (
            UNMATCHED, "FirewallDenied", "pending")
        assert said["hops"][0]["result"] == "ToFirewall"
        assert describe(hop) == (
            f"appliance fw (AzureFirewall) at 10.0.1.4: FirewallDenied by {UNMATCHED} (a reply "
            "of a flow its application rules did not allow: the flow's verdict, pending "
            "session)")
        assert [leg["to"] for leg in said["legs"]] == ["fw"]  # the Internet to fw leg


def test_a_handshake_only_flow_leaves_its_replies_unknown(make_topology) -> None:
    topology = internet_topology(make_topology)
    packets = internet_flow(None)  # SYN, SYN-ACK, ACK, the server's ACK and data
    result = Emulator(topology).send(packets, times_ns=_times(len(packets)))
    assert [(r["disposition"], r["deciding"]) for r in result.rows()] == [
        ("FIREWALL_NAME_UNKNOWN", UNKNOWN)] * 5
    assert [r["hops"] for r in result.rows()] == ["app1 > fw", "internet > fw", "app1 > fw",
                                                  "internet > fw", "internet > fw"]
    assert result.check_accounting()


def test_an_allowed_flow_still_answers_through_its_session(make_topology) -> None:
    topology = internet_topology(make_topology)
    packets = internet_flow("www.contoso.com")
    result = Emulator(topology).send(packets, times_ns=_times(len(packets)))
    assert [r["disposition"] for r in result.rows()] == [
        "EXITS_INTERNET", "DELIVERED", "EXITS_INTERNET", "EXITS_INTERNET", "DELIVERED",
        "DELIVERED"]
    assert {result.row(i)["hops"] for i in SERVER_ROWS} == {"internet > fw > app1"}


def test_a_reply_after_the_record_idled_out_is_a_new_flow_again(make_topology) -> None:
    """pending-idle: 4 minutes after the flow's latest client packet the record is gone;
    the reply is then what a new flow from the Internet is (UNMAPPED, not exposed)."""
    topology = internet_topology(make_topology)
    syn, syn_ack = internet_flow(None)[:2]
    result = Emulator(topology).send([syn, syn_ack, syn_ack],
                                     times_ns=[0, IDLE_TIMEOUT_NS, IDLE_TIMEOUT_NS + 1])
    assert [(r["disposition"], r["deciding"]) for r in result.rows()] == [
        ("FIREWALL_NAME_UNKNOWN", UNKNOWN), ("FIREWALL_NAME_UNKNOWN", UNKNOWN),
        ("UNMAPPED", NOT_EXPOSED)]


def test_packets_csv_and_the_vm_pcap_agree(make_topology, tmp_path: Path) -> None:
    """The allowed flow's server replies reach app1 (its pcap), the denied and undecided
    flows' reach nobody; packets.csv says the same and accounts for every packet."""
    topology = internet_topology(make_topology)
    allowed = internet_flow("www.contoso.com", sport=40001)
    denied = internet_flow("evil.example", sport=40002)
    unknown = internet_flow(None, sport=40003)
    packets = allowed + denied + unknown
    path = _pcap(tmp_path / "o.pcap", packets, _times(len(packets)))
    em = Emulator(topology)
    out = tmp_path / "out"
    writer = ReplayWriter(out, em, Outputs(csv=True))
    try:
        result = em.replay(path, auto_map=False, sink=writer, batch=4, progress=False)
    finally:
        writer.close()
    assert result.check_accounting()
    with (out / "packets.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["disposition"] for r in rows] == (
        ["EXITS_INTERNET", "DELIVERED", "EXITS_INTERNET", "EXITS_INTERNET", "DELIVERED",
         "DELIVERED"] + ["FIREWALL_DENIED"] * 6 + ["FIREWALL_NAME_UNKNOWN"] * 5)
    to_app = [p["TCP"] for p in rdpcap(str(out / "app1.pcap"))]
    assert [(t.sport, t.dport, str(t.flags)) for t in to_app] == [
        (443, 40001, "SA"), (443, 40001, "A"), (443, 40001, "PA")]
    delivered = [r for r in rows if r["disposition"] == "DELIVERED"]
    assert {(r["sourceIp"], r["destinationIp"]) for r in delivered} == {(SERVER, APP)}


def test_replies_to_the_firewalls_public_address_take_the_flows_verdict(
        make_topology, tmp_path: Path) -> None:
    """The same denied flow, its server's replies addressed to the firewall's public address
    and the SNAT port the firewall gives that 5-tuple (the port an allowed flow on it leaves
    with): FIREWALL_DENIED by the flow's rule at fw (was: "no DNAT rule matches"), explain
    hop session pending; at every batch size."""
    topology = internet_topology(make_topology)
    flow = internet_flow("www.contoso.com")
    allowed = Emulator(topology).send(flow, times_ns=_times(len(flow))).row(0)
    assert allowed["final_src"] == FW_PUBLIC
    packets = internet_flow("evil.example", reply_to=FW_PUBLIC,
                            reply_dport=allowed["final_sport"])
    path = _pcap(tmp_path / "public.pcap", packets, _times(len(packets)))
    whole = _replay(topology, path, batch=1 << 16)
    for batch in (1, 2, 3):
        assert _replay(topology, path, batch=batch) == whole
    assert [(r[0], r[1]) for r in whole] == [("FIREWALL_DENIED", UNMATCHED)] * 6
    result = Emulator(topology).send(packets, times_ns=_times(len(packets)))
    for i in SERVER_ROWS:
        said = result.explain(i)
        assert (said["decision"], result.row(i)["hops"]) == ("FIREWALL_DENIED", "internet > fw")
        (hop,) = said["hops"]
        assert (hop["kind"], hop["rule"], hop["session"]) == ("DNAT (firewall)", UNMATCHED,
                                                              "pending")
        assert describe(hop) == (
            f"DNAT (firewall) fw: no DNAT rule matches; FirewallDenied by {UNMATCHED} (a reply "
            "of a flow its application rules did not allow: the flow's verdict, pending "
            "session)")
    other_port = internet_flow("evil.example", reply_to=FW_PUBLIC,
                               reply_dport=allowed["final_sport"] + 1)
    result = Emulator(topology).send(other_port, times_ns=_times(len(other_port)))
    assert {result.row(i)["deciding"] for i in SERVER_ROWS} == {
        "firewall fw/default-deny (no DNAT rule matches)"}  # not the flow's SNAT: a new flow
