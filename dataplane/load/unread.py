"""Azure properties the model does not evaluate but that can change a verdict: warnings + caveats.

The project's rule: a property that can change a verdict is modelled, or every answer it touches
carries a named caveat. This module lists the real Azure properties (Microsoft's REST reference
and the pages cited per entry) that the loader reads not at all, or reads but the engine does not
apply, and that change a verdict when set as the entry says (`matters`).

    unread_findings(resources, source) -> [(PROPERTY_NOT_MODELLED, message, touched id)]

Takes the resource dicts resources_to_topology takes (children already merged into their
parents). Each finding becomes a `check` warning (control/validate.py) and a named caveat on the
answers of the resource it touches (control/caveats.py `topology_caveats`), key
`unread:RESOURCE:PROPERTY PATH` (RESOURCE: the top-level resource's name; PATH as
near_misses.py writes it, `properties.subnets[1].properties.serviceEndpointPolicies`). The
message names the file, the resource, the property path, what it can change and Microsoft's page.

`touched id`: the id whose answers carry the caveat (control/caveats.py `caveats_touching`; a
VNet covers its subnets, a load balancer its backend pools, so the NICs in them): the subnet for
a subnet property, else the top-level resource.
Modelled elsewhere, not listed: a load-balancing rule's `backendAddressPools` (the union of its
pools, load/resources.py), a NAT gateway's `publicIpAddressesV6` / `publicIpPrefixesV6`
(control/outbound6.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from dataplane.errors import PROPERTY_NOT_MODELLED
from dataplane.load.near_misses import objects_at


def _listed(value: Any) -> bool:
    return isinstance(value, list) and len(value) > 0


def _set(value: Any) -> bool:
    return value not in (None, "", {}, [])


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _false(value: Any) -> bool:
    return value is False or str(value).lower() == "false"


def _not_four_minutes(value: Any) -> bool:
    """An idle timeout other than the 4 minutes the engine's connection table uses
    (engine/conntrack.py, assumption `conntrack-idle`)."""
    return value is not None and str(value).strip() not in ("", "4")


def _drops_unencrypted(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    enabled = next((v for k, v in value.items() if k.lower() == "enabled"), None)
    enforcement = next((v for k, v in value.items() if k.lower() == "enforcement"), "")
    return _true(enabled) and str(enforcement).lower() == "dropunencrypted"


def _not_default(value: Any) -> bool:
    return value is not None and str(value).lower() != "default"


@dataclass(frozen=True)
class Unread:
    """One property: at `path` below a resource of type `kind` (near_misses.py's path syntax,
    `properties` standing for ARM's nesting or az's flattening), property `name`; `matters`
    says whether its value changes a verdict; `subnet`: the caveat touches the subnet, else the
    top-level resource; `what`: what it changes and why the model does not; `page`:
    Microsoft's page (title, URL, section)."""

    kind: str
    path: str
    name: str
    matters: Callable[[Any], bool]
    what: str
    page: str
    subnet: bool = False


_N = "microsoft.network/"
_IDLE = ("the engine's connection table forgets a flow after 4 minutes idle (assumption "
         "conntrack-idle); with this timeout Azure keeps (or drops) the flow's state for "
         "another length, so replies after the idle time can get another verdict")
