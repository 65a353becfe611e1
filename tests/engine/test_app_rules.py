"""Azure Firewall application rules on real packets: the server name of each flow's first payload
(engine/payload.py) decides, after network rules, for every packet of the flow.

Microsoft: "Azure Firewall rule processing logic" (https://learn.microsoft.com/azure/
firewall-manager/rule-processing, "Network rules and applications rules": network rules first,
a network rule match means application rules are not processed; then application rules for
HTTP/HTTPS; no match -> denied by default; https://learn.microsoft.com/azure/firewall/
rule-processing: application rules always after network rules whatever the collection
priorities) and "Azure Firewall FAQ" (https://learn.microsoft.com/azure/firewall/firewall-faq,
"How do wildcards work in target URLs and target FQDNs in application rules?")."""

from __future__ import annotations

import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP
from scapy.layers.tls.extensions import (
    ServerName,
    TLS_Ext_Padding,
    TLS_Ext_ServerName,
    TLS_Ext_SupportedVersion_CH,
)
from scapy.layers.tls.handshake import TLSClientHello
from scapy.layers.tls.record import TLS
from test_firewall_policy import HUB_AND_SPOKES, _filter, _group, _net, _policy

from dataplane import watcher
from dataplane.engine import Emulator
from dataplane.engine.compile import build_network
from dataplane.engine.payload import REASSEMBLY_LIMIT_BYTES, FlowName, NameTable, synthetic
from dataplane.kernels.servername_py import NameKind
from dataplane.load.firewall_policy import firewall_policy
from dataplane.load.resources import Where
from dataplane.model import Topology

APP, DB = "10.1.1.4", "10.2.1.4"
ISN = 1000


def _app(name: str, targets: list[str], protocols: list[tuple[str, int]], **extra) -> dict:
    return {"ruleType": "ApplicationRule", "name": name, "sourceAddresses": ["10.1.0.0/16"],
            "targetFqdns": targets,
            "protocols": [{"protocolType": p, "port": port} for p, port in protocols], **extra}


# Network rules allow 8443 only; application rules: contoso over HTTPS, any blob account by
# wildcard, an API over HTTP; a Deny-everything application rule on 8443 that the network rule
# must pre-empt (its collection group has the better priority: order is by rule type first).
POLICY = _policy("p", [
    _group("apps", 100, [
        _filter("deny-8443", 100, "Deny", [_app("all", ["*"], [("Https", 8443)])]),
        _filter("web", 200, "Allow", [
            _app("contoso", ["www.contoso.com"], [("Https", 443)]),
            _app("blobs", ["*.blob.core.windows.net"], [("Https", 443)]),
            _app("api", ["api.contoso.com"], [("Http", 80)])])]),
    _group("nets", 300, [
        _filter("allow-8443", 100, "Allow", [_net("alt-tls", ["8443"], ["10.1.0.0/16"],
                                                  ["10.2.0.0/16"])])])])


def _topology(make_topology, policy: dict = POLICY) -> Topology:
    topology = make_topology(HUB_AND_SPOKES)
    loaded = firewall_policy(policy, Where(policy, "test"))
    (fw,) = topology.azure_firewalls
    return replace(topology, firewall_policies=(loaded,),
                   azure_firewalls=(replace(fw, firewall_policy=loaded.id),))


def client_hello(name: str | None, tls13: bool = False) -> bytes:
    ext = [TLS_Ext_ServerName(servernames=[ServerName(servername=name.encode())])] if name else []
    if tls13:
        ext.append(TLS_Ext_SupportedVersion_CH(versions=[0x0304]))
    return bytes(TLS(msg=[TLSClientHello(ext=ext)]))


