"""A dual-stack hub and spoke for the IPv6 engine tests (issue 17): every VM has an IPv4 and an
IPv6 ip configuration ("Create a dual-stack network", https://learn.microsoft.com/azure/
virtual-network/ip-services/create-vm-dual-stack-ipv6-portal: one IPv4 and one IPv6 ip
configuration per NIC, IPv6 subnets /64).
hub/s holds a1 (NSG n1, route table rt: the spoke's IPv6 /48 through the NVA), a2; hub/nva the
NVA (IP forwarding as drawn); spoke/s holds b1. The hub <-> spoke peering allows forwarded
traffic as drawn. n1 denies IPv6 SSH from the spoke's IPv6 space inbound and UDP to the
spoke's IPv6 subnet outbound; neither rule names an IPv4 prefix. a1's IPv6 ip configuration has
a Standard public IPv6 address (A1_PUBLIC), as the tutorial's VM has: it reaches the IPv6
Internet; the other VMs have none (NO_IPV6_INTERNET, stages/public_edge6.py).
"""

from __future__ import annotations

import ipaddress

TOPO = """
vnets:
  hub:
    region: westeurope
    address_space: [10.0.0.0/16, "fd00:db8:0::/48"]
    subnets:
      s: {{prefix: 10.0.1.0/24, prefix6: "fd00:db8:0:1::/64", nsg: n1, route_table: rt}}
      nva: {{prefix: 10.0.2.0/24, prefix6: "fd00:db8:0:2::/64"}}
  spoke:
    region: {spoke_region}
    address_space: [10.1.0.0/16, "fd00:db8:1::/48"]
    subnets:
      s: {{prefix: 10.1.1.0/24, prefix6: "fd00:db8:1:1::/64"}}
peerings:
  - {{between: [hub, spoke], allow_forwarded_traffic: {fwd}}}
nsgs:
  n1:
    rules:
      - {{name: deny-ssh6, priority: 100, direction: Inbound, access: Deny, protocol: Tcp,
         source: "fd00:db8:1::/48", destination: "*", destination_ports: "22"}}
      - {{name: deny-udp6, priority: 110, direction: Outbound, access: Deny, protocol: Udp,
         source: "*", destination: "fd00:db8:1:1::/64"}}
route_tables:
  rt:
    routes:
      - {{name: spoke6-via-nva, prefix: "{udr_prefix}", next_hop: VirtualAppliance,
         next_hop_ip: "fd00:db8:0:2::4"}}
public_ips:
  a1-ip6: {{version: IPv6, address: "2001:db8:e0::a1"}}
vms:
  a1: {{subnet: hub/s, ip: 10.0.1.4, ip6: "fd00:db8:0:1::4", public_ip6: a1-ip6,
       size: Standard_D2s_v3}}
  a2: {{subnet: hub/s, ip: 10.0.1.5, ip6: auto, size: Standard_D2s_v3}}
  nva: {{subnet: hub/nva, ip: 10.0.2.4, ip6: "fd00:db8:0:2::4", size: Standard_D2s_v3,
        ip_forwarding: {ipf}}}
  b1: {{subnet: spoke/s, ip: 10.1.1.4, ip6: "fd00:db8:1:1::4", size: Standard_D2s_v3}}
"""


def topo(fwd: bool = True, ipf: bool = True, udr_prefix: str = "fd00:db8:1::/48",
         spoke_region: str = "westeurope") -> str:
    return TOPO.format(fwd=str(fwd).lower(), ipf=str(ipf).lower(), udr_prefix=udr_prefix,
                       spoke_region=spoke_region)


def v6(text: str) -> int:
    return int(ipaddress.IPv6Address(text))


def v4(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


A1, A2, NVA, B1 = (v6(a) for a in ("fd00:db8:0:1::4", "fd00:db8:0:1::5", "fd00:db8:0:2::4",
                                   "fd00:db8:1:1::4"))
A1_4, A2_4, NVA_4, B1_4 = (v4(a) for a in ("10.0.1.4", "10.0.1.5", "10.0.2.4", "10.1.1.4"))
A1_PUBLIC = v6("2001:db8:e0::a1")
A1N, A2N, NVAN, B1N = 0, 1, 2, 3  # NIC indices (topology order)
TCP, UDP, ICMPV6 = 6, 17, 58
