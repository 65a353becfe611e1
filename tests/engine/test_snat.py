"""Outbound source translation (SNAT) in packets (engine/stages/public_edge.py, conntrack.py),
both forms. From Microsoft's pages:
* "Azure NAT Gateway resource" (https://learn.microsoft.com/azure/nat-gateway/
  nat-gateway-resource, "NAT gateway and other outbound connectivity methods"): NAT gateway
  takes precedence over an instance-level public IP and a load balancer; it is outbound only
  (responses to outbound flows come back, unsolicited inbound does not);
* "Outbound rules Azure Load Balancer" (https://learn.microsoft.com/azure/load-balancer/
  outbound-rules): outbound rules apply only to backend VMs without an instance public IP;
* "Source Network Address Translation (SNAT) for outbound connections"
  (https://learn.microsoft.com/azure/load-balancer/load-balancer-outbound-connections,
  "Public IP address assigned to the VM"): a VM's own public IP translates its source 1:1."""

from __future__ import annotations

import ipaddress

import numpy as np
from batch_harness import assert_batch_matches_reference
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP

from dataplane.control.explain import describe
from dataplane.dispositions import Disposition as D
from dataplane.engine import Emulator
from dataplane.engine.stages.public_edge import snat_port_np
from dataplane.load.scenario import load_scenario_text

NAT_IP, VM_IP, LB_IP, FE_IP = "20.0.0.20", "20.0.0.10", "20.0.0.30", "20.0.0.40"


def _topology(nat: bool = False, vm_ip: bool = False, lb: bool = False):
    """VM `app` (10.0.1.4) in subnet `apps`, VM `other` (10.0.1.5) beside it."""
    subnet = "{prefix: 10.0.1.0/24" + (", nat_gateway: nat" if nat else "") + "}"
    app = "{subnet: v/apps, ip: 10.0.1.4" + (", public_ip: vm-ip" if vm_ip else "") + "}"
    lbs = """
load_balancers:
  pub: {frontend: {public_ip: lb-ip}, backends: [app, other],
        rules: [{name: web, protocol: Tcp, frontend_port: 80, disable_outbound_snat: true}],
        outbound_rules: [{name: out}]}
""" if lb else ""
    return load_scenario_text(f"""
vnets:
  v: {{region: westeurope, address_space: 10.0.0.0/16, subnets: {{apps: {subnet}}}}}
nsgs:
  open: {{rules: [{{name: web, priority: 100, direction: Inbound, access: Allow, protocol: Tcp,
                   source: Internet, destination: '*', destination_ports: '443'}}]}}
public_ips:
  vm-ip: {{address: {VM_IP}}}
  nat-ip: {{address: {NAT_IP}}}
  lb-ip: {{address: {LB_IP}}}
nat_gateways:
  nat: {{public_ips: [nat-ip]}}
{lbs}
vms:
  app: {app}
  other: {{subnet: v/apps, ip: 10.0.1.5}}
""")


def _out(emulator: Emulator, sport: int = 40000, source: str = "app"):
    src = "10.0.1.4" if source == "app" else "10.0.1.5"
    return emulator.send(IP(src=src, dst="8.8.8.8") / TCP(sport=sport, dport=443), source=source)


def _port(src: str, sport: int) -> int:
    v = [np.array([int(ipaddress.IPv4Address(a))]) for a in (src, "8.8.8.8")]
    return int(snat_port_np(*v, np.array([6]), np.array([sport]), np.array([443]))[0])


def test_nat_gateway_wins_over_the_instance_public_ip() -> None:
    row = _out(Emulator(_topology(nat=True, vm_ip=True))).row(0)
    assert row["disposition"] == "EXITS_INTERNET"
    assert (row["src"], row["final_src"]) == ("10.0.1.4", NAT_IP)
    assert 1024 <= int(row["final_sport"]) <= 65535
    assert (row["final_dst"], int(row["final_dport"])) == ("8.8.8.8", 443)


