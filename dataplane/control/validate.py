"""Validation: what Azure would reject in a topology, as Findings with Azure's codes.

Covers docs/azure-behaviour.md §8 (address spaces, subnets, reserved addresses and ranges, sizes),
2.1 (NSG priorities), 3.3 (next-hop IP only for VirtualAppliance), 4.4-4.6 (peering rules,
shared with control/peering.py), dangling references, a Standard NAT gateway with IPv6 public
IPs (StandardV2 only), and gateways/BGP/Route Server/ExpressRoute (control/bgp_validate.py). Errors make a topology invalid;
warnings (links not Connected or not in sync, transit that will not work, unknown resource
types) do not. Prefix overlap inside a VNet uses the compiled overlap kernel.
Names Azure checks (platform.py): service tags in security rules (SecurityRuleInvalidAddressPrefix
with the close names), locations (LocationNotAvailableForResourceType), and warnings for VM
sizes without a published bandwidth and regions without latency or price data.
"""

from __future__ import annotations

from collections import defaultdict

from dataplane.control.bgp_validate import bgp_findings
from dataplane.control.caveats import unknown_resource_message
from dataplane.control.firewall_addresses import unresolved_items
from dataplane.control.firewall_rules import missing_policies
from dataplane.control.firewall_tunnel import PAGE as TUNNEL_PAGE
from dataplane.control.firewall_tunnel import unmanaged_tunnel
from dataplane.control.peering import back_link, link_findings
from dataplane.control.platform import platform_findings
from dataplane.control.shared_addresses import shared_address_findings
from dataplane.errors import WARNING_FINDINGS, Finding
from dataplane.kernels.overlap import overlap_pairs
from dataplane.model import (
    NetworkSecurityGroup,
    PublicIPAddress,
    Topology,
    VirtualNetwork,
    id_key,
)
from dataplane.net import Prefix, parse_prefix

# Ranges a VNet cannot use (docs/azure-behaviour.md §8, "Cannot add").
NAT_GATEWAY_IPV6_SKU = "NatGatewayStandardSkuIPv6"
RESERVED_RANGES = tuple(parse_prefix(p) for p in (
    "224.0.0.0/4", "255.255.255.255/32", "127.0.0.0/8", "169.254.0.0/16", "168.63.129.16/32"))
SUBNET_V4_MIN_LENGTH, SUBNET_V4_MAX_LENGTH = 2, 29  # "/29 smallest, /2 largest"
SUBNET_V6_LENGTH = 64


def _overlapping(prefixes: list[Prefix]) -> list[tuple[int, int]]:
    """Index pairs of overlapping prefixes, per address family, through the overlap kernel."""
    pairs: list[tuple[int, int]] = []
    for version in (4, 6):
        members = [i for i, p in enumerate(prefixes) if p.version == version]
        if len(members) < 2:
            continue
        left, right = overlap_pairs([prefixes[i].first for i in members],
                                    [prefixes[i].last for i in members])
        pairs += [(members[a], members[b])
                  for a, b in zip(left.tolist(), right.tolist(), strict=True)]
    return pairs


