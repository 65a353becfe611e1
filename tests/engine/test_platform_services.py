"""Azure's platform services from a VM (engine/stages/platform.py): DNS, DHCP and WireServer at
168.63.129.16 and IMDS at 169.254.169.254 are answered by the host, are not judged by NSGs
unless a rule names their service tag, and no user route carries them ("Network security
groups", https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview,
"Azure platform considerations"; "What is IP address 168.63.129.16?",
https://learn.microsoft.com/azure/virtual-network/what-is-ip-address-168-63-129-16)."""

from __future__ import annotations

from scapy.layers.inet import IP, TCP, UDP

from dataplane.engine import Emulator

# One VNet, a deny-all-outbound NSG, and a user route sending everything to an NVA.
TOPOLOGY = """
vnets:
  v: {{region: westeurope, address_space: [10.0.0.0/16], subnets: {{app: {{prefix: 10.0.1.0/24, nsg: locked, route_table: all-to-nva}}, nva: 10.0.2.0/24}}}}
nsgs:
  locked:
    rules:
      - {{name: deny-all-out, priority: 4000, direction: Outbound, access: Deny, protocol: "*", source: "*", destination: "*", destination_ports: "*"}}
{extra}
route_tables:
  all-to-nva: {{routes: [{{name: default, prefix: 0.0.0.0/0, next_hop: VirtualAppliance, next_hop_ip: 10.0.2.4}}]}}
vms:
  app1: {{subnet: v/app, ip: 10.0.1.4, size: Standard_D2s_v3}}
  nva1: {{subnet: v/nva, ip: 10.0.2.4, size: Standard_D2s_v3, ip_forwarding: true}}
"""
DENY_DNS = ('      - {name: deny-dns, priority: 100, direction: Outbound, access: Deny, '
            'protocol: "*", source: "*", destination: AzurePlatformDNS, destination_ports: "53"}')


def _rows(make_topology, extra: str = ""):
    emulator = Emulator(make_topology(TOPOLOGY.format(extra=extra)))
    result = emulator.send([IP(src="10.0.1.4", dst="168.63.129.16") / UDP(sport=5000, dport=53),
                            IP(src="10.0.1.4", dst="169.254.169.254") / TCP(sport=5001, dport=80),
                            IP(src="10.0.1.4", dst="8.8.8.8") / UDP(sport=5002, dport=53)])
    return [(r["disposition"], r["deciding"], r["hops"]) for r in result.rows()]


def test_host_services_pass_deny_all_nsgs_and_skip_user_routes(make_topology) -> None:
    dns, imds, google = _rows(make_topology)
    assert dns == ("EXITS_PLATFORM", "host service AzureDNS (168.63.129.16)", "app1")
    assert imds == ("EXITS_PLATFORM", "host service IMDS (169.254.169.254)", "app1")
    # The same NSG does stop ordinary DNS traffic to the Internet.
    assert google[:2] == ("DENIED_OUT", "nsg locked/securityRules/deny-all-out")


def test_a_rule_naming_the_service_tag_judges_it(make_topology) -> None:
    dns, imds, _ = _rows(make_topology, DENY_DNS)
    assert dns[:2] == ("DENIED_OUT", "nsg locked/securityRules/deny-dns")
    assert imds[0] == "EXITS_PLATFORM"  # only DNS's own tag was named
