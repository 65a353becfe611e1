"""`dataplane demo --dual-stack`: IPv4 and IPv6 traffic through a dual-stack hub and spokes.

The topology ships as package data (dataplane/data/demo-dual-stack.yaml; `--show-yaml` with
`--dual-stack` prints it): every subnet and VM has an IPv4 and an IPv6 prefix/address, spoke
to spoke goes through the hub NVA for both families. scapy builds a capture whose endpoints use
other addresses (as if taken elsewhere): IPv4 192.168.50.0/24 and IPv6 2001:db8:cafe::/64,
mapped onto the VMs by an explicit address map (`CAPTURE_MAP`, what `dataplane replay --map`
takes; auto-map off), and `Emulator.replay` decides every packet with the engine's stages
(issue 17): SQL over IPv6 and IPv4 through the NVA and its replies, SSH over IPv6 denied by an
IPv6 NSG rule, neighbour discovery answered by the host (assumption ipv6-nd-host), an MLD
report blocked as multicast, IPv6 Internet egress through web1's public IPv6 (its source
translated to that address), and IPv6 from the Internet to web1:443 (the capture shows the
private address: taken as translated, web-nsg allows it; stages/public_edge6.py). Every VM's
IPv6 ip configuration has a public IPv6 address (chosen offline, assumption
public-address-allocation): Azure gives IPv6 Internet connectivity only when requested.
Outputs go to `--out` as for the IPv4 demo.
A second explicit map ships for the public captures the tests replay through this topology
(dataplane/data/demo-dual-stack-real-map.csv, `real_captures_map()`: capture address, VM, the
capture it comes from and the host's role; several capture hosts may share one VM).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

from dataplane.cli.demo_traffic import footer, interleaved, replay_frames
from dataplane.load.scenario import load_scenario_text
from dataplane.model import Topology
from dataplane.textable import fit, table

DEMO_NAME = "demo-dual-stack.yaml"
REAL_MAP_NAME = "demo-dual-stack-real-map.csv"
WEB6, DB6 = "2001:db8:cafe::10", "2001:db8:cafe::20"
WEB4, DB4 = "192.168.50.10", "192.168.50.20"
CAPTURE_MAP = {WEB6: "web1", DB6: "db1", WEB4: "web1", DB4: "db1"}
INTERNET6 = "2001:4860:4860::8888"
AZURE_MAC = "12:34:56:78:9a:bc"  # the MAC Azure's host answers with (no lookup by scapy)

# (traffic, family, src, dst, protocol, sport, dport (ICMPv6: type, code), count)
FLOWS: list[tuple[str, int, str, str, str, int, int, int]] = [
    ("sql over IPv6: web1 -> db1:1433 via hub NVA", 6, WEB6, DB6, "tcp", 41000, 1433, 12),
    ("its replies: db1 -> web1", 6, DB6, WEB6, "tcp", 1433, 41000, 12),
    ("sql over IPv4: web1 -> db1:1433 via hub NVA", 4, WEB4, DB4, "tcp", 42000, 1433, 12),
    ("blocked: web1 -> db1:22 over IPv6 (db-nsg)", 6, WEB6, DB6, "tcp", 43000, 22, 6),
    ("neighbour solicitation from web1", 6, WEB6, "ff02::1:ff00:20", "icmp6", 135, 0, 3),
    ("MLD report from web1 (multicast)", 6, WEB6, "ff02::16", "icmp6", 143, 0, 3),
    ("internet over IPv6: web1 -> Google DNS:443", 6, WEB6, INTERNET6, "tcp", 44000, 443, 6),
    ("from the IPv6 Internet: -> web1:443", 6, INTERNET6, WEB6, "tcp", 45000, 443, 6),
]


def demo_text() -> str:
    return resources.files("dataplane.data").joinpath(DEMO_NAME).read_text(encoding="utf-8")


def real_captures_map() -> dict[str, str]:
    """{capture address: VM name} for replaying public captures through the dual-stack demo
    (package data REAL_MAP_NAME; the `dataplane replay --map CAPTURE_IP=VM` pairs)."""
    text = resources.files("dataplane.data").joinpath(REAL_MAP_NAME).read_text(encoding="utf-8")
    return {row["captureAddress"]: row["vm"] for row in csv.DictReader(io.StringIO(text))}


def demo_topology() -> Topology:
    return load_scenario_text(demo_text(), f"<built-in {DEMO_NAME}>")


def packets() -> tuple[list[Any], list[str]]:
    """The demo capture's frames (scapy, timestamps 1 ms apart) and each one's traffic name."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import ICMPv6MLReport2, ICMPv6ND_NS, IPv6
    from scapy.layers.l2 import Ether

    def frame(flow: tuple[Any, ...], round_: int) -> Any:
        name, family, src, dst, proto, sport, dport, _count = flow
        ip = IPv6(src=src, dst=dst) if family == 6 else IP(src=src, dst=dst)
        if proto == "tcp":
            reply = name.startswith("its replies")
            l4 = TCP(sport=sport if reply else sport + round_,
                     dport=dport + round_ if reply else dport, flags="SA" if reply else "S")
            return Ether(src=AZURE_MAC, dst=AZURE_MAC) / ip / l4
        if sport == 135:
            return Ether(src=AZURE_MAC, dst=AZURE_MAC) / ip / ICMPv6ND_NS(tgt=DB6)
        return Ether(src=AZURE_MAC, dst=AZURE_MAC) / ip / ICMPv6MLReport2()  # type 143

    frames, labels, _end_s = interleaved(FLOWS, frame)
    return frames, labels


def run(out: Path, show_yaml: bool) -> int:
    if show_yaml:
        print(demo_text(), end="")
        return 0
    frames, labels = packets()
    capture = out / "demo-dual-stack.pcap"
    _em, result, summary = replay_frames(demo_topology(), frames, capture, mapping=CAPTURE_MAP,
                                    auto_map=False)
    print(fit("vnet-dataplane dual-stack demo: hub (NVA fd00:db8:0:1::4 / 10.0.1.4) and two "
              "spokes, every subnet and VM IPv4 + IPv6; spoke to spoke through the NVA.\n"))
    print("Address map (explicit, as `dataplane replay --map CAPTURE_IP=VM`):")
    print(table(["capture address", "VM"], sorted(CAPTURE_MAP.items())))
    rows = result.rows()
    per: dict[str, Counter] = {}
    for label, row in zip(labels, rows, strict=True):
        per.setdefault(label, Counter())[row["disposition"]] += 1
    lines = []
    for label, counts in per.items():
        example = next(r for lab, r in zip(labels, rows, strict=True) if lab == label)
        lines.append((label, sum(counts.values()),
                      ", ".join(f"{d} {n}" for d, n in counts.most_common()),
                      example["hops"] if example["disposition"] == "DELIVERED"
                      else example["deciding"]))
    print(fit(f"\nTraffic: {len(frames)} packets ({capture}), replayed through the emulator:"))
    print(table(["traffic", "packets", "outcome", "decided by / path"], lines, keep=(0,)))
    print(fit(footer(summary, result.read, out)))
    return 0


__all__ = ["CAPTURE_MAP", "FLOWS", "demo_text", "demo_topology", "packets", "real_captures_map",
           "run"]
