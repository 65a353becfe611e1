"""Translated addresses reach the outputs (issues 9 and 18 together): a flow through the demo's
internal load balancer arrives at a backend with the backend's address, and the backend's reply
leaves from the frontend (Azure un-NATs it, "Azure Load Balancer components",
https://learn.microsoft.com/azure/load-balancer/components): packets.csv and the client's pcap
show the frontend as the reply's source."""

from __future__ import annotations

import csv
from importlib import resources

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import rdpcap, wrpcap

from dataplane.cli import main

DEMO = str(resources.files("dataplane.data").joinpath("demo.yaml"))
FRONTEND = "10.1.1.100"


def test_ilb_request_and_reply_in_packets_csv_and_pcaps(tmp_path) -> None:
    capture = tmp_path / "lb.pcap"
    request = Ether() / IP(src="10.0.2.4", dst=FRONTEND) / TCP(sport=50000, dport=443, flags="S")
    wrpcap(str(capture), [request])
    out = tmp_path / "out"
    assert main(["replay", DEMO, str(capture), "--out", str(out), "--csv", "--no-auto-map"]) == 0
    with (out / "packets.csv").open() as f:
        (row,) = list(csv.DictReader(f))
    assert row["disposition"] == "DELIVERED" and row["destinationIp"] == FRONTEND
    backend_ip = row["finalDestinationIp"]
    assert backend_ip in ("10.1.1.4", "10.1.1.5")

    # The backend answers from its own address; Azure rewrites it to the frontend.
    reply = Ether() / IP(src=backend_ip, dst="10.0.2.4") / TCP(sport=443, dport=50000, flags="SA")
    both = tmp_path / "both.pcap"
    wrpcap(str(both), [request, reply])
    out2 = tmp_path / "out2"
    assert main(["replay", DEMO, str(both), "--out", str(out2), "--csv", "--no-auto-map"]) == 0
    with (out2 / "packets.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["disposition"] for r in rows] == ["DELIVERED", "DELIVERED"]
    assert (rows[1]["sourceIp"], rows[1]["finalSourceIp"]) == (backend_ip, FRONTEND)
    (arrived,) = rdpcap(str(out2 / "jumpbox.pcap"))
    assert arrived[IP].src == FRONTEND and arrived[TCP].sport == 443


def test_ipv6_addresses_with_large_low_halves_are_written_exactly(tmp_path) -> None:
    # New-user trial: packets.csv wrote fe80::40d3:61ff:fe62:3810 as ...:3800 and a public
    # IPv6 ...:29cc:1c40 as ...:29cc:2000 (uint64 low halves promoted to float64 beside int64
    # IPv4 values); a mixed IPv4/IPv6 capture with low halves >= 2^53 must round-trip.
    from scapy.layers.inet6 import IPv6

    dual = str(resources.files("dataplane.data").joinpath("demo-dual-stack.yaml"))
    addresses = [("2001:db8:ffff:0:f3ba:5e7e:29cc:1c41", "fd00:db8:1:1::4"),
                 ("fd00:db8:1:1:40d3:61ff:fe62:3811", "fd00:db8:2:1:ffff:ffff:ffff:fff7")]
    frames = [Ether() / IPv6(src=s, dst=d) / TCP(sport=50000 + i, dport=443, flags="S")
              for i, (s, d) in enumerate(addresses)]
    frames.append(Ether() / IP(src="10.1.1.4", dst="10.2.1.4") / TCP(sport=50100, dport=1433))
    capture = tmp_path / "v6.pcap"
    wrpcap(str(capture), frames)
    out = tmp_path / "out"
    assert main(["replay", dual, str(capture), "--out", str(out), "--csv", "--no-auto-map"]) == 0
    with (out / "packets.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["sourceIp"], r["destinationIp"]) for r in rows[:2]] == addresses
    assert (rows[2]["sourceIp"], rows[2]["destinationIp"]) == ("10.1.1.4", "10.2.1.4")