def _vnet_findings(vnet: VirtualNetwork) -> list[Finding]:
    out = []
    for prefix in vnet.address_space:
        for reserved in RESERVED_RANGES:
            if prefix.overlaps(reserved):
                out.append(Finding("VnetAddressSpaceReserved",
                                   f"Address space {prefix} of virtual network '{vnet.name}' "
                                   f"overlaps the reserved range {reserved}.", vnet.id))
    for a, b in _overlapping(list(vnet.address_space)):
        out.append(Finding("VnetAddressSpaceOverlapsItself",
                           f"Address prefixes {vnet.address_space[a]} and {vnet.address_space[b]} "
                           f"of virtual network '{vnet.name}' overlap.", vnet.id))
    entries = [(subnet, prefix) for subnet in vnet.subnets for prefix in subnet.address_prefixes]
    for subnet, prefix in entries:
        if not any(space.contains(prefix) for space in vnet.address_space):
            out.append(Finding("NetcfgSubnetRangeOutsideVnet",
                               f"Subnet '{subnet.name}' is not valid because its IP address "
                               f"range is outside the IP address range of virtual network "
                               f"'{vnet.name}'.", subnet.id))
        if prefix.version == 4 and not (SUBNET_V4_MIN_LENGTH <= prefix.length
                                        <= SUBNET_V4_MAX_LENGTH):
            out.append(Finding("SubnetPrefixLengthOutOfRange",
                               f"Subnet '{subnet.name}' prefix {prefix}: IPv4 subnets must be "
                               "between /2 and /29.", subnet.id))
        if prefix.version == 6 and prefix.length != SUBNET_V6_LENGTH:
            out.append(Finding("SubnetPrefixLengthOutOfRange",
                               f"Subnet '{subnet.name}' prefix {prefix}: IPv6 subnets must be "
                               "exactly /64.", subnet.id))
    for a, b in _overlapping([p for _, p in entries]):
        if entries[a][0].id == entries[b][0].id:
            continue
        later = entries[b][0]
        out.append(Finding("NetcfgSubnetRangesOverlap",
                           f"Subnet '{later.name}' is not valid because its IP address range "
                           f"overlaps with that of an existing subnet in virtual network "
                           f"'{vnet.name}'.", later.id))
    return out


def _nic_findings(topology: Topology) -> list[Finding]:
    out = []
    owners: dict[tuple[str, int, int], str] = {}
    for nic in topology.network_interfaces:
        for config in nic.ip_configurations:
            subnet = topology.get(config.subnet)
            address = config.private_ip_address
            if subnet is None:
                out.append(Finding("InvalidResourceReference",
                                   f"Subnet {config.subnet} referenced by network interface "
                                   f"'{nic.name}' was not found.", nic.id))
                continue
            if address is None:
                continue
            prefix = next((p for p in subnet.address_prefixes if p.contains_address(address)),
                          None)
            if prefix is None:
                out.append(Finding("PrivateIPAddressNotInSubnet",
                                   f"IP configuration {config.name} of '{nic.name}' uses "
                                   f"{address}, which is not in subnet '{subnet.name}'.", nic.id))
                continue
            offset = address.value - prefix.first
            if offset < 4 or address.value == prefix.last:  # docs/azure-behaviour.md §8: 5 reserved
                out.append(Finding("PrivateIPAddressInReservedRange",
                                   f"Private static IP address {address} falls within reserved "
                                   f"IP range of subnet prefix {prefix}.", nic.id))
            vnet = topology.vnet_of_subnet(subnet.id)
            key = (id_key(vnet.id) if vnet else "", address.version, address.value)
            if key in owners and owners[key] != nic.id:
                out.append(Finding("PrivateIPAddressIsAllocated",
                                   f"IP configuration {config.name} of '{nic.name}' is using the "
                                   f"private IP address {address} which is already allocated to "
                                   f"resource {owners[key]}.", nic.id))
            owners.setdefault(key, nic.id)
    return out


def _nsg_findings(nsg: NetworkSecurityGroup) -> list[Finding]:
    out = []
    seen: dict[tuple[int, str], str] = {}
    for rule in nsg.security_rules:
        rid = f"{nsg.id}/securityRules/{rule.name}"
        if not 100 <= rule.priority <= 4096:  # docs/azure-behaviour.md §2.1
            out.append(Finding("SecurityRuleInvalidPriority",
                               f"Security rule {rule.name} has invalid priority {rule.priority}; "
                               "priority must be between 100 and 4096.", rid))
        key = (rule.priority, rule.direction)
        if key in seen:
            out.append(Finding("SecurityRuleConflict",
                               f"Security rule {seen[key]} conflicts with rule {rule.name}. "
                               "Rules cannot have the same Priority and Direction.", rid))
        seen.setdefault(key, rule.name)
    return out


def _route_findings(topology: Topology) -> list[Finding]:
    out = []
    for table in topology.route_tables:
        for route in table.routes:
            rid = f"{table.id}/routes/{route.name}"
            if route.next_hop_type == "VirtualAppliance" and route.next_hop_ip_address is None:
                out.append(Finding("NextHopIpAddressRequired",
                                   f"Route {route.name} has next hop type VirtualAppliance but "
                                   "no next hop IP address.", rid))
            if route.next_hop_type != "VirtualAppliance" and route.next_hop_ip_address:
                out.append(Finding("NextHopIpAddressNotAllowed",
                                   f"Route {route.name}: next hop values are only allowed in "
                                   "routes where the next hop type is VirtualAppliance.", rid))
    return out


