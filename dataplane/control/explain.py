"""One flow walked hop by hop through the control plane, the way Azure's hosts handle it.

Takes: a Topology, the source NIC, a destination address, an IP protocol number and optional
ports. Emits: a plain dict {"flow", "hops": [...], "disposition": Delivered | LeftNetwork |
Dropped, "reason", "assumptions"}; each hop names the rule or route that decided.
Order (DESIGN.md pipeline; azure-semantics.md 2.4 FAQ "outbound NSG, then UDR"): outbound NSG
(NIC then subnet) -> route (longest prefix match, routes.py) -> peering checks (4.1, 4.2: link
pair Connected; allowForwardedTraffic on the receiving side for traffic that did not originate
in the sending VNet; allowVirtualNetworkAccess only shapes the VirtualNetwork tag) -> NVA (an
IP-forwarding NIC or an Azure Firewall at the next-hop IP forwards with its own subnet's
routes; its NSGs apply; hop limit 8 and loop detection) -> gateway (on-premises prefixes of
the gateway's connections) -> inbound NSG at the destination (subnet then NIC).
Drop reasons: NsgDenied, NextHopNone, NoNicAtDestination, PeeringNotConnected,
ForwardedTrafficNotAllowed, NextHopUnreachable, IpForwardingDisabled, FirewallDenied,
NoGateway, InternetRoutePrivateDestination, RoutingLoop, HopLimitExceeded.
"""

from __future__ import annotations

from typing import Any

from dataplane.control.assumptions import texts
from dataplane.control.nsg import ANY_PROTOCOL, Flow, RuleCompiler, evaluate, protocol_number
from dataplane.control.routes import (
    EffectiveRoute,
    effective_routes,
    gateway_prefixes,
    lookup,
    nic_subnet,
    reverse_link,
)
from dataplane.control.tags import NOT_INTERNET
from dataplane.model import (
    AzureFirewall,
    Connection,
    LocalNetworkGateway,
    NetworkInterface,
    Subnet,
    Topology,
    VirtualNetwork,
    VirtualNetworkGateway,
    VirtualNetworkPeering,
    id_key,
)
from dataplane.net import IPAddress, Prefix

MAX_HOPS = 8
EPHEMERAL_PORT = 49152
DEFAULT_PORT = 80
_PROTOCOL_NAMES = {6: "Tcp", 17: "Udp", 1: "Icmp", 50: "Esp", 51: "Ah"}


