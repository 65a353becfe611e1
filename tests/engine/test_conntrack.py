"""The connection-tracking table (engine/conntrack.py) on the smallest inputs of issue 9.

Stateful Azure Firewall: "Azure Firewall Standard features",
https://learn.microsoft.com/azure/firewall/features, "Network traffic filtering rules" ("Azure
Firewall is fully stateful"): the reply of an allowed flow passes without a rule allowing it;
an unsolicited reply-shaped packet is judged by the rules (default deny).
Load balancer replies: "Azure Load Balancer components",
https://learn.microsoft.com/azure/load-balancer/components, "Frontend IP configuration" (the
load balancer maps the response traffic from the VM back): the backend's reply leaves from the
frontend address and port and, being a reply, passes the backend's outbound NSG.
A packet the shaper drops opens no flow.
"""

from __future__ import annotations

import pytest
from hub_topo import HUB_FW
from scapy.layers.inet import IP, TCP

import dataplane
from dataplane.engine import Disposition as D
from dataplane.engine import Emulator

ILB = """
vnets:
  v:
    region: westeurope
    address_space: [10.5.0.0/16]
    subnets:
      client: 10.5.1.0/24
      backend: {prefix: 10.5.2.0/24, nsg: backend-nsg}
nsgs:
  backend-nsg:
    rules:
      - {name: allow-8080-in, priority: 100, direction: Inbound, access: Allow, protocol: Tcp,
         source: "*", destination: "*", destination_ports: "8080"}
      - {name: deny-all-out, priority: 4000, direction: Outbound, access: Deny, protocol: "*",
         source: "*", destination: "*"}
vms:
  client: {subnet: v/client, ip: 10.5.1.4, size: Standard_D2s_v3}
  be1: {subnet: v/backend, ip: 10.5.2.4, size: Standard_D2s_v3}
load_balancers:
  ilb: {sku: Standard, frontend: {subnet: v/backend, ip: 10.5.2.100}, backends: [be1],
        rules: [{name: http, protocol: Tcp, frontend_port: 80, backend_port: 8080}]}
"""


@pytest.fixture(scope="module")
def load(tmp_path_factory):
    def build(text: str):
        path = tmp_path_factory.mktemp("ct") / "t.yaml"
        path.write_text(text)
        return dataplane.load(str(path))
    return build


def tcp(src: str, dst: str, sport: int, dport: int) -> IP:
    return IP(src=src, dst=dst) / TCP(sport=sport, dport=dport)


FWD = ("10.1.1.4", "10.2.1.4", 50000, 1433)
REPLY = ("10.2.1.4", "10.1.1.4", 1433, 50000)


def test_firewall_is_stateful_reply_delivered(load):
    em = Emulator(load(HUB_FW))
    out = em.send([tcp(*FWD), tcp(*REPLY)], source=["app1", "db1"])
    assert out.dispositions() == [D.DELIVERED, D.DELIVERED]
    assert out.row(0)["hops"] == "app1 > fw > db1" and out.row(1)["hops"] == "db1 > fw > app1"
    fw_hop = next(h for h in out.explain(1)["hops"] if h["step"] == "appliance")
    assert fw_hop["session"] == "established" and fw_hop["rule"] is None
    # the same reply in a later send (a later batch) still finds the session
    later = em.send(tcp(*REPLY), source="db1")
    assert later.dispositions() == [D.DELIVERED]


def test_unsolicited_reply_shaped_packet_is_denied(load):
    em = Emulator(load(HUB_FW))
    out = em.send(tcp(*REPLY), source="db1")
    assert out.dispositions() == [D.FIREWALL_DENIED]
    assert out.row(0)["deciding"] == "firewall fw/default-deny"
    # a reply of another flow (other client port) does not ride on this flow's session
    em.send(tcp(*FWD), source="app1")
    other = em.send(tcp("10.2.1.4", "10.1.1.4", 1433, 50001), source="db1")
    assert other.dispositions() == [D.FIREWALL_DENIED]