def _flow(payload: bytes, dport: int = 443, sport: int = 40000, split: int = 0,
          swap: bool = False) -> list:
    """SYN, SYN-ACK, ACK, the first payload (in two segments when `split`), the server's ACK."""
    c = IP(src=APP, dst=DB)
    s = IP(src=DB, dst=APP)
    segments = [(ISN + 1, payload)] if not split else [
        (ISN + 1, payload[:split]), (ISN + 1 + split, payload[split:])]
    if swap:
        segments.reverse()
    return [c / TCP(sport=sport, dport=dport, flags="S", seq=ISN),
            s / TCP(sport=dport, dport=sport, flags="SA", seq=5000, ack=ISN + 1),
            c / TCP(sport=sport, dport=dport, flags="A", seq=ISN + 1, ack=5001),
            *[c / TCP(sport=sport, dport=dport, flags="PA", seq=q, ack=5001) / data
              for q, data in segments],
            s / TCP(sport=dport, dport=sport, flags="A", seq=5001, ack=ISN + 1 + len(payload))]


def _firewall_rule(result, i: int) -> str:
    """The rule the firewall hop names (a delivered packet's `deciding` is its last route);
    '' for a reply the firewall passed on its session."""
    hop = next(h for h in result.explain(i)["hops"] if h.get("kind") == "AzureFirewall")
    return hop["rule"] or ""


def _run(topology: Topology, packets: list) -> list[tuple[str, str]]:
    """(disposition, the firewall's rule for a packet it passed, else the deciding label)."""
    result = Emulator(topology).send(packets, times_ns=[i * 1000 for i in range(len(packets))])
    verdicts = {"FIREWALL_DENIED": "FirewallDenied", "FIREWALL_NAME_UNKNOWN": "ServerNameUnknown",
                "DELIVERED": "Forwarded"}
    for i, row in enumerate(result.rows()):  # the reference walk's firewall agrees with the batch
        hop = next(h for h in result.explain(i)["hops"] if h.get("kind") == "AzureFirewall")
        assert hop["result"] == verdicts[row["disposition"]]
    return [(r["disposition"], _firewall_rule(result, i) if r["disposition"] == "DELIVERED"
             else r["deciding"]) for i, r in enumerate(result.rows())]


def test_network_rule_match_stops_before_application_rules(make_topology) -> None:
    rows = _run(_topology(make_topology), _flow(client_hello("evil.example"), dport=8443))
    assert {r for r in rows} == {("DELIVERED", "firewall fw/nets/allow-8443/alt-tls"),
                                 ("DELIVERED", "")}  # replies: the firewall's session
    assert rows[0] == ("DELIVERED", "firewall fw/nets/allow-8443/alt-tls")


def test_an_application_rule_allows_an_fqdn_over_https_for_every_packet(make_topology) -> None:
    rows = _run(_topology(make_topology), _flow(client_hello("www.contoso.com")))
    rule = "firewall fw/apps/web/contoso"
    assert [d for d, _ in rows] == ["DELIVERED"] * 5
    assert rows[0] == rows[2] == rows[3] == ("DELIVERED", rule)  # SYN, ACK, ClientHello


def test_a_different_sni_is_denied_handshake_included(make_topology) -> None:
    rows = _run(_topology(make_topology), _flow(client_hello("www.fabrikam.com")))
    denied = ("FIREWALL_DENIED",
              "firewall fw/default-deny (no application rule matches the flow's server name)")
    assert rows[0] == rows[2] == rows[3] == denied
    assert rows[1][0] == rows[4][0] == "FIREWALL_DENIED"  # no session: replies denied too


def test_a_wildcard_matches_subdomains_not_the_bare_domain(make_topology) -> None:
    topology = _topology(make_topology)
    deep = _run(topology, _flow(client_hello("acct.x.blob.core.windows.net")))
    bare = _run(topology, _flow(client_hello("blob.core.windows.net")))
    assert deep[0] == ("DELIVERED", "firewall fw/apps/web/blobs")
    assert bare[0][0] == "FIREWALL_DENIED"


