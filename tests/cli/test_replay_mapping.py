"""`dataplane replay` never remaps addresses the topology already speaks (issue 18, item 1).

The demo's own capture uses the demo topology's NIC addresses: the default and --no-auto-map
give the same dispositions; the map says auto-mapping is off and why.
"""

from __future__ import annotations

import csv
import json
import re
from importlib import resources

import pytest

from dataplane.cli import main

DEMO = str(resources.files("dataplane.data").joinpath("demo.yaml"))
# 10.3.0.4 (private, outside every VNet): web1's subnet has a 0.0.0.0/0 user route, so its
# VirtualNetwork tag holds 0.0.0.0/0 (assumption virtualnetwork-udr-prefixes) and
# AllowVnetOutBound lets it out; the hub NVA's subnet sends 10.0.0.0/8 to None: NULL_ROUTED.
EXPECTED = {"DELIVERED": 654, "DENIED_IN": 18, "NULL_ROUTED": 6, "EXITS_INTERNET": 6,
            "EXITS_ON_PREMISES": 6, "UNMAPPED": 6}


@pytest.fixture(scope="module")
def demo_capture(tmp_path_factory):
    from scapy.utils import wrpcap

    from dataplane.cli.demo import _packets

    path = tmp_path_factory.mktemp("cap") / "demo-traffic.pcap"
    wrpcap(str(path), _packets()[0])
    return path


@pytest.mark.parametrize("flags", [[], ["--no-auto-map"]])
def test_demo_capture_keeps_its_addresses(tmp_path, capsys, demo_capture, flags):
    out = tmp_path / "out"
    assert main(["replay", DEMO, str(demo_capture), "--out", str(out), "--csv", *flags]) == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dispositions"] == EXPECTED
    assert "auto-map off" in printed and "-> " not in printed.split("auto-map off")[1]
    rows: dict[tuple[str, str], set[str]] = {}
    with (out / "packets.csv").open() as f:
        for row in csv.DictReader(f):
            rows.setdefault((row["sourceIp"], row["destinationIp"]), set()).add(
                row["disposition"])
    assert rows[("10.1.1.99", "10.2.1.4")] == {"UNMAPPED"}
    assert rows[("10.1.1.4", "10.3.0.4")] == {"NULL_ROUTED"}


def test_foreign_capture_maps_only_private_addresses_outside_the_topology(tmp_path, capsys):
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    flows = [("172.20.0.5", "172.20.0.6"), ("172.20.0.5", "8.8.8.8"),
             ("10.1.1.99", "172.20.0.6"), ("172.20.0.6", "10.3.0.4")]
    capture = tmp_path / "elsewhere.pcap"
    wrpcap(str(capture), [Ether() / IP(src=s, dst=d) / TCP(dport=443) for s, d in flows])
    out = tmp_path / "out"
    assert main(["replay", DEMO, str(capture), "--out", str(out), "--csv"]) == 0
    printed = capsys.readouterr().out
    assert "auto-map on" in printed
    mapped = re.findall(r"map: capture (\S+) -> (\S+) (\S+)", printed)
    # private and outside every VNet, LB frontend and on-premises prefix, in order of
    # appearance; 8.8.8.8 (public) and 10.1.1.99 (spoke1's space) stay themselves
    assert [m[0] for m in mapped] == ["172.20.0.5", "172.20.0.6", "10.3.0.4"]
    assert {m[2] for m in mapped} <= {"10.0.1.4", "10.0.2.4", "10.1.1.4", "10.1.1.5",
                                      "10.2.1.4"}
    with (out / "packets.csv").open() as f:
        rows = list(csv.DictReader(f))
    by_flow = [(r["sourceIp"], r["destinationIp"]) for r in rows]
    new = {m[0]: m[2] for m in mapped}
    assert by_flow == [(new.get(s, s), new.get(d, d)) for s, d in flows]
    assert ("10.1.1.99" in {s for s, _ in by_flow}) and "8.8.8.8" in {d for _, d in by_flow}


