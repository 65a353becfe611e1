"""Stage: Azure's platform services at the source NIC -- reference and batch forms side by side.

Contract. A packet a VM sends to a host service (control/hostservices.py: DNS, DHCP and
WireServer at 168.63.129.16, IMDS at 169.254.169.254, each on its protocols and ports) is
answered by the host: EXITS_PLATFORM, labelled "host service NAME (ADDRESS)". It is not judged by
the VM's NSGs unless one of their rules names the service's own tag (AzurePlatformDNS,
AzurePlatformIMDS), and no user route carries it ("Network security groups",
https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview, "Azure
platform considerations"; "What is IP address 168.63.129.16?",
https://learn.microsoft.com/azure/virtual-network/what-is-ip-address-168-63-129-16; the user
route part is assumption `platform-routes`). A NIC whose NSG rules name such a tag goes the
ordinary way (NSG out, routes) for that service. The host's replies come back from outside the
VNet and are not emulated (assumption `platform-replies`).
Custom DNS servers: a VNet whose `dhcpOptions.dnsServers` names other servers gives its VMs
those by DHCP ("Create, change, or delete a virtual network", https://learn.microsoft.com/
azure/virtual-network/manage-virtual-network, "Change DNS servers"); a query sent to
168.63.129.16 is still answered here, but the VMs' resolvers ask the custom servers. The model
does not read the setting (load/unread.py): `explain` and `trace` answers whose packet this
stage gives to the DNS service carry caveat `unread:VNET:properties.dhcpOptions.dnsServers`
(control/caveats.py `dns_service_ids`); a replayed packet does not (it was sent to
168.63.129.16, and that answer is right), and queries to the custom servers are ordinary
packets (NSGs, routes).
IPv6: Azure's host services have IPv4 addresses only (168.63.129.16, 169.254.169.254; the
pages above name no IPv6 address), so no IPv6 packet reaches them: an IPv6 packet is routed
like any other. IPv6 neighbour discovery (ICMPv6 types 133-137: router and neighbour
solicitations and advertisements, redirects; RFC 4861, link-local, never forwarded) is
answered or consumed by the host: EXITS_PLATFORM, labelled "host service IPv6 neighbour
discovery (KIND)". Microsoft documents no neighbour-discovery behaviour for Azure VNets; this
is assumption `ipv6-nd-host` (the host is a VM's only link neighbour, as for ARP; "IPv6 for
Azure Virtual Network", https://learn.microsoft.com/azure/virtual-network/ip-services/
ipv6-overview, says nothing of ND).
Reference form `decide`: one packet -> the service or None. Batch form `decide_np`: rows ->
index into `OUTBOUND` or -1, with the per-NIC exemptions tabled once (`exempt_table`). `governed(security)`: the service tags a NIC's NSG rules name.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dataplane.control.hostservices import SERVICES, HostService
from dataplane.control.nsg import RuleCompiler

OUTBOUND: tuple[HostService, ...] = tuple(s for s in SERVICES if s.direction == "Outbound")
PLATFORM_ASSUMPTIONS = (
    "platform-replies: a host service's answer (DNS, IMDS, ...) comes from outside the VNet and "
    "is not emulated; the VM's request ends EXITS_PLATFORM.",
    "ipv6-nd-host: IPv6 neighbour discovery (ICMPv6 133-137) from a VM is answered or consumed "
    "by the Azure host (Microsoft documents none; the host is the VM's only link neighbour, as "
    "for ARP); it ends EXITS_PLATFORM and is never forwarded.",
)
ADDRESSES: tuple[int, ...] = tuple(dict.fromkeys(s.address.value for s in OUTBOUND))
ICMPV6 = 58
ND_KINDS: dict[int, str] = {133: "router solicitation", 134: "router advertisement",
                            135: "neighbour solicitation", 136: "neighbour advertisement",
                            137: "redirect"}
ND_FIRST, ND_LAST = 133, 137


def is_nd(family: int, proto: int, icmp_type: int) -> bool:
    """An IPv6 neighbour-discovery message (ICMPv6 type in the header's sport column)."""
    return family == 6 and proto == ICMPV6 and ND_FIRST <= icmp_type <= ND_LAST


def nd_np(six: np.ndarray, proto: np.ndarray, icmp_type: np.ndarray) -> np.ndarray:
    """bool[n]: `is_nd` per row (`six`: IPv6 rows)."""
    return six & (proto == ICMPV6) & (icmp_type >= ND_FIRST) & (icmp_type <= ND_LAST)


def nd_label(icmp_type: int) -> str:
    return f"host service IPv6 neighbour discovery ({ND_KINDS[icmp_type]})"


def governed(security: Any) -> frozenset[str]:
    """Lower-case service tags named by any rule of the NIC's NSGs (either level, either
    direction): the services whose traffic those NSGs then judge."""
    if security is None:
        return frozenset()
    names: set[str] = set()
    for level in (security.subnet, security.interface):
        if level is None:
            continue
        for r in (*level.inbound, *level.outbound):
            for m in (*r.rule.source_address_prefixes, *r.rule.destination_address_prefixes):
                if isinstance(m, str):
                    names.add(m.lower())
    return frozenset(names)


def tags_per_nic(net: Any) -> list[frozenset[str]]:
    """`governed` for every NIC of a compiled Network (engine/compile.py); cheap when no NSG
    names a platform service's tag (the usual case)."""
    wanted = {s.service_tag.lower() for s in OUTBOUND if s.service_tag}
    named = {m.lower() for nsg in net.topology.network_security_groups for r in nsg.security_rules
             for m in (*r.source_address_prefixes, *r.destination_address_prefixes)
             if isinstance(m, str)}
    if not wanted & named:
        return [frozenset()] * len(net.nics)
    compiler = RuleCompiler(net.topology)
    return [governed(compiler.nic_security(nic)) if net.node_subnet[i] >= 0 else frozenset()
            for i, nic in enumerate(net.nics)]


def label(service: HostService) -> str:
    return f"host service {service.name} ({service.address})"


def _exempt(service: HostService, tags: frozenset[str]) -> bool:
    return service.nsg_exempt and (service.service_tag or "").lower() not in tags


# -- reference form --------------------------------------------------------------------------
def decide(dst: int, proto: int, dport: int, tags: frozenset[str]) -> HostService | None:
    """The host service an IPv4 packet reaches, when it is answered by the host."""
    for service in OUTBOUND:
        if (service.address.value == dst and proto in service.protocols
                and (not service.ports or dport in service.ports) and _exempt(service, tags)):
            return service
    return None


# -- batch form ------------------------------------------------------------------------------
def exempt_table(nic_tags: list[frozenset[str]]) -> np.ndarray:
    """bool[len(OUTBOUND), n_nics]: whether each service's traffic from each NIC skips its NSGs
    (the same `_exempt` rule as the reference form), built once per Network."""
    return np.array([[_exempt(service, tags) for tags in nic_tags] for service in OUTBOUND],
                    dtype=bool).reshape(len(OUTBOUND), len(nic_tags))


def decide_np(dst: np.ndarray, proto: np.ndarray, dport: np.ndarray, nic: np.ndarray,
              exempt: np.ndarray) -> np.ndarray:
    """Per row, the index into OUTBOUND of the host service answering it, or -1; `exempt`
    from `exempt_table`."""
    out = np.full(dst.size, -1, dtype=np.int8)
    for address in ADDRESSES:  # only rows to a service address can match (most have none)
        rows = np.flatnonzero(dst == address)
        if rows.size == 0:
            continue
        got = np.full(rows.size, -1, dtype=np.int8)
        for i, service in enumerate(OUTBOUND):
            if service.address.value != address:
                continue
            m = (got < 0) & np.isin(proto[rows], service.protocols)
            if service.ports:
                m &= np.isin(dport[rows], service.ports)
            m &= exempt[i][nic[rows]]
            got[m] = i
        out[rows] = got
    return out


__all__ = ["ND_KINDS", "OUTBOUND", "PLATFORM_ASSUMPTIONS", "is_nd", "nd_label", "nd_np", "decide", "decide_np", "exempt_table", "governed",
           "label", "tags_per_nic"]