def test_shaper_dropped_forward_packet_opens_no_flow(load):
    topo = load(HUB_FW)
    filler = tcp("10.1.1.4", "10.2.1.4", 40000, 1433)
    # queue_bytes=0: a packet that would wait behind another one of the same VM is dropped
    em = Emulator(topo, queue_bytes=0)
    out = em.send([filler, tcp(*FWD), tcp(*REPLY)], source=["app1", "app1", "db1"],
                  times_ns=[0, 0, 10**9])
    assert out.dispositions() == [D.DELIVERED, D.SHAPER_DROP, D.FIREWALL_DENIED]
    # the reply in a later batch (send() restarts its clock at 0; db1 has not sent yet)
    em = Emulator(topo, queue_bytes=0)
    out = em.send([filler, tcp(*FWD)], source="app1", times_ns=[0, 0])
    assert out.dispositions() == [D.DELIVERED, D.SHAPER_DROP]
    assert em.send(tcp(*REPLY), source="db1", times_ns=[0]).dispositions() == [
        D.FIREWALL_DENIED]
    # control: the same packets without the competing one
    em = Emulator(topo, queue_bytes=0)
    out = em.send([tcp(*FWD), tcp(*REPLY)], source=["app1", "db1"], times_ns=[0, 10**9])
    assert out.dispositions() == [D.DELIVERED, D.DELIVERED]


def test_ilb_reply_leaves_from_frontend_and_passes_outbound_nsg(load):
    em = Emulator(load(ILB))
    fwd = em.send(tcp("10.5.1.4", "10.5.2.100", 51000, 80), source="client")
    c = fwd.columns
    assert fwd.dispositions() == [D.DELIVERED] and fwd.row(0)["hops"] == "client > be1"
    assert (_ip(c["final_dst"][0]), int(c["final_dport"][0])) == ("10.5.2.4", 8080)
    back = em.send(tcp("10.5.2.4", "10.5.1.4", 8080, 51000), source="be1")
    c = back.columns
    assert back.dispositions() == [D.DELIVERED]
    assert (_ip(c["final_src"][0]), int(c["final_sport"][0])) == ("10.5.2.100", 80)
    nat = next(h for h in back.explain(0)["hops"] if h["step"] == "nat")
    assert nat["translated"] == {"sourceIp": "10.5.2.100", "sourcePort": 80}
    # unsolicited: the backend's own new flow is denied by its outbound NSG and keeps its
    # address
    new = em.send(tcp("10.5.2.4", "10.5.1.4", 8080, 51001), source="be1")
    assert new.dispositions() == [D.DENIED_OUT]
    assert _ip(new.columns["final_src"][0]) == "10.5.2.4"


def _ip(v) -> str:
    import ipaddress
    return str(ipaddress.IPv4Address(int(v)))


def test_dual_stack_columns_carry_ipv6_addresses(load):
    """IPv6 packets carry the family and both addresses as 64-bit halves in their columns; IPv4
    rows carry theirs in the low half. An IPv6 source that is no emulated NIC is UNMAPPED
    (issue 17: IPv6 ingress from outside the VNets is not modelled)."""
    from scapy.layers.inet import UDP
    from scapy.layers.inet6 import IPv6

    em = Emulator(load(HUB_FW))
    out = em.send([IPv6(src="2001:db8::1", dst="fd00::10:0:1:4") / UDP(sport=1, dport=53),
                   tcp(*FWD)], source=[None, "app1"])
    assert out.dispositions() == [D.UNMAPPED, D.DELIVERED]
    r6, r4 = out.row(0), out.row(1)
    assert (r6["src"], r6["dst"], r6["final_src"]) == ("2001:db8::1", "fd00::10:0:1:4",
                                                       "2001:db8::1")
    c = out.columns
    assert c["family"].tolist() == [6, 4]
    assert (int(c["src_hi"][0]) << 64 | int(c["src_lo"][0])) == 0x20010DB8 << 96 | 1
    assert (int(c["src_hi"][1]), int(c["src_lo"][1])) == (0, 0x0A010104)
    assert r4["src"] == "10.1.1.4"


def test_explain_uses_the_flow_state_its_run_found(load):
    """A result's explanation re-opens the flows that existed when it ran, not later ones;
    after reset() that state is gone and explain says so instead of guessing."""
    from dataplane.errors import InputError

    em = Emulator(load(HUB_FW))
    early = em.send(tcp(*REPLY), source="db1")  # before the forward flow: denied
    em.send(tcp(*FWD), source="app1")
    late = em.send(tcp(*REPLY), source="db1")
    assert early.dispositions() == [D.FIREWALL_DENIED] and late.dispositions() == [D.DELIVERED]
    assert early.explain(0)["hops"][-1]["result"] == "FirewallDenied"
    assert late.explain(0)["hops"][-1]["step"] == "deliver"
    em.reset()
    with pytest.raises(InputError, match="reset"):
        late.explain(0)
