"""A new flow to an Azure Firewall's own private address (assumption firewall-own-address,
engine/stages/firewall.py): the firewall answers it, it does not forward it -- its DNS proxy for
TCP/UDP 53 when DNS proxy is on ("Azure Firewall DNS settings",
https://learn.microsoft.com/azure/firewall/dns-settings, "DNS proxy": clients use the firewall's
private IP address as their DNS server, and it "listens to requests on port 53"), else its DNAT
rules, else its default deny (before: NO_DESTINATION, "no NIC holds"). Both forms agree,
whether the flow reaches the firewall over a peering route or through a user route whose next
hop is the firewall itself."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from batch_harness import assert_batch_matches_reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from test_firewall_nat import HUB

import dataplane
from dataplane.engine import Emulator
from dataplane.engine.compile import build_network


def _hub(tmp_path: Path, dns_proxy: bool):
    """HUB without its DNAT rules; app1 reaches 10.0.1.4 over peering, db1 through a user route
    (fw-itself: 10.0.1.4/32 -> VirtualAppliance 10.0.1.4)."""
    start, end = HUB.index("    nat_collections:"), HUB.index("    SNAT\n")
    text = HUB[:start] + ("    dns_proxy: true\n" if dns_proxy else "") + HUB[end:].replace(
        "    SNAT\n", "")
    (tmp_path / "hub.yaml").write_text(text)
    return dataplane.load(tmp_path / "hub.yaml")


@pytest.mark.parametrize("dns_proxy", [True, False])
@pytest.mark.parametrize("vm, src", [("app1", "10.1.1.4"), ("db1", "10.2.1.4")])
def test_dns_to_the_firewall_is_answered_by_its_proxy_else_denied(tmp_path, dns_proxy, vm, src):
    em = Emulator(_hub(tmp_path, dns_proxy))
    for l4 in (UDP(sport=50000, dport=53), TCP(sport=50001, dport=53)):
        row = em.send(IP(src=src, dst="10.0.1.4") / l4, source=vm).row(0)
        assert row["hops"] == f"{vm} > fw"
        if dns_proxy:
            assert (row["disposition"], row["deciding"]) == (
                "EXITS_PLATFORM", "firewall fw/dns-proxy (its DNS proxy answers on its private "
                "address, port 53: 'Azure Firewall DNS settings', dns-settings)")
        else:
            assert row["disposition"] == "FIREWALL_DENIED"
            assert row["deciding"] == "firewall fw/default-deny (no DNAT rule matches)"
    other = em.send(IP(src=src, dst="10.0.1.4") / TCP(sport=50002, dport=443), source=vm).row(0)
    assert (other["disposition"], other["hops"]) == ("FIREWALL_DENIED", f"{vm} > fw")


def test_explain_names_the_proxy(tmp_path):
    result = Emulator(_hub(tmp_path, True)).send(
        IP(src="10.1.1.4", dst="10.0.1.4") / UDP(sport=50000, dport=53), source="app1")
    hop = result.explain(0)["hops"][-1]
    assert (hop["step"], hop["at"], hop["result"]) == ("platform", "fw", "AnsweredByFirewall")


@pytest.mark.parametrize("dns_proxy", [True, False])
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_reference_equals_batch(tmp_path, dns_proxy, data):
    net = build_network(_hub(tmp_path, dns_proxy), caps=False)
    ip = lambda a: int(ipaddress.IPv4Address(a))  # noqa: E731
    flows = [(ip(s), ip("10.0.1.4"), proto, 40000 + k, port, 0)
             for k, (s, proto, port) in enumerate(
                 (s, proto, port) for s in ("10.1.1.4", "10.2.1.4") for proto in (6, 17)
                 for port in (53, 443))]
    pkts = data.draw(st.lists(st.sampled_from(flows), min_size=1, max_size=20))
    assert_batch_matches_reference(net, pkts, data.draw(st.integers(1, 20)))


def test_the_dns_proxy_template_resolves_through_its_firewall(real_dir: Path):
    """Azure-Network-Security's DNS-proxy hub and spokes: the spokes' VMs use the hub firewall
    (policy dnsSettings.enableProxy true) as their DNS server."""
    arm = real_dir / "arm"
    topology = dataplane.load(arm / "ans_azfw-dns-proxy-hub-spoke.azuredeploy.json",
                              parameters=arm / "ans_azfw-dns-proxy-hub-spoke.azuredeploy.parameters.json")
    em = Emulator(topology)
    for vm in ("DevVm", "ProdVm"):
        src = str(ipaddress.IPv4Address(em.address_of(vm)))
        row = em.send(IP(src=src, dst="192.168.0.4") / UDP(sport=50000, dport=53),
                      source=vm).row(0)
        assert (row["disposition"], row["hops"]) == ("EXITS_PLATFORM", f"{vm} > HubFirewall")