def test_tls13_client_hello_and_case_insensitive_names(make_topology) -> None:
    rows = _run(_topology(make_topology), _flow(client_hello("WWW.Contoso.COM", tls13=True)))
    assert rows[3] == ("DELIVERED", "firewall fw/apps/web/contoso")


def test_an_http_request_by_its_host_and_protocol_port(make_topology) -> None:
    get = b"GET /v1 HTTP/1.1\r\nHost: api.contoso.com:80\r\nAccept: */*\r\n\r\n"
    topology = _topology(make_topology)
    assert _run(topology, _flow(get, dport=80))[0] == ("DELIVERED", "firewall fw/apps/web/api")
    # the same Host over 443 is HTTP, not HTTPS: the contoso rule's Https:443 does not apply
    assert _run(topology, _flow(get, dport=443, sport=40001))[0][0] == "FIREWALL_DENIED"


def test_a_split_client_hello_is_reassembled(make_topology) -> None:
    rows = _run(_topology(make_topology), _flow(client_hello("www.contoso.com"), split=40))
    assert [d for d, _ in rows] == ["DELIVERED"] * 6
    assert rows[0][1] == "firewall fw/apps/web/contoso"


def test_a_retransmitted_segment_leaves_the_name_unknown(make_topology) -> None:
    hello = client_hello("www.contoso.com")
    packets = _flow(hello, split=40)
    packets.insert(4, packets[3])  # the first segment again: not where the second one starts
    rows = _run(_topology(make_topology), packets)
    assert rows[0] == ("FIREWALL_NAME_UNKNOWN", "firewall fw: application rule apps/web/contoso "
                       "may allow it; server name unknown: a segment of the first payload is "
                       "out of order or retransmitted")
    assert set(rows) == {rows[0]}  # the server's replies too: the flow's pending verdict


def test_a_client_hello_longer_than_the_limit_is_unknown(make_topology) -> None:
    long = bytes(TLS(msg=[TLSClientHello(ext=[
        TLS_Ext_Padding(padding=bytes(REASSEMBLY_LIMIT_BYTES)),
        TLS_Ext_ServerName(servernames=[ServerName(servername=b"www.contoso.com")])])]))
    rows = _run(_topology(make_topology), _flow(long, split=1460))
    assert rows[0] == ("FIREWALL_NAME_UNKNOWN", "firewall fw: application rule apps/web/contoso "
                       "may allow it; server name unknown: the first payload continues beyond "
                       f"{REASSEMBLY_LIMIT_BYTES} bytes (reassembly limit)")
    # the same ClientHello in one segment holds the name: read
    assert _run(_topology(make_topology), _flow(long))[0] == ("DELIVERED",
                                                             "firewall fw/apps/web/contoso")


def test_no_name_in_a_complete_payload_is_denied_and_said(make_topology) -> None:
    topology = _topology(make_topology)
    no_sni = _run(topology, _flow(client_hello(None)))
    other = _run(topology, _flow(b"SSH-2.0-OpenSSH_9.6\r\n", sport=40001))
    assert no_sni[0] == ("FIREWALL_DENIED", "firewall fw/default-deny (first payload is a TLS "
                         "ClientHello without server_name (SNI): no application rule can match it)")
    assert other[0][1].endswith("neither a TLS ClientHello nor an HTTP/1.x request: no "
                                "application rule can match it)")


def test_a_flow_without_payload_in_the_capture_is_not_decided(make_topology) -> None:
    rows = _run(_topology(make_topology), _flow(client_hello("www.contoso.com"))[:3])
    assert rows[0] == ("FIREWALL_NAME_UNKNOWN", "firewall fw: application rule apps/web/contoso "
                       "may allow it; server name unknown: no payload of this flow is in the "
                       "capture (yet)")
    # a port no Allow application rule names is a firm default deny
    assert _run(_topology(make_topology), [IP(src=APP, dst=DB) / TCP(dport=22)])[0] == (
        "FIREWALL_DENIED", "firewall fw/default-deny")