def test_an_internet_reply_to_a_dropped_flow_names_the_real_cause(tmp_path, capsys):
    """New-user trial: an Internet packet to a VM with no public IP that answers no flow the VM
    opened said 'map it with --map' (mapping is for private capture addresses)."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    capture = tmp_path / "reply.pcap"
    wrpcap(str(capture), [Ether() / IP(src="8.8.8.8", dst="10.1.1.4")
                          / TCP(sport=443, dport=45000, flags="SA")])
    assert main(["replay", DEMO, str(capture), "--out", str(tmp_path / "out")]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert "UNMAPPED 1" in printed and "map it with --map" not in printed
    assert "an Internet packet gets in only to a public IP or as the reply to a flow a VM" \
           " opened" in printed


def test_the_emulator_exposes_the_replay_map(tmp_path):
    """io/writers.py reads Emulator.replay_map (was the private Emulator._amap)."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    import dataplane
    from dataplane.engine import Emulator
    from dataplane.io.mapping import AddressMap

    em = Emulator(dataplane.load(DEMO))
    assert em.replay_map is None
    capture = tmp_path / "c.pcap"
    wrpcap(str(capture), [Ether() / IP(src="172.20.0.5", dst="172.20.0.6") / TCP(dport=443)])
    em.replay(capture, timing="asap")
    assert isinstance(em.replay_map, AddressMap) and not em.replay_map.moves_no_ipv4_address()


@pytest.mark.parametrize(("maps", "decision", "lines"), [
    # every private address given by --map: nothing is auto-mapped, and the map says so
    (["--map", "172.20.0.5=web1", "--map", "172.20.0.6=db1"],
     "auto-map on (the capture uses none of the topology's NIC addresses): no address "
     "auto-mapped; 2 by --map",
     ["capture 172.20.0.5 -> web1 10.1.1.4 (--map)", "capture 172.20.0.6 -> db1 10.2.1.4 (--map)"]),
    (["--map", "172.20.0.5=web1"],
     "auto-map on (the capture uses none of the topology's NIC addresses): 1 private "
     "address(es) outside every VNet, load-balancer frontend and on-premises prefix mapped onto "
     "NICs in order of appearance (public ones stay); 1 by --map",
     ["capture 172.20.0.5 -> web1 10.1.1.4 (--map)"]),
    (["--map-subnet", "172.20.0.0/24=spoke1/web"],
     "auto-map on (the capture uses none of the topology's NIC addresses): no address "
     "auto-mapped; 1 prefix(es) by --map-subnet",
     ["capture 172.20.0.0-172.20.0.255 -> spoke1/web (--map-subnet, offset kept)"]),
])
def test_the_map_says_what_each_way_moved(tmp_path, capsys, maps, decision, lines):
    """New-user trial: with an explicit --map the replay printed 'auto-map on ... private
    addresses ... are mapped' though auto-mapping moved nothing."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    capture = tmp_path / "elsewhere.pcap"
    wrpcap(str(capture), [Ether() / IP(src=s, dst=d) / TCP(dport=443) for s, d in
                          [("172.20.0.5", "172.20.0.6"), ("172.20.0.6", "172.20.0.5")]])
    out = tmp_path / "out"
    assert main(["replay", DEMO, str(capture), "--out", str(out), *maps]) == 0
    capsys.readouterr()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["addressMap"][0] == decision
    assert [x for x in summary["addressMap"] if x.startswith("capture")][:len(lines)] == lines
    if "no address auto-mapped" in decision:
        assert not [x for x in summary["addressMap"] if x.endswith("(auto-map)")]
    else:
        assert [x for x in summary["addressMap"] if x.endswith("(auto-map)")] == [
            "capture 172.20.0.6 -> nva1 10.0.1.4 (auto-map)"]


def test_map_subnet_leaves_azure_reserved_offsets_as_captured(tmp_path, capsys):
    """New-user trial: --map-subnet keeps host offsets, so capture .0-.3 and .255 landed on
    the five addresses Azure reserves in the subnet. They stay as captured, listed with the
    assumption map-subnet-reserved; every other offset is kept."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    flows = [("172.20.0.5", "172.20.0.1"), ("172.20.0.5", "172.20.0.6"),
             ("172.20.0.255", "172.20.0.6"), ("172.20.0.3", "172.20.0.4")]
    capture = tmp_path / "elsewhere.pcap"
    wrpcap(str(capture), [Ether() / IP(src=s, dst=d) / TCP(dport=443) for s, d in flows])
    out = tmp_path / "out"
    assert main(["replay", DEMO, str(capture), "--out", str(out), "--csv", "--no-auto-map",
                 "--map-subnet", "172.20.0.0/24=spoke1/web"]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert ("map: not mapped by --map-subnet: 172.20.0.1, 172.20.0.3, 172.20.0.255 "
            "(map-subnet-reserved: ") in printed
    with (out / "packets.csv").open() as f:
        by_flow = [(r["sourceIp"], r["destinationIp"]) for r in csv.DictReader(f)]
    assert by_flow == [("10.1.1.5", "172.20.0.1"), ("10.1.1.5", "10.1.1.6"),
                       ("172.20.0.255", "10.1.1.6"), ("172.20.0.3", "10.1.1.4")]
