"""Private-IP DNAT entered from a VPN gateway (issue 11): on-premises -> an Azure Firewall's
private IP:port. "Tutorial: Deploy Azure Firewall private IP DNAT for overlapped and
nonroutable networks" (https://learn.microsoft.com/azure/firewall/tutorial-private-ip-dnat,
"Scenario overview", scenario 2: non-routable networks, "accessing on-premises resources
through Azure Firewall"): the firewall's private address is a DNAT destination like its public
one; "Azure Firewall rule processing logic" (https://learn.microsoft.com/azure/firewall/
rule-processing): DNAT first, a port without a DNAT rule is the firewall's default deny.

Two placements of the firewall: in the gateway's own VNet (the hub), and in a VNet that uses
the hub's gateway through gateway transit (the packet crosses the peering from the gateway:
stages/peering.py's transit rules, then the firewall decides -- before this, the transit stage
looked for a NIC holding the firewall's address and answered NO_DESTINATION). Assumptions
exercised: firewall-dnat-snat (the backend sees a firewall instance address),
firewall-reply-return (its reply returns through the firewall to the gateway)."""

from __future__ import annotations

import csv
import ipaddress

import pytest
from batch_harness import assert_batch_matches_reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.utils import rdpcap, wrpcap

from dataplane.cli import main
from dataplane.engine import Emulator
from dataplane.engine.compile import build_network
from dataplane.engine.reference import Packet, ReferencePipeline

BRANCH = "192.168.1.10"  # on-premises, behind the hub's VPN gateway

# the firewall in the gateway's VNet (hub); the backend db1 in a peered spoke
IN_HUB = """
vnets:
  hub:
    region: westeurope
    address_space: [10.0.0.0/16]
    subnets: {AzureFirewallSubnet: 10.0.1.0/26, GatewaySubnet: 10.0.255.0/27}
    gateway: {type: Vpn, sku: VpnGw1}
  spoke: {region: westeurope, address_space: [10.2.0.0/16], subnets: {db: {prefix: 10.2.1.0/24, nsg: db-nsg}}}
peerings:
  - {between: [hub, spoke], allow_forwarded_traffic: true}
  - {vnet: hub, remote: spoke, allow_gateway_transit: true}
  - {vnet: spoke, remote: hub, use_remote_gateways: true}
on_premises:
  branch: {prefixes: [192.168.0.0/16], connect_to: hub}
nsgs:
  db-nsg:
    rules:
      - {name: sql-from-firewall, priority: 100, direction: Inbound, access: Allow, protocol: "*", source: 10.0.1.0/26, destination: "*", destination_ports: "*"}
      - {name: nothing-else, priority: 200, direction: Inbound, access: Deny, protocol: "*", source: "*", destination: "*", destination_ports: "*"}
firewalls:
  fw:
    subnet: hub/AzureFirewallSubnet
    ip: 10.0.1.4
    sku: Standard
    nat_collections:
      - name: private
        priority: 200
        rules:
          - {name: sql-from-branch, protocols: [TCP, UDP], source: 192.168.0.0/16, destination: 10.0.1.4, ports: 11433, translated_address: 10.2.1.4, translated_port: 1433}
vms:
  db1: {subnet: spoke/db, ip: 10.2.1.4, size: Standard_D2s_v3}
"""

# the firewall in a VNet that uses the hub's gateway through gateway transit
IN_SPOKE = """
vnets:
  hub:
    region: westeurope
    address_space: [10.0.0.0/16]
    subnets: {GatewaySubnet: 10.0.255.0/27}
    gateway: {type: Vpn, sku: VpnGw1}
  sec:
    region: westeurope
    address_space: [10.1.0.0/16]
    subnets: {AzureFirewallSubnet: 10.1.1.0/26, db: 10.1.2.0/24}
peerings:
  - {between: [hub, sec], allow_forwarded_traffic: true}
  - {vnet: hub, remote: sec, allow_gateway_transit: TRANSIT}
  - {vnet: sec, remote: hub, use_remote_gateways: TRANSIT}
on_premises:
  branch: {prefixes: [192.168.0.0/16], connect_to: hub}
firewalls:
  fw:
    subnet: sec/AzureFirewallSubnet
    ip: 10.1.1.4
    sku: Premium
    nat_collections:
      - name: private
        priority: 200
        rules:
          - {name: sql-from-branch, protocols: [TCP, UDP], source: 192.168.0.0/16, destination: 10.1.1.4, ports: 11433, translated_address: 10.1.2.4, translated_port: 1433}
vms:
  db1: {subnet: sec/db, ip: 10.1.2.4, size: Standard_D2s_v3}
"""

