"""ARM-shaped resources for the BGP tests: VNets, gateways with bgpSettings, local network
gateways, connections, Route Servers, converted by the real loader (resources_to_topology)."""

from __future__ import annotations

from typing import Any

from dataplane.load.resources import resources_to_topology
from dataplane.model import Topology

RG = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network"


class Arm:
    def __init__(self) -> None:
        self.resources: list[dict[str, Any]] = []

    def add(self, kind: str, name: str, props: dict[str, Any], **extra: Any) -> Arm:
        self.resources.append({"type": f"Microsoft.Network/{kind}", "name": name,
                               "id": f"{RG}/{kind}/{name}", "location": "westeurope",
                               "properties": props, **extra})
        return self

    def vnet(self, name: str, space: list[str] | str, subnets: dict[str, str],
             peerings: list[dict[str, Any]] = ()) -> Arm:
        space = [space] if isinstance(space, str) else space
        return self.add("virtualNetworks", name, {
            "addressSpace": {"addressPrefixes": space},
            "subnets": [{"name": n, "id": f"{RG}/virtualNetworks/{name}/subnets/{n}",
                         "properties": {"addressPrefix": p}} for n, p in subnets.items()],
            "virtualNetworkPeerings": list(peerings)})

    def gateway(self, name: str, vnet: str, asn: int | None = None, *, bgp: bool = True,
                active_active: bool = False, gateway_type: str = "Vpn", sku: str = "VpnGw1",
                bgp_settings: dict[str, Any] | None = None) -> Arm:
        configs = [{"name": f"cfg{i}", "properties": {
            "subnet": {"id": f"{RG}/virtualNetworks/{vnet}/subnets/GatewaySubnet"}}}
            for i in range(2 if active_active else 1)]
        props: dict[str, Any] = {"gatewayType": gateway_type, "vpnType": "RouteBased",
                                 "sku": {"name": sku}, "enableBgp": bgp,
                                 "activeActive": active_active, "ipConfigurations": configs}
        if bgp_settings is not None:
            props["bgpSettings"] = bgp_settings
        elif asn is not None:
            props["bgpSettings"] = {"asn": asn}
        return self.add("virtualNetworkGateways", name, props)

    def vnet2vnet(self, a: str, b: str, *, bgp: bool = True, both: bool = True) -> Arm:
        pairs = [(a, b), (b, a)] if both else [(a, b)]
        for x, y in pairs:
            self.add("connections", f"{x}-to-{y}", {
                "connectionType": "Vnet2Vnet", "enableBgp": bgp,
                "virtualNetworkGateway1": {"id": f"{RG}/virtualNetworkGateways/{x}"},
                "virtualNetworkGateway2": {"id": f"{RG}/virtualNetworkGateways/{y}"}})
        return self

    def site(self, name: str, gateway: str, prefixes: list[str], *, asn: int | None = None,
             bgp_ip: str | None = None, enable_bgp: bool = True) -> Arm:
        props: dict[str, Any] = {"gatewayIpAddress": "203.0.113.9",
                                 "localNetworkAddressSpace": {"addressPrefixes": prefixes}}
        if asn is not None:
            props["bgpSettings"] = {"asn": asn, "bgpPeeringAddress": bgp_ip}
        self.add("localNetworkGateways", name, props)
        return self.add("connections", f"{gateway}-to-{name}", {
            "connectionType": "IPsec", "enableBgp": enable_bgp,
            "virtualNetworkGateway1": {"id": f"{RG}/virtualNetworkGateways/{gateway}"},
            "localNetworkGateway2": {"id": f"{RG}/localNetworkGateways/{name}"}})

    def route_server(self, name: str, vnet: str, peers: dict[str, tuple[str, int]], *,
                     branch_to_branch: bool = False, virtual_wan: str | None = None) -> Arm:
        props: dict[str, Any] = {
            "sku": "Standard", "allowBranchToBranchTraffic": branch_to_branch,
            "ipConfigurations": [{"name": "ipconfig1", "properties": {"subnet": {
                "id": f"{RG}/virtualNetworks/{vnet}/subnets/RouteServerSubnet"}}}],
            "bgpConnections": [{"name": n, "properties": {"peerIp": ip, "peerAsn": asn}}
                               for n, (ip, asn) in peers.items()]}
        if virtual_wan:
            props["virtualWan"] = {"id": virtual_wan}
        return self.add("virtualHubs", name, props)

    def build(self) -> Topology:
        return resources_to_topology(self.resources, "bgp-test")


def peering(vnet: str, remote: str, **flags: bool) -> dict[str, Any]:
    return {"name": f"{vnet}-to-{remote}",
            "id": f"{RG}/virtualNetworks/{vnet}/virtualNetworkPeerings/{vnet}-to-{remote}",
            "properties": {"remoteVirtualNetwork": {"id": f"{RG}/virtualNetworks/{remote}"},
                           "allowVirtualNetworkAccess": True, **flags}}


def three_vnets(bgp: bool = True, asns: tuple[int, int, int] = (65010, 65020, 65030)) -> Arm:
    """The issue's smallest input: A, B, C with route-based BGP gateways (distinct ASNs) and
    VNet-to-VNet connections A<->B and B<->C."""
    arm = Arm()
    for i, (name, asn) in enumerate(zip("ABC", asns, strict=True)):
        arm.vnet(name, f"10.{i}.0.0/16", {"s": f"10.{i}.1.0/24",
                                          "GatewaySubnet": f"10.{i}.255.0/27"})
        arm.gateway(f"gw{name}", name, asn, bgp=bgp)
    return arm.vnet2vnet("gwA", "gwB", bgp=bgp).vnet2vnet("gwB", "gwC", bgp=bgp)


def rs_hub_resources() -> list[dict[str, Any]]:
    """A hub with a Route Server peering with two NVAs (10.0.2.4, 10.0.2.5), as resources."""
    arm = Arm().vnet("hub", "10.0.0.0/16", {"s": "10.0.1.0/24", "nva": "10.0.2.0/24",
                                           "RouteServerSubnet": "10.0.3.0/27"})
    arm.route_server("rs", "hub", {"nva1": ("10.0.2.4", 65001), "nva2": ("10.0.2.5", 65001)})
    return arm.resources
