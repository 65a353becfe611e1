"""`dataplane replay` never remaps addresses the topology already speaks (issue 18, item 1).

The demo's own capture uses the demo topology's NIC addresses: the default and --no-auto-map
give the same dispositions; the map says auto-mapping is off and why.
"""

from __future__ import annotations

import csv
import json
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