# (topology text, firewall private address, its instance addresses, backend address)
PLACEMENTS = {
    "in the gateway's VNet": (IN_HUB, "10.0.1.4", ("10.0.1.5", "10.0.1.6"), "10.2.1.4"),
    "across gateway transit": (IN_SPOKE.replace("TRANSIT", "true"), "10.1.1.4",
                               ("10.1.1.5", "10.1.1.6"), "10.1.2.4"),
}


@pytest.fixture(params=sorted(PLACEMENTS))
def placed(request, make_topology):
    text, fw, instances, backend = PLACEMENTS[request.param]
    return make_topology(text), fw, instances, backend


def test_on_premises_to_the_firewall_private_ip_is_dnated_to_the_backend(placed) -> None:
    """The DNAT rule translates the destination to db1:1433 and the source to a firewall
    instance address (db1's NSG admits only AzureFirewallSubnet: the translation is what
    passes); later packets of the flow take the same translation."""
    topology, fw, instances, backend = placed
    em = Emulator(topology)
    first, second = (em.send(IP(src=BRANCH, dst=fw) / TCP(sport=50000, dport=11433, flags=f))
                     .row(0) for f in ("S", "A"))
    assert (first["disposition"], first["hops"]) == ("DELIVERED", "gateway hub-gw > fw > db1")
    assert (first["final_dst"], first["final_dport"]) == (backend, 1433)
    assert first["final_src"] in instances and first["final_sport"] != 50000
    assert {k: second[k] for k in ("disposition", "hops", "final_src", "final_sport",
                                   "final_dst", "final_dport")} == {
        k: first[k] for k in ("disposition", "hops", "final_src", "final_sport", "final_dst",
                              "final_dport")}
    explained = em.explain_row(em.send(IP(src=BRANCH, dst=fw) / TCP(sport=50001, dport=11433)),
                               0)["hops"]
    (nat,) = [h for h in explained if h.get("kind") == "DNAT (firewall)"]
    assert (nat["rule"], nat["translated"]["destinationIp"]) == (
        "firewall fw/private/sql-from-branch", backend)


def test_the_reply_returns_through_the_firewall_to_the_gateway(placed) -> None:
    """db1 answers the firewall instance address; the firewall restores the flow (source: its
    private IP:11433, destination: the branch host) and routes it to on-premises."""
    topology, fw, _, backend = placed
    em = Emulator(topology)
    first = em.send(IP(src=BRANCH, dst=fw) / TCP(sport=50000, dport=11433)).row(0)
    reply = em.send(IP(src=backend, dst=first["final_src"]) / TCP(
        sport=1433, dport=first["final_sport"], flags="SA"), source="db1").row(0)
    assert (reply["disposition"], reply["hops"]) == (
        "EXITS_ON_PREMISES", "db1 > fw > gateway hub-gw")
    assert (reply["final_src"], reply["final_sport"], reply["final_dst"],
            reply["final_dport"]) == (fw, 11433, BRANCH, 50000)
    # without the forward flow the same packet is no reply: it is not restored
    alone = Emulator(topology).send(IP(src=backend, dst=first["final_src"]) / TCP(
        sport=1433, dport=first["final_sport"]), source="db1").row(0)
    assert alone["final_dst"] != BRANCH


def test_a_port_without_a_dnat_rule_is_the_firewalls_verdict(placed) -> None:
    topology, fw, _, _ = placed
    rows = Emulator(topology).send([IP(src=BRANCH, dst=fw) / TCP(sport=50000, dport=22),
                                    IP(src=BRANCH, dst=fw) / UDP(sport=50001, dport=11434)])
    for i in range(2):
        row = rows.row(i)
        assert (row["disposition"], row["deciding"], row["hops"]) == (
            "FIREWALL_DENIED", "firewall fw/default-deny (no DNAT rule matches)",
            "gateway hub-gw > fw")


def test_without_gateway_transit_the_firewall_vnet_is_not_reached(make_topology) -> None:
    """The firewall's VNet does not use the hub's gateway: the transit rules stop the packet at
    the gateway (TRANSIT_BLOCKED), it never reaches the firewall."""
    topology = make_topology(IN_SPOKE.replace("TRANSIT", "false"))
    row = Emulator(topology).send(IP(src=BRANCH, dst="10.1.1.4") / TCP(sport=1, dport=11433)
                                  ).row(0)
    assert (row["disposition"], row["deciding"], row["hops"]) == (
        "TRANSIT_BLOCKED", "gateway hub-gw: no gateway transit to sec", "gateway hub-gw")


