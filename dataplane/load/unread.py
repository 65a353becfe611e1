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
a subnet property (a property below `properties.subnets[i]`), an entry's own `touch` where it
has one (a private endpoint's ASGs: its VNet, and only when an NSG rule names them), else the
top-level resource. A VNet's `dhcpOptions.dnsServers` touches the answers that reach its DNS
host service only (control/caveats.py remaps it: `dns_service_ids`).
Modelled elsewhere, not listed: a load-balancing rule's `backendAddressPools` (the union of its
pools, load/resources.py), a NAT gateway's `publicIpAddressesV6` / `publicIpPrefixesV6`
(control/outbound6.py), a subnet's `privateEndpointNetworkPolicies` (route tables:
control/routes.py; its NSG is named on the endpoint's answers: engine/stages/public_edge.py),
a Firewall Policy's `threatIntelMode` Deny (caveat `firewall-threat-intel` on the firewall's
hops, control/firewall_rules.py).
Read and judged unable to change a verdict, not listed (each with Microsoft's page):
* `threatIntelWhitelist` of a firewall (`additionalProperties` ThreatIntel.Whitelist.*) or a
  Firewall Policy: it only exempts addresses and FQDNs from threat intelligence ("You can
  define allowlists so threat intelligence doesn't filter traffic to any of the listed FQDNs,
  IP addresses, ranges, or subnets": "Azure Firewall threat intelligence-based filtering",
  https://learn.microsoft.com/azure/firewall/threat-intel); the model filters nothing by
  threat intelligence, so an allowlist cannot make an answer wrong (threatIntelMode Deny is
  caveated, below);
* a subnet's `privateLinkServiceNetworkPolicies`: it only lets a private link service take
  its NAT addresses in the subnet ("Disable network policies for Private Link service source
  IP", https://learn.microsoft.com/azure/private-link/disable-private-link-service-network-policy);
  private link services are unmodelled resources, caveated as such (control/caveats.py);
* a VPN gateway's `enableBgpRouteTranslationForNat`: it translates the BGP routes of the
  gateway's `natRules` ("About NAT on Azure VPN Gateway", https://learn.microsoft.com/azure/
  vpn-gateway/nat-overview), so it acts only where `natRules` is set, which is caveated;
* a VPN gateway's `enablePrivateIpAddress`: the tunnel's outer addresses become the gateway's
  private ones (site-to-site over ExpressRoute private peering, "Configure a Site-to-Site VPN
  connection over ExpressRoute private peering", https://learn.microsoft.com/azure/
  vpn-gateway/site-to-site-vpn-private-peering); the tunnel's underlay is not emulated and
  the packets inside it meet the same routes and rules. (An Application Gateway is an
  unmodelled resource as a whole: control/caveats.py IMPACT.)
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


def _deny(value: Any) -> bool:
    return str(value).lower() == "deny"


def _regional(endpoint: Any) -> bool:
    """A service endpoint whose `locations` is not ["*"]: absent (Azure fills in the VNet's
    region, and its paired region for Storage) or a list of regions."""
    locations = endpoint.get("locations") if isinstance(endpoint, dict) else None
    return not (isinstance(locations, list) and "*" in locations)


def _regional_endpoints(value: Any) -> bool:
    return _listed(value) and any(_regional(e) for e in value)


def _region_note(raw: dict[str, Any], where: str, value: Any, resources: list[dict[str, Any]]
                 ) -> tuple[str, str] | None:
    """The subnet, and which of its endpoints cover which regions ('Microsoft.Storage,
    Microsoft.Sql in the VNet's region; Microsoft.Web in westeurope')."""
    del resources
    scopes: dict[str, list[str]] = {}
    for e in value:
        if not _regional(e):
            continue
        service = str(e.get("service", "?")) if isinstance(e, dict) else str(e)
        locations = e.get("locations") if isinstance(e, dict) else None
        scope = ", ".join(map(str, locations)) if locations else "the VNet's region"
        scopes.setdefault(scope, []).append(service)
    shown = "; ".join(f"{', '.join(services)} in {scope}" for scope, services in scopes.items())
    return _subnet_id(raw, where) or str(raw.get("id", "")), shown


def _classic_threat_intel(raw: dict[str, Any], where: str, value: Any,
                          resources: list[dict[str, Any]]) -> tuple[str, str] | None:
    """The firewall, when no Firewall Policy governs it: a firewall with a policy takes its
    threat-intelligence mode from the policy ("Azure Firewall Policy rule sets" /
    "Azure Firewall Manager policy overview",
    https://learn.microsoft.com/azure/firewall-manager/policy-overview: the policy holds
    "threat intelligence" settings), whose own Deny mode is named by control/firewall_rules.py;
    the firewall's property would name it a second time."""
    del where, value, resources
    props = raw.get("properties") if isinstance(raw.get("properties"), dict) else raw
    policy = props.get("firewallPolicy") if isinstance(props, dict) else None
    if isinstance(policy, dict) and policy.get("id"):
        return None
    return str(raw.get("id", "")), ""


def _custom_dns(value: Any) -> bool:
    """dnsServers naming a server other than Azure DNS (168.63.129.16)."""
    return _listed(value) and any(str(v).strip() != "168.63.129.16" for v in value)


def _asg_ids(value: Any) -> set[str]:
    return {str(a.get("id", "")).lower() for a in value if isinstance(a, dict)} \
        if isinstance(value, list) else set()


def _rules_naming(resources: list[dict[str, Any]], asgs: set[str]) -> list[str]:
    """'NSG/rule' for every security rule (of the NSGs among `resources`) naming one of `asgs`."""
    out = []
    for raw in resources:
        if str(raw.get("type", "")).lower() != _N + "networksecuritygroups":
            continue
        for _where, rule, _owner in objects_at(raw, ["properties", "securityRules[]"]):
            inner = rule.get("properties") if isinstance(rule.get("properties"), dict) else rule
            named = {str(a.get("id", "")).lower() for key in (
                "sourceApplicationSecurityGroups", "destinationApplicationSecurityGroups")
                for a in (inner.get(key) or []) if isinstance(a, dict)}
            if named & asgs:
                out.append(f"{raw.get('name', '?')}/{rule.get('name', '?')}")
    return out


def _endpoint_asgs(raw: dict[str, Any], where: str, value: Any,
                   resources: list[dict[str, Any]]) -> tuple[str, str] | None:
    """A private endpoint's ASGs matter only when an NSG rule names one of them (no rule reads
    them otherwise); they then touch the endpoint's VNet: an ASG's members lie in one VNet
    ("Application security groups", https://learn.microsoft.com/azure/virtual-network/
    application-security-groups, "Constraints"), so the NICs whose NSGs can name them do too
    (assumption: a rule in a peered VNet's NSG naming them is not covered)."""
    del where
    rules = _rules_naming(resources, _asg_ids(value))
    if not rules:
        return None
    props = raw.get("properties") if isinstance(raw.get("properties"), dict) else raw
    subnet = props.get("subnet") if isinstance(props, dict) else None
    subnet_id = str(subnet.get("id", "")) if isinstance(subnet, dict) else ""
    vnet = subnet_id.rsplit("/subnets/", 1)[0] if "/subnets/" in subnet_id else ""
    return (vnet or str(raw.get("id", ""))), f"named by NSG rules {', '.join(rules)}"


@dataclass(frozen=True)
class Unread:
    """One property: at `path` below a resource of type `kind` (near_misses.py's path syntax,
    `properties` standing for ARM's nesting or az's flattening), property `name`; `matters`
    says whether its value changes a verdict; `subnet`: the caveat touches the subnet, else the
    top-level resource; `what`: what it changes and why the model does not; `page`:
    Microsoft's page (title, URL, section). `touch(raw, where, value, resources)`, where
    given, decides instead of `subnet`: None (the value changes no verdict in this input) or
    (touched id, a note the message shows)."""

    kind: str
    path: str
    name: str
    matters: Callable[[Any], bool]
    what: str
    page: str
    subnet: bool = False
    touch: Callable[[dict[str, Any], str, Any, list[dict[str, Any]]],
                    tuple[str, str] | None] | None = None


_N = "microsoft.network/"
_IDLE = ("the engine's connection table forgets a flow after 4 minutes idle (assumption "
         "conntrack-idle); with this timeout Azure keeps (or drops) the flow's state for "
         "another length, so replies after the idle time can get another verdict")
UNREAD: tuple[Unread, ...] = (
    Unread(_N + "virtualnetworks", "properties.subnets[].properties", "serviceEndpoints",
           _regional_endpoints,
           "an endpoint's route covers the service's addresses in its `locations` only (absent:"
           " the VNet's region, and its paired region for Storage; '*': every region); the "
           "engine gives every region's addresses of the service the "
           "VirtualNetworkServiceEndpoint route, where Azure sends the other regions' by the "
           "Internet route (a user route to an appliance or firewall then applies to them)",
           "'Virtual Network service endpoints', https://learn.microsoft.com/azure/"
           "virtual-network/virtual-network-service-endpoints-overview, 'Configuration' "
           "('By default, service endpoints are configured to the virtual network's region')",
           touch=_region_note),
    Unread(_N + "virtualnetworks", "properties.subnets[].properties", "delegations", _listed,
           "the subnet is delegated to an Azure service that can add its own network intent "
           "policies (NSG rules, routes) to the subnet; those are not in the input, so answers "
           "for the subnet are given without them",
           "'What is subnet delegation?', https://learn.microsoft.com/azure/virtual-network/"
           "subnet-delegation-overview (the service may 'add to the service a set of Network "
           "Intent Policies')", subnet=True),
    Unread(_N + "virtualnetworks", "properties.dhcpOptions", "dnsServers", _custom_dns,
           "VMs in this VNet are given these DNS servers by DHCP and send their queries there, "
           "not to Azure DNS (168.63.129.16); a query to 168.63.129.16 is still answered by the "
           "host, but whether the VMs resolve names depends on the path to these servers",
           "'Create, change, or delete a virtual network', https://learn.microsoft.com/azure/"
           "virtual-network/manage-virtual-network, 'Change DNS servers'"),
    Unread(_N + "azurefirewalls", "properties", "threatIntelMode", _deny,
           "threat intelligence in Alert and deny mode drops flows to and from known-malicious "
           "addresses and FQDNs before any NAT, network or application rule; the feed is not "
           "known offline, so every flow is answered by the rules alone",
           "'Azure Firewall threat intelligence-based filtering', https://learn.microsoft.com/"
           "azure/firewall/threat-intel ('the firewall processes the associated rules before "
           "any of the NAT rules, network rules, or application rules')",
           touch=_classic_threat_intel),
    Unread(_N + "privateendpoints", "properties", "applicationSecurityGroups", _listed,
           "the endpoint's address is a member of these ASGs, so NSG rules naming them match "
           "it; the engine's ASG members are NICs' IP configurations only, so those rules do "
           "not match the endpoint",
           "'Configure an application security group with a private endpoint', https://"
           "learn.microsoft.com/azure/private-link/configure-asg-private-endpoint",
           touch=_endpoint_asgs),
    Unread(_N + "connections", "properties", "connectionMode", _not_default,
           "InitiatorOnly: Azure must start the IKE connection; ResponderOnly: the on-premises "
           "device must; with a peer set the same way the tunnel never comes up, where the "
           "engine takes the connection as carrying traffic",
           "'About VPN Gateway configuration settings', https://learn.microsoft.com/azure/"
           "vpn-gateway/vpn-gateway-about-vpn-gateway-settings, 'Connection modes'"),
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
    resources = [r for r in resources if isinstance(r, dict)]
    out = []
    for raw in resources:
        kind = str(raw.get("type", "")).lower()
        for entry in (u for u in UNREAD if u.kind == kind):
            for where, obj, _owner in objects_at(raw, entry.path.split(".")):
                value = next((v for k, v in obj.items() if str(k).lower() == entry.name.lower()),
                             None)
                if not entry.matters(value):
                    continue
                touched, note = str(raw.get("id", "")), ""
                if entry.touch is not None:
                    found = entry.touch(raw, where, value, resources)
                    if found is None:
                        continue
                    touched, note = found
                elif entry.subnet:
                    touched = _subnet_id(raw, where) or touched
                out.append((PROPERTY_NOT_MODELLED,
                            _message(raw, source, where, entry, value, note), touched))
    return out


def _subnet_id(raw: dict[str, Any], where: str) -> str:
    """The id of the subnet `where` ('properties.subnets[2]...') lies in, '' if none."""
    _, found, rest = where.partition("subnets[")
    if not found:
        return ""
    index = int(rest.split("]", 1)[0])
    holder = raw.get("properties") if isinstance(raw.get("properties"), dict) else raw
    subnets = next((v for k, v in holder.items() if str(k).lower() == "subnets"), None)
    subnet = subnets[index] if isinstance(subnets, list) and index < len(subnets) else {}
    if not isinstance(subnet, dict):
        return ""
    return str(subnet.get("id") or f"{raw.get('id', '')}/subnets/{subnet.get('name', '')}")


def _message(raw: dict[str, Any], source: str, where: str, entry: Unread, value: Any,
             note: str = "") -> str:
    file = str(raw.get("source") or source)
    shown = (f"a list of {len(value)}" if isinstance(value, list)
             else "absent: Azure's default" if value is None else repr(value))
    return (f"{file + ': ' if file else ''}resource '{raw.get('name', '?')}': property "
            f"'{f'{where}.' if where else ''}{entry.name}' ({shown}{'; ' + note if note else ''})"
            f" is not modelled: {entry.what} ({entry.page})")