def _reference_findings(topology: Topology) -> list[Finding]:
    """Dangling references to resources absent from the input."""
    checks: list[tuple[str | None, str]] = []
    for vnet in topology.virtual_networks:
        for subnet in vnet.subnets:
            checks += [(subnet.network_security_group, subnet.id), (subnet.route_table, subnet.id)]
    for nic in topology.network_interfaces:
        checks.append((nic.network_security_group, nic.id))
        for config in nic.ip_configurations:
            checks += [(asg, nic.id) for asg in config.application_security_groups]
    for vm in topology.virtual_machines:
        checks += [(nic, vm.id) for nic in vm.network_interfaces]
    for nsg in topology.network_security_groups:
        for rule in nsg.security_rules:
            checks += [(asg, f"{nsg.id}/securityRules/{rule.name}") for asg in
                       (*rule.source_application_security_groups,
                        *rule.destination_application_security_groups)]
    for gateway in topology.virtual_network_gateways:
        checks.append((gateway.virtual_network, gateway.id))
    for connection in topology.connections:
        checks += [(connection.virtual_network_gateway1, connection.id),
                   (connection.virtual_network_gateway2, connection.id),
                   (connection.local_network_gateway2, connection.id)]
    return [Finding("InvalidResourceReference",
                    f"Resource {target} referenced by resource {owner} was not found.", owner)
            for target, owner in checks if target and topology.get(target) is None]


def _firewall_policy_findings(topology: Topology) -> list[Finding]:
    """A warning per Firewall Policy a firewall names that the input does not hold (an
    existing policy deployed elsewhere is common, so not an error): the firewall's answers
    carry caveat firewall-policy (control/firewall_rules.py), its rules are not applied."""
    return [Finding("FirewallPolicyNotInInput",
                    f"{missing[0].upper()}{missing[1:]}; answers through it carry caveat "
                    "firewall-policy", fw.id, "warning")
            for fw in topology.azure_firewalls for missing in missing_policies(topology, fw)]


def _firewall_rule_findings(topology: Topology) -> list[Finding]:
    """A warning per item of a firewall network rule that matches no address (FQDNs, tag
    names Azure does not have or that firewall rules cannot use, IP groups not in the input):
    the engine's own reading (control/firewall_addresses.py), whose caveats the firewall's
    answers carry."""
    return [Finding(u.code, u.message, fw.id, "warning") for fw in topology.azure_firewalls
            for u in unresolved_items(topology, fw)]


def _firewall_tunnel_findings(topology: Topology) -> list[Finding]:
    """A warning per firewall whose subnet forces 0.0.0.0/0 elsewhere than the Internet
    without a management IP configuration (control/firewall_tunnel.py)."""
    out = []
    for fw in topology.azure_firewalls:
        where = unmanaged_tunnel(topology, fw)
        if where is not None:
            out.append(Finding(
                "FirewallForcedTunnelingWithoutManagement",
                f"Firewall {fw.name}: its AzureFirewallSubnet sends 0.0.0.0/0 by route "
                f"{where[0]}/{where[1]}, not to the Internet, and it has no "
                "managementIpConfiguration; Azure disables such a route without the "
                f"management NIC ({TUNNEL_PAGE}); answers follow the route as written, with "
                "caveat firewall-forced-tunnel", fw.id, "warning"))
    return out


