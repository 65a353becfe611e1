"""`dataplane check` and `dataplane demo`: the JSON contract, exit statuses, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dataplane.cli import main

GOOD = """vnets:
  hub: {region: westeurope, address_space: [10.0.0.0/16], subnets: {s: 10.0.1.0/24}}
  spoke: {region: eastus, address_space: [10.1.0.0/16], subnets: {s: 10.1.1.0/24}}
peerings:
  - {vnet: hub, remote: spoke, name: hub-spoke, allow_forwarded_traffic: true}
  - {vnet: spoke, remote: hub}
"""


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_check_json_contract(tmp_path, capsys):
    path = tmp_path / "t.yaml"
    path.write_text(GOOD)
    status, out, _ = run(capsys, "check", str(path), "--json")
    report = json.loads(out)
    assert status == 0 and report["valid"] is True and report["errors"] == []
    link = next(p for p in report["peerings"] if p["name"] == "hub-spoke")
    assert link == {"vnet": "hub", "name": "hub-spoke", "remoteVnet": "spoke",
                    "peeringState": "Connected", "peeringSyncLevel": "FullyInSync",
                    "allowVirtualNetworkAccess": True, "allowForwardedTraffic": True,
                    "allowGatewayTransit": False, "useRemoteGateways": False, "global": True}


def test_check_errors_exit_1_with_codes(tmp_path, capsys):
    path = tmp_path / "t.yaml"
    path.write_text(GOOD.replace("10.1.1.0/24", "10.5.1.0/24"))
    status, out, _ = run(capsys, "check", str(path), "--json")
    report = json.loads(out)
    assert status == 1 and report["valid"] is False
    assert [e["code"] for e in report["errors"]] == ["NetcfgSubnetRangeOutsideVnet"]
    assert report["errors"][0]["resource"].endswith("/virtualNetworks/spoke/subnets/s")


def test_initiated_link_is_a_warning(tmp_path, capsys):
    path = tmp_path / "t.yaml"
    path.write_text(GOOD.replace("  - {vnet: spoke, remote: hub}\n", ""))
    status, out, _ = run(capsys, "check", str(path), "--json")
    report = json.loads(out)
    assert status == 0
    assert [w["code"] for w in report["warnings"]] == ["PeeringNotConnected"]
    assert report["peerings"][0]["peeringState"] == "Initiated"


@pytest.mark.parametrize("content, needle", [
    (None, "file not found"),
    ("{not json", "malformed JSON"),
    ("vnets: {a: {address_space: [10.0.0.0/16]}}", "property 'region'"),
])
def test_unreadable_input_exits_2_with_one_line(tmp_path, capsys, content, needle):
    path = tmp_path / ("t.json" if content and content.startswith("{") else "t.yaml")
    if content is not None:
        path.write_text(content)
    status, out, err = run(capsys, "check", str(path))
    assert status == 2 and out == ""
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_text_output_lists_vnets_and_peerings(tmp_path, capsys):
    path = tmp_path / "t.yaml"
    path.write_text(GOOD)
    status, out, _ = run(capsys, "check", str(path))
    assert status == 0
    assert "hub-spoke" in out and "Connected" in out and out.rstrip().endswith("VALID")


def test_demo_runs_and_shows_lifecycle(tmp_path, capsys):
    status, out, _ = run(capsys, "demo", "--out", str(tmp_path / "demo-out"))
    assert status == 0
    assert "Disconnected" in out and "RemoteNotInSync" in out and "LocalNotInSync" in out
    status, yaml_text, _ = run(capsys, "demo", "--show-yaml")
    assert status == 0 and yaml_text.startswith("# The built-in demo")


def test_every_command_has_help():
    from dataplane.cli import build_parser
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001
    assert {"check", "demo"} <= set(commands)
    for name, sub in commands.items():
        assert sub.format_help().startswith("usage: dataplane " + name)


def test_console_script_entry_point():
    """`python -m dataplane --help` works from a fresh interpreter (no traceback on import)."""
    result = subprocess.run([sys.executable, "-m", "dataplane", "--help"], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0 and "check" in result.stdout


BGP = """vnets:
  hub:
    region: westeurope
    address_space: [10.0.0.0/16]
    subnets: {GatewaySubnet: 10.0.255.0/27, app: {prefix: 10.0.1.0/24}}
    gateway: {type: Vpn, sku: VpnGw1, bgp: true, asn: 65010}
on_premises:
  branch: {prefixes: [192.168.10.0/24], gateway_ip: 203.0.113.10, connect_to: hub, asn: 65020,
           bgp_ip: 192.168.10.1}
bgp_routes:
  - {peer: branch, prefixes: [192.168.20.0/24], asPath: [65020, 65030]}
