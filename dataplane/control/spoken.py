"""The address ranges a topology already speaks, which replay never remaps.

Takes a Topology and an IP version (4, the default, or 6: the IPv6 ranges for io/mapping.py's
`spoken6`); emits `spoken_ranges(topology, version)`: sorted, labelled (first, last, what)
integer ranges of that version: every VNet's address space (with or without a NIC in it), every load-balancer frontend
and firewall address, every on-premises prefix (localNetworkGateways' address space). Public
(Internet) addresses are never remapped either; io/mapping.py handles them by only mapping
private capture addresses (RFC 1918 and RFC 6598).
"""

from __future__ import annotations

from dataplane.model import Topology


def spoken_ranges(topology: Topology, version: int = 4) -> list[tuple[int, int, str]]:
    ranges: list[tuple[int, int, str]] = []
    for vnet in topology.virtual_networks:
        ranges += [(p.first, p.last, f"VNet {vnet.name}") for p in vnet.address_space
                   if p.version == version]
    for lb in topology.load_balancers:
        for fe in lb.frontend_ip_configurations:
            ip = fe.private_ip_address
            if ip is not None and ip.version == version:
                ranges.append((ip.value, ip.value, f"load balancer {lb.name} frontend"))
    for fw in topology.azure_firewalls:
        ip = fw.private_ip_address
        if ip is not None and ip.version == version:
            ranges.append((ip.value, ip.value, f"firewall {fw.name}"))
    for lng in topology.local_network_gateways:
        ranges += [(p.first, p.last, f"on-premises {lng.name}") for p in lng.address_prefixes
                   if p.version == version]
    return sorted(ranges)
