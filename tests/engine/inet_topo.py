"""Shared inputs of the Internet-reply tests (issues 11 and 12, inet): app1 in a spoke whose
default route is the hub's policy Azure Firewall (fw, public IP 203.0.113.10, application rule
contoso over HTTPS from test_app_rules.POLICY); the firewall's subnet routes 0.0.0.0/0 to the
Internet, so app1's Internet flows the rules allow leave SNATed to the firewall's public
address."""

from __future__ import annotations

from dataclasses import replace

from scapy.layers.inet import IP, TCP
from test_app_rules import ISN, POLICY, client_hello

from dataplane.load.firewall_policy import firewall_policy
from dataplane.load.resources import Where
from dataplane.model import Topology

APP, SERVER, FW_PUBLIC = "10.1.1.4", "93.184.216.34", "203.0.113.10"

HUB_INTERNET = """
vnets:
  hub: {region: westeurope, address_space: [10.0.0.0/16], subnets: {AzureFirewallSubnet: 10.0.1.0/26}}
  spoke1: {region: westeurope, address_space: [10.1.0.0/16], subnets: {app: {prefix: 10.1.1.0/24, route_table: to-fw}}}
peerings:
  - {between: [hub, spoke1], allow_forwarded_traffic: true}
route_tables:
  to-fw: {routes: [{name: default, prefix: 0.0.0.0/0, next_hop: VirtualAppliance, next_hop_ip: 10.0.1.4}]}
public_ips:
  fw-ip: {address: 203.0.113.10}
firewalls:
  fw: {subnet: hub/AzureFirewallSubnet, ip: 10.0.1.4, public_ips: [fw-ip], collections: []}
vms:
  app1: {subnet: spoke1/app, ip: 10.1.1.4, size: Standard_D2s_v3}
"""


def internet_topology(make_topology) -> Topology:
    topology = make_topology(HUB_INTERNET)
    loaded = firewall_policy(POLICY, Where(POLICY, "test"))
    (fw,) = topology.azure_firewalls
    return replace(topology, firewall_policies=(loaded,),
                   azure_firewalls=(replace(fw, firewall_policy=loaded.id),))


def internet_flow(name: str | None, sport: int = 40000, server: str = SERVER,
                  reply_to: str = APP, reply_dport: int | None = None) -> list:
    """app1 -> server:443: SYN, the server's SYN-ACK, ACK, the ClientHello naming `name`
    (None: no ClientHello, a handshake-only flow), the server's ACK and a data segment. The
    server's packets are addressed to `reply_to`:`reply_dport` (captured at the VM: app1's
    own address and port)."""
    c = IP(src=APP, dst=server)
    s = IP(src=server, dst=reply_to)
    back = sport if reply_dport is None else reply_dport
    hello = client_hello(name) if name else b""
    out = [c / TCP(sport=sport, dport=443, flags="S", seq=ISN),
           s / TCP(sport=443, dport=back, flags="SA", seq=5000, ack=ISN + 1),
           c / TCP(sport=sport, dport=443, flags="A", seq=ISN + 1, ack=5001)]
    if hello:
        out.append(c / TCP(sport=sport, dport=443, flags="PA", seq=ISN + 1, ack=5001) / hello)
    out += [s / TCP(sport=443, dport=back, flags="A", seq=5001, ack=ISN + 1 + len(hello)),
            s / TCP(sport=443, dport=back, flags="PA", seq=5001, ack=ISN + 1 + len(hello))
            / b"HTTP/1.1 200 OK\r\n\r\n"]
    return out
