"""Two VNets sharing one private range (Azure allows it while they are not peered): a captured
packet from an address both hold names no sender. `check` warns once per address (every
holder, and the one captures are attributed to); an answer the engine attributed to the first
holder carries caveat `ambiguous-source-address` (Result rows, summary.json, terminal);
`replay --map ADDR=VM` and `send(source=VM)` name the sender, and the packet enters at that
VM's NIC (new-user trial: the map line named win-vm-2 while the hops said win-vm-1)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.utils import wrpcap

import dataplane
from dataplane.cli import main
from dataplane.control.shared_addresses import AMBIGUOUS_SOURCE, AMBIGUOUS_SOURCE_KEY
from dataplane.control.validate import validate
from dataplane.engine import Emulator
from dataplane.load.resources import resources_to_topology
from dataplane.load.scenario import scenario_resources

SCENARIO = """
vnets:
  alpha:
    region: westeurope
    address_space: [192.168.0.0/24]
    subnets:
      work: {prefix: 192.168.0.0/24}
  beta:
    region: westeurope
    address_space: [192.168.0.0/24]
    subnets:
      work: {prefix: 192.168.0.0/24}
vms:
  a-client: {subnet: alpha/work, ip: 192.168.0.4}
  a-server: {subnet: alpha/work, ip: 192.168.0.5}
  b-client: {subnet: beta/work, ip: 192.168.0.4}
  b-server: {subnet: beta/work, ip: 192.168.0.6}