def _nat_gateway_findings(topology: Topology) -> list[Finding]:
    """An error per Standard NAT gateway given an IPv6 public IP or prefix: only StandardV2
    takes IPv6 ("Azure NAT Gateway SKUs", https://learn.microsoft.com/azure/nat-gateway/
    nat-sku, "SKU comparison": public IP version Standard "IPv4", StandardV2 "IPv4, IPv6").
    Azure's error code is not documented: NAT_GATEWAY_IPV6_SKU is ours (control/codes.py)."""
    out = []
    for nat in topology.nat_gateways:
        if nat.sku.lower() != "standard":
            continue
        six = [*nat.public_ip_addresses_v6, *nat.public_ip_prefixes_v6, *(
            p for p in nat.public_ip_addresses if isinstance(pip := topology.get(p),
                                                               PublicIPAddress)
            and pip.public_ip_address_version == "IPv6")]
        if six:
            names = ", ".join(s.rsplit("/", 1)[-1] for s in six)
            out.append(Finding(NAT_GATEWAY_IPV6_SKU,
                               f"NAT gateway '{nat.name}' is Standard SKU and has IPv6 public "
                               f"IPs or prefixes ({names}): only a StandardV2 NAT gateway "
                               "supports IPv6.", nat.id))
    return out


def _peering_findings(topology: Topology) -> list[Finding]:
    out: list[Finding] = []
    for vnet in topology.virtual_networks:
        uses = [link for link in vnet.virtual_network_peerings if link.use_remote_gateways]
        for link in vnet.virtual_network_peerings:
            # One finding per violated rule, not one per link that sees it.
            found = link_findings(topology, vnet, link)
            if link is not (uses[-1] if uses else None):
                found = [f for f in found if f.code != "MultiplePeeringsUseRemoteGateways"]
            out += found
            remote = topology.get(link.remote_virtual_network)
            if remote is None:
                out.append(Finding("RemoteVnetNotInTopology",
                                   f"Peering '{link.name}' of '{vnet.name}' points at "
                                   f"{link.remote_virtual_network}, which is not in the input; "
                                   f"its state ({link.peering_state}) is taken as given.",
                                   link.id, "warning"))
            if link.peering_state != "Connected":
                out.append(Finding("PeeringNotConnected",
                                   f"Peering '{link.name}' of '{vnet.name}' is "
                                   f"{link.peering_state}: it carries no traffic.", link.id,
                                   "warning"))
            elif link.peering_sync_level != "FullyInSync":
                out.append(Finding("PeeringNotInSync",
                                   f"Peering '{link.name}' of '{vnet.name}' is "
                                   f"{link.peering_sync_level}: prefixes added since the last "
                                   "sync carry no traffic.", link.id, "warning"))
            back = back_link(topology, link)
            if link.use_remote_gateways and back is not None and not back.allow_gateway_transit:
                out.append(Finding("GatewayTransitNotAllowedByRemote",
                                   f"Peering '{link.name}' uses remote gateways but the remote "
                                   f"link '{back.name}' does not allow gateway transit: no "
                                   "gateway routes reach this VNet.", link.id, "warning"))
            if link.use_remote_gateways and isinstance(remote, VirtualNetwork) and any(
                    g.sku.lower() == "basic" for g in topology.gateways_of(remote.id)):
                out.append(Finding("GatewayTransitBasicSku",
                                   "Gateway transit works with all VPN Gateway SKUs except "
                                   "Basic.", link.id, "warning"))
    return out


def validate(topology: Topology) -> list[Finding]:
    """All findings, errors first, each in input order."""
    findings = [Finding(code, message, rid, "warning" if code in WARNING_FINDINGS else "error")
                for code, message, rid in topology.load_findings]
    for vnet in topology.virtual_networks:
        findings += _vnet_findings(vnet)
    findings += _nic_findings(topology)
    findings += shared_address_findings(topology)  # control/shared_addresses.py
    for nsg in topology.network_security_groups:
        findings += _nsg_findings(nsg)
    findings += _route_findings(topology)
    findings += _reference_findings(topology)
    findings += _peering_findings(topology)
    findings += _firewall_policy_findings(topology)
    findings += _firewall_tunnel_findings(topology)
    findings += _firewall_rule_findings(topology)
    findings += _nat_gateway_findings(topology)
    findings += platform_findings(topology)
    findings += bgp_findings(topology)  # gateways, BGP, Route Server, ExpressRoute
    for unknown in topology.unknown_resources:
        findings.append(Finding("UnknownResourceType", unknown_resource_message(unknown),
                                unknown.id, "warning"))
    by_severity: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_severity[finding.severity].append(finding)
    return by_severity["error"] + by_severity["warning"]
