"""`replay` says which of its answers rest on what the model does not evaluate: summary.json's
`caveats` ({key, text, resources, packets}) carries the topology's caveats (control/caveats.py:
unmodelled resources, near-miss properties) and the firewalls' rule caveats, each counted on
the packets whose path crosses a resource it touches; the terminal prints them under the table
as the demos do (cli/demo_traffic.py `notes`), at 100 columns."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from hub_topo import HUB_FW, caveated_hub_json
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from dataplane.cli import main

# Two spokes behind a hub firewall (tests/hub_topo.py):
# app1 (spoke1, route table rt1) and db1 (spoke2, rt2) both route 0.0.0.0/0 to the firewall.
HUB = HUB_FW
SUB = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers"


def _topology(tmp: Path) -> Path:
    """HUB as az JSON with: a misspelt route property on rt1 (beside the right one, so the
    route still works), a classic FQDN rule on the firewall (not evaluated: a firewall
    caveat), and an Application Gateway nothing refers to (unmodelled, touches no packet)."""
    return caveated_hub_json(tmp, HUB, ({
        "type": "Microsoft.Network/applicationGateways", "name": "agw", "location": "westeurope",
        "id": f"{SUB}/Microsoft.Network/applicationGateways/agw", "properties": {}},))


def _capture(tmp: Path) -> Path:
    """3 packets app1 -> db1:1433 (through the firewall, allowed; one of 1,454 bytes), 2 db1 -> the
    Internet (through the firewall, denied), 1 packet from an address outside the topology
    (no path: it touches no resource)."""
    frames = [Ether() / IP(src="10.1.1.4", dst="10.2.1.4") / TCP(sport=40000 + i, dport=1433)
              for i in range(3)]
    frames[2] = frames[2] / (b"x" * 1400)  # over 1,400 bytes: host-fragmentation caveat
    frames += [Ether() / IP(src="10.2.1.4", dst="8.8.8.8") / TCP(sport=41000 + i, dport=443)
               for i in range(2)]
    frames.append(Ether() / IP(src="192.0.2.1", dst="10.1.1.4") / TCP(sport=42000, dport=22))
    for i, frame in enumerate(frames):
        frame.time = 1.0 + i / 1000
    path = tmp / "c.pcap"
    wrpcap(str(path), frames)
    return path


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("replay-caveats")
    out = tmp / "out"
    args = ["replay", str(_topology(tmp)), str(_capture(tmp)), "--out", str(out),
            "--no-auto-map"]
    buffer = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(buffer):
        mp.setenv("COLUMNS", "100")
        assert main(args) == 0
    return buffer.getvalue(), json.loads((out / "summary.json").read_text())


def _by_key(summary: dict) -> dict[str, dict]:
    return {c["key"]: c for c in summary["caveats"]}


def test_summary_counts_each_caveat_on_the_packets_it_touches(replayed):
    _, summary = replayed
    assert summary["read"] == 6 and summary["accountingOk"]
    caveats = _by_key(summary)
    assert set(caveats) >= {
        "near-miss:rt1:properties.routes[0].properties.nextHopIpAdress",
        "firewall-fqdn:fw", "unmodelled:Microsoft.Network/applicationGateways:agw"}
    near = caveats["near-miss:rt1:properties.routes[0].properties.nextHopIpAdress"]
    assert near["resources"] == ["rt1"] and near["packets"] == 3  # app1's subnet only
    assert "did you mean 'nextHopIpAddress'" in near["text"]
    fqdn = caveats["firewall-fqdn:fw"]
    assert fqdn["resources"] == ["fw"] and fqdn["packets"] == 5  # both flows cross fw
    assert "sql.contoso.internal" in fqdn["text"]
    agw = caveats["unmodelled:Microsoft.Network/applicationGateways:agw"]
    assert agw["resources"] == [] and agw["packets"] == 0
    fragmentation = caveats["host-fragmentation-not-modelled"]
    assert fragmentation["packets"] == 1 and "1,400 bytes" in fragmentation["text"]
    # the replay's own caveat: the packets the latency histogram holds (delivered ones)
    timed = summary["dispositions"].get("DELIVERED", 0)
    assert caveats["latency-histogram"]["packets"] == timed == summary["latencyNs"]["all"]["count"]
    assert all(set(c) == {"key", "text", "resources", "packets", "inPacketsTable"}
               for c in summary["caveats"])


def test_terminal_names_touching_caveats_in_full_and_the_others_by_key(replayed):
    text, summary = replayed
    assert max(len(line) for line in text.splitlines()) <= 100
    under = text[text.index("  disposition"):]
    words = " ".join(under.split())
    for caveat in summary["caveats"]:
        if caveat["packets"]:
            assert (f"caveat {caveat['key']} ({caveat['packets']} packet(s)): "
                    f"{' '.join(caveat['text'].split())}") in words
        else:
            assert f"caveat {caveat['key']} " not in words
    assert ("caveats touching no replayed packet (1; texts in summary.json): "
            "unmodelled:Microsoft.Network/applicationGateways:agw") in words
    assert words.index("caveat near-miss:rt1") < words.index("read 6 = sum of dispositions")
