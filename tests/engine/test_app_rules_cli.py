"""Application rules at the command line: `trace`/`explain` --sni/--host for a synthetic flow,
the hint without them, bad input in one line, and a replay whose packets.csv and per-VM pcaps
give every packet of a flow its verdict (issue 12). Scenario YAML `application_collections` is
the classic `applicationRuleCollections` ("Azure Firewall rule processing logic",
https://learn.microsoft.com/azure/firewall/rule-processing)."""

from __future__ import annotations

import csv
import json
import struct
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.utils import rdpcap, wrpcap
from test_app_rules import client_hello
from test_firewall_policy import HUB_AND_SPOKES

from dataplane.cli import main

# the hub and spokes of the firewall-policy tests, with one classic application rule collection
YAML = HUB_AND_SPOKES.replace("fw: {subnet: hub/AzureFirewallSubnet, ip: 10.0.1.4, collections: []}", """fw:
    subnet: hub/AzureFirewallSubnet
    ip: 10.0.1.4
    collections: []
    application_collections:
      - {name: web, priority: 200, action: Allow, rules: [
          {name: contoso, source: 10.1.0.0/16, protocols: [Https:443, "Http:80"], fqdns: [www.contoso.com]}]}""")


@pytest.fixture()
def topo(tmp_path: Path) -> str:
    path = tmp_path / "t.yaml"
    path.write_text(YAML)
    return str(path)


def _json(capsys, *argv: str):
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_trace_with_sni_is_decided_by_the_rule_both_ways(capsys, topo: str) -> None:
    got = _json(capsys, "trace", topo, "--vm", "app1", "--to", "10.2.1.4:443", "--sni",
                "www.contoso.com", "-o", "json")
    assert [a["disposition"] for a in got] == ["DELIVERED", "DELIVERED"]
    fw = next(h for h in got[0]["hops"] if h.get("kind") == "AzureFirewall")
    assert (fw["rule"], fw["serverName"]) == ("firewall fw/web/contoso", "SNI www.contoso.com")
    other = _json(capsys, "trace", topo, "--vm", "app1", "--to", "10.2.1.4:443", "--sni",
                  "www.fabrikam.com", "-o", "json")
    assert [a["disposition"] for a in other] == ["FIREWALL_DENIED"]
    http = _json(capsys, "trace", topo, "--vm", "app1", "--to", "10.2.1.4:80", "--host",
                 "www.contoso.com", "-o", "json")
    assert http[0]["disposition"] == "DELIVERED"


def test_without_a_name_trace_and_explain_say_an_application_rule_decides(capsys, topo) -> None:
    assert main(["trace", topo, "--vm", "app1", "--to", "10.2.1.4:443"]) == 0
    text = capsys.readouterr().out
    words = " ".join(text.split())  # the text wraps at 100 columns
    assert "FIREWALL_NAME_UNKNOWN" in words and "give --sni NAME (Https) or --host NAME" in words
    assert max(len(line) for line in text.splitlines()) <= 100
    assert main(["explain", topo, "--vm", "app1", "--to", "10.2.1.4:443"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "=> Undecided: FirewallServerNameUnknown" in text and "--sni NAME" in text
    assert main(["explain", topo, "--vm", "app1", "--to", "10.2.1.4:443", "--sni",
                 "www.contoso.com"]) == 0
    assert "=> Delivered" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--sni", "a.example", "--host", "b.example"], "give --sni or --host, not both"),
    (["--sni", "a.example", "--protocol", "Udp"], "--sni and --host name the server of a TCP"),
])
def test_bad_name_options_are_one_line_exit_2(capsys, topo, argv, message) -> None:
    assert main(["trace", topo, "--vm", "app1", "--to", "10.2.1.4:443", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_a_bad_application_protocol_in_yaml_names_file_resource_property(capsys, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(YAML.replace('"Http:80"', "Http"))
    assert main(["explain", str(path), "--vm", "app1", "--to", "10.2.1.4:443"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.yaml" in err and "fw" in err
    assert "application_collections" in err and "'Http' must be Http:PORT" in err


def test_replay_outputs_agree_on_every_packet_of_a_flow(topo: str, tmp_path: Path) -> None:
    def flow(sport: int, name: str) -> list:
        c, s = IP(src="10.1.1.4", dst="10.2.1.4"), IP(src="10.2.1.4", dst="10.1.1.4")
        return [c / TCP(sport=sport, dport=443, flags="S", seq=9),
                s / TCP(sport=443, dport=sport, flags="SA", seq=99, ack=10),
                c / TCP(sport=sport, dport=443, flags="A", seq=10, ack=100),
                c / TCP(sport=sport, dport=443, flags="PA", seq=10, ack=100) / client_hello(name)]
    packets = flow(40000, "www.contoso.com") + flow(40001, "www.fabrikam.com")
    for i, p in enumerate(packets):
        p.time = 1 + i / 1000
    wrpcap(str(tmp_path / "in.pcap"), packets)
    out = tmp_path / "out"
    assert main(["replay", topo, str(tmp_path / "in.pcap"), "--out", str(out), "--csv",
                 "--no-auto-map"]) == 0
    rows = list(csv.DictReader((out / "packets.csv").open()))
    allowed = [r["disposition"] for r in rows[:4]]
    denied = [r["disposition"] for r in rows[4:]]
    assert allowed == ["DELIVERED"] * 4 and denied == ["FIREWALL_DENIED"] * 4
    got = rdpcap(str(out / "db1.pcap"))
    to_db = [p for p in got if p[IP].dst == "10.2.1.4"]
    # the allowed flow's three packets, handshake too, as db1 sees them: SNATed by the
    # firewall (application rules always SNAT, issue 12 item 6) to one instance address:port
    assert len(to_db) == 3 and len({(p[IP].src, p[TCP].sport) for p in to_db}) == 1
    assert to_db[0][IP].src in ("10.0.1.5", "10.0.1.6") and to_db[0][TCP].sport != 40000
    app1 = [p for p in rdpcap(str(out / "app1.pcap"))]
    assert [p[TCP].dport for p in app1] == [40000]  # the allowed SYN-ACK only
    assert struct.unpack("<I", (out / "db1.pcap").read_bytes()[:4])[0] in (0xA1B2C3D4, 0xA1B23C4D)
