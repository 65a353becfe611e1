"""Public load balancers in the engine (engine/stages/loadbalancer.py `decide_public` /
`public_np`), both forms. From Microsoft's pages:
* "Azure Load Balancer SKUs" (https://learn.microsoft.com/azure/load-balancer/skus, "SKU
  comparison", Secure by default): Standard is closed to inbound flows unless a network
  security group allows them; Basic is open by default;
* "Azure Load Balancer components" (https://learn.microsoft.com/azure/load-balancer/components,
  "Load balancing rules"): a rule spreads a frontend port over the backend pool; "Inbound NAT
  rules" (https://learn.microsoft.com/azure/load-balancer/inbound-nat-rules, "Inbound NAT rule
  V1"): a frontend port forwarded to one virtual machine's backend port;
* "Azure Load Balancer health probes" (https://learn.microsoft.com/azure/load-balancer/
  load-balancer-custom-probe-overview, "Probe source IP address"): probes come from
  168.63.129.16 (service tag AzureLoadBalancer), allowed by the default NSG rule
  AllowAzureLoadBalancerInBound and blocked by a rule denying that tag."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from batch_harness import assert_batch_matches_reference
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP

from dataplane.control.caveats import edge_caveats
from dataplane.dispositions import Disposition as D
from dataplane.engine import Emulator
from dataplane.engine.stages.loadbalancer import flow_hash
from dataplane.load.scenario import load_scenario_text
from dataplane.model import InboundNatRule

FRONTEND = "20.0.0.50"
CLIENT = "198.51.100.7"


def _topology(sku: str = "Standard", nsg: str = "", deny_probe: bool = False):
    rules = []
    if nsg:
        rules.append("{name: allow, priority: 100, direction: Inbound, access: Allow, "
                     f"protocol: Tcp, source: Internet, destination: '*', destination_ports: '{nsg}'}}")
    if deny_probe:
        rules.append("{name: no-probe, priority: 110, direction: Inbound, access: Deny, "
                     "protocol: '*', source: AzureLoadBalancer, destination: '*', "
                     "destination_ports: '*'}")
    nsgs = f"nsgs:\n  web-nsg: {{rules: [{', '.join(rules)}]}}\n" if rules else ""
    subnet = "{prefix: 10.0.1.0/24" + (", nsg: web-nsg" if rules else "") + "}"
    return load_scenario_text(f"""
vnets:
  v: {{region: westeurope, address_space: 10.0.0.0/16, subnets: {{web: {subnet}}}}}
{nsgs}
public_ips:
  lb-ip: {{sku: {sku}, address: {FRONTEND}}}
vms:
  web1: {{subnet: v/web, ip: 10.0.1.4}}
  web2: {{subnet: v/web, ip: 10.0.1.5}}
load_balancers:
  pub: {{sku: {sku}, frontend: {{public_ip: lb-ip}}, backends: [web1, web2],
        rules: [{{name: https, protocol: Tcp, frontend_port: 443, backend_port: 8443}}],
        inbound_nat_rules: [{{name: ssh1, vm: web1, protocol: Tcp, frontend_port: 50001,
                              backend_port: 22}}]}}
""")


def _send(emulator: Emulator, dport: int = 443, sport: int = 40000, src: str = CLIENT):
    return emulator.send(IP(src=src, dst=FRONTEND) / TCP(sport=sport, dport=dport))


def _backend_of(sport: int) -> str:
    """The pool member the module's symmetric hash picks (pool order web1, web2)."""
    h = flow_hash(int(ipaddress.IPv4Address(CLIENT)), int(ipaddress.IPv4Address(FRONTEND)), 6,
                  sport, 443)
    return ("10.0.1.4", "10.0.1.5")[h % 2]


def test_standard_without_nsg_is_closed() -> None:
    out = _send(Emulator(_topology("Standard")))
    assert out.dispositions() == [D.PUBLIC_IP_CLOSED]
    assert out.row(0)["deciding"] == ("lb pub (Standard): closed to inbound, no NSG on the "
                                      "backend's NIC or subnet allows it")


def test_standard_opens_with_an_nsg_rule_and_is_dnated_to_the_hashed_backend() -> None:
    emulator = Emulator(_topology("Standard", nsg="8443"))
    seen = set()
    for sport in range(40000, 40016):
        out = _send(emulator, sport=sport)
        assert out.dispositions() == [D.DELIVERED]
        row = out.row(0)
        assert (row["final_dst"], row["final_dport"]) == (_backend_of(sport), 8443)
        assert row["deciding"] == "lb pub/https"
        seen.add(row["final_dst"])
    assert seen == {"10.0.1.4", "10.0.1.5"}  # the pool is used, not one member