UNREAD: tuple[Unread, ...] = (
    Unread(_N + "virtualnetworks", "properties.subnets[].properties", "serviceEndpointPolicies",
           _listed,
           "traffic from this subnet to Azure Storage over its service endpoint reaches only "
           "the storage accounts the policy lists (others are denied); the policy is not "
           "evaluated, so every such flow is answered as if any account were allowed",
           "'Virtual network service endpoint policies for Azure Storage', https://"
           "learn.microsoft.com/azure/virtual-network/virtual-network-service-endpoint-"
           "policies-overview, 'Configuration'", subnet=True),
    Unread(_N + "loadbalancers", "properties", "inboundNatPools", _listed,
           "frontend ports of the pool are forwarded to virtual machine scale set instances "
           "(scale sets are not modelled): packets to those ports are answered without the "
           "pool",
           "'LoadBalancer.InboundNatPools', https://learn.microsoft.com/dotnet/api/microsoft."
           "azure.management.network.models.loadbalancer.inboundnatpools ('Inbound NAT pools "
           "are referenced from virtual machine scale sets')"),
    Unread(_N + "loadbalancers", "properties.loadBalancingRules[].properties",
           "loadDistribution", _not_default,
           "source IP affinity chooses the backend by a 2- or 3-tuple hash, not the 5-tuple "
           "hash the engine uses: another backend (NIC, NSG) may receive a flow",
           "'Configure the distribution mode for Azure Load Balancer', https://"
           "learn.microsoft.com/azure/load-balancer/load-balancer-distribution-mode, 'Source "
           "IP affinity mode'"),
    Unread(_N + "loadbalancers", "properties.frontendIPConfigurations[].properties",
           "gatewayLoadBalancer", _set,
           "traffic to this frontend is first sent through the chained Gateway Load Balancer's "
           "appliances (not modelled), which can drop or change it",
           "'Gateway Load Balancer', https://learn.microsoft.com/azure/load-balancer/"
           "gateway-overview, 'Chaining'"),
    Unread(_N + "loadbalancers", "properties.loadBalancingRules[].properties",
           "enableFloatingIP", _true,
           "with floating IP the backend receives the frontend's address as destination (no "
           "DNAT to its own address, guest loopback needed); the engine translates to the "
           "backend address, so the backend NSG matches another destination",
           "'Azure Load Balancer Floating IP configuration', https://learn.microsoft.com/"
           "azure/load-balancer/load-balancer-floating-ip, 'Floating IP'"),
    Unread(_N + "loadbalancers", "properties.loadBalancingRules[].properties",
           "idleTimeoutInMinutes", _not_four_minutes, _IDLE,
           "'Configure TCP reset and idle timeout for Azure Load Balancer', https://"
           "learn.microsoft.com/azure/load-balancer/load-balancer-tcp-idle-timeout"),
    Unread(_N + "loadbalancers", "properties.outboundRules[].properties",
           "idleTimeoutInMinutes", _not_four_minutes, _IDLE,
           "'Outbound rules Azure Load Balancer', https://learn.microsoft.com/azure/"
           "load-balancer/outbound-rules, 'Outbound flow idle timeout and TCP reset'"),
    Unread(_N + "loadbalancers", "properties.inboundNatRules[].properties",
           "idleTimeoutInMinutes", _not_four_minutes, _IDLE,
           "'Configure TCP reset and idle timeout for Azure Load Balancer', https://"
           "learn.microsoft.com/azure/load-balancer/load-balancer-tcp-idle-timeout"),
    Unread(_N + "publicipaddresses", "properties", "idleTimeoutInMinutes", _not_four_minutes,
           _IDLE,
           "'Public IP addresses', https://learn.microsoft.com/azure/virtual-network/"
           "ip-services/public-ip-addresses, 'SKU' (inbound originated flow idle timeout, "
           "4 to 30 minutes, default 4)"),
    Unread(_N + "natgateways", "properties", "idleTimeoutInMinutes", _not_four_minutes, _IDLE,
           "'Azure NAT Gateway resource', https://learn.microsoft.com/azure/nat-gateway/"
           "nat-gateway-resource, 'TCP idle timeout'"),
    Unread(_N + "networkinterfaces", "properties", "disableTcpStateTracking", _true,
           "the NIC's flows are not tracked: replies are evaluated by the NSG as new flows, "
           "where the engine lets a tracked flow's replies through",
           "'Network Interfaces - Create Or Update', https://learn.microsoft.com/rest/api/"
           "virtualnetwork/network-interfaces/create-or-update, 'Request Body' "
           "(disableTcpStateTracking)"),
    Unread(_N + "networkinterfaces", "properties.ipConfigurations[].properties",
           "gatewayLoadBalancer", _set,
           "traffic to and from this IP configuration's public IP is sent through the "
           "chained Gateway Load Balancer's appliances (not modelled)",
           "'Gateway Load Balancer', https://learn.microsoft.com/azure/load-balancer/"
           "gateway-overview, 'Chaining'"),
    Unread(_N + "virtualnetworks", "properties", "encryption", _drops_unencrypted,
           "with enforcement DropUnencrypted, traffic of VMs that do not support encryption "
           "is dropped; VM size support is not modelled, so such flows are answered as "
           "delivered",
           "'What is Azure Virtual Network encryption?', https://learn.microsoft.com/azure/"
           "virtual-network/virtual-network-encryption-overview, 'Requirements'"),
    Unread(_N + "virtualnetworks", "properties", "flowTimeoutInMinutes", _set, _IDLE,
           "'Virtual Networks - Create Or Update', https://learn.microsoft.com/rest/api/"
           "virtualnetwork/virtual-networks/create-or-update, 'Request Body' "
           "(flowTimeoutInMinutes)"),
    Unread(_N + "virtualnetworks", "properties.virtualNetworkPeerings[].properties",
           "peerCompleteVnets", _false,
           "subnet peering: only the listed local and remote subnets are peered; the engine "
           "peers the whole address spaces, so other subnets are answered as reachable",
           "'How to configure subnet peering', https://learn.microsoft.com/azure/"
           "virtual-network/how-to-configure-subnet-peering, 'Configure subnet peering'"),
    Unread(_N + "virtualnetworks", "properties.virtualNetworkPeerings[].properties",
           "enableOnlyIPv6Peering", _true,
           "only the IPv6 address spaces are peered; the engine peers the IPv4 ones too, so "
           "IPv4 flows across this peering are answered as reachable",
           "'Virtual Network Peerings - Create Or Update', https://learn.microsoft.com/rest/"
           "api/virtualnetwork/virtual-network-peerings/create-or-update, 'Request Body' "
           "(enableOnlyIPv6Peering)"),
    Unread(_N + "virtualnetworkgateways", "properties", "natRules", _listed,
           "the gateway translates addresses between the VNet and on-premises (static or "
           "dynamic NAT); the engine keeps the addresses, so routes and NSG matches can differ",
           "'About NAT on Azure VPN Gateway', https://learn.microsoft.com/azure/vpn-gateway/"
           "nat-overview"),
    Unread(_N + "virtualnetworkgateways", "properties", "gatewayDefaultSite", _set,
           "forced tunneling: the VNet's Internet-bound traffic goes to this on-premises site "
           "instead of the Internet (not modelled: it is answered as leaving for the Internet)",
           "'Configure forced tunneling using the Azure Resource Manager deployment model', "
           "https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-forced-tunneling-rm"),
    Unread(_N + "virtualnetworkgateways", "properties", "vpnClientConfiguration", _set,
           "point-to-site clients' address pool is reachable through the gateway (routes to "
           "it are not modelled: packets to those addresses find no route)",
           "'About Point-to-Site VPN', https://learn.microsoft.com/azure/vpn-gateway/"
           "point-to-site-about"),
    Unread(_N + "azurefirewalls", "properties", "virtualHub", _set,
           "a secured virtual hub's firewall: its private address (hubIPAddresses) and the "
           "hub's routing intent decide the paths, neither modelled",
           "'What is a secured virtual hub?', https://learn.microsoft.com/azure/"
           "firewall-manager/secured-virtual-hub"),
    Unread(_N + "connections", "properties", "ingressNatRules", _listed,
           "the connection's NAT rules translate on-premises addresses (not modelled)",
           "'About NAT on Azure VPN Gateway', https://learn.microsoft.com/azure/vpn-gateway/"
           "nat-overview"),
    Unread(_N + "connections", "properties", "egressNatRules", _listed,
           "the connection's NAT rules translate VNet addresses (not modelled)",
           "'About NAT on Azure VPN Gateway', https://learn.microsoft.com/azure/vpn-gateway/"
           "nat-overview"),
    Unread(_N + "connections", "properties", "usePolicyBasedTrafficSelectors", _true,
           "only the prefixes of the traffic selectors cross the tunnel; the engine sends "
           "every routed prefix",
           "'Connect a VPN gateway to multiple on-premises policy-based VPN devices', https://"
           "learn.microsoft.com/azure/vpn-gateway/vpn-gateway-connect-multiple-policybased-rm-ps"),
    Unread(_N + "connections", "properties", "trafficSelectorPolicies", _listed,
           "only the prefixes of the traffic selectors cross the tunnel; the engine sends "
           "every routed prefix",
           "'Configure custom IPsec/IKE connection policies for S2S VPN and VNet-to-VNet', "
           "https://learn.microsoft.com/azure/vpn-gateway/ipsec-ike-policy-howto"),
)


