"""The public-edge example template (examples/public-edge/azuredeploy.json, written from the ARM
template reference for publicIPAddresses, natGateways, loadBalancers, privateEndpoints and
virtualNetworks): what `dataplane routes`, `next-hop` and the engine answer for it. Offline
public addresses follow control/public_addresses.py (an assumption)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP

import dataplane
from dataplane import watcher
from dataplane.control.public_addresses import POOL_V4, public_address
from dataplane.dispositions import Disposition as D
from dataplane.engine import Emulator
from dataplane.net import parse_ip

TEMPLATE = Path(__file__).resolve().parents[2] / "examples" / "public-edge" / "azuredeploy.json"


@pytest.fixture(scope="module")
def topology():
    return dataplane.load(str(TEMPLATE))


def test_everything_is_modelled_but_the_storage_account(topology) -> None:
    assert [u.type for u in topology.unknown_resources] == ["Microsoft.Storage/storageAccounts"]
    assert sorted(p.name for p in topology.public_ip_addresses) == ["app-pip", "lb-pip", "nat-pip"]
    (endpoint,) = topology.private_endpoints
    assert [str(a) for a in endpoint.private_ip_addresses] == ["10.10.3.4"]
    assert "private-endpoint-address" in [a.key for a in topology.assumptions]


def test_the_endpoint_route_is_in_the_hub_and_the_peered_spoke(topology) -> None:
    for nic in ("app-nic", "worker-nic"):
        rows = watcher.effective_route_table(topology, nic)["value"]
        assert {"source": "Default", "state": "Active", "addressPrefix": ["10.10.3.4/32"],
                "nextHopType": "InterfaceEndpoint", "nextHopIpAddress": [],
                "disableBgpRoutePropagation": False} in rows


def test_outbound_methods_per_vm(topology) -> None:
    nat = public_address(topology, topology.find("public_ip_addresses", "nat-pip"))
    lb = public_address(topology, topology.find("public_ip_addresses", "lb-pip"))
    assert POOL_V4.contains_address(nat) and POOL_V4.contains_address(lb)
    app = watcher.next_hop(topology, "app", "10.10.1.4", "8.8.8.8")["outbound"]
    assert app == {"method": "NatGateway", "resourceId": topology.find("nat_gateways", "nat").id,
                   "publicIpAddresses": [str(nat)], "overrides": ["InstancePublicIP app-pip"]}
    web = watcher.next_hop(topology, "web", "10.10.2.4", "8.8.8.8")["outbound"]
    assert (web["method"], web["rule"], web["publicIpAddresses"]) == (
        "LoadBalancerOutboundRule", "out", [str(lb)])
    assert watcher.next_hop(topology, "db", "10.10.4.4", "8.8.8.8")["outbound"]["method"] == "None"
    endpoint = watcher.next_hop(topology, "worker", "10.20.1.4", "10.10.3.4")
    assert endpoint["nextHopType"] == "InterfaceEndpoint"
    assert endpoint["privateEndpoint"]["groupIds"] == ["blob"]
    assert endpoint["privateEndpoint"]["privateLinkServiceId"].endswith("/edgeexamplestore")


def test_packets_at_the_edge(topology) -> None:
    emulator = Emulator(topology)
    app_ip = public_address(topology, topology.find("public_ip_addresses", "app-pip"))
    closed = emulator.send(IP(src="198.51.100.7", dst=str(app_ip)) / TCP(sport=5000, dport=22))
    assert closed.dispositions() == [D.PUBLIC_IP_CLOSED]  # Standard, no NSG on app's subnet
    blob = emulator.send(IP(src="10.20.1.4", dst="10.10.3.4") / TCP(sport=5000, dport=443),
                         source="worker")
    assert blob.dispositions() == [D.PRIVATE_ENDPOINT]
    dark = emulator.send(IP(src="10.10.4.4", dst="8.8.8.8") / TCP(sport=5000, dport=443), source="db")
    assert dark.dispositions() == [D.NO_OUTBOUND_ACCESS]
    assert parse_ip(closed.row(0)["dst"]) == app_ip


def test_the_cli_prints_the_outbound_method_within_100_columns() -> None:
    out = subprocess.run([sys.executable, "-m", "dataplane", "next-hop", str(TEMPLATE), "--vm", "app",
                          "--source-ip", "10.10.1.4", "--dest-ip", "8.8.8.8"],
                         capture_output=True, text=True, check=True).stdout
    assert "Outbound to the Internet: NatGateway nat (source 198.1" in out
    assert "overrides: InstancePublicIP app-pip" in out
    assert "public-address-allocation" in out
    assert max(len(line) for line in out.splitlines()) <= 100


def test_check_lists_the_public_addresses_and_their_source() -> None:
    from dataplane.cli.check import check_report

    topology = dataplane.load(str(TEMPLATE))
    report = check_report(topology)
    rows = {p["name"]: p for p in report["publicIpAddresses"]}
    assert set(rows) == {"app-pip", "lb-pip", "nat-pip"}
    assert all(p["chosenOffline"] and POOL_V4.contains_address(parse_ip(p["ipAddress"]))
               for p in rows.values())
    assert any(a.startswith("Public IP resources without an ipAddress") for a in report["assumptions"])
