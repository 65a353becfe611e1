"""Caveats: what a resource the model does not evaluate can change, and which answers it touches.

Takes a Topology whose `unknown_resources` carry `related` (the modelled resources each one is
connected to through references, computed by the loader). Emits:
* `impact(resource_type)` -> (changes_verdicts, text): what a type of resource can change in
  Azure's data plane. Only types listed in `NO_VERDICT_EFFECT` are said not to change a verdict,
  each with its reason; every other type, listed or not, is assumed to change one.
* `unknown_resource_message(unknown)` -> the `check` warning line for one unknown resource.
* `topology_caveats(topology)` -> one `Caveat` per unknown resource that can change a verdict
  (what a firewall's rules leave unevaluated travels with the engine's firewall hops), and one
  per property a spelling away from one the loader reads (`near-miss:RESOURCE:PROPERTY`), and
  one per Azure property set so that it can change a verdict the model does not evaluate
  (load/unread.py, `unread:RESOURCE:PROPERTY`, touching its subnet or resource).
* `caveats_touching(caveats, ids)` -> the caveats whose resources lie on a path (NIC, subnet,
  VNet, firewall, gateway ids): the answers that must carry them.
* `nic_resource_ids(topology, nic, reads)` -> the ids of the resources an answer about a NIC
  reads: the NIC, its VM and subnets always; with "security" the NIC's NSG and its subnets'
  NSGs; with "routing" its subnets' route tables and NAT gateways, its public IPs and
  load-balancer backend pools. Shared by the watcher's answers and the engine's NIC nodes
  (engine/path_caveats.py), so both name the same caveats.

The project's rule (never silently wrong): a resource that can change a verdict is modelled, or
every answer it touches carries a named caveat. A resource touches an answer when it is connected,
directly or through other unmodelled resources, to a resource on that answer's path: a public IP
touches the NIC it is attached to; a Virtual WAN hub connection touches the spoke VNet it
connects; a Firewall Policy (and its rule collection groups) touches the firewalls that use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dataplane.control.outbound6 import first_ipv6_config
from dataplane.errors import PROPERTY_NEAR_MISS, PROPERTY_NOT_MODELLED
from dataplane.model import (
    AzureFirewall,
    NetworkInterface,
    PublicIPAddress,
    Subnet,
    Topology,
    UnknownResource,
    VirtualNetworkGateway,
    id_key,
)

_N = "microsoft.network/"

# Types that cannot change where a packet goes or whether it is allowed, with the reason.
NO_VERDICT_EFFECT: dict[str, str] = {
    "microsoft.compute/virtualmachines/extensions": "VM extensions install software inside the guest",
    "microsoft.compute/disks": "managed disks are storage",
    "microsoft.compute/availabilitysets": "placement of VMs, not their network",
    "microsoft.operationalinsights/workspaces": "a log store",
    "microsoft.insights/diagnosticsettings": "log routing",
    "microsoft.network/networkwatchers": "a monitoring service",
    "microsoft.network/ddosprotectionplans": (
        "DDoS mitigation acts on attack traffic only, not on the verdicts emulated here"),
    "microsoft.resources/deployments": "a deployment record (its resources are loaded themselves)",
    "microsoft.managedidentity/userassignedidentities": "an identity, not a network resource",
    "microsoft.keyvault/vaults": "a secret store (its own firewall is not on VNet paths emulated here)",
    "microsoft.operationsmanagement/solutions": "a monitoring solution",
    "microsoft.operationalinsights/workspaces/datasources": "a log source setting",
    "microsoft.insights/components": "an Application Insights resource",
    "microsoft.insights/actiongroups": "alert routing",
}

# What the verdict-changing types we know of can change (others get a generic text).
IMPACT: dict[str, str] = {
    _N + "publicipaddresses": "Internet-facing inbound and outbound answers (DNAT/SNAT, "
                              "Standard SKU closed inbound) of what it is attached to",
    _N + "natgateways": "outbound Internet source address and reachability of its subnets",
    _N + "privateendpoints": "routes (/32 InterfaceEndpoint) and destinations in its VNet and peers",
    _N + "firewallpolicies": "verdicts, DNAT and SNAT of the Azure Firewalls that use the policy",
    _N + "firewallpolicies/rulecollectiongroups": "verdicts of the Azure Firewalls that use "
                                                  "the policy",
    _N + "ipgroups": "verdicts of firewall rules that name the IP group",
    _N + "virtualwans": "routing of every VNet connected to its hubs",
    _N + "virtualhubs": "routing of connected VNets (Virtual WAN hub or Route Server BGP routes)",
    _N + "virtualhubs/hubroutetables": "routes of the VNet connections associated with the table",
    _N + "virtualhubs/hubvirtualnetworkconnections": "routes of the connected VNet (hub "
                                                     "routing, secured-hub firewall)",
    _N + "virtualhubs/bgpconnections": "BGP-learned routes injected into the VNet",
    _N + "applicationgateways": "reachability of its frontends and backends",
    _N + "bastionhosts": "inbound management sessions to VMs",
    _N + "privatednszones": "name resolution (which address a name reaches)",
    _N + "privatednszones/virtualnetworklinks": "name resolution in the linked VNet",
    "microsoft.storage/storageaccounts": "whether its own firewall (networkAcls, private "
                                         "endpoints) admits traffic that reaches the service",
    _N + "networkmanagers": "security admin rules evaluated before NSGs; connectivity groups",
    _N + "expressroutecircuits": "routes learned from on-premises over ExpressRoute",
    _N + "vpngateways": "Virtual WAN site-to-site routes",
    _N + "routefilters": "Microsoft peering routes over ExpressRoute",
}


def impact(resource_type: str) -> tuple[bool, str]:
    """(changes_verdicts, what it changes or why it cannot) for an ARM resource type."""
    kind = resource_type.lower()
    if kind in NO_VERDICT_EFFECT:
        return False, NO_VERDICT_EFFECT[kind]
    return True, IMPACT.get(kind, "unknown: Azure may route, filter or translate traffic through it")


@dataclass(frozen=True)
class Caveat:
    """A named caveat: `key` is stable for tests and tooling; `resources` are the modelled ids
    (lower case) whose answers it touches; empty means it touches no modelled resource."""

    key: str
    text: str
    resources: frozenset[str]


def unknown_resource_message(unknown: UnknownResource) -> str:
    changes, what = impact(unknown.type)
    subject = f"Resource type {unknown.type} ('{unknown.name}') is not modelled"
    if unknown.type.lower() == _N + "publicipaddresses":  # load/resources.py: a public IP
        # the loader keeps only when a modelled resource (NIC, LB, firewall, NAT gateway) uses it
        subject = (f"Public IP address '{unknown.name}' is not modelled: public IPs are where "
                   "a NIC, load balancer, Azure Firewall or NAT gateway uses them, and this "
                   "one's user (an Application Gateway, a VPN gateway, ...) is none of these")
    if not changes:
        return f"{subject}; it cannot change a verdict ({what})."
    touched = ", ".join(sorted(r.rsplit("/", 1)[1] for r in unknown.related))
    whom = (f"answers involving {touched} carry a caveat" if touched
            else "no modelled resource refers to it, so no answer names it")
    return f"{subject} and can change verdicts ({what}); {whom}."


def edge_caveats(topology: Topology) -> tuple[Caveat, ...]:
    """The public edge the loader models but the packet engine does not translate yet (issue
    14, engine part): outbound SNAT to a public IP on a NIC's secondary IP configuration (the
    engine translates the primary configuration's IPv4 source and, issue 17, the first IPv6
    configuration's IPv6 source: stages/public_edge6.py), and a
    public load balancer's floating IP (touching its backend NICs; its inbound load-balancing
    and NAT rules and its outbound SNAT are modelled, engine/stages/loadbalancer.py and
    stages/public_edge.py). Modelled, no caveat: private endpoint routes and packets,
    inbound DNAT to a NIC's public IP with Standard closed / Basic open, the outbound method
    (control/outbound.py), outbound SNAT of a NAT gateway and a primary configuration's
    public IP (engine/stages/public_edge.py) and a private subnet's missing outbound access."""
    out = []
    text = ("public IP {name} ({sku}) on a secondary IP configuration (IPv4 other than the "
            "primary, IPv6 other than the first IPv6 one): packets leaving for the Internet from "
            "that address are not source-translated by the engine")
    lb_text = ("public IP {name} ({sku}), frontend of load balancer {lb}: inbound "
               "load-balancing and inbound NAT rules are applied (engine/stages/loadbalancer.py)"
               " and outbound SNAT to it (stages/public_edge.py); floating IP, probe state and "
               "a frontend reached from inside a VNet are not modelled")
    for nic in topology.network_interfaces:
        for config in nic.ip_configurations:
            pip = topology.get(config.public_ip_address)
            primary = config is next((c for c in nic.ip_configurations if c.primary),
                                     nic.ip_configurations[0])
            ipv6 = pip.public_ip_address_version == "IPv6" if isinstance(
                pip, PublicIPAddress) else False
            # translated: the primary configuration's IPv4 public IP (stages/public_edge.py) and
            # the first IPv6 configuration's IPv6 one (stages/public_edge6.py, issue 17)
            translated = config is first_ipv6_config(nic) if ipv6 else primary
            if isinstance(pip, PublicIPAddress) and not translated:
                out.append(Caveat(f"public-edge:{pip.name}", text.format(name=pip.name,
                                                                         sku=pip.sku),
                                  frozenset({id_key(nic.id)})))
    for lb in topology.load_balancers:
        pools = {id_key(p.id) for p in lb.backend_address_pools}
        backends = frozenset(id_key(n.id) for n in topology.network_interfaces
                             if any(id_key(a) in pools for c in n.ip_configurations
                                    for a in c.load_balancer_backend_address_pools))
        for frontend in lb.frontend_ip_configurations:
            pip = topology.get(frontend.public_ip_address)
            if isinstance(pip, PublicIPAddress):
                out.append(Caveat(f"public-edge:{pip.name}", lb_text.format(
                    name=pip.name, sku=pip.sku, lb=lb.name), backends | {id_key(lb.id)}))
    return tuple(out)