"""
SHARED = "192.168.0.4"


@pytest.fixture(scope="module")
def topology():
    return resources_to_topology(scenario_resources(SCENARIO, "overlap.yaml"), "overlap.yaml")


def _warnings(topology) -> list[str]:
    return [f.message for f in validate(topology) if f.code == "AmbiguousSourceAddress"]


def test_check_warns_once_per_shared_address(topology) -> None:
    (message,) = _warnings(topology)  # .5 and .6 are held once each
    assert message.startswith(f"{SHARED} is held by a-client (a-client-nic), b-client ")
    assert "attributed to a-client (a-client-nic)" in message
    assert all(f.code != "AmbiguousSourceAddress" or f.severity == "warning"
               for f in validate(topology))


def _packets(dst: str, n: int = 3) -> list:
    return [IP(src=SHARED, dst=dst) / UDP(sport=5000 + i, dport=53) for i in range(n)]


def test_an_unnamed_sender_is_the_first_holder_with_the_caveat(topology) -> None:
    result = Emulator(topology).send(_packets("192.168.0.5"))
    rows = result.rows()
    assert [r["hops"] for r in rows] == ["a-client > a-server"] * 3
    assert all(AMBIGUOUS_SOURCE in r["caveats"] for r in rows)
    assert result.caveats()[AMBIGUOUS_SOURCE] == 3


def test_a_named_sender_enters_at_its_nic_without_the_caveat(topology) -> None:
    result = Emulator(topology).send(_packets("192.168.0.6"), source="b-client")
    rows = result.rows()
    assert [(r["disposition"], r["hops"]) for r in rows] == [
        ("DELIVERED", "b-client > b-server")] * 3
    assert not any(AMBIGUOUS_SOURCE in r["caveats"] for r in rows)
    assert AMBIGUOUS_SOURCE not in result.caveats()


def test_an_unshared_source_carries_no_caveat(topology) -> None:
    packet = IP(src="192.168.0.5", dst=SHARED) / UDP(sport=1, dport=2)
    (row,) = Emulator(topology).send(packet).rows()
    assert row["hops"] == "a-server > a-client" and AMBIGUOUS_SOURCE not in row["caveats"]


def _capture(tmp_path: Path, packets: list) -> Path:
    for i, p in enumerate(packets):
        p.time = 1 + i / 1000
    path = tmp_path / "in.pcap"
    wrpcap(str(path), packets)
    return path


@pytest.mark.parametrize("mapped", [None, "b-client", "a-client"])
def test_replay_map_names_the_sender(topology, tmp_path, mapped) -> None:
    pcap = _capture(tmp_path, _packets("192.168.0.6") + _packets("192.168.0.5"))
    result = Emulator(topology).replay(pcap, mapping={SHARED: mapped} if mapped else None)
    rows = result.rows()
    first = mapped or "a-client"  # unnamed: the first holder in topology order
    server = {"a-client": "a-server", "b-client": "b-server"}[first]
    delivered = [r["hops"] for r in rows if r["disposition"] == "DELIVERED"]
    assert delivered == [f"{first} > {server}"] * 3  # the other three find no such address
    assert len(rows) == 6 and all(r["hops"].startswith(first) for r in rows)
    carried = [AMBIGUOUS_SOURCE in r["caveats"] for r in rows]
    assert carried == [mapped is None] * 6


def test_replay_cli_names_the_caveat(tmp_path) -> None:
    (tmp_path / "t.yaml").write_text(SCENARIO)
    pcap = _capture(tmp_path, _packets("192.168.0.5", 2))
    out = tmp_path / "out"
    assert main(["replay", str(tmp_path / "t.yaml"), str(pcap), "--out", str(out),
                 "--csv"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    (entry,) = [c for c in summary["caveats"] if c["key"] == AMBIGUOUS_SOURCE_KEY]
    assert entry["packets"] == 2 and entry["inPacketsTable"]
    assert [AMBIGUOUS_SOURCE_KEY in row["caveats"].split(";")  # each row names it
            for row in csv.DictReader((out / "packets.csv").open())] == [True, True]
    named = tmp_path / "named"
    assert main(["replay", str(tmp_path / "t.yaml"), str(pcap), "--out", str(named),
                 "--map", f"{SHARED}=b-client", "--csv"]) == 0
    summary = json.loads((named / "summary.json").read_text())
    assert not [c for c in summary["caveats"] if c["key"] == AMBIGUOUS_SOURCE_KEY]
    assert not [row for row in csv.DictReader((named / "packets.csv").open())
                if AMBIGUOUS_SOURCE_KEY in row["caveats"]]


def test_replay_terminal_prints_the_caveat(tmp_path, capsys) -> None:
    (tmp_path / "t.yaml").write_text(SCENARIO)
    pcap = _capture(tmp_path, _packets("192.168.0.5", 1))
    assert main(["replay", str(tmp_path / "t.yaml"), str(pcap), "--out",
                 str(tmp_path / "out")]) == 0
    assert f"caveat {AMBIGUOUS_SOURCE_KEY} (1 packet(s))" in capsys.readouterr().out


@pytest.fixture
def overlapped(real_dir: Path):
    return dataplane.load(real_dir / "arm" /
                          "ans_azfw-private-ip-dnat-overlapped.PrivateIpDnatArmTemplateV2.json")


def test_real_template_warns_and_maps_to_win_vm_2(overlapped, tmp_path) -> None:
    (message,) = _warnings(overlapped)
    assert message.startswith("192.168.0.4 is held by win-vm-1 (win-vm-1-nic), win-vm-2 ")
    assert "attributed to win-vm-1 (win-vm-1-nic)" in message
    # VM2 to firewall 2's private address: its spoke's route leads there
    pcap = _capture(tmp_path, [IP(src="192.168.0.4", dst="10.10.2.4") / UDP(sport=1, dport=2)])
    (row,) = Emulator(overlapped).replay(pcap, mapping={"192.168.0.4": "win-vm-2"}).rows()
    assert row["hops"].startswith("win-vm-2") and AMBIGUOUS_SOURCE not in row["caveats"]
    (row,) = Emulator(overlapped).replay(pcap).rows()
    assert row["hops"].startswith("win-vm-1") and AMBIGUOUS_SOURCE in row["caveats"]


def test_a_mapped_capture_address_enters_at_the_named_vm(topology, tmp_path) -> None:
    # a capture taken elsewhere: 10.9.9.9 stands for b-client, whose address a-client holds too
    packets = [IP(src="10.9.9.9", dst="192.168.0.6") / UDP(sport=7, dport=53)]
    (row,) = Emulator(topology).replay(_capture(tmp_path, packets),
                                       mapping={"10.9.9.9": "b-client"}).rows()
    assert (row["src"], row["hops"]) == (SHARED, "b-client > b-server")
    assert AMBIGUOUS_SOURCE not in row["caveats"]