def _flows(net, fw: str, backend: str) -> list[tuple]:
    """Branch flows to the firewall's private address (matching and not), the replies to
    their translated tuples from db1 and from the branch, as (src, dst, proto, sport, dport,
    nic choice)."""
    ip = lambda a: int(ipaddress.IPv4Address(a))  # noqa: E731
    db1 = net.node_names.index("db1")
    forward = [(ip(BRANCH), ip(fw), 6, 50000, 11433), (ip(BRANCH), ip(fw), 17, 50001, 11433),
               (ip(BRANCH), ip(fw), 6, 50002, 22), (ip(BRANCH), ip(backend), 6, 50003, 1433)]
    out = [(*f, 0) for f in forward]
    for f in forward:
        (w,) = ReferencePipeline(net).run([Packet(-1, *f)])
        s, d, sp, dp = w.out
        out += [(d, s, f[2], dp, sp, db1 + 1), (d, s, f[2], dp, sp, 0)]
    return out


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_reference_equals_batch_from_the_gateway(placed, data) -> None:
    """Random sequences of these flows and replies, any batch split: both forms agree on
    disposition, deciding label, path and translated addresses."""
    topology, fw, _, backend = placed
    net = build_network(topology, caps=False)
    pkts = data.draw(st.lists(st.sampled_from(_flows(net, fw, backend)), min_size=1,
                              max_size=24))
    assert_batch_matches_reference(net, pkts, data.draw(st.integers(1, 24)))


def test_replay_writes_the_translated_addresses(tmp_path) -> None:
    """packets.csv and db1's pcap carry what db1 sees (a firewall instance address to
    db1:1433); the reply row leaves to on-premises from the firewall's private IP:11433."""
    topo = tmp_path / "hub.yaml"
    topo.write_text(IN_SPOKE.replace("TRANSIT", "true"))
    net = build_network(__import__("dataplane").load(str(topo)), caps=False)
    ip = lambda a: int(ipaddress.IPv4Address(a))  # noqa: E731
    (walk,) = ReferencePipeline(net).run([Packet(-1, ip(BRANCH), ip("10.1.1.4"), 6, 50000,
                                                 11433)])
    src, sport = str(ipaddress.IPv4Address(walk.out[0])), walk.out[2]
    packets = [IP(src=BRANCH, dst="10.1.1.4") / TCP(sport=50000, dport=11433, flags="S"),
               IP(src="10.1.2.4", dst=src) / TCP(sport=1433, dport=sport, flags="SA")]
    for i, p in enumerate(packets):
        p.time = 1 + i / 1000
    wrpcap(str(tmp_path / "in.pcap"), packets)
    out = tmp_path / "out"
    assert main(["replay", str(topo), str(tmp_path / "in.pcap"), "--out", str(out), "--csv",
                 "--no-auto-map"]) == 0
    rows = list(csv.DictReader((out / "packets.csv").open()))
    assert [r["disposition"] for r in rows] == ["DELIVERED", "EXITS_ON_PREMISES"]
    assert (rows[0]["finalSourceIp"], rows[0]["finalDestinationIp"]) == (src, "10.1.2.4")
    assert src in ("10.1.1.5", "10.1.1.6")
    assert (rows[1]["finalSourceIp"], rows[1]["finalDestinationIp"]) == ("10.1.1.4", BRANCH)
    (at_db,) = [p for p in rdpcap(str(out / "db1.pcap")) if p[IP].dst == "10.1.2.4"]
    assert (at_db[IP].src, at_db[TCP].sport, at_db[TCP].dport) == (src, sport, 1433)


def test_a_basic_firewall_with_private_ip_dnat_says_it_is_not_offered(make_topology) -> None:
    """Private IP DNAT is Standard/Premium only (tutorial-private-ip-dnat, "Prerequisites"):
    on a Basic firewall the answer names it; Standard and Premium answers do not."""
    text, fw, _, _ = PLACEMENTS["in the gateway's VNet"]
    packet = IP(src=BRANCH, dst=fw) / TCP(sport=50000, dport=11433)
    basic = Emulator(make_topology(text.replace("sku: Standard", "sku: Basic"))).send(packet)
    (named,) = [c for c in basic.row(0)["caveats"] if c.startswith("firewall-private-dnat-basic:")]
    assert "firewall fw is Basic" in named and "10.0.1.4" in named
    standard = Emulator(make_topology(text)).send(packet).row(0)["caveats"]
    assert not [c for c in standard if c.startswith("firewall-private-dnat-basic:")]
