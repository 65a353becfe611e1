"""The control plane's documented choices where Azure's documents are ambiguous or silent.

Takes nothing; emits `Assumption`s (key, text) that outputs list next to their answers and
docs/control-plane.md explains. Sources: docs/azure-behaviour.md sections 2, 3, 4, 7.
"""

from __future__ import annotations

from dataplane.model import Assumption

_TEXTS = {
    "virtualnetwork-udr-prefixes":
        "VirtualNetwork tag = VNet space + Connected peers whose link allows VNet access + "
        "on-premises prefixes via its gateway (or the hub's, in transit) + learned prefixes + "
        "the host's virtual IP 168.63.129.16 + every user-route prefix, 0.0.0.0/0 included, of "
        "the route table associated with the NIC's own subnet (other subnets' tables do not "
        "count). 'This tag might also contain default routes' (service-tags-overview) taken "
        "literally, per MicrosoftDocs/azure-docs#22178 and #124192 (user reports, 2019, 2024). "
        "Internet excludes the tag's specific prefixes but not a 0.0.0.0/0 (the tags overlap; "
        "rule order decides). A verdict that rests on a user-route prefix alone carries caveat "
        "virtualnetwork-tag-route-prefix (unconfirmed for a next hop other than "
        "VirtualAppliance).",
    "no-nsg-inbound-internet":
        "No NSG on the subnet nor the NIC allows the flow at the NSG layer (ip-flow-verify: "
        "Allow without ruleName, as Azure's IP flow verify checks NSG rules only); replay, explain "
        "and trace do apply a Standard public IP's closed-by-default inbound "
        "(engine/stages/public_edge.py) (2.4).",
    "vnet-access-tag-only":
        "allowVirtualNetworkAccess=false read as the 2022 peering page does (only the remote "
        "space leaves the local VNet's VirtualNetwork tag; peering routes stay and explicit NSG "
        "rules can still allow the traffic): VNET_DATAPLANE_PEERING_ACCESS=tag-only.",
    "vnet-access-blocks":
        "allowVirtualNetworkAccess=false on either link of a peering stops traffic between the "
        "two VNets, both ways, replies included (2018 peering page: 'traffic doesn't flow "
        "between the peered virtual networks'; REST spec; the 2022 page says it only changes "
        "the VirtualNetwork tag: VNET_DATAPLANE_PEERING_ACCESS=tag-only).",
    "udr-default-removes-none-routes":
        "A user route 0.0.0.0/0 to VirtualAppliance or VirtualNetworkGateway removes the None "
        "routes (10/8, 100.64/10, 172.16/12, 192.168/16), as in the UDR overview's routing "
        "example (3.4; doc-only).",
    "service-tag-prefixes":
        "Service tags other than VirtualNetwork/AzureLoadBalancer/Internet take their prefixes "
        "from Microsoft's file when given (--service-tags FILE, VNET_DATAPLANE_SERVICE_TAGS); "
        "otherwise from a small representative built-in set (regional forms share the global "
        "set), and answers that use such a tag name it in a caveat. The same sets are the "
        "service-endpoint routes; Azure Firewall network rules resolve tags the same way. A tag "
        "name Azure does not have is a check error (NSG) or warning (firewall rule).",
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
    "platform-routes":
        "Flows to the host's platform services (168.63.129.16 DNS/DHCP/WireServer, "
        "169.254.169.254 IMDS) are answered by the host: user routes do not carry them; NSGs "
        "judge them only when a rule names their service tag (control/hostservices.py).",
    "internet-tag-ipv6":
        "Internet tag, IPv6 part: the global unicast space 2000::/3 minus the VirtualNetwork "
        "tag's IPv6 prefixes (other than ::/0); unique-local fc00::/7, link-local fe80::/10, "
        "multicast and ::/8 are outside it, as RFC 1918 is for IPv4. Microsoft's "
        "service-tags-overview defines Internet without listing IPv6 ranges.",
    "azureloadbalancer-ipv6":
        "AzureLoadBalancer tag, IPv6 part: fe80::1234:5678:9abc/128, the source of IPv6 "
        "health probes seen on Azure hosts (cilium/cilium#25242); Microsoft's health-probe page "
        "names only 168.63.129.16.",
    "ip-flow-verify-ipv6":
        "Azure's IP flow verify accepts IPv4 addresses only (ip-flow-verify-overview); this "
        "answer for an IPv6 flow goes beyond it: the same NSG evaluation with the IPv6 parts "
        "of the tags (internet-tag-ipv6, azureloadbalancer-ipv6).",
    "next-hop-ipv6":
        "next-hop answers IPv6 from the NIC's IPv6 effective routes (::/0 Internet, the IPv6 "
        "address space VnetLocal, IPv6 user routes); Microsoft's next-hop overview does not say "
        "whether Azure's next hop takes IPv6 addresses.",
    "private-endpoint-route-scope":
        "A private endpoint's /32 InterfaceEndpoint route is in every subnet of its VNet and of "
        "the VNets directly peered (Connected) with it, not in a peer's peers nor behind a "
        "gateway (Microsoft names the /32 route but not its scope; field notes and peering's "
        "non-transitivity). A user route in the source subnet's table invalidates it only when "
        "the endpoint's subnet has privateEndpointNetworkPolicies Enabled or RouteTableEnabled "
        "and the route is at least as long as the endpoint VNet's address space "
        "(disable-private-endpoint-network-policy).",
    "stateful":
        "NSG verdicts are for new flows; return traffic of an allowed flow is allowed without "
        "rule evaluation (2.1).",
}

ASSUMPTIONS: dict[str, Assumption] = {k: Assumption(k, t) for k, t in _TEXTS.items()}


def texts(*keys: str) -> list[str]:
    """'key: text' lines for the given assumptions, for JSON and readable outputs."""
    return [f"{k}: {ASSUMPTIONS[k].text}" for k in keys]
