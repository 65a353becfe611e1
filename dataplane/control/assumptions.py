"""The control plane's documented choices where Azure's documents are ambiguous or silent.

Takes nothing; emits `Assumption`s (key, text) that outputs list next to their answers and
docs/control-plane.md explains. Sources: azure-semantics.md sections 2, 3, 4, 7.
"""

from __future__ import annotations

from dataplane.model import Assumption

_TEXTS = {
    "virtualnetwork-default-routes":
        "VirtualNetwork tag = VNet space + Connected peers whose link allows VNet access + "
        "on-premises prefixes via its gateway (or the hub's, in transit) + UDR prefixes of its "
        "subnets' route tables EXCEPT default routes (0.0.0.0/0); 'might also contain default "
        "routes' is not taken literally (2.3).",
    "no-nsg-inbound-internet":
        "No NSG on the subnet nor the NIC allows the flow at the NSG layer (ip-flow-verify: "
        "Allow without ruleName); the public IP SKU's own closed-by-default inbound is not "
        "modelled (2.4).",
    "vnet-access-tag-only":
        "allowVirtualNetworkAccess=false on a link only removes the remote space from the "
        "local VNet's VirtualNetwork tag; peering routes stay and explicit NSG rules can still "
        "allow the traffic (manage-peering 2022, 2.3).",
    "udr-default-removes-none-routes":
        "A user route 0.0.0.0/0 to VirtualAppliance or VirtualNetworkGateway removes the None "
        "routes (10/8, 100.64/10, 172.16/12, 192.168/16), as in the UDR overview's routing "
        "example (3.4; doc-only).",
    "service-tag-prefixes":
        "Service tags other than VirtualNetwork/AzureLoadBalancer/Internet and service-endpoint "
        "routes use a small representative prefix set per service, not Azure's published "
        "ServiceTags file; unknown tags match nothing.",
    "gateway-next-hop-ip":
        "VirtualNetworkGateway rows carry a next-hop address per ECMP member: an active-active "
        "VPN gateway's two instance (BGP) addresses, one row each; an active-standby VPN "
        "gateway's public (tunnel) address when the input has it (real dumps show the public "
        "address), else its BGP address (no public-address allocation exists yet); a Route "
        "Server's NVA addresses; an ExpressRoute gateway's next hops as the BGP sidecar gives "
        "them, else none (docs/bgp.md).",
    "gateway-instance-addresses":
        "Without bgpSettings in the input (templates), a gateway's BGP addresses are derived "
        "from its GatewaySubnet: the last usable address for active-standby (the VPN FAQ's "
        "10.12.255.30), the first two usable (.4, .5) for active-active and for a Route "
        "Server's RouteServerSubnet; dumps' bgpPeeringAddresses are used as given.",
    "bgp-best-path":
        "A gateway keeps static (local network gateway) prefixes before BGP ones, then the "
        "shortest AS path; equal paths are kept as ECMP; paths holding its own ASN are dropped. "
        "A VNet prefers ExpressRoute, then VPN, then Route Server (NVA) routes for one prefix "
        "(Route Server's default routing preference); weights and MED are not modelled.",
    "bgp-peer-host-routes":
        "The /32 route to each BGP peer's address (a local network gateway's "
        "bgpPeeringAddress over a BGP IPsec connection, a remote gateway's BGP addresses over "
        "VNet-to-VNet BGP) is programmed into the VNet like a learned route; the VPN FAQ says "
        "the gateway adds it 'internally' and real dumps show such rows (docs/bgp.md).",
    "vnet2vnet-bgp":
        "A VNet-to-VNet tunnel needs both connection resources; it runs BGP when both carry "
        "enableBgp and both gateways speak BGP (route-based, not Basic) with distinct ASNs; "
        "with equal ASNs it carries no routes; without BGP each side learns the other VNet's "
        "address space only.",
    "none-route-172-16":
        "The 172.16.0.0/12 None route is listed as Microsoft's udr-overview and REST example "
        "show it; many recent real dumps omit it and list 25.x None routes instead, which are "
        "not modelled (docs/bgp.md, R5).",
    "ip-flow-rule-name":
        "When both NSG levels allow, ip-flow-verify names the rule of the level evaluated "
        "last (the NIC's inbound, the subnet's outbound); a Deny names the denying rule (7.1).",
    "forwarded-traffic":
        "allowForwardedTraffic on link B->A decides whether traffic entering B from A that "
        "did not originate in A (forwarded by an NVA in A) is accepted (4.1 suggested "
        "semantics).",
    "ports-portless-protocols":
        "Ports apply to TCP and UDP only; an ICMP/ESP/AH flow matches a rule's ports only "
        "when the rule allows all ports (2.1).",
    "next-hop-peering-names":
        "next-hop reports peering next hops as VNetPeering / VNetGlobalPeering, the names "
        "effective routes use (7.2 lists VirtualNetworkPeering for newer API versions).",
    "equal-prefix-default-routes":
        "At an equal prefix among default routes: VnetLocal/peering > service endpoint > "
        "Internet/None; the loser stays listed as Invalid (3.1 adjustment generalised).",
    "program-ipv4":
        "The compiled Program has IPv4 and IPv6 route and rule tables; the packet pipeline "
        "runs IPv4 only (IPv6 packets end UNSUPPORTED).",
    "stateful":
        "NSG verdicts are for new flows; return traffic of an allowed flow is allowed without "
        "rule evaluation (2.1).",
}

ASSUMPTIONS: dict[str, Assumption] = {k: Assumption(k, t) for k, t in _TEXTS.items()}


def texts(*keys: str) -> list[str]:
    """'key: text' lines for the given assumptions, for JSON and readable outputs."""
    return [f"{k}: {ASSUMPTIONS[k].text}" for k in keys]