class _Walk:
    def __init__(self, topology: Topology, flow: Flow) -> None:
        self.topology = topology
        self.flow = flow
        self.rules = RuleCompiler(topology)
        self.hops: list[dict[str, Any]] = []
        # Addresses are unique per VNet, not across VNets (overlapping spokes): key by VNet.
        self.ip_owner: dict[tuple[str, int, int], NetworkInterface] = {}
        for nic in topology.network_interfaces:
            for config in nic.ip_configurations:
                vnet = topology.vnet_of_subnet(config.subnet)
                if config.private_ip_address is not None and vnet is not None:
                    ip = config.private_ip_address
                    self.ip_owner[(id_key(vnet.id), ip.version, ip.value)] = nic

    # -- helpers --
    def owner(self, address: IPAddress, vnet_id: str | None) -> NetworkInterface | None:
        return self.ip_owner.get((id_key(vnet_id or ""), address.version, address.value))

    def appliance_owner(self, address: IPAddress, vnet: VirtualNetwork
                        ) -> NetworkInterface | None:
        """The NIC at an NVA address: in this VNet first, then in a peered VNet."""
        for vnet_id in (vnet.id, *(lk.remote_virtual_network
                                   for lk in vnet.virtual_network_peerings)):
            found = self.owner(address, vnet_id)
            if found is not None:
                return found
        return None

    def vnet_of(self, subnet: Subnet) -> VirtualNetwork:
        vnet = self.topology.vnet_of_subnet(subnet.id)
        assert vnet is not None
        return vnet

    def nsg(self, nic: NetworkInterface, direction: str) -> bool:
        verdict = evaluate(self.rules.nic_security(nic), direction, self.flow)
        self.hops.append({
            "step": f"nsg-{direction.lower()}", "at": nic.name, "access": verdict.access,
            "rule": verdict.rule_name,
            "levels": [{"level": d.level, "nsg": d.nsg.rsplit("/", 1)[-1] if d.nsg else None,
                        "access": d.access, "rule": d.rule} for d in verdict.levels]})
        return verdict.access == "Allow"

    def crossing(self, from_vnet: VirtualNetwork, to_vnet: VirtualNetwork,
                 link: VirtualNetworkPeering | None) -> str | None:
        """Peering checks for traffic leaving `from_vnet` into `to_vnet`; a drop reason or None."""
        if id_key(from_vnet.id) == id_key(to_vnet.id):
            return None
        if link is None:
            link = next((lk for lk in from_vnet.virtual_network_peerings
                         if id_key(lk.remote_virtual_network) == id_key(to_vnet.id)), None)
        back = reverse_link(self.topology, link) if link else None
        hop: dict[str, Any] = {"step": "peering", "from": from_vnet.name, "to": to_vnet.name,
                               "link": link.name if link else None,
                               "remoteLink": back.name if back else None}
        self.hops.append(hop)
        if link is None or back is None or link.peering_state != "Connected" \
                or back.peering_state != "Connected":
            hop["result"] = "PeeringNotConnected"
            return "PeeringNotConnected"
        originated = any(p.contains_address(self.flow.source) for p in from_vnet.address_space)
        hop["forwarded"] = not originated
        if not originated and not back.allow_forwarded_traffic:
            hop["result"] = "ForwardedTrafficNotAllowed"
            return "ForwardedTrafficNotAllowed"
        if not link.allow_virtual_network_access:
            hop["note"] = ("allowVirtualNetworkAccess=false: only the VirtualNetwork tag "
                           "changes (vnet-access-tag-only)")
        hop["result"] = "Allowed"
        return None

    def deliver(self, target: NetworkInterface) -> tuple[str, str]:
        if not self.nsg(target, "Inbound"):
            return "Dropped", "NsgDenied"
        self.hops.append({"step": "deliver", "at": target.name,
                          "vm": (self.topology.vm_of_nic(target).name
                                 if self.topology.vm_of_nic(target) else None)})
        return "Delivered", f"delivered to {target.name}"

    def firewall_allows(self, firewall: AzureFirewall) -> tuple[bool, str]:
        """Network rule collections by priority, first matching rule; default deny."""
        flow = self.flow
        for collection in sorted(firewall.network_rule_collections, key=lambda c: c.priority):
            for rule in collection.rules:
                protocols = {protocol_number(p) if p.lower() != "any" else ANY_PROTOCOL
                             for p in rule.protocols}
                if ANY_PROTOCOL not in protocols and flow.protocol not in protocols:
                    continue
                if not _address_in(rule.source_addresses, flow.source):
                    continue
                if not _address_in(rule.destination_addresses, flow.destination):
                    continue
                if flow.protocol in (6, 17) and not any(
                        r.low <= flow.destination_port <= r.high for r in rule.destination_ports):
                    continue
                return collection.action == "Allow", f"{collection.name}/{rule.name}"
        return False, "default deny (no network rule matched)"

    # -- the walk --
    def run(self, source: NetworkInterface) -> tuple[str, str]:
        if not self.nsg(source, "Outbound"):
            return "Dropped", "NsgDenied"
        subnet = nic_subnet(self.topology, source)
        visited: set[str] = set()
        for _ in range(MAX_HOPS):
            vnet = self.vnet_of(subnet)
            route = lookup(effective_routes(self.topology, subnet), self.flow.destination)
            self.hops.append(_route_hop(subnet, vnet, route))
            if route is None or route.next_hop_type == "None":
                return "Dropped", "NextHopNone"
            kind = route.next_hop_type
            if kind == "Internet":
                if any(p.contains_address(self.flow.destination) for p in NOT_INTERNET):
                    return "Dropped", "InternetRoutePrivateDestination"
                return "LeftNetwork", "to the Internet"
            if kind == "VirtualNetworkServiceEndpoint":
                return "LeftNetwork", "to an Azure service over its service endpoint"
            if kind == "VirtualNetworkGateway":
                return self.gateway(route, vnet)
            if kind in ("VnetLocal", "VNetPeering", "VNetGlobalPeering"):
                target_vnet_id = vnet.id if kind == "VnetLocal" else route.remote_vnet
                target = self.owner(self.flow.destination, target_vnet_id)
                if target is None:
                    return "Dropped", "NoNicAtDestination"
                target_vnet = self.vnet_of(nic_subnet(self.topology, target))
                link = self.topology.get(route.peering) if route.peering else None
                reason = self.crossing(vnet, target_vnet, link if isinstance(
                    link, VirtualNetworkPeering) else None)
                if reason:
                    return "Dropped", reason
                return self.deliver(target)
            if kind == "VirtualAppliance":
                outcome = self.appliance(route, vnet, visited)
                if isinstance(outcome, tuple):
                    return outcome
                subnet = outcome
                continue
            return "Dropped", f"unsupported next hop {kind}"
        return "Dropped", "HopLimitExceeded"

    def appliance(self, route: EffectiveRoute, vnet: VirtualNetwork,
                  visited: set[str]) -> Subnet | tuple[str, str]:
        if not route.next_hop_ip:
            return "Dropped", "NextHopUnreachable"
        address = route.next_hop_ip[0]
        nic = self.appliance_owner(address, vnet)
        firewall = next((f for f in self.topology.azure_firewalls
                         if f.private_ip_address == address), None)
        if nic is None and firewall is None:
            self.hops.append({"step": "appliance", "ip": str(address), "result": "no NIC or "
                              "firewall has this address"})
            return "Dropped", "NextHopUnreachable"
        name = nic.name if nic else firewall.name  # type: ignore[union-attr]
        key = id_key(nic.id if nic else firewall.id)  # type: ignore[union-attr]
        subnet = (nic_subnet(self.topology, nic) if nic
                  else self.topology.get(firewall.subnet))  # type: ignore[union-attr]
        if not isinstance(subnet, Subnet):
            return "Dropped", "NextHopUnreachable"
        reason = self.crossing(vnet, self.vnet_of(subnet), None)
        if reason:
            return "Dropped", reason
        hop: dict[str, Any] = {"step": "appliance", "ip": str(address), "at": name,
                               "kind": "NetworkInterface" if nic else "AzureFirewall"}
        if key in visited:
            self.hops.append({**hop, "result": "RoutingLoop"})
            return "Dropped", "RoutingLoop"
        visited.add(key)
        if nic is not None:
            if not self.nsg(nic, "Inbound"):
                return "Dropped", "NsgDenied"
            if not nic.enable_ip_forwarding:
                self.hops.append({**hop, "result": "IpForwardingDisabled"})
                return "Dropped", "IpForwardingDisabled"
            self.hops.append({**hop, "result": "Forwarded"})
            if not self.nsg(nic, "Outbound"):
                return "Dropped", "NsgDenied"
        else:
            allowed, rule = self.firewall_allows(firewall)  # type: ignore[arg-type]
            self.hops.append({**hop, "rule": rule,
                              "result": "Forwarded" if allowed else "FirewallDenied"})
            if not allowed:
                return "Dropped", "FirewallDenied"
        return subnet

    def gateway(self, route: EffectiveRoute, vnet: VirtualNetwork) -> tuple[str, str]:
        gateway = self.topology.get(route.gateway) if route.gateway else None
        if not isinstance(gateway, VirtualNetworkGateway):
            self.hops.append({"step": "gateway", "result": "NoGateway"})
            return "Dropped", "NoGateway"
        hop: dict[str, Any] = {"step": "gateway", "gateway": gateway.name,
                               "transit": route.transit_link is not None}
        self.hops.append(hop)
        for conn in self.topology.connections:
            if id_key(gateway.id) not in (id_key(conn.virtual_network_gateway1),
                                          id_key(conn.virtual_network_gateway2 or "")):
                continue
            site = self.topology.get(conn.local_network_gateway2) \
                if conn.local_network_gateway2 else None
            if isinstance(site, LocalNetworkGateway) and any(
                    p.contains_address(self.flow.destination) for p in site.address_prefixes):
                hop.update(connection=conn.name, localNetworkGateway=site.name)
                return "LeftNetwork", f"to on-premises '{site.name}' over '{conn.name}'"
            other_vnet = _vnet2vnet_target(self.topology, conn, gateway, self.flow)
            if site is None and other_vnet is not None:
                target = self.owner(self.flow.destination, other_vnet.id)
                hop.update(connection=conn.name)
                if target is None:
                    return "Dropped", "NoNicAtDestination"
                return self.deliver(target)
        if gateway_prefixes(self.topology, gateway):
            hop["note"] = "no connection of this gateway covers the destination"
        return "LeftNetwork", f"through gateway '{gateway.name}' (no site prefix matched)"