def _pcap(path: Path, packets: list, snaplen: int) -> None:
    """A classic pcap (LINKTYPE_RAW 101) whose records are cut at `snaplen` bytes."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, 101)]
    for i, p in enumerate(packets):
        frame = bytes(p)
        out.append(struct.pack("<IIII", 1, i, min(len(frame), snaplen), len(frame)))
        out.append(frame[:snaplen])
    path.write_bytes(b"".join(out))


def test_a_client_hello_cut_by_the_snaplen_is_unknown(make_topology, tmp_path: Path) -> None:
    topology = _topology(make_topology)
    _pcap(tmp_path / "cut.pcap", _flow(client_hello("www.contoso.com")), snaplen=80)
    result = Emulator(topology).replay(tmp_path / "cut.pcap", auto_map=False)
    rows = [(r["disposition"], r["deciding"]) for r in result.rows()]
    assert rows[0] == ("FIREWALL_NAME_UNKNOWN", "firewall fw: application rule apps/web/contoso "
                       "may allow it; server name unknown: the capture cut the first payload "
                       "(snaplen) before the server name")
    assert result.check_accounting()
    _pcap(tmp_path / "whole.pcap", _flow(client_hello("www.contoso.com")), snaplen=65535)
    whole = Emulator(topology).replay(tmp_path / "whole.pcap", auto_map=False)
    assert _firewall_rule(whole, 0) == "firewall fw/apps/web/contoso"


def test_explain_takes_a_server_name_and_says_when_one_is_needed(make_topology) -> None:
    topology = _topology(make_topology)
    allowed = watcher.explain(topology, "app1", f"{DB}:443", sni="www.contoso.com")
    unknown = watcher.explain(topology, "app1", f"{DB}:443")
    http = watcher.explain(topology, "app1", f"{DB}:80", host="api.contoso.com")
    fw_hop = next(h for h in allowed["hops"] if h["step"] == "appliance")
    assert allowed["disposition"] == "Delivered"
    assert (fw_hop["rule"], fw_hop["serverName"]) == ("firewall fw/apps/web/contoso",
                                                      "SNI www.contoso.com")
    assert (unknown["disposition"], unknown["reason"]) == ("Undecided",
                                                          "FirewallServerNameUnknown")
    assert unknown["deciding"].endswith("server name unknown: no --sni or --host given")
    assert http["disposition"] == "Delivered"


def test_application_rules_always_snat(make_topology) -> None:
    """Issue 12 item 6 ("Azure Firewall SNAT private IP address ranges",
    https://learn.microsoft.com/azure/firewall/snat-private-range: "Application rules are
    always SNATed"): a flow an application rule allows reaches a private destination from a
    firewall instance address; one a network rule allows keeps its source (RFC 1918)."""
    (fw,) = build_network(_topology(make_topology), caps=False).firewall_rules
    assert not any(c.startswith("firewall-application-snat") for c in fw.caveats)
    app = watcher.explain(_topology(make_topology), "app1", f"{DB}:443", sni="www.contoso.com")
    net = watcher.explain(_topology(make_topology), "app1", f"{DB}:8443")
    snat = [h for h in app["hops"] if h.get("kind", "").startswith("SNAT (firewall")]
    assert app["disposition"] == "Delivered" and len(snat) == 1
    assert snat[0]["translated"]["sourceIp"] in ("10.0.1.5", "10.0.1.6")  # fw is 10.0.1.4
    assert net["disposition"] == "Delivered"
    assert not [h for h in net["hops"] if h.get("kind", "").startswith("SNAT")]


NAMES = ["www.contoso.com", "acct.blob.core.windows.net", "blob.core.windows.net",
         "api.contoso.com", "evil.example"]
FLOW_NAMES = [synthetic(sni=n) for n in NAMES] + [synthetic(host=n) for n in NAMES] + [
    FlowName(NameKind.TLS_NO_SNI), FlowName(NameKind.OTHER), synthetic(),
    FlowName(NameKind.INCOMPLETE, "", "cut")]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([6, 6, 6, 17]), st.sampled_from([APP, "10.1.9.9",
                                                                           "10.3.0.1"]),
                          st.sampled_from([80, 443, 8443, 22]),
                          st.integers(0, len(FLOW_NAMES) - 1)), min_size=1, max_size=30))
def test_batch_and_reference_forms_agree(make_topology, rows) -> None:
    (fw,) = build_network(_topology(make_topology), caps=False).firewall_rules
    proto = np.array([r[0] for r in rows], np.int64)
    src = np.array([int.from_bytes(bytes(map(int, r[1].split("."))), "big") for r in rows],
                   np.int64)
    dst = np.full(len(rows), int.from_bytes(bytes([10, 2, 1, 4]), "big"), np.int64)
    dport = np.array([r[2] for r in rows], np.int64)
    ids = np.array([r[3] for r in rows], np.int32)
    table = NameTable(FLOW_NAMES)
    ids = np.array([table.intern(FLOW_NAMES[i]) for i in ids], np.int32)
    by_name = np.zeros(len(rows), bool)
    allow, labels, which, unknown = fw.decide_np(
        proto, src, dst, dport, np.zeros(len(rows), bool), ids, table, by_name)
    for i, r in enumerate(rows):
        v = fw.decide(r[0], int(src[i]), int(dst[i]), r[2], False, FLOW_NAMES[r[3]])
        assert (bool(allow[i]), labels[which[i]], bool(unknown[i]), bool(by_name[i])) == (
            v.allowed, v.label, v.unknown, v.application_part)


def test_classic_collections_by_priority_a_deny_rule_first(make_topology) -> None:
    """Classic applicationRuleCollections: collections by priority, the first matching rule
    decides, Deny included ("Azure Firewall rule processing logic", "Rule processing by using
    classic rules")."""
    def topology(deny_priority: int) -> Topology:
        return make_topology(HUB_AND_SPOKES.replace("collections: []}", f"""collections: [],
      application_collections: [
        {{name: block-contoso, priority: {deny_priority}, action: Deny, rules: [
          {{name: all-contoso, source: 10.1.0.0/16, protocols: Https:443, fqdns: "*.contoso.com"}}]}},
        {{name: web, priority: 200, action: Allow, rules: [
          {{name: www, source: 10.1.0.0/16, protocols: Https:443, fqdns: www.contoso.com}}]}}]}}"""))
    flow = _flow(client_hello("www.contoso.com"))
    assert _run(topology(100), flow)[0] == ("FIREWALL_DENIED",
                                            "firewall fw/block-contoso/all-contoso")
    assert _run(topology(300), flow)[0] == ("DELIVERED", "firewall fw/web/www")


def _premium_rule(**extra) -> dict:
    return _policy("p", [_group("apps", 100, [_filter("web", 100, "Allow", [
        _app("premium", extra.pop("targets", []), [("Https", 443)], **extra)])])])


def test_target_urls_web_categories_and_tags_are_unknown_and_say_which(make_topology) -> None:
    """Premium URL filtering and web categories, FQDN tags: not evaluated; a flow such a rule
    could allow is FIREWALL_NAME_UNKNOWN naming what is not evaluated, and the firewall's
    caveats cite Microsoft's page ("Azure Firewall Premium features", "URL filtering")."""
    hello = _flow(client_hello("www.contoso.com"))
    for extra, said in (({"targetUrls": ["www.contoso.com/a/c"]},
                         "target URLs www.contoso.com/a/c are not evaluated"),
                        ({"webCategories": ["Gambling"]},
                         "web categories Gambling are not evaluated"),
                        ({"fqdnTags": ["WindowsUpdate"]},
                         "FQDN tags WindowsUpdate are not evaluated")):
        topology = _topology(make_topology, _premium_rule(**extra))
        rows = _run(topology, hello)
        assert rows[0] == ("FIREWALL_NAME_UNKNOWN",
                           f"firewall fw: application rule apps/web/premium may allow it; {said}")
        (fw,) = build_network(topology, caps=False).firewall_rules
        named = [c for c in fw.caveats if said in c]
        assert len(named) == 1 and "https://learn.microsoft.com/azure/firewall/" in named[0]


def test_terminate_tls_is_said_and_the_name_still_decides(make_topology) -> None:
    topology = _topology(make_topology, _premium_rule(targets=["www.contoso.com"],
                                                      terminateTLS=True))
    assert _run(topology, _flow(client_hello("www.contoso.com")))[0] == (
        "DELIVERED", "firewall fw/apps/web/premium")
    (fw,) = build_network(topology, caps=False).firewall_rules
    assert any(c.startswith("firewall-tls-inspection: firewall fw/apps/web/premium: "
                            "terminateTLS") for c in fw.caveats)
    plain = _topology(make_topology, _premium_rule(targets=["www.contoso.com"]))
    (fw,) = build_network(plain, caps=False).firewall_rules
    assert not any(c.startswith("firewall-tls-inspection") for c in fw.caveats)


def test_an_mssql_rule_is_unknown_and_named(make_topology) -> None:
    """Mssql:1433 pairs: the SQL pre-login is not parsed; a flow the rule could allow is
    FIREWALL_NAME_UNKNOWN and the firewall's caveats name it (firewall-mssql)."""
    topology = _topology(make_topology, _policy("p", [_group("apps", 100, [_filter(
        "sql", 100, "Allow", [_app("db", ["sql1.database.windows.net"], [("Mssql", 1433)])])])]))
    prelogin = bytes([0x12, 0x01, 0x00, 0x2F, 0x00, 0x00, 0x01, 0x00]) + bytes(39)  # TDS header
    rows = _run(topology, _flow(prelogin, dport=1433))
    assert rows[0] == ("FIREWALL_NAME_UNKNOWN", "firewall fw: application rule apps/sql/db may allow "
                       "it; the SQL pre-login of an Mssql rule is not parsed")
    (fw,) = build_network(topology, caps=False).firewall_rules
    (said,) = [c for c in fw.caveats if c.startswith("firewall-mssql: ")]
    assert said.startswith("firewall-mssql: firewall fw/apps/sql/db: Mssql:1433: the SQL "
                           "pre-login is not parsed")
    # a port the rule does not name: a firm default deny, no caveat needed for it
    assert _run(topology, _flow(prelogin, dport=1434, sport=40001))[0][0] == "FIREWALL_DENIED"


def test_an_mssql_rule_on_a_tds8_flow_is_unknown_not_denied(make_topology) -> None:
    """TDS 8.0 (strict encryption) opens with a TLS ClientHello ([MS-TDS] 3.3.5.1 "Initial
    State", https://learn.microsoft.com/openspecs/windows_protocols/ms-tds/
    8bfcbcd2-1baf-4792-8fff-86a63a9e90fa: a first byte 0x16 is a TLS ClientHello): its SNI is a name,
    but Microsoft does not say an Mssql rule matches it; the flow is not decided (it was denied
    as matching no Https rule), its replies too (engine/pending.py)."""
    topology = _topology(make_topology, _policy("p", [_group("apps", 100, [_filter(
        "sql", 100, "Allow", [_app("db", ["sql1.database.windows.net"], [("Mssql", 1433)])])])]))
    rows = _run(topology, _flow(client_hello("sql1.database.windows.net"), dport=1433))
    assert set(rows) == {("FIREWALL_NAME_UNKNOWN", "firewall fw: application rule apps/sql/db "
                          "may allow it; the SQL pre-login of an Mssql rule is not parsed")}
