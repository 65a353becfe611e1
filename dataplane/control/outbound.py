"""Outbound Internet connectivity of a NIC: which method translates its source, to which address.

Takes: a Topology and a NetworkInterface (its primary IP configuration decides). Emits an
`Outbound` (method, the resource and rule that provide it, the public addresses the source is
translated to, the lower-precedence methods it overrides, assumptions); `as_dict()` gives the
camelCase JSON of `dataplane next-hop` and `dataplane routes`.

Precedence, first present wins (Microsoft pages, cited where each is decided):
1. `NatGateway`: the subnet's NAT gateway ("Azure NAT Gateway resource",
   https://learn.microsoft.com/azure/nat-gateway/nat-gateway-resource, "NAT gateway and
   other outbound connectivity methods": "NAT gateway takes precedence over other outbound
   scenarios", over a load balancer and instance-level public IPs). IPv4 only ("What is Azure
   NAT Gateway?", nat-overview: a Standard NAT gateway has IPv4 public addresses only; a
   StandardV2 one's IPv6 addresses are control/outbound6.py's, and one with IPv6 addresses
   only gives no IPv4 method: assumption `nat-gateway-ipv6-only`, NAT_IPV6_ONLY).
2. `InstancePublicIP`: a public IP on the IP configuration ("Default outbound access in
   Azure", https://learn.microsoft.com/azure/virtual-network/ip-services/
   default-outbound-access: "Virtual machines with public IP addresses explicitly associated
   to them" have explicit outbound connectivity).
3. `LoadBalancerOutboundRule`: an outbound rule of a public load balancer whose backend pool
   holds the IP configuration, only without an instance public IP ("Outbound rules Azure Load
   Balancer", https://learn.microsoft.com/azure/load-balancer/outbound-rules: "Outbound rules
   will only be followed if the backend VM doesn't have an instance-level public IP address").
4. `LoadBalancerRule`: a load-balancing rule of a public load balancer on that pool without
   `disableOutboundSnat` uses its frontend for SNAT ("Source Network Address Translation (SNAT)
   for outbound connections", https://learn.microsoft.com/azure/load-balancer/
   load-balancer-outbound-connections, "Default port allocation": load-balancing rules'
   frontend IP, not recommended for production).
5. `DefaultOutboundAccess`: none of the above, and the subnet is not private; the address is
   Microsoft's and "subject to change" (default-outbound-access), so none is given. Having a
   public IP on any NIC of the VM removes it for the VM (same page, "How can I disable default
   outbound access?"); a VM whose only public IPs are IPv6 keeps it (assumption
   `default-outbound-ipv6-public-ip`, IPV6_PIP: Microsoft is silent on the mix; the IPv6
   method is control/outbound6.py's).
6. `None`: a private subnet (`defaultOutboundAccess: false`): no outbound Internet access.

`defaultOutboundAccess` absent: API versions before 2025-07-01 leave subnets non-private; from
2025-07-01 new VNets' subnets are private by default ("Default outbound access in Azure",
"FAQs: Default Behavior Change to Private Subnets"). A template or dump that leaves it out is
read as non-private (assumption `default-outbound-access-unset`): the loader does not keep the
API version, and existing VNets keep default outbound access.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dataplane.control.assumptions import ASSUMPTIONS
from dataplane.control.public_addresses import ALLOCATION, chosen_here, public_address
from dataplane.control.routes import EffectiveRoute
from dataplane.model import (
    Assumption,
    LoadBalancer,
    NatGateway,
    NetworkInterface,
    PrivateEndpoint,
    PublicIPAddress,
    Subnet,
    Topology,
    id_key,
)
from dataplane.net import IPAddress

NAT_GATEWAY, INSTANCE_PUBLIC_IP, LB_OUTBOUND_RULE, LB_RULE, DEFAULT_OUTBOUND, NONE = (
    "NatGateway", "InstancePublicIP", "LoadBalancerOutboundRule", "LoadBalancerRule",
    "DefaultOutboundAccess", "None")
UNSET = Assumption(
    "default-outbound-access-unset",
    "A subnet whose input does not set defaultOutboundAccess is read as non-private (default "
    "outbound access applies when nothing explicit does), as for subnets created before API "
    "version 2025-07-01; from that version new VNets' subnets are private by default "
    "('Default outbound access in Azure', learn.microsoft.com/azure/virtual-network/"
    "ip-services/default-outbound-access). Set defaultOutboundAccess to decide.")


IPV6_PIP = Assumption(
    "default-outbound-ipv6-public-ip",
    "A VM whose only public IPs are IPv6 keeps IPv4 default outbound access: an IPv6 address "
    "gives no IPv4 connectivity, and the default outbound access IP is IPv4 ('Default outbound "
    "access in Azure', learn.microsoft.com/azure/virtual-network/ip-services/"
    "default-outbound-access, 'How is default outbound access provided?'); Microsoft does not "
    "say whether an IPv6 public IP alone removes it (issue 17, control/outbound6.py for IPv6).")


NAT_IPV6_ONLY = Assumption(
    "nat-gateway-ipv6-only",
    "A NAT gateway with IPv6 public IPs or prefixes only (StandardV2: 'Azure NAT Gateway SKUs', "
    "learn.microsoft.com/azure/nat-gateway/nat-sku) is taken to give its subnets no IPv4 "
    "outbound: their IPv4 flows take the next method (instance public IP, load balancer, "
    "default outbound access); Microsoft does not say what such a gateway does with IPv4. "
    "Its IPv6 outbound is control/outbound6.py's.")


@dataclass(frozen=True)
class Outbound:
    """How a NIC reaches the Internet. `resource`: the NAT gateway, public IP or load balancer
    id providing it (None for default outbound access and none); `rule`: the outbound or
    load-balancing rule name; `public_addresses`: the translated source candidates (empty when
    unknown or none); `overrides`: lower-precedence methods also configured, as
    'Method resource-name'."""

    method: str
    resource: str | None = None
    rule: str = ""
    public_addresses: tuple[IPAddress, ...] = ()
    overrides: tuple[str, ...] = ()
    assumptions: tuple[Assumption, ...] = ()
    public_ips: tuple[str, ...] = ()  # the public IP resource ids behind public_addresses

    @property
    def reaches_internet(self) -> bool:
        return self.method != NONE

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"method": self.method}
        if self.resource:
            out["resourceId"] = self.resource
        if self.rule:
            out["rule"] = self.rule
        out["publicIpAddresses"] = [str(a) for a in self.public_addresses]
        if self.overrides:
            out["overrides"] = list(self.overrides)
        return out


def _addresses(topology: Topology, public_ips: tuple[str, ...], version: int = 4
               ) -> tuple[IPAddress, ...]:
    found = (public_address(topology, p) for p in public_ips)
    return tuple(a for a in found if a is not None and a.version == version)


def _public_lbs(topology: Topology, pools: set[str]) -> list[LoadBalancer]:
    return [lb for lb in topology.load_balancers if lb.public
            and any(id_key(p.id) in pools for p in lb.backend_address_pools)]


def lb_methods(topology: Topology, pools: set[str], version: int = 4) -> list[Outbound]:
    """Outbound rules, then load-balancing rules, of the public load balancers on `pools`;
    `public_addresses`: their frontends' public addresses of IP `version` (4 | 6)."""
    out: list[Outbound] = []
    for kind in (LB_OUTBOUND_RULE, LB_RULE):
        for lb in _public_lbs(topology, pools):
            frontends = {id_key(f.id): f for f in lb.frontend_ip_configurations}
            rules = (
                [(r.name, (r.backend_address_pool,), r.frontend_ip_configurations)
                 for r in lb.outbound_rules] if kind == LB_OUTBOUND_RULE else
                [(r.name, r.all_backend_address_pools, (r.frontend_ip_configuration,))
                 for r in lb.load_balancing_rules if not r.disable_outbound_snat])
            for name, rule_pools, frontend_ids in rules:
                if not any(id_key(p) in pools for p in rule_pools):
                    continue
                pips = tuple(frontends[id_key(f)].public_ip_address or "" for f in frontend_ids
                             if id_key(f) in frontends)
                out.append(Outbound(kind, lb.id, name, _addresses(topology, pips, version),
                                    public_ips=pips))
    return out


