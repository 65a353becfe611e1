"""`dataplane demo` traffic section and the replay writers: per-VM pcaps carry the emulated
(remapped, load-balancer-translated) addresses with valid checksums and emulated arrival times."""

from __future__ import annotations

import csv
import json

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Dot1Q, Ether
from scapy.utils import rdpcap, wrpcap

from dataplane.cli import main
from dataplane.io.rewrite import rewrite


def _checksums_ok(pkt) -> bool:
    ip = pkt[IP]
    fresh = IP(bytes(ip))
    del fresh.chksum
    if TCP in fresh:
        del fresh[TCP].chksum
    if UDP in fresh:
        del fresh[UDP].chksum
    fresh = IP(bytes(fresh))
    l4 = TCP if TCP in ip else UDP if UDP in ip else None
    return fresh.chksum == ip.chksum and (l4 is None or fresh[l4].chksum == ip[l4].chksum)


def test_demo_traffic_report_and_outputs(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # content checks: no wrapping (fitting: test_grammar)
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Disconnected" in text  # the lead's lifecycle section is still there, first
    traffic = text[text.index("Traffic:"):]
    for needle in ("web: jumpbox -> web-ilb", "lb web-ilb/https", "gateway hub-gw > web1",
                   "EXITS_ON_PREMISES", "EXITS_INTERNET",
                   "nsg db-nsg/securityRules/deny-vnet-in", "regional", "global",
                   "Throughput at web1's egress cap", "sum of dispositions: True"):
        assert needle in traffic, needle
    assert "= 1.000 Gbit/s (cap 1 Gbit/s)" in traffic  # Standard_D2s_v3 serialisation
    summary = json.loads((out / "summary.json").read_text())
    assert summary["accountingOk"] and summary["dispositions"]["DELIVERED"] > 600
    # the named assumptions and caveats under the tables, as in the dual-stack demo
    keys = [a.split(":", 1)[0] for a in summary["assumptions"]]
    words = " ".join(traffic.split())  # the long lines wrap even at 250 columns
    assert f"assumptions ({len(keys)}; full texts in {out}/summary.json): " \
        + ", ".join(keys) in words
    assert summary["caveats"] and all(
        f"caveat {c['key']} ({c['packets']} packet(s)): {' '.join(c['text'].split())}" in words
        for c in summary["caveats"] if c["packets"])
    rows = list(csv.DictReader((out / "packets.csv").open()))
    assert len(rows) == summary["read"] == len(rdpcap(str(out / "demo-traffic.pcap")))
    assert (out / "dropped.pcapng").stat().st_size > 0
    own = {"web1": "10.1.1.4", "web2": "10.1.1.5", "db1": "10.2.1.4"}
    for vm, address in own.items():
        pkts = rdpcap(str(out / f"{vm}.pcap"))
        assert pkts and all(p[IP].dst == address for p in pkts)  # web-ilb traffic DNATed
        assert all(_checksums_ok(p) for p in pkts)
    # arrival times are the emulated ones: db1 sits across global peering (> 40 ms one way)
    assert min(float(p.time) for p in rdpcap(str(out / "db1.pcap"))) > 0.04


def test_replay_pcaps_carry_the_mapped_addresses(tmp_path, capsys):
    from dataplane.cli.demo import demo_text

    topo = tmp_path / "demo.yaml"
    topo.write_text(demo_text())
    cap = tmp_path / "in.pcap"
    pkts = [Ether() / Dot1Q(vlan=7) / IP(src="172.20.0.5", dst="172.20.0.6")
            / TCP(sport=40000 + i, dport=443) / (b"p" * 100) for i in range(5)]
    for i, p in enumerate(pkts):
        p.time = 1000 + i * 0.001
    wrpcap(str(cap), pkts)
    out = tmp_path / "out"
    assert main(["replay", str(topo), str(cap), "--out", str(out), "--no-auto-map",
                 "--map", "172.20.0.5=jumpbox", "--map", "172.20.0.6=web1"]) == 0
    capsys.readouterr()
    got = rdpcap(str(out / "web1.pcap"))
    assert len(got) == 5
    assert {(p[IP].src, p[IP].dst) for p in got} == {("10.0.2.4", "10.1.1.4")}
    assert all(p[Dot1Q].vlan == 7 and _checksums_ok(p) for p in got)
    # emulated arrival: capture spacing kept, plus serialisation and the 100 us intra-region
    arrive = [round(float(p.time) * 1e6) for p in got]
    assert [b - a for a, b in zip(arrive, arrive[1:], strict=False)] == [1000] * 4
    assert 100 <= arrive[0] <= 102


def test_rewrite_fixes_checksums_full_and_truncated():
    pkt = Ether() / IP(src="1.2.3.4", dst="5.6.7.8") / TCP(sport=1, dport=2) / (b"z" * 301)
    frame = bytes(pkt)
    new = rewrite(frame, 1, 0x0A000104, 0x0A020104, 1433)
    assert _checksums_ok(Ether(new)) and Ether(new)[TCP].dport == 1433
    # a truncated capture: the TCP checksum is updated incrementally (RFC 1624) and equals
    # the full recomputation of the untruncated packet
    cut = rewrite(frame[:60], 1, 0x0A000104, 0x0A020104, 1433)
    assert cut[:60] == new[:60]
    udp0 = bytes(Ether() / IP(src="1.2.3.4", dst="5.6.7.8") / UDP(sport=1, dport=2, chksum=0))
    assert Ether(rewrite(udp0, 1, 1, 2, 2))[UDP].chksum == 0  # no checksum stays none
    assert rewrite(b"\x00" * 10, 1, 1, 2, 3) == b"\x00" * 10