def unread_findings(resources: Iterable[dict[str, Any]], source: str = ""
                    ) -> list[tuple[str, str, str]]:
    """(PROPERTY_NOT_MODELLED, message, touched id) for every UNREAD property set so that it
    matters (module docstring)."""
    out = []
    for raw in resources:
        if not isinstance(raw, dict):
            continue
        kind = str(raw.get("type", "")).lower()
        for entry in (u for u in UNREAD if u.kind == kind):
            for where, obj, owner in objects_at(raw, entry.path.split(".")):
                value = next((v for k, v in obj.items() if str(k).lower() == entry.name.lower()),
                             None)
                if not entry.matters(value):
                    continue
                touched = str(raw.get("id", ""))
                if entry.subnet and isinstance(owner, dict):
                    touched = str(owner.get("id") or f"{touched}/subnets/{owner.get('name', '')}")
                out.append((PROPERTY_NOT_MODELLED, _message(raw, source, where, entry, value),
                            touched))
    return out


def _message(raw: dict[str, Any], source: str, where: str, entry: Unread, value: Any) -> str:
    file = str(raw.get("source") or source)
    shown = f"a list of {len(value)}" if isinstance(value, list) else repr(value)
    return (f"{file + ': ' if file else ''}resource '{raw.get('name', '?')}': property "
            f"'{f'{where}.' if where else ''}{entry.name}' ({shown}) is not modelled: {entry.what} ({entry.page})")