def outbound_access(topology: Topology, nic: NetworkInterface) -> Outbound:
    """The outbound method of the NIC's primary IP configuration (module docstring)."""
    configs = nic.ip_configurations
    config = next((c for c in configs if c.primary), configs[0])
    subnet = topology.get(config.subnet)
    candidates: list[Outbound] = []
    nat = topology.get(subnet.nat_gateway) if isinstance(subnet, Subnet) else None
    ipv6_only = isinstance(nat, NatGateway) and not (
        nat.public_ip_addresses or nat.public_ip_prefixes) and bool(
        nat.public_ip_addresses_v6 or nat.public_ip_prefixes_v6)
    if isinstance(nat, NatGateway) and not ipv6_only:
        candidates.append(Outbound(NAT_GATEWAY, nat.id, "",
                                   _addresses(topology, nat.public_ip_addresses),
                                   public_ips=nat.public_ip_addresses))
    pip = topology.get(config.public_ip_address)
    if isinstance(pip, PublicIPAddress):
        candidates.append(Outbound(INSTANCE_PUBLIC_IP, pip.id, "",
                                   _addresses(topology, (pip.id,)), public_ips=(pip.id,)))
    pools = {id_key(p) for p in config.load_balancer_backend_address_pools}
    lb_found = lb_methods(topology, pools)
    if not isinstance(pip, PublicIPAddress):
        candidates += lb_found
    assumptions: tuple[Assumption, ...] = (NAT_IPV6_ONLY,) if ipv6_only else ()
    if not candidates:
        vm = topology.vm_of_nic(nic)
        siblings = [topology.get(n) for n in vm.network_interfaces] if vm else [nic]
        pips = [pip for s in siblings if isinstance(s, NetworkInterface)
                for c in s.ip_configurations
                if isinstance(pip := topology.get(c.public_ip_address), PublicIPAddress)]
        vm_has_pip = any(p.public_ip_address_version != "IPv6" for p in pips)  # IPV6_PIP
        private = isinstance(subnet, Subnet) and subnet.default_outbound_access is False
        if isinstance(subnet, Subnet) and subnet.default_outbound_access is None:
            assumptions += (UNSET,)
        if pips and not vm_has_pip and not private:
            assumptions += (IPV6_PIP,)
        method = NONE if private or vm_has_pip else DEFAULT_OUTBOUND
        return Outbound(method, assumptions=assumptions)
    chosen = candidates[0]
    overridden = candidates[1:] + (lb_found if isinstance(pip, PublicIPAddress) else [])
    names = tuple(f"{o.method} {o.resource.rsplit('/', 1)[-1]}" + (f"/{o.rule}" if o.rule else "")
                  for o in overridden if o.resource)
    allocated = any(chosen_here(topology, p) for p in chosen.public_ips)
    return Outbound(chosen.method, chosen.resource, chosen.rule, chosen.public_addresses,
                    tuple(dict.fromkeys(names)),
                    assumptions + ((ALLOCATION,) if allocated else ()), chosen.public_ips)