def test_the_instance_public_ip_translates_one_to_one_keeping_the_port() -> None:
    row = _out(Emulator(_topology(vm_ip=True))).row(0)
    assert (row["final_src"], int(row["final_sport"])) == (VM_IP, 40000)


def test_lb_outbound_rule_only_without_an_instance_public_ip() -> None:
    without = _out(Emulator(_topology(lb=True))).row(0)
    assert without["final_src"] == LB_IP
    assert int(without["final_sport"]) != 40000 or _port("10.0.1.4", 40000) == 40000
    with_ip = _out(Emulator(_topology(lb=True, vm_ip=True))).row(0)
    assert (with_ip["final_src"], int(with_ip["final_sport"])) == (VM_IP, 40000)
    # the other backend, without a public IP, still leaves from the frontend
    assert _out(Emulator(_topology(lb=True, vm_ip=True)), source="other").row(0)[
        "final_src"] == LB_IP


def test_default_outbound_access_keeps_the_private_source_and_says_so() -> None:
    emulator = Emulator(_topology())
    row = _out(emulator).row(0)
    assert (row["disposition"], row["final_src"]) == ("EXITS_INTERNET", "10.0.1.4")
    assert any(a.startswith("snat-port:") for a in emulator.assumptions())


def test_the_snat_port_does_not_depend_on_batching() -> None:
    a = _out(Emulator(_topology(nat=True)), sport=40001).row(0)["final_sport"]
    emulator = Emulator(_topology(nat=True))
    both = emulator.send([IP(src="10.0.1.4", dst="8.8.8.8") / TCP(sport=p, dport=443)
                          for p in (40000, 40001)], source="app")
    assert both.row(1)["final_sport"] == a
    assert both.row(0)["final_sport"] != a  # two flows, two ports (this pair)


def test_the_reply_to_the_nat_gateway_is_unsnatted_to_the_vm() -> None:
    emulator = Emulator(_topology(nat=True))
    port = int(_out(emulator).row(0)["final_sport"])
    reply = emulator.send(IP(src="8.8.8.8", dst=NAT_IP) / TCP(sport=443, dport=port)).row(0)
    assert reply["disposition"] == "DELIVERED"
    assert (reply["final_dst"], int(reply["final_dport"])) == ("10.0.1.4", 40000)


def test_unsolicited_inbound_to_the_nat_gateway_is_dropped() -> None:
    emulator = Emulator(_topology(nat=True))
    port = int(_out(emulator).row(0)["final_sport"])
    other = emulator.send(IP(src="8.8.8.8", dst=NAT_IP) / TCP(sport=443, dport=port + 1))
    assert other.dispositions() == [D.NAT_OUTBOUND_ONLY]
    assert other.row(0)["deciding"].startswith("NAT gateway nat: outbound only")
    stranger = emulator.send(IP(src="198.51.100.7", dst=NAT_IP) / TCP(sport=443, dport=port))
    assert stranger.dispositions() == [D.NAT_OUTBOUND_ONLY]


def test_a_reply_captured_at_the_vm_is_delivered_as_the_reply() -> None:
    """A capture at the VM holds the private destination (after translation back): it answers
    the flow (assumption snat-capture-at-vm); without the flow it is unmapped."""
    reply = IP(src="8.8.8.8", dst="10.0.1.4") / TCP(sport=443, dport=40000)
    emulator = Emulator(_topology(nat=True))
    assert emulator.send(reply).dispositions() == [D.UNMAPPED]
    _out(emulator)
    row = emulator.send(reply).row(0)
    assert (row["disposition"], row["final_dst"]) == ("DELIVERED", "10.0.1.4")


