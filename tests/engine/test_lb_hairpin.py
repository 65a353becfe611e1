"""A backend's own flow to its internal load balancer's frontend, mapped back to itself, fails
("Azure Load Balancer components", https://learn.microsoft.com/azure/load-balancer/components,
"Limitations"); mapped to another backend it is delivered. The demo's web-ilb balances web1 and
web2 on 443."""

from __future__ import annotations

from scapy.layers.inet import IP, TCP

from dataplane.engine import Emulator
from dataplane.engine.stages.loadbalancer import flow_hash


def test_hairpin_fails_only_when_the_hash_picks_the_sender(demo_topology) -> None:
    emulator = Emulator(demo_topology)
    packets = [IP(src="10.1.1.4", dst="10.1.1.100") / TCP(sport=40000 + i, dport=443)
               for i in range(12)]
    rows = emulator.send(packets).rows()
    for packet, row in zip(packets, rows, strict=True):
        k = flow_hash(0x0A010104, 0x0A010164, 6, packet[TCP].sport, 443) % 2
        if k == 0:  # web1 is the pool's first backend: the sender itself
            assert (row["disposition"], row["deciding"]) == (
                "LB_HAIRPIN", "lb web-ilb/https: mapped back to the sending backend (hairpin)")
        else:
            assert row["disposition"] == "DELIVERED" and row["hops"].endswith("web2")
    assert {r["disposition"] for r in rows} == {"LB_HAIRPIN", "DELIVERED"}