def topology_caveats(topology: Topology) -> tuple[Caveat, ...]:
    """Unmodelled resources that can change a verdict, each scoped to the resources it touches,
    and the modelled public edge the engine does not translate yet (`edge_caveats`).
    (What a firewall's rules leave unevaluated travels with the engine's firewall hops.)"""
    out = list(edge_caveats(topology))
    for code, message, rid in topology.load_findings:  # a misspelt property (load/near_misses.py)
        if code == PROPERTY_NEAR_MISS:
            prop = message.split("property '", 1)[1].split("'", 1)[0]
            out.append(Caveat(f"near-miss:{rid.rsplit('/', 1)[-1]}:{prop}", message,
                              frozenset({id_key(rid)})))
        elif code == PROPERTY_NOT_MODELLED:  # load/unread.py: set, can change a verdict
            resource, prop = message.split("resource '", 1)[1].split("': property '", 1)
            prop = prop.split(chr(39), 1)[0]
            touched = (dns_service_id(rid) if prop.endswith(DNS_SERVERS_PROPERTY)
                       else id_key(rid))
            out.append(Caveat(f"unread:{resource}:{prop}", message, frozenset({touched})))
    for unknown in topology.unknown_resources:
        changes, what = impact(unknown.type)
        if changes:
            out.append(Caveat(f"unmodelled:{unknown.type}:{unknown.name}",
                              f"{unknown.type} '{unknown.name}' is not modelled; it can change "
                              f"{what}",
                              frozenset(id_key(r) for r in unknown.related)))
    return tuple(out)


