"""The topology model: what the user configured in Azure, as frozen dataclasses.

Class names follow ARM resource types without `PropertiesFormat`; fields are the snake_case of
the ARM property names; enum values are verbatim ARM strings (`VirtualAppliance`, `Initiated`).
References between resources are full lower-cased-for-lookup resource ids (`ResourceId`), kept
with their original spelling for output. Addresses are `dataplane.net.Prefix`/`IPAddress`.

Nothing here parses strings from users (the loaders do) and nothing here knows about packets.
Changes (peering operations, address-space edits) build a new Topology: see control/peering.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from functools import cached_property

from dataplane.net import IPAddress, Prefix

# --- enums as ARM spells them -------------------------------------------------------------

PEERING_STATES = ("Initiated", "Connected", "Disconnected")
SYNC_LEVELS = ("FullyInSync", "RemoteNotInSync", "LocalNotInSync", "LocalAndRemoteNotInSync")
DIRECTIONS = ("Inbound", "Outbound")
ACCESSES = ("Allow", "Deny")
PROTOCOLS = ("Tcp", "Udp", "Icmp", "Esp", "Ah", "*")
USER_NEXT_HOP_TYPES = ("VirtualNetworkGateway", "VnetLocal", "Internet", "VirtualAppliance", "None")
ANY = "*"


def id_key(resource_id: str) -> str:
    """ARM ids compare case-insensitively; this is the lookup key."""
    return resource_id.lower()


def id_name(resource_id: str) -> str:
    """Last segment of a resource id (the resource's own name)."""
    return resource_id.rstrip("/").rsplit("/", 1)[-1]


def id_parts(resource_id: str) -> dict[str, str]:
    """subscription and resourceGroup of an id ('' when absent)."""
    segments = resource_id.strip("/").split("/")
    out = {"subscription": "", "resourceGroup": ""}
    for key, name in (("subscriptions", "subscription"), ("resourcegroups", "resourceGroup")):
        lowered = [s.lower() for s in segments]
        if key in lowered and lowered.index(key) + 1 < len(segments):
            out[name] = segments[lowered.index(key) + 1]
    return out


# --- security --------------------------------------------------------------------------------

@dataclass(frozen=True)
class PortRange:
    """Inclusive port range; `*` is 0-65535 (docs/azure-behaviour.md §2.1)."""

    low: int
    high: int

    def __str__(self) -> str:
        return str(self.low) if self.low == self.high else f"{self.low}-{self.high}"


ALL_PORTS = PortRange(0, 65535)

# An address match in a security rule: a Prefix, "*" (any), or a service tag name as written.
AddressMatch = Prefix | str


@dataclass(frozen=True)
class SecurityRule:
    """Microsoft.Network/networkSecurityGroups/securityRules (docs/azure-behaviour.md §2.1)."""

    name: str
    priority: int
    direction: str
    access: str
    protocol: str
    source_address_prefixes: tuple[AddressMatch, ...] = (ANY,)
    source_port_ranges: tuple[PortRange, ...] = (ALL_PORTS,)
    destination_address_prefixes: tuple[AddressMatch, ...] = (ANY,)
    destination_port_ranges: tuple[PortRange, ...] = (ALL_PORTS,)
    source_application_security_groups: tuple[str, ...] = ()
    destination_application_security_groups: tuple[str, ...] = ()
    description: str = ""
    is_default: bool = False


@dataclass(frozen=True)
class NetworkSecurityGroup:
    id: str
    name: str
    location: str
    security_rules: tuple[SecurityRule, ...] = ()
    flush_connection: bool = False


@dataclass(frozen=True)
class ApplicationSecurityGroup:
    id: str
    name: str
    location: str


# --- routing ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Route:
    """Microsoft.Network/routeTables/routes. address_prefix is a Prefix or a service tag."""

    name: str
    address_prefix: Prefix | str
    next_hop_type: str
    next_hop_ip_address: IPAddress | None = None


@dataclass(frozen=True)
class RouteTable:
    id: str
    name: str
    location: str
    routes: tuple[Route, ...] = ()
    disable_bgp_route_propagation: bool = False


# --- virtual networks --------------------------------------------------------------------------

@dataclass(frozen=True)
class Subnet:
    id: str
    name: str
    address_prefixes: tuple[Prefix, ...]
    network_security_group: str | None = None
    route_table: str | None = None
    service_endpoints: tuple[str, ...] = ()
    raw_address_prefixes: tuple[str, ...] = ()  # as written, for InvalidCIDRNotation findings
    nat_gateway: str | None = None  # a Microsoft.Network/natGateways id
    # Disabled | Enabled | NetworkSecurityGroupEnabled | RouteTableEnabled (ARM's default:
    # Disabled): whether NSGs and route tables apply to the private endpoints in the subnet.
    private_endpoint_network_policies: str = "Disabled"
    # None: not in the input (control/outbound.py decides and says so as an assumption).
    default_outbound_access: bool | None = None


@dataclass(frozen=True)
class VirtualNetworkPeering:
    """Microsoft.Network/virtualNetworks/virtualNetworkPeerings: one link, owned by its VNet.

    remote_address_space is the remote space this link has synced (what it routes to);
    the remote VNet's current space may be larger until a sync (docs/azure-behaviour.md §4.3).
    """

    id: str
    name: str
    virtual_network: str  # id of the owning (local) VNet
    remote_virtual_network: str
    allow_virtual_network_access: bool = True
    allow_forwarded_traffic: bool = False
    allow_gateway_transit: bool = False
    use_remote_gateways: bool = False
    peering_state: str = "Initiated"
    peering_sync_level: str = "FullyInSync"
    remote_address_space: tuple[Prefix, ...] = ()
    do_not_verify_remote_gateways: bool = False


@dataclass(frozen=True)
class VirtualNetwork:
    id: str
    name: str
    location: str
    address_space: tuple[Prefix, ...]
    subnets: tuple[Subnet, ...] = ()
    virtual_network_peerings: tuple[VirtualNetworkPeering, ...] = ()
    classic: bool = False  # deployment model: classic (ASM) vs Resource Manager
    raw_address_space: tuple[str, ...] = ()

    def subnet(self, name: str) -> Subnet | None:
        return next((s for s in self.subnets if s.name.lower() == name.lower()), None)


# --- compute and interfaces ------------------------------------------------------------------

@dataclass(frozen=True)
class IPConfiguration:
    name: str
    subnet: str
    private_ip_address: IPAddress | None
    private_ip_allocation_method: str = "Dynamic"
    primary: bool = True
    application_security_groups: tuple[str, ...] = ()
    load_balancer_backend_address_pools: tuple[str, ...] = ()
    public_ip_address: str | None = None
    private_ip_address_version: str = "IPv4"  # privateIPAddressVersion: IPv4 | IPv6


@dataclass(frozen=True)
class NetworkInterface:
    id: str
    name: str
    location: str
    ip_configurations: tuple[IPConfiguration, ...]
    network_security_group: str | None = None
    enable_ip_forwarding: bool = False
    enable_accelerated_networking: bool = False
    virtual_machine: str | None = None

    @property
    def primary_ip(self) -> IPAddress | None:
        primary = next((c for c in self.ip_configurations if c.primary), None)
        chosen = primary or (self.ip_configurations[0] if self.ip_configurations else None)
        return chosen.private_ip_address if chosen else None


@dataclass(frozen=True)
class VirtualMachine:
    id: str
    name: str
    location: str
    vm_size: str
    network_interfaces: tuple[str, ...] = ()
    egress_cap_bps: int | None = None  # explicit override of the size's bandwidth


# --- gateways ---------------------------------------------------------------------------------

AZURE_DEFAULT_ASN = 65515  # VPN gateways and Route Server (VPN FAQ, "BGP and routing")


@dataclass(frozen=True)
class IpConfigurationBgpPeeringAddress:
    """bgpSettings.bgpPeeringAddresses[i]: one gateway instance (its IP configuration).

    default_bgp_ip_addresses: the private address(es) Azure allocated in the GatewaySubnet;
    custom_bgp_ip_addresses: APIPA (169.254.x.x) addresses the user set for this instance;
    tunnel_ip_addresses: the instance's public address(es), when the input carries them."""

    ipconfiguration_id: str = ""
    default_bgp_ip_addresses: tuple[IPAddress, ...] = ()
    custom_bgp_ip_addresses: tuple[IPAddress, ...] = ()
    tunnel_ip_addresses: tuple[IPAddress, ...] = ()


@dataclass(frozen=True)
class BgpSettings:
    """bgpSettings of a virtual network gateway or a local network gateway."""

    asn: int = AZURE_DEFAULT_ASN
    bgp_peering_address: tuple[IPAddress, ...] = ()  # "a" or "a,b" (active-active)
    peer_weight: int = 0
    bgp_peering_addresses: tuple[IpConfigurationBgpPeeringAddress, ...] = ()


@dataclass(frozen=True)
class VirtualNetworkGateway:
    id: str
    name: str
    location: str
    gateway_type: str  # "Vpn" | "ExpressRoute"
    virtual_network: str  # id of the VNet whose GatewaySubnet holds it
    sku: str = "VpnGw1"
    vpn_type: str = "RouteBased"
    enable_bgp: bool = False
    active_active: bool = False
    bgp_settings: BgpSettings | None = None  # None: not in the input (ASN 65515 applies)
    ip_configurations: tuple[str, ...] = ()  # ipConfigurations[].name, in order


@dataclass(frozen=True)
class LocalNetworkGateway:
    id: str
    name: str
    location: str
    address_prefixes: tuple[Prefix, ...]  # localNetworkAddressSpace.addressPrefixes
    gateway_ip_address: str = ""
    bgp_peering_address: str = ""
    bgp_settings: BgpSettings | None = None


@dataclass(frozen=True)
class Connection:
    """Microsoft.Network/connections: IPsec (to a local gateway), Vnet2Vnet or ExpressRoute."""

    id: str
    name: str
    location: str
    connection_type: str
    virtual_network_gateway1: str
    virtual_network_gateway2: str | None = None
    local_network_gateway2: str | None = None
    enable_bgp: bool = False
    peer: str | None = None  # ExpressRoute: the circuit (peer.id)


# --- Route Server (and, later, Virtual WAN hubs) -------------------------------------------------

@dataclass(frozen=True)
class BgpConnection:
    """Microsoft.Network/virtualHubs/bgpConnections: a BGP peer (an NVA) of the hub's router."""

    id: str
    name: str
    peer_ip: IPAddress | None
    peer_asn: int


@dataclass(frozen=True)
class VirtualHub:
    """Microsoft.Network/virtualHubs. With an IP configuration in a VNet's RouteServerSubnet
    and no `virtualWan` it is an Azure Route Server; with `virtual_wan` set it is a Virtual WAN
    hub (not modelled yet: control/validate.py reports it). One class for both."""

    id: str
    name: str
    location: str
    subnet: str | None = None  # ipConfigurations[0].subnet (RouteServerSubnet)
    virtual_wan: str | None = None
    allow_branch_to_branch_traffic: bool = False
    virtual_router_asn: int = AZURE_DEFAULT_ASN
    virtual_router_ips: tuple[IPAddress, ...] = ()
    bgp_connections: tuple[BgpConnection, ...] = ()

    @property
    def virtual_network(self) -> str | None:
        return self.subnet.rsplit("/subnets/", 1)[0] if self.subnet else None


@dataclass(frozen=True)
class BgpAdvertisement:
    """Routes a BGP peer outside ARM's view advertises (the BGP sidecar, docs/bgp-sidecar.md):
    `peer` names a bgpConnection, a local network gateway, an ExpressRoute connection or
    circuit (name or id) or a peer IP; `as_path` is the path as received (peer's ASN first
    when empty: filled by control/bgp.py); `next_hop` overrides the peer's address."""

    peer: str
    prefixes: tuple[Prefix, ...]
    as_path: tuple[int, ...] = ()
    next_hop: IPAddress | None = None
    source: str = ""


# --- load balancers and firewalls --------------------------------------------------------------

@dataclass(frozen=True)
class FrontendIPConfiguration:
    id: str
    name: str
    private_ip_address: IPAddress | None
    subnet: str | None = None
    public_ip_address: str | None = None
    private_ip_address_version: str = "IPv4"  # IPv4 | IPv6 (ARM's default: IPv4)


@dataclass(frozen=True)
class BackendAddressPool:
    """`load_balancer_backend_addresses`: an IP-based pool's members as (virtual network or
    subnet id, private IP) pairs (load/backend_addresses.py joins them to NIC ip
    configurations); a NIC-based pool has none (its NICs name it)."""

    id: str
    name: str
    load_balancer_backend_addresses: tuple[tuple[str, IPAddress], ...] = ()


@dataclass(frozen=True)
class LoadBalancingRule:
    """protocol 'All' with ports 0 is an HA-ports rule."""

    name: str
    frontend_ip_configuration: str
    backend_address_pool: str
    protocol: str  # Tcp | Udp | All
    frontend_port: int
    backend_port: int
    probe: str | None = None
    enable_floating_ip: bool = False
    disable_outbound_snat: bool = False
    # `backendAddressPools` (a list; newer API versions write it instead of, or beside, the
    # singular): the rule balances over the union ("LoadBalancingRuleProperties.
    # BackendAddressPools": "An array of references to pool of DIPs", https://learn.microsoft.
    # com/dotnet/api/azure.resourcemanager.network.models.loadbalancingruleproperties.
    # backendaddresspools)
    backend_address_pools: tuple[str, ...] = ()

    @property
    def all_backend_address_pools(self) -> tuple[str, ...]:
        """The singular pool and the plural ones, each once, the singular first."""
        return tuple(dict.fromkeys(
            p for p in (self.backend_address_pool, *self.backend_address_pools) if p))


@dataclass(frozen=True)
class InboundNatRule:
    """loadBalancers/inboundNatRules: frontend port -> one backend ip configuration's port
    (`backend_ip_configuration`, a NIC ipConfiguration id), or, in the pool form, a frontend
    port range spread over a backend pool (`backend_address_pool`)."""

    name: str
    frontend_ip_configuration: str
    protocol: str  # Tcp | Udp | All
    frontend_port: int
    backend_port: int
    backend_ip_configuration: str | None = None
    backend_address_pool: str | None = None
    frontend_port_range_start: int = 0
    frontend_port_range_end: int = 0


@dataclass(frozen=True)
class OutboundRule:
    """loadBalancers/outboundRules: SNAT of a backend pool to the frontends' public IPs."""

    name: str
    frontend_ip_configurations: tuple[str, ...]
    backend_address_pool: str
    protocol: str = "All"  # Tcp | Udp | All
    allocated_outbound_ports: int = 0  # 0: Azure's default allocation


@dataclass(frozen=True)
class LoadBalancer:
    id: str
    name: str
    location: str
    sku: str  # Basic | Standard
    frontend_ip_configurations: tuple[FrontendIPConfiguration, ...] = ()
    backend_address_pools: tuple[BackendAddressPool, ...] = ()
    load_balancing_rules: tuple[LoadBalancingRule, ...] = ()
    inbound_nat_rules: tuple[InboundNatRule, ...] = ()
    outbound_rules: tuple[OutboundRule, ...] = ()

    @property
    def public(self) -> bool:
        """A public load balancer: a frontend with a public IP (else internal)."""
        return any(f.public_ip_address for f in self.frontend_ip_configurations)


# --- the public edge and Private Link -------------------------------------------------------

@dataclass(frozen=True)
class PublicIPAddress:
    """Microsoft.Network/publicIPAddresses. `ip_address` is the address when the input carries
    it (az dumps, exports); a template's is allocated at deployment, so None here and
    control/public_addresses.py assigns one (a named assumption)."""

    id: str
    name: str
    location: str
    sku: str = "Basic"  # Basic | Standard (ARM's default when sku is absent: Basic)
    public_ip_address_version: str = "IPv4"  # IPv4 | IPv6
    public_ip_allocation_method: str = "Dynamic"  # Static | Dynamic
    ip_address: IPAddress | None = None
    public_ip_prefix: str | None = None


@dataclass(frozen=True)
class NatGateway:
    """Microsoft.Network/natGateways: outbound SNAT for the subnets that name it."""

    id: str
    name: str
    location: str
    sku: str = "Standard"
    public_ip_addresses: tuple[str, ...] = ()
    public_ip_prefixes: tuple[str, ...] = ()
    idle_timeout_in_minutes: int = 4
    # StandardV2's IPv6 public IPs and prefixes (control/outbound6.py)
    public_ip_addresses_v6: tuple[str, ...] = ()
    public_ip_prefixes_v6: tuple[str, ...] = ()


@dataclass(frozen=True)
class PrivateLinkServiceConnection:
    """privateLinkServiceConnections[] / manualPrivateLinkServiceConnections[] of an endpoint:
    the target resource (a PaaS resource or a privateLinkServices id) and its sub-resources."""

    name: str
    private_link_service_id: str
    group_ids: tuple[str, ...] = ()
    manual: bool = False


@dataclass(frozen=True)
class PrivateEndpoint:
    """Microsoft.Network/privateEndpoints: a NIC Azure creates in `subnet` with
    `private_ip_addresses` (from the input, or allocated by the loader: assumption
    `private-endpoint-address`), reaching the targets of its connections."""

    id: str
    name: str
    location: str
    subnet: str
    private_ip_addresses: tuple[IPAddress, ...] = ()
    network_interfaces: tuple[str, ...] = ()
    private_link_service_connections: tuple[PrivateLinkServiceConnection, ...] = ()

    @property
    def target(self) -> str:
        """The private link service (or PaaS resource) id, with its group ids: for answers."""
        if not self.private_link_service_connections:
            return ""
        first = self.private_link_service_connections[0]
        groups = f" ({', '.join(first.group_ids)})" if first.group_ids else ""
        return first.private_link_service_id + groups


@dataclass(frozen=True)
class FirewallNetworkRule:
    name: str
    protocols: tuple[str, ...]  # TCP | UDP | ICMP | Any
    source_addresses: tuple[AddressMatch, ...]
    destination_addresses: tuple[AddressMatch, ...]
    destination_ports: tuple[PortRange, ...]
    source_ip_groups: tuple[str, ...] = ()  # ipGroups resource ids
    destination_ip_groups: tuple[str, ...] = ()
    destination_fqdns: tuple[str, ...] = ()  # resolved by the firewall's DNS proxy


@dataclass(frozen=True)
class FirewallNatRule:
    """A classic DNAT rule (natRuleCollections): kept so answers can name it."""

    name: str
    protocols: tuple[str, ...]
    source_addresses: tuple[AddressMatch, ...]
    destination_addresses: tuple[str, ...]  # the firewall's public IP addresses, as written
    destination_ports: tuple[str, ...]
    translated_address: str | None
    translated_port: str | None
    source_ip_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class FirewallApplicationRule:
    """A classic application rule (applicationRuleCollections): kept so answers can name it."""

    name: str
    source_addresses: tuple[AddressMatch, ...]
    protocols: tuple[str, ...]  # "Http:80", "Https:443", "Mssql:1433"
    target_fqdns: tuple[str, ...] = ()
    fqdn_tags: tuple[str, ...] = ()
    source_ip_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class FirewallNatRuleCollection:
    name: str
    priority: int
    action: str  # Dnat | Snat
    rules: tuple[FirewallNatRule, ...] = ()


@dataclass(frozen=True)
class FirewallApplicationRuleCollection:
    name: str
    priority: int
    action: str  # Allow | Deny
    rules: tuple[FirewallApplicationRule, ...] = ()


@dataclass(frozen=True)
class IpGroup:
    """Microsoft.Network/ipGroups: a named set of addresses used by firewall rules."""

    id: str
    name: str
    location: str
    ip_addresses: tuple[Prefix, ...] = ()


@dataclass(frozen=True)
class FirewallRuleCollection:
    name: str
    priority: int
    action: str  # Allow | Deny
    rules: tuple[FirewallNetworkRule, ...] = ()


@dataclass(frozen=True)
class AzureFirewall:
    """An Azure Firewall, modelled as an NVA with network rule collections."""

    id: str
    name: str
    location: str
    subnet: str | None  # the AzureFirewallSubnet
    private_ip_address: IPAddress | None
    network_rule_collections: tuple[FirewallRuleCollection, ...] = ()
    threat_intel_mode: str = "Alert"
    # the IPv6 privateIPAddress of a dual-stack firewall's ip configurations (preview), or None
    private_ip_address6: IPAddress | None = None
    nat_rule_collections: tuple[FirewallNatRuleCollection, ...] = ()
    application_rule_collections: tuple[FirewallApplicationRuleCollection, ...] = ()
    firewall_policy: str | None = None  # a Microsoft.Network/firewallPolicies id
    sku_tier: str | None = None  # properties.sku.tier; None: not in the input
    public_ip_addresses: tuple[str, ...] = ()  # ipConfigurations[].publicIPAddress ids, in order
    # additionalProperties["Network.SNAT.PrivateRanges"] split at commas; (): not set
    snat_private_ranges: tuple[str, ...] = ()
    min_capacity: int | None = None  # properties.autoscaleConfiguration.minCapacity; None: unset
    # additionalProperties["Network.DNS.EnableProxy"] == "true" (classic rules' DNS proxy)
    dns_proxy_enabled: bool = False
    management_ip_configuration: bool = False  # properties.managementIpConfiguration set


# --- Firewall Policy (Microsoft.Network/firewallPolicies) -----------------------

@dataclass(frozen=True)
class ApplicationProtocol:
    protocol_type: str  # Http | Https | Mssql
    port: int


@dataclass(frozen=True)
class FirewallPolicyRule:
    """One rule of a policy rule collection: `rule_type` NetworkRule | ApplicationRule |
    NatRule, fields named after the ARM properties (unused ones empty)."""

    name: str
    rule_type: str
    ip_protocols: tuple[str, ...] = ()  # TCP | UDP | ICMP | Any
    source_addresses: tuple[AddressMatch, ...] = ()
    source_ip_groups: tuple[str, ...] = ()
    destination_addresses: tuple[AddressMatch, ...] = ()
    destination_ip_groups: tuple[str, ...] = ()
    destination_fqdns: tuple[str, ...] = ()
    destination_ports: tuple[PortRange, ...] = ()
    target_fqdns: tuple[str, ...] = ()
    fqdn_tags: tuple[str, ...] = ()
    web_categories: tuple[str, ...] = ()
    protocols: tuple[ApplicationProtocol, ...] = ()
    target_urls: tuple[str, ...] = ()  # Premium URL filtering (ApplicationRule targetUrls)
    terminate_tls: bool = False  # Premium TLS inspection (ApplicationRule terminateTLS)
    translated_address: str = ""
    translated_port: str = ""
    translated_fqdn: str = ""
    unresolved: tuple[str, ...] = ()  # values known only at deployment time, as written


@dataclass(frozen=True)
class FirewallPolicyRuleCollection:
    """`collection_type` Filter (action Allow | Deny) or Nat (action Dnat)."""

    name: str
    priority: int
    collection_type: str
    action: str
    rules: tuple[FirewallPolicyRule, ...] = ()


@dataclass(frozen=True)
class FirewallPolicyRuleCollectionGroup:
    name: str
    priority: int
    rule_collections: tuple[FirewallPolicyRuleCollection, ...] = ()


@dataclass(frozen=True)
class FirewallPolicy:
    id: str
    name: str
    location: str
    rule_collection_groups: tuple[FirewallPolicyRuleCollectionGroup, ...] = ()
    base_policy: str | None = None
    threat_intel_mode: str = "Alert"
    sku_tier: str = "Standard"
    dns_proxy_enabled: bool = False
    sku_tier_given: bool = False  # properties.sku.tier present in the input
    intrusion_detection_mode: str | None = None  # properties.intrusionDetection.mode
    tls_inspection: bool = False  # properties.transportSecurity.certificateAuthority set
    snat_private_ranges: tuple[str, ...] = ()  # properties.snat.privateRanges; (): not set
    snat_auto_learn: str | None = None  # properties.snat.autoLearnPrivateRanges; None: not set
    source: str = ""  # the input file (and entry) declaring it, for errors (policy_chain)


# --- access control --------------------------------------------------------------------------

@dataclass(frozen=True)
class RoleAssignment:
    """A principal's role at a scope (a resource id prefix). Roles: built-in names or custom."""

    principal: str
    role: str
    scope: str
    actions: tuple[str, ...] = ()  # for custom roles: the permitted actions


@dataclass(frozen=True)
class UnknownResource:
    """A resource of a type the emulator does not model: kept and reported, never a crash."""

    type: str
    name: str
    id: str
    source: str = ""
    # ids of the modelled resources it is connected to: control/caveats.py, load/related.py
    related: tuple[str, ...] = ()


@dataclass(frozen=True)
class Assumption:
    """A documented choice where Azure is ambiguous; shown in outputs."""

    key: str
    text: str


@dataclass(frozen=True)
class ServiceTagSet:
    """Service tag prefixes read from Microsoft's published file (ServiceTags_Public_*.json or
    `az network list-service-tags`): `tags` holds (name as published, prefixes) pairs."""

    source: str
    change_number: str
    cloud: str
    tags: tuple[tuple[str, tuple[Prefix, ...]], ...] = ()


# --- the topology ----------------------------------------------------------------------------

_COLLECTIONS = (
    "virtual_networks", "network_security_groups", "application_security_groups",
    "route_tables", "network_interfaces", "virtual_machines", "virtual_network_gateways",
    "local_network_gateways", "connections", "load_balancers", "azure_firewalls",
    "firewall_policies", "ip_groups",
    "virtual_hubs", "public_ip_addresses", "nat_gateways", "private_endpoints",
)


@dataclass(frozen=True)
class Topology:
    """Everything the user configured. Immutable: operations return a new Topology."""

    virtual_networks: tuple[VirtualNetwork, ...] = ()
    network_security_groups: tuple[NetworkSecurityGroup, ...] = ()
    application_security_groups: tuple[ApplicationSecurityGroup, ...] = ()
    route_tables: tuple[RouteTable, ...] = ()
    network_interfaces: tuple[NetworkInterface, ...] = ()
    virtual_machines: tuple[VirtualMachine, ...] = ()
    virtual_network_gateways: tuple[VirtualNetworkGateway, ...] = ()
    local_network_gateways: tuple[LocalNetworkGateway, ...] = ()
    connections: tuple[Connection, ...] = ()
    load_balancers: tuple[LoadBalancer, ...] = ()
    azure_firewalls: tuple[AzureFirewall, ...] = ()
    firewall_policies: tuple[FirewallPolicy, ...] = ()
    ip_groups: tuple[IpGroup, ...] = ()
    virtual_hubs: tuple[VirtualHub, ...] = ()
    public_ip_addresses: tuple[PublicIPAddress, ...] = ()
    nat_gateways: tuple[NatGateway, ...] = ()
    private_endpoints: tuple[PrivateEndpoint, ...] = ()
    # Routes BGP peers advertise that ARM does not hold (the BGP sidecar).
    bgp_advertisements: tuple[BgpAdvertisement, ...] = ()
    role_assignments: tuple[RoleAssignment, ...] = ()
    unknown_resources: tuple[UnknownResource, ...] = ()
    sources: tuple[str, ...] = field(default=(), compare=False)
    # Findings the loaders made on the way (dangling refs, bad CIDRs), as (code, message, id).
    load_findings: tuple[tuple[str, str, str], ...] = field(default=(), compare=False)
    # Choices made where Azure's behaviour is ambiguous or a value had to be derived.
    assumptions: tuple[Assumption, ...] = field(default=(), compare=False)
    # Microsoft's service-tag file given by the user (control/servicetags.py); None: built-in.
    service_tags: ServiceTagSet | None = None

    # -- lookups (cached: the topology is immutable) --

    @cached_property
    def _by_id(self) -> dict[str, object]:
        index: dict[str, object] = {}
        for name in _COLLECTIONS:
            for item in getattr(self, name):
                index[id_key(item.id)] = item
        for vnet in self.virtual_networks:
            for subnet in vnet.subnets:
                index[id_key(subnet.id)] = subnet
            for link in vnet.virtual_network_peerings:
                index[id_key(link.id)] = link
        return index

    def get(self, resource_id: str | None) -> object | None:
        return None if resource_id is None else self._by_id.get(id_key(resource_id))

    def resources(self) -> Iterator[object]:
        for name in _COLLECTIONS:
            yield from getattr(self, name)

    @cached_property
    def _subnet_vnet(self) -> dict[str, VirtualNetwork]:
        return {id_key(s.id): v for v in self.virtual_networks for s in v.subnets}

    def vnet_of_subnet(self, subnet_id: str) -> VirtualNetwork | None:
        return self._subnet_vnet.get(id_key(subnet_id))

    def find(self, collection: str, name_or_id: str) -> object | None:
        """A resource of `collection` by full id or by name as written (case-insensitive)."""
        items = getattr(self, collection)
        key = name_or_id.lower()
        by_id = [i for i in items if i.id.lower() == key]
        if by_id:
            return by_id[0]
        by_name = [i for i in items if i.name.lower() == key]
        return by_name[0] if len(by_name) == 1 else None

    def vnet(self, name_or_id: str) -> VirtualNetwork | None:
        return self.find("virtual_networks", name_or_id)  # type: ignore[return-value]

    def peerings(self) -> Iterator[VirtualNetworkPeering]:
        for vnet in self.virtual_networks:
            yield from vnet.virtual_network_peerings

    def gateways_of(self, vnet_id: str) -> tuple[VirtualNetworkGateway, ...]:
        key = id_key(vnet_id)
        return tuple(g for g in self.virtual_network_gateways if id_key(g.virtual_network) == key)

    def nics_in_subnet(self, subnet_id: str) -> tuple[NetworkInterface, ...]:
        key = id_key(subnet_id)
        return tuple(n for n in self.network_interfaces
                     if any(id_key(c.subnet) == key for c in n.ip_configurations))

    def vm_of_nic(self, nic: NetworkInterface) -> VirtualMachine | None:
        for vm in self.virtual_machines:
            if any(id_key(n) == id_key(nic.id) for n in vm.network_interfaces):
                return vm
        return self.get(nic.virtual_machine) if nic.virtual_machine else None  # type: ignore[return-value]

    def with_vnet(self, vnet: VirtualNetwork) -> Topology:
        """A new topology with `vnet` replacing the VNet of the same id (or added)."""
        key = id_key(vnet.id)
        others = [v for v in self.virtual_networks if id_key(v.id) != key]
        if len(others) == len(self.virtual_networks):
            return replace(self, virtual_networks=(*self.virtual_networks, vnet))
        return replace(self, virtual_networks=tuple(
            vnet if id_key(v.id) == key else v for v in self.virtual_networks))

    def merged(self, other: Topology) -> Topology:
        """Union of two topologies (several dump files); later ids replace earlier ones."""
        values = {}
        for f in fields(self):
            if f.name in ("sources", "load_findings", "assumptions"):
                values[f.name] = getattr(self, f.name) + getattr(other, f.name)
                continue
            combined: dict[str, object] = {}
            for item in (*getattr(self, f.name), *getattr(other, f.name)):
                combined[id_key(getattr(item, "id", "") or repr(item))] = item
            values[f.name] = tuple(combined.values())
        return Topology(**values)
