"""Issue 11 (inet item 2): an Internet reply captured at the VM after its flow idled out
(assumption conntrack.py conntrack-idle, "Understanding Azure Firewall TCP session management
and idle timeout behavior", https://learn.microsoft.com/azure/firewall/tcp-session-behavior,
"Idle timeout settings": 4 minutes) is labelled as the reply of that expired flow
(stages/gateway.py assumption expired-reply-at-vm): through the firewall that SNATed it, the
disposition its reply to the firewall's public address gets after expiry (FIREWALL_DENIED, a
new flow no DNAT rule matches, tests/engine/test_conntrack_expiry.py); without a firewall it
stays UNMAPPED. It used to say "app1 has no public IPv4 address (and the packet answers no
flow it opened)"."""

from __future__ import annotations

from pathlib import Path

from inet_topo import internet_flow, internet_topology
from scapy.layers.inet import IP, TCP
from test_app_rules_batches import _pcap, _replay

from dataplane.control.explain import describe
from dataplane.engine import Emulator
from dataplane.engine.conntrack import IDLE_TIMEOUT_NS
from dataplane.load.scenario import load_scenario_text

EXPIRED_FW = ("firewall fw/default-deny (the reply of app1's flow 10.1.1.4:40000 -> "
              "93.184.216.34:443 Tcp after the flow idled out (conntrack-idle: no state after 4 "
              "idle minutes), a new flow no DNAT rule matches)")


def test_an_expired_reply_at_the_vm_is_denied_at_the_firewall_that_snated_it(
        make_topology, tmp_path: Path) -> None:
    """An allowed flow; its server's data 4 minutes + 1 ns after the latest touch, captured
    at app1: FIREWALL_DENIED at fw naming the flow and conntrack-idle; the client's next
    packet re-opens the flow and the reply after it is delivered. Replayed at batch sizes 1,
    2, 3 and 64: the same answers; the explanation decides the same."""
    topology = internet_topology(make_topology)
    packets = internet_flow("www.contoso.com")
    data, ack = packets[5], packets[2]
    last = 5000
    plan = packets + [data, ack, data]
    times = [0, 1000, 2000, 3000, 4000, last, last + IDLE_TIMEOUT_NS + 1,
             last + IDLE_TIMEOUT_NS + 2, last + IDLE_TIMEOUT_NS + 3]
    path = _pcap(tmp_path / "idle.pcap", plan, times)
    whole = _replay(topology, path, batch=64)
    for batch in (1, 2, 3):
        assert _replay(topology, path, batch=batch) == whole
    assert [(r[0], r[1]) for r in whole[5:]] == [
        ("DELIVERED", "route System 10.1.0.0/16 VNetPeering"), ("FIREWALL_DENIED", EXPIRED_FW),
        ("EXITS_INTERNET", "route System 0.0.0.0/0 Internet"),
        ("DELIVERED", "route System 10.1.0.0/16 VNetPeering")]
    result = Emulator(topology).send(plan, times_ns=times)
    assert result.row(6)["hops"] == "internet > fw"
    said = result.explain(6)
    assert (said["decision"], said["deciding"]) == ("FIREWALL_DENIED", EXPIRED_FW)
    assert [(h["kind"], h["result"], h.get("expired")) for h in said["hops"]] == [
        ("Internet", "FirewallDenied", True)]
    assert describe(said["hops"][0]) == (
        "enters from Internet: the reply of a flow that idled out (conntrack-idle), a new "
        "flow: FirewallDenied at fw")
    assert result.check_accounting()


NAT = """
vnets:
  v: {region: westeurope, address_space: 10.0.0.0/16, subnets: {db: {prefix: 10.0.2.0/24, default_outbound_access: false, nat_gateway: nat}}}
public_ips:
  nat-ip: {address: 20.0.0.20}
nat_gateways:
  nat: {public_ips: [nat-ip]}
vms:
  db: {subnet: v/db, ip: 10.0.2.4}
"""


def test_an_expired_reply_at_the_vm_without_a_firewall_stays_unmapped_named() -> None:
    """Through a NAT gateway: the reply at the VM within 4 minutes is delivered as the flow's;
    after, UNMAPPED with the expired flow named (no public address admits a new flow)."""
    out = IP(src="10.0.2.4", dst="8.8.8.8") / TCP(sport=40000, dport=443)
    back = IP(src="8.8.8.8", dst="10.0.2.4") / TCP(sport=443, dport=40000)
    result = Emulator(load_scenario_text(NAT)).send(
        [out, back, back], times_ns=[0, IDLE_TIMEOUT_NS, 2 * IDLE_TIMEOUT_NS + 1], source=[
            "db", None, None])
    rows = result.rows()
    assert [r["disposition"] for r in rows] == ["EXITS_INTERNET", "DELIVERED", "UNMAPPED"]
    assert rows[2]["deciding"] == (
        "ingress internet: the reply of db's flow 10.0.2.4:40000 -> 8.8.8.8:443 Tcp after the "
        "flow idled out (conntrack-idle: no state after 4 idle minutes), a new flow; db has no "
        "public IPv4 address")
    assert result.check_accounting()