# A VNet's custom DNS servers (load/unread.py) touch only the answers that reach its DNS host
# service (168.63.129.16:53, engine/stages/platform.py): an id below the VNet's, which no
# resource has, that such answers add to their path (`dns_service_ids`).
DNS_SERVERS_PROPERTY = "dhcpOptions.dnsServers"
DNS_SERVICE = "hostServices/AzureDNS"


def dns_service_id(vnet_id: str) -> str:
    """The path id of the DNS host service as the VNet `vnet_id`'s VMs reach it (lower case)."""
    return f"{id_key(vnet_id)}/{DNS_SERVICE.lower()}"


def dns_service_ids(topology: Topology, nic: NetworkInterface) -> list[str]:
    """`dns_service_id` of each VNet the NIC's IP configurations lie in: the ids an answer
    whose packet the DNS host service answers adds to its path."""
    vnets = (topology.vnet_of_subnet(c.subnet) for c in nic.ip_configurations if c.subnet)
    return list(dict.fromkeys(dns_service_id(v.id) for v in vnets if v is not None))


def _covers(touched: str, on_path: str) -> bool:
    """A VNet id covers its subnets (and their children)."""
    return on_path == touched or on_path.startswith(touched + "/")


def caveats_touching(caveats: Iterable[Caveat], ids: Iterable[str]) -> list[Caveat]:
    """The caveats that touch any of `ids` (resource ids on an answer's path), in input order."""
    path = [id_key(i) for i in ids if i]
    return [c for c in caveats if any(_covers(t, p) for t in c.resources for p in path)]


