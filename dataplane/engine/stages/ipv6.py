"""What the engine does not decide for IPv6 packets, named (issue 17) -- labels and assumptions.

Contract. IPv6 rows go through the source, platform, NSG, route, peering, NVA and delivery
stages like IPv4 rows (each stage's docstring says how), and through internal load
balancers' IPv6 frontends (stages/loadbalancer.py: rule match, hash, DNAT to the backend's
IPv6 address, un-DNAT of replies; the batch keeps translated IPv6 addresses as handles,
engine/address_handles.py), and through a dual-stack Azure Firewall's network rules
(stages/firewall.py `decide6`: Microsoft documents IPv6 on Azure Firewall as a preview, "Deploy
Azure Firewall in dual stack mode (preview)", https://learn.microsoft.com/azure/firewall/
deploy-dual-stack-firewall, "Supported scenarios and limitations": network rules and DNS
proxy; every answer crossing a dual-stack firewall carries caveat firewall-ipv6-preview).
What is not modelled ends IPV6_NOT_MODELLED with a label naming it, never a guessed verdict:
* an IPv6 TCP flow at the firewall that no network rule decides and an application rule's
  port names ("azure firewall NAME: IPv6 through application rules not modelled ...");
* an IPv6 packet addressed to a dual-stack firewall's own IPv6 address (where DNAT rules
  would apply; the page lists network rules and DNS proxy only): `firewall_own6_label`;
* (gateways: an ExpressRoute gateway whose GatewaySubnet has an IPv6 prefix carries IPv6 both
  ways, assumption `expressroute-ipv6`; VPN gateways and ExpressRoute gateways without one end
  IPv6 GATEWAY_IPV4_ONLY, as Microsoft documents: stages/gateway.py `ipv4_only_reason`.)
A firewall without an IPv6 address (IPv4 only) is no next hop for IPv6 routes
(NEXT_HOP_UNREACHABLE). IPv6 packets from the Internet: stages/public_edge6.py (instance public
IPv6 in and out, the IPv6 Internet rule) and stages/loadbalancer.py (public IPv6 frontends);
from other sources that are no emulated NIC they stay UNMAPPED with their own label.
Assumption `engine-ipv6` (ENGINE_IPV6_ASSUMPTION) is printed with results.
"""

from __future__ import annotations

ENGINE_IPV6_ASSUMPTION = (
    "engine-ipv6: IPv6 packets are decided by the source, platform (neighbour discovery: "
    "ipv6-nd-host), NSG, route, peering, NVA and delivery stages; IPv6 Internet egress needs "
    "a public IPv6 on the NIC or a public load balancer IPv6 frontend, which translates the "
    "source (ipv6-internet-egress); internal and public load balancers' IPv6 frontends "
    "balance to their backends' IPv6 addresses (lb-hash-ipv6); a dual-stack Azure Firewall "
    "(a preview) decides IPv6 by its network rules, without SNAT; IPv6 through its "
    "application rules ends IPV6_NOT_MODELLED; ExpressRoute gateways carry IPv6 "
    "(expressroute-ipv6), VPN gateways do not (GATEWAY_IPV4_ONLY); IPv6 ingress from the Internet "
    "reaches a NIC through its instance public IPv6 or a public load balancer's IPv6 frontend "
    "(DNAT, inbound NSG) or as the reply of a tracked flow, else UNMAPPED; "
    "IP fragments follow their first "
    "fragment (engine/fragments.py, fragment-* assumptions).")


def ipv6_label(what: str) -> str:
    return f"IPv6 through {what}: not modelled"


def firewall_own6_label(name: str) -> str:
    return f"azure firewall {name}: IPv6 to its own address (DNAT rules, preview) not modelled"


def firewall_own6(firewalls: tuple) -> dict[int, int]:
    """IPv6 private address -> firewall index of the dual-stack firewalls (model.AzureFirewall
    `private_ip_address6`)."""
    return {fw.private_ip_address6.value: i for i, fw in enumerate(firewalls)
            if fw.private_ip_address6 is not None}


__all__ = ["ENGINE_IPV6_ASSUMPTION", "firewall_own6", "firewall_own6_label", "ipv6_label"]
