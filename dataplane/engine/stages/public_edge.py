"""Stage: the public edge -- packets that reach a private endpoint (reference and batch forms).

Contract. Takes a packet whose Active route (stages/route.py) has next hop type
InterfaceEndpoint (control/routes.py: a private endpoint's /32 in its VNet and directly peered
VNets). Ends it with Disposition.PRIVATE_ENDPOINT, deciding label `endpoint_label`: the
endpoint and the private link resource it reaches (privateLinkServiceId and groupIds), as
"What is a private endpoint?" (https://learn.microsoft.com/azure/private-link/
private-endpoint-overview, "Private endpoint properties") describes the connection. What the
service then does (its own firewall, the service's answer) is outside the virtual network and
not emulated; name resolution (private DNS zones) is out of scope: the packet's destination
address is taken as written.
Network security groups: with privateEndpointNetworkPolicies Disabled (the default) the
endpoint's subnet NSG does not apply to it ("Manage network policies for private endpoints",
https://learn.microsoft.com/azure/private-link/disable-private-endpoint-network-policy). When
the policy is enabled for NSGs and the subnet has one, that NSG is not evaluated here yet: the
label says so (a named caveat on every such packet).
Reference form `reach` (one packet, a hop dict for explain); batch form `reach_np` (the
packets of one hop whose next hop code is NH_ENDPOINT). Peering checks on the way to an
endpoint in a peered VNet are the caller's (the same as for any peered destination).
Not yet here (issue 14, engine part): inbound DNAT from the Internet to public IPs, outbound
SNAT to the method of control/outbound.py; until then control/caveats.py names it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dataplane.control.routes import EffectiveRoute
from dataplane.model import PrivateEndpoint, Subnet, Topology

NSG_POLICIES = ("Enabled", "NetworkSecurityGroupEnabled")


def endpoint_label(topology: Topology, route: EffectiveRoute) -> str:
    """'private endpoint NAME -> TARGET (groupIds)' for a route with `private_endpoint` set,
    plus the NSG caveat when the endpoint's subnet applies an NSG the engine does not
    evaluate here."""
    endpoint = topology.get(route.private_endpoint)
    if not isinstance(endpoint, PrivateEndpoint):
        return f"route System {route.address_prefix} InterfaceEndpoint"
    text = f"private endpoint {endpoint.name} -> {endpoint.target or 'no connection'}"
    subnet = topology.get(endpoint.subnet)
    if (isinstance(subnet, Subnet) and subnet.network_security_group
            and subnet.private_endpoint_network_policies in NSG_POLICIES):
        text += (f" (caveat: NSG {subnet.network_security_group.rsplit('/', 1)[-1]} of its "
                 "subnet applies to the endpoint and is not evaluated)")
    return text


# -- reference form --------------------------------------------------------------------------
def reach(route: EffectiveRoute, label: str) -> dict[str, Any]:
    """The explain hop of a packet handed to a private endpoint."""
    return {"step": "private-endpoint", "at": route.private_endpoint,
            "result": "PrivateEndpoint", "privateLinkService": label}


# -- batch form ------------------------------------------------------------------------------
def reach_np(end: Callable[[np.ndarray, Any, np.ndarray], None], disposition: Any,
             idx: np.ndarray, rid: np.ndarray, route_label: np.ndarray) -> None:
    """End packets `idx` (at routes `rid`) with `disposition` and their endpoint labels."""
    if idx.size:
        end(idx, disposition, route_label[rid])


__all__ = ["endpoint_label", "reach", "reach_np"]
