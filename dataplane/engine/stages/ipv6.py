"""What the engine does not decide for IPv6 packets, named (issue 17) -- labels and assumptions.

Contract. IPv6 rows go through the source, platform, NSG, route, peering, NVA and delivery
stages like IPv4 rows (each stage's docstring says how), and through internal load
balancers' IPv6 frontends (stages/loadbalancer.py: rule match, hash, DNAT to the backend's
IPv6 address, un-DNAT of replies; the batch keeps translated IPv6 addresses as handles,
engine/address_handles.py). Two parts are compiled for IPv4 only; an IPv6 packet that reaches
one ends IPV6_NOT_MODELLED with a label naming it, never a guessed verdict:
* Azure Firewall: Microsoft documents IPv6 on Azure Firewall as a preview (dual-stack, network
  rules and DNS proxy; DNAT and application rules IPv4 only) -- "Azure Firewall IPv6 support
  (preview)", https://learn.microsoft.com/azure/firewall/ipv6-support. The firewall stage's
  rule tables are IPv4: every IPv6 packet at a firewall ends here, labelled
  "azure firewall NAME: IPv6 (preview) not modelled";
* a VirtualNetworkGateway route for an IPv6 destination (stages/gateway.py is IPv4).
IPv6 packets from sources that are no emulated NIC (on-premises, the Internet) stay UNMAPPED
with their own label. Assumption `engine-ipv6` (ENGINE_IPV6_ASSUMPTION) is printed with
results.
"""

from __future__ import annotations

from typing import Any

ENGINE_IPV6_ASSUMPTION = (
    "engine-ipv6: IPv6 packets are decided by the source, platform (neighbour discovery: "
    "ipv6-nd-host), NSG, route, peering, NVA and delivery stages; IPv6 Internet egress leaves "
    "with its private source (ipv6-internet-egress); internal load balancers' IPv6 frontends "
    "balance to their backends' IPv6 addresses (lb-hash-ipv6); Azure Firewall (IPv6 is a "
    "preview) and gateways end IPV6_NOT_MODELLED; IPv6 ingress from outside the "
    "VNets is UNMAPPED; non-first IP fragments are UNSUPPORTED (not reassembled).")


def ipv6_label(what: str) -> str:
    return f"IPv6 through {what}: not modelled"


def firewall_ipv6_label(net: Any, node: int) -> str:
    return f"azure firewall {net.node_names[node]}: IPv6 (preview) not modelled"


__all__ = ["ENGINE_IPV6_ASSUMPTION", "firewall_ipv6_label", "ipv6_label"]