def _lines(assumptions: Iterable[Assumption]) -> list[str]:
    return [f"{a.key}: {a.text}" for a in dict.fromkeys(assumptions)]


def edge_assumptions(routes: Iterable[EffectiveRoute], outbound: Outbound) -> list[str]:
    """'key: text' lines for a route listing: the outbound method's assumptions and, when a
    private endpoint row is listed, `private-endpoint-route-scope`."""
    scope = [ASSUMPTIONS["private-endpoint-route-scope"]] if any(
        r.private_endpoint for r in routes) else []
    return _lines([*outbound.assumptions, *scope])


IPV6_OUTBOUND_CAVEAT = (
    "IPv6 outbound is not modelled: the method shown is the IPv4 precedence; which IPv6 "
    "public addresses or load-balancer frontends give this NIC IPv6 Internet access is not "
    "evaluated (issue 17)")


def edge_next_hop(topology: Topology, nic: NetworkInterface, route: EffectiveRoute,
                  answer: dict[str, Any], outbound6: Outbound | None = None) -> dict[str, Any]:
    """`answer` (a next-hop dict) with `outbound` when the next hop is Internet, and
    `privateEndpoint` ({id, privateLinkServiceId, groupIds}) when it is InterfaceEndpoint;
    their assumptions appended. `outbound6`: the IPv6 method (control/outbound6.py) shown for
    an IPv6 route; without it an IPv6 answer carries IPV6_OUTBOUND_CAVEAT."""
    if route.next_hop_type == "Internet":
        six = route.address_prefix.version == 6
        outbound = outbound6 if six and outbound6 is not None else outbound_access(topology, nic)
        answer["outbound"] = outbound.as_dict()
        answer["assumptions"] = answer["assumptions"] + _lines(outbound.assumptions)
        if six and outbound6 is None:  # the precedence above is the IPv4 one
            answer["caveats"] = [*answer.get("caveats", []), IPV6_OUTBOUND_CAVEAT]
    endpoint = topology.get(route.private_endpoint)
    if isinstance(endpoint, PrivateEndpoint):
        first = (endpoint.private_link_service_connections or (None,))[0]
        answer["privateEndpoint"] = {
            "id": endpoint.id,
            "privateLinkServiceId": first.private_link_service_id if first else None,
            "groupIds": list(first.group_ids) if first else []}
        answer["assumptions"] = answer["assumptions"] + _lines(
            [ASSUMPTIONS["private-endpoint-route-scope"]])
    return answer