def test_the_reply_to_the_instance_public_ip_is_delivered_though_standard_is_closed() -> None:
    emulator = Emulator(_topology(vm_ip=True))  # Standard, no NSG: closed to new inbound
    _out(emulator)
    back = emulator.send(IP(src="8.8.8.8", dst=VM_IP) / TCP(sport=443, dport=40000)).row(0)
    assert (back["disposition"], back["final_dst"]) == ("DELIVERED", "10.0.1.4")
    new = emulator.send(IP(src="8.8.8.8", dst=VM_IP) / TCP(sport=443, dport=40001))
    assert new.dispositions() == [D.PUBLIC_IP_CLOSED]


def test_explain_shows_the_translations() -> None:
    emulator = Emulator(_topology(nat=True))
    out = _out(emulator)
    port = int(out.row(0)["final_sport"])
    lines = [describe(h) for h in out.explain(0)["hops"]]
    assert any(line.startswith("SNAT at ") and line.endswith(f"10.0.1.4:40000 -> {NAT_IP}:{port}")
               for line in lines), lines
    reply = emulator.send(IP(src="8.8.8.8", dst=NAT_IP) / TCP(sport=443, dport=port))
    lines = [describe(h) for h in reply.explain(0)["hops"]]
    assert f"un-SNAT internet: destination {NAT_IP}:{port} -> 10.0.1.4:40000" in lines, lines
    stray = emulator.send(IP(src="8.8.8.8", dst=NAT_IP) / TCP(sport=443, dport=port + 1))
    lines = [describe(h) for h in stray.explain(0)["hops"]]
    assert lines == ["NAT gateway nat: outbound only, no flow to answer"]


def test_icmp_and_udp_are_translated_too() -> None:
    emulator = Emulator(_topology(nat=True))
    udp = emulator.send(IP(src="10.0.1.4", dst="8.8.8.8") / UDP(sport=5353, dport=53),
                        source="app").row(0)
    assert udp["final_src"] == NAT_IP and int(udp["final_sport"]) != 0
    icmp = emulator.send(IP(src="10.0.1.4", dst="8.8.8.8") / ICMP(), source="app").row(0)
    assert icmp["final_src"] == NAT_IP


ADDRS = ["10.0.1.4", "10.0.1.5", NAT_IP, VM_IP, LB_IP, "8.8.8.8", "198.51.100.7"]


@st.composite
def _snat_traffic(draw):
    """Flows over the scenario's addresses, and replies aimed at the translated tuples of
    flows leaving app/other for 8.8.8.8 through each method."""
    ips = [int(ipaddress.IPv4Address(a)) for a in ADDRS]
    out = []
    for _ in range(draw(st.integers(1, 30))):
        kind = draw(st.sampled_from(["any", "out", "reply", "vm-reply"]))
        proto = draw(st.sampled_from([6, 17, 1]))
        sport = draw(st.sampled_from([40000, 40001, 443]))
        src = draw(st.sampled_from(ips[:2]))
        inet = ips[5]
        if kind == "any":
            out.append((draw(st.sampled_from(ips)), draw(st.sampled_from(ips)), proto, sport,
                        draw(st.sampled_from([443, 40000])), draw(st.sampled_from([0, 0, 1]))))
        elif kind == "out":
            out.append((src, inet, proto, sport, 443, 0))
        elif kind == "vm-reply":
            out.append((inet, src, proto, 443, sport, 0))
        else:
            port = int(snat_port_np(np.array([src]), np.array([inet]), np.array([proto]),
                                    np.array([sport]), np.array([443]))[0])
            public = draw(st.sampled_from(ips[2:5]))
            keep = draw(st.booleans())  # the 1:1 public IP keeps the port
            out.append((inet, public, proto, 443, sport if keep else port, 0))
    return out


@settings(max_examples=60, deadline=None)
@given(nat=st.booleans(), vm_ip=st.booleans(), lb=st.booleans(), pkts=_snat_traffic(),
       split=st.integers(1, 30))
def test_reference_equals_batch_with_snat(nat, vm_ip, lb, pkts, split) -> None:
    net = Emulator(_topology(nat=nat, vm_ip=vm_ip, lb=lb)).net
    assert_batch_matches_reference(net, pkts, split)
