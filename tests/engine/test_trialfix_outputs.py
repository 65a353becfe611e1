"""Trial findings (trialfix): packets.csv rows without an IP header have empty address,
protocol and port cells (item 6); the firewall-classic assumption names DNAT as evaluated
(item 5)."""

from __future__ import annotations

import csv
from pathlib import Path

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.utils import wrpcap

from dataplane.engine.stages.firewall import FIREWALL_ASSUMPTIONS
from dataplane.io.writers import Outputs, ReplayWriter


def test_non_ip_rows_have_empty_header_cells(demo, tmp_path: Path) -> None:
    ip = Ether() / IP(src="10.0.2.4", dst="10.1.1.4") / UDP(sport=5000, dport=53)
    path = tmp_path / "mixed.pcap"
    wrpcap(str(path), [bytes(Ether() / ARP(pdst="10.0.1.1")), bytes(ip), bytes(ip)[:20]],
           linktype=1)
    out = tmp_path / "out"
    writer = ReplayWriter(out, demo, Outputs(csv=True))
    try:
        demo.replay(path, progress=False, sink=writer)
    finally:
        writer.close()
    with (out / "packets.csv").open() as f:
        rows = list(csv.DictReader(f))
    header = ("sourceIp", "destinationIp", "protocol", "sourcePort", "destinationPort")
    assert rows[0]["disposition"] == "UNSUPPORTED"
    assert [rows[0][k] for k in header] == [""] * 5
    assert [rows[1][k] for k in header] == ["10.0.2.4", "10.1.1.4", "Udp", "5000", "53"]
    assert rows[2]["disposition"] == "UNPARSED"  # cut inside the IP header: nothing read
    assert [rows[2][k] for k in header] == [""] * 5


def test_firewall_classic_assumption_says_dnat_is_evaluated() -> None:
    (classic,) = [a for a in FIREWALL_ASSUMPTIONS if a.startswith("firewall-classic:")]
    assert "DNAT rules are evaluated first" in classic
    assert "NAT rules," not in classic