def _vnet2vnet_target(topology: Topology, conn: Connection, gateway: VirtualNetworkGateway,
                      flow: Flow) -> VirtualNetwork | None:
    other = conn.virtual_network_gateway2 if id_key(conn.virtual_network_gateway1) == \
        id_key(gateway.id) else conn.virtual_network_gateway1
    other_gw = topology.get(other)
    vnet = topology.get(other_gw.virtual_network) if isinstance(
        other_gw, VirtualNetworkGateway) else None
    if isinstance(vnet, VirtualNetwork) and any(
            p.contains_address(flow.destination) for p in vnet.address_space):
        return vnet
    return None


def _address_in(matches: tuple, address: IPAddress) -> bool:
    return any(m == "*" or (isinstance(m, Prefix) and m.contains_address(address))
               for m in matches)


def _route_hop(subnet: Subnet, vnet: VirtualNetwork, route: EffectiveRoute | None
               ) -> dict[str, Any]:
    if route is None:
        return {"step": "route", "at": f"{vnet.name}/{subnet.name}", "nextHopType": "None",
                "addressPrefix": None}
    return {"step": "route", "at": f"{vnet.name}/{subnet.name}",
            "addressPrefix": str(route.address_prefix), "source": route.source,
            "nextHopType": route.next_hop_type,
            "nextHopIpAddress": str(route.next_hop_ip[0]) if route.next_hop_ip else None,
            "routeTableId": route.route_table_id if route.source == "User" else "System Route",
            "routeName": route.route_name or None}