NIC_READS = ("security", "routing")


def nic_resource_ids(topology: Topology, nic: NetworkInterface,
                     reads: tuple[str, ...] = NIC_READS) -> list[str]:
    """Ids of the resources an answer about `nic` reads (module doc; "" where a reference is
    unset): NIC, VM and subnets; "security": the NIC's NSG and its subnets' NSGs (what
    `ip-flow-verify` and `rules` evaluate); "routing": its subnets' route tables and NAT
    gateways, its public IPs and load-balancer backend pools (what `next-hop` and `routes`
    read, with the outbound method).
    Microsoft: "Next hop overview", https://learn.microsoft.com/azure/network-watcher/next-hop-overview
    (intro: the next hop type, IP address and the route table holding the user route that
    decided, else "System Route": routes only, no NSG); "Network Watchers - Verify IP Flow",
    https://learn.microsoft.com/rest/api/network-watcher/network-watchers/verify-ip-flow (the
    operation's description: the flow is verified "given the currently configured NSG rules")
    and "IP flow verify overview", https://learn.microsoft.com/azure/network-watcher/ip-flow-verify-overview
    (NSG rules of the NIC and its subnet: no routes)."""
    ids = [nic.id, nic.virtual_machine or ""]
    if "security" in reads:
        ids.append(nic.network_security_group or "")
    for config in nic.ip_configurations:
        ids += subnet_resource_ids(topology, config.subnet, reads)
        if "routing" in reads:
            ids += [config.public_ip_address or "", *config.load_balancer_backend_address_pools]
    return ids


def gateway_resource_ids(topology: Topology, gateway: VirtualNetworkGateway) -> list[str]:
    """Ids an answer crossing a virtual network gateway reads: the gateway, its GatewaySubnet,
    its connections and their local network gateways ("" where unset). Shared by the engine's
    gateway nodes (engine/path_caveats.py) and explain's named gateways (watcher.py)."""
    ids = [gateway.id, f"{gateway.virtual_network}/subnets/GatewaySubnet"]
    for c in topology.connections:
        if id_key(gateway.id) in {id_key(c.virtual_network_gateway1),
                                  id_key(c.virtual_network_gateway2 or "")}:
            ids += [c.id, c.local_network_gateway2 or ""]
    return ids


def firewall_resource_ids(topology: Topology, firewall: AzureFirewall) -> list[str]:
    """Ids an answer crossing an Azure Firewall reads: the firewall, its subnet (with that
    subnet's route table), its Firewall Policy and the policy's ancestors with their rule
    collection groups, and a policy it or an ancestor names that the input does not hold (so a
    misspelt property of a policy or of one of its groups reaches the answers it can change).
    Shared by the engine's firewall nodes (engine/path_caveats.py) and explain's named
    firewalls (watcher.py)."""
    from dataplane.control.firewall_rules import policy_chain

    chain = policy_chain(topology, firewall)
    ids = [firewall.id, *subnet_resource_ids(topology, firewall.subnet),
           firewall.firewall_policy or ""]
    for policy in chain:
        ids += [policy.id, policy.base_policy or ""]
        ids += [f"{policy.id}/ruleCollectionGroups/{g.name}" for g in policy.rule_collection_groups]
    return ids


def subnet_resource_ids(topology: Topology, subnet_id: str | None,
                        reads: tuple[str, ...] = NIC_READS) -> list[str]:
    """The subnet's id and, per `reads` (nic_resource_ids), its NSG ("security"), its route
    table and NAT gateway ("routing"); [] without a subnet."""
    subnet = topology.get(subnet_id) if subnet_id else None
    if not isinstance(subnet, Subnet):
        return [subnet_id] if subnet_id else []
    return [subnet.id, *((subnet.network_security_group or "",) if "security" in reads else ()),
            *((subnet.route_table or "", subnet.nat_gateway or "") if "routing" in reads else ())]