"""


def test_check_lists_vnets_connections_and_bgp(tmp_path, capsys):
    """New-user trial: check showed no connections or BGP; -o json had no virtualNetworks or
    connections. Keys as az prints them (vnet show, vnet-gateway show, vpn-connection show)."""
    path = tmp_path / "t.yaml"
    path.write_text(BGP)
    status, out, _ = run(capsys, "check", str(path), "-o", "json")
    report = json.loads(out)
    assert status == 0
    hub, = report["virtualNetworks"]
    assert hub["addressSpace"] == {"addressPrefixes": ["10.0.0.0/16"]}
    assert {"name": "app", "addressPrefix": "10.0.1.0/24"} in hub["subnets"]
    gateway, = hub["virtualNetworkGateways"]
    assert (gateway["gatewayType"], gateway["enableBgp"], gateway["bgpSettings"]["asn"]) == (
        "Vpn", True, 65010)
    connection, = report["connections"]
    assert connection["connectionType"] == "IPsec" and connection["enableBgp"] is True
    assert connection["virtualNetworkGateway1"]["id"].endswith("/hub-gw")
    assert connection["localNetworkGateway2"]["id"].endswith("/branch")
    assert report["bgpAdvertisements"] == [{"peer": "branch", "prefixes": ["192.168.20.0/24"],
                                            "asPath": [65020, 65030], "nextHop": None}]
    status, text, _ = run(capsys, "check", str(path))
    assert "hub-gw (Vpn VpnGw1, BGP" in text and "AS65010)" in text  # the cell may wrap
    lines = text.splitlines()
    row = next(line for line in lines[lines.index("Connections:"):] if "hub-to-branch" in line)
    assert "IPsec" in row and "branch (local network gateway)" in row and row.split()[-1] == "yes"
    assert "192.168.20.0/24" in text and "65020 65030" in text
    assert max(len(line) for line in lines) <= 100


def test_check_without_connections_says_none(tmp_path, capsys):
    path = tmp_path / "t.yaml"
    path.write_text(GOOD)
    _, text, _ = run(capsys, "check", str(path))
    lines = text.splitlines()
    assert lines[lines.index("Connections:") + 1] == "  (none)"
    assert json.loads(run(capsys, "check", str(path), "--json")[1])["connections"] == []


RESOURCE_ITEMS = ("NIC", "VM", "NSG", "route table", "on-premises network", "load balancer",
                  "firewall", "NAT gateway", "private endpoint")


@pytest.mark.parametrize("columns", [100, 60])
def test_check_resources_line_wraps_between_items(real_dir, capsys, monkeypatch, columns):
    """The DNS-proxy hub-spoke template at 100 columns used to split '... 1' / 'firewalls'."""
    monkeypatch.setenv("COLUMNS", str(columns))
    arm = real_dir / "arm"
    name = "ans_azfw-dns-proxy-hub-spoke.azuredeploy"
    status, out, _ = run(capsys, "check", str(arm / f"{name}.json"), "--parameters",
                         str(arm / f"{name}.parameters.json"))
    assert status == 0 and max(len(line) for line in out.splitlines()) <= columns
    lines = out[out.index("Resources:"):out.index("\n\nErrors:")].splitlines()
    assert len(lines) >= 2 and all(line.startswith("    ") for line in lines[1:])
    pieces = [p.strip() for line in lines for p in line.removeprefix("Resources:").split(",")
              if p.strip()]
    assert [p.split(" ", 1)[1] for p in pieces] == [
        "NICs", "VMs", "NSGs", "route tables", "on-premises networks", "load balancers",
        "firewall", "NAT gateways", "private endpoints"]  # every count next to its noun
    assert pieces[6] == "1 firewall" and pieces[8] == "3 private endpoints"


def test_items_line_never_splits_an_item():
    from dataplane.textable import items_line

    items = [f"{n} {noun}s" for n, noun in enumerate(RESOURCE_ITEMS)]
    for limit in (30, 45, 70, 100):
        lines = items_line("Resources:", items, max_width=limit).splitlines()
        assert max(len(line) for line in lines) <= limit
        joined = " ".join(line.strip() for line in lines)
        assert joined == "Resources: " + ", ".join(items)
        assert all(line.rstrip().endswith(",") for line in lines[:-1])
    assert items_line("Wide:", ["a" * 50, "b"], max_width=20).splitlines() == [
        "Wide:", "    " + "a" * 50 + ",", "    b"]  # too long for any line: alone on one


def test_the_same_unmodelled_property_on_several_subnets_prints_its_reason_once(real_dir, capsys,
                                                                                monkeypatch):
    """The network-security demo lab sets the same service endpoints on six subnets: check
    prints the reason once and one line per place (second trial: six identical 10-line
    warnings)."""
    path = real_dir / "arm" / "ans_netsec-demo-lab-standard.AzNetSecdeploy.json"
    monkeypatch.setenv("COLUMNS", "1000")  # unwrapped: the counts do not depend on the path
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.count("an endpoint's route covers the service's addresses") == 1
    assert "PropertyNotModelled (6 places): not modelled:" in out
    assert out.count("properties.serviceEndpoints' (a list of 6") == 6
    monkeypatch.setenv("COLUMNS", "100")
    assert main(["check", str(path)]) == 0
    assert max(len(line) for line in capsys.readouterr().out.splitlines()) <= 100