def test_standard_with_an_nsg_not_allowing_the_port_is_denied() -> None:
    out = _send(Emulator(_topology("Standard", nsg="9999")))
    assert out.dispositions() == [D.DENIED_IN]


def test_basic_is_open_without_nsg() -> None:
    out = _send(Emulator(_topology("Basic")))
    assert out.dispositions() == [D.DELIVERED]
    assert out.row(0)["final_dport"] == 8443


def test_no_rule_for_the_port_is_a_named_drop() -> None:
    out = _send(Emulator(_topology("Basic")), dport=80)
    assert out.dispositions() == [D.LB_NO_RULE]
    assert out.row(0)["deciding"] == "lb pub: no load-balancing rule matches"


def test_inbound_nat_rule_reaches_one_vm() -> None:
    emulator = Emulator(_topology("Standard", nsg="22"))
    for sport in range(40000, 40008):
        row = _send(emulator, dport=50001, sport=sport).row(0)
        assert row["disposition"] == D.DELIVERED.name
        assert (row["final_dst"], row["final_dport"]) == ("10.0.1.4", 22)
        assert row["deciding"] == "lb pub/ssh1"


def test_the_reply_leaves_from_the_frontend() -> None:
    emulator = Emulator(_topology("Basic"))
    backend = _send(emulator, sport=40001).row(0)["final_dst"]
    vm = {"10.0.1.4": "web1", "10.0.1.5": "web2"}[backend]
    reply = emulator.send(IP(src=backend, dst=CLIENT) / TCP(sport=8443, dport=40001), source=vm)
    assert reply.dispositions() == [D.EXITS_INTERNET]
    assert (reply.row(0)["final_src"], reply.row(0)["final_sport"]) == (FRONTEND, 443)


def test_probes_reach_public_lb_backends_unless_an_nsg_denies_the_tag() -> None:
    probe = IP(src="168.63.129.16", dst="10.0.1.4") / TCP(sport=40000, dport=8443)
    assert Emulator(_topology("Standard", nsg="8443")).send(probe).dispositions() == [
        D.DELIVERED]
    assert Emulator(_topology("Standard", nsg="8443", deny_probe=True)).send(
        probe).dispositions() == [D.DENIED_IN]


IPS = [int(ipaddress.IPv4Address(a)) for a in
       ("10.0.1.4", "10.0.1.5", FRONTEND, CLIENT, "168.63.129.16")]
flows = st.tuples(st.sampled_from(IPS), st.sampled_from(IPS), st.sampled_from([6, 17]),
                  st.sampled_from([443, 8443, 22, 50001, 40000]),
                  st.sampled_from([443, 8443, 22, 50001, 40000]), st.sampled_from([0, 0, 1]))


@settings(max_examples=40, deadline=None)
@given(sku=st.sampled_from(["Standard", "Basic"]), nsg=st.sampled_from(["", "8443", "22"]),
       pkts=st.lists(flows, min_size=1, max_size=30), split=st.integers(1, 30))
def test_reference_equals_batch_with_a_public_lb(sku, nsg, pkts, split) -> None:
    net = Emulator(_topology(sku, nsg)).net
    assert_batch_matches_reference(net, pkts, split)


def _with_pool_nat_rule(topology):
    """The V2 (pool) form of an inbound NAT rule, as ARM writes it: frontend ports
    60000..60001 over the backend pool, backend port 22."""
    lb = topology.load_balancers[0]
    rule = InboundNatRule("ssh-pool", lb.frontend_ip_configurations[0].id, "Tcp", 0, 22,
                          backend_address_pool=lb.backend_address_pools[0].id,
                          frontend_port_range_start=60000, frontend_port_range_end=60001)
    lb = replace(lb, inbound_nat_rules=(*lb.inbound_nat_rules, rule))
    return replace(topology, load_balancers=(lb,))


def test_pool_form_nat_rule_gives_each_member_one_port() -> None:
    """Assumption lb-nat-pool-order: port start+i to the i-th pool member (web1, web2); a port
    past the pool's size matches no rule."""
    emulator = Emulator(_with_pool_nat_rule(_topology("Basic")))
    got = [(r["final_dst"], r["final_dport"]) for r in
           (_send(emulator, dport=port).row(0) for port in (60000, 60001))]
    assert got == [("10.0.1.4", 22), ("10.0.1.5", 22)]
    assert _send(emulator, dport=60002).dispositions() == [D.LB_NO_RULE]


def test_the_caveat_no_longer_says_inbound_is_unmodelled() -> None:
    texts = [c.text for c in edge_caveats(_topology()) if c.key == "public-edge:lb-ip"]
    assert len(texts) == 1
    assert "inbound load-balancing and inbound NAT rules are applied" in texts[0]
    assert "outbound SNAT to it" in texts[0] and "floating IP" in texts[0]