def walk(topology: Topology, source: NetworkInterface, destination: IPAddress, protocol: int,
         destination_port: int | None = None, source_port: int | None = None) -> dict[str, Any]:
    """Walk one new flow from `source` (its primary address) to `destination`."""
    ported = protocol in (6, 17)
    dport = destination_port if destination_port is not None else (DEFAULT_PORT if ported else 0)
    sport = source_port if source_port is not None else (EPHEMERAL_PORT if ported else 0)
    src_ip = source.primary_ip
    if src_ip is None:
        raise ValueError(f"{source.name} has no private IP address")
    flow = Flow(protocol, src_ip, sport, destination, dport)
    walker = _Walk(topology, flow)
    disposition, reason = walker.run(source)
    vm = topology.vm_of_nic(source)
    return {
        "flow": {"sourceVm": vm.name if vm else None, "sourceNic": source.name,
                 "sourceIp": str(src_ip), "destinationIp": str(destination),
                 "protocol": _PROTOCOL_NAMES.get(protocol, str(protocol)),
                 "sourcePort": sport, "destinationPort": dport,
                 "portsAssumed": destination_port is None and ported},
        "hops": walker.hops,
        "disposition": disposition,
        "reason": reason,
        "assumptions": texts("stateful", "forwarded-traffic", "vnet-access-tag-only",
                             "no-nsg-inbound-internet"),
    }
