"""A small builder of model Topologies for control-plane tests (no loader needed).

Vocabulary follows the scenario YAML: vnets with subnets, peerings between VNets or one link,
NSGs, route tables, VMs with one NIC, gateways and on-premises sites.
"""

from __future__ import annotations

from dataplane.model import (
    ApplicationSecurityGroup,
    AzureFirewall,
    Connection,
    IPConfiguration,
    LocalNetworkGateway,
    NetworkInterface,
    NetworkSecurityGroup,
    PortRange,
    Route,
    RouteTable,
    SecurityRule,
    Subnet,
    Topology,
    VirtualMachine,
    VirtualNetwork,
    VirtualNetworkGateway,
    VirtualNetworkPeering,
)
from dataplane.net import parse_ip, parse_prefix

RG = "/subscriptions/sub1/resourceGroups/rg1/providers"


def rid(kind: str, name: str) -> str:
    return f"{RG}/{kind}/{name}"


def ports(text: str | int) -> tuple[PortRange, ...]:
    out = []
    for part in str(text).split(","):
        part = part.strip()
        if part == "*":
            out.append(PortRange(0, 65535))
        elif "-" in part:
            lo, hi = part.split("-")
            out.append(PortRange(int(lo), int(hi)))
        else:
            out.append(PortRange(int(part), int(part)))
    return tuple(out)


def addresses(value: str | list[str]) -> tuple:
    items = value if isinstance(value, list) else [v.strip() for v in str(value).split(",")]
    out = []
    for item in items:
        if item == "*" or not item[0].isdigit():
            out.append(item)
        else:
            out.append(parse_prefix(item))
    return tuple(out)


class Builder:
    def __init__(self) -> None:
        self.vnets: dict[str, dict] = {}
        self.links: list[dict] = []
        self.nsgs: dict[str, NetworkSecurityGroup] = {}
        self.tables: dict[str, RouteTable] = {}
        self.asgs: dict[str, ApplicationSecurityGroup] = {}
        self.nics: list[NetworkInterface] = []
        self.vms: list[VirtualMachine] = []
        self.gateways: list[VirtualNetworkGateway] = []
        self.lngs: list[LocalNetworkGateway] = []
        self.conns: list[Connection] = []
        self.firewalls: list[AzureFirewall] = []

    # -- networks --
    def vnet(self, name: str, space: list[str] | str, region: str = "westeurope",
             subnets: dict | None = None) -> Builder:
        spaces = [space] if isinstance(space, str) else space
        self.vnets[name] = {"region": region, "space": tuple(parse_prefix(s) for s in spaces),
                            "subnets": subnets or {}}
        return self

    def link(self, vnet: str, remote: str, state: str = "Connected",
             remote_space: list[str] | None = None, **opts) -> Builder:
        self.links.append({"vnet": vnet, "remote": remote, "state": state,
                           "remote_space": remote_space, **opts})
        return self

    def peer(self, a: str, b: str, **opts) -> Builder:
        return self.link(a, b, **opts).link(b, a, **opts)

    # -- security and routing --
    def nsg(self, name: str, rules: list[dict]) -> Builder:
        built = []
        for r in rules:
            built.append(SecurityRule(
                name=r["name"], priority=r["priority"], direction=r.get("direction", "Inbound"),
                access=r.get("access", "Allow"), protocol=r.get("protocol", "*"),
                source_address_prefixes=addresses(r.get("source", "*")),
                source_port_ranges=ports(r.get("source_ports", "*")),
                destination_address_prefixes=addresses(r.get("destination", "*")),
                destination_port_ranges=ports(r.get("destination_ports", "*")),
                source_application_security_groups=tuple(
                    rid("Microsoft.Network/applicationSecurityGroups", a)
                    for a in r.get("source_asgs", ())),
                destination_application_security_groups=tuple(
                    rid("Microsoft.Network/applicationSecurityGroups", a)
                    for a in r.get("destination_asgs", ())),
            ))
            if r.get("source_asgs"):
                built[-1] = _no_address(built[-1], "source_address_prefixes")
            if r.get("destination_asgs"):
                built[-1] = _no_address(built[-1], "destination_address_prefixes")
        self.nsgs[name] = NetworkSecurityGroup(
            rid("Microsoft.Network/networkSecurityGroups", name), name, "westeurope",
            tuple(built))
        return self

    def route_table(self, name: str, routes: list[tuple], disable_bgp: bool = False) -> Builder:
        built = tuple(Route(n, parse_prefix(p) if p[0].isdigit() or ":" in p else p, hop,
                            parse_ip(ip) if ip else None)
                      for n, p, hop, *rest in routes for ip in [rest[0] if rest else None])
        self.tables[name] = RouteTable(rid("Microsoft.Network/routeTables", name), name,
                                       "westeurope", built, disable_bgp)
        return self

    # -- compute --
    def vm(self, name: str, subnet: str, ip: str, nsg: str | None = None,
           asgs: tuple[str, ...] = (), ip_forwarding: bool = False,
           extra_ips: tuple[str, ...] = ()) -> Builder:
        vnet_name, subnet_name = subnet.split("/")
        subnet_id = self._subnet_id(vnet_name, subnet_name)
        asg_ids = []
        for a in asgs:
            self.asgs.setdefault(a, ApplicationSecurityGroup(
                rid("Microsoft.Network/applicationSecurityGroups", a), a, "westeurope"))
            asg_ids.append(self.asgs[a].id)
        configs = [IPConfiguration("ipconfig1", subnet_id, parse_ip(ip), "Static", True,
                                   tuple(asg_ids))]
        configs += [IPConfiguration(f"ipconfig{i + 2}", subnet_id, parse_ip(x), "Static", False,
                                    tuple(asg_ids)) for i, x in enumerate(extra_ips)]
        nic = NetworkInterface(
            rid("Microsoft.Network/networkInterfaces", f"{name}-nic"), f"{name}-nic",
            self.vnets[vnet_name]["region"], tuple(configs),
            self.nsgs[nsg].id if nsg else None, ip_forwarding,
            virtual_machine=rid("Microsoft.Compute/virtualMachines", name))
        self.nics.append(nic)
        self.vms.append(VirtualMachine(rid("Microsoft.Compute/virtualMachines", name), name,
                                       self.vnets[vnet_name]["region"], "Standard_D2s_v3",
                                       (nic.id,)))
        return self

    def gateway(self, vnet: str, gateway_type: str = "Vpn", sku: str = "VpnGw1") -> Builder:
        self.gateways.append(VirtualNetworkGateway(
            rid("Microsoft.Network/virtualNetworkGateways", f"{vnet}-gw"), f"{vnet}-gw",
            self.vnets[vnet]["region"], gateway_type, self._vnet_id(vnet), sku))
        return self

    def onprem(self, name: str, prefixes: list[str], connect_to: str) -> Builder:
        lng = LocalNetworkGateway(rid("Microsoft.Network/localNetworkGateways", name), name,
                                  "westeurope", tuple(parse_prefix(p) for p in prefixes),
                                  "203.0.113.10")
        self.lngs.append(lng)
        gw = next(g for g in self.gateways if g.name == f"{connect_to}-gw")
        self.conns.append(Connection(rid("Microsoft.Network/connections", f"{name}-conn"),
                                     f"{name}-conn", "westeurope", "IPsec", gw.id,
                                     local_network_gateway2=lng.id))
        return self

    def firewall(self, name: str, subnet: str, ip: str, collections: tuple = ()) -> Builder:
        vnet_name, subnet_name = subnet.split("/")
        self.firewalls.append(AzureFirewall(
            rid("Microsoft.Network/azureFirewalls", name), name, "westeurope",
            self._subnet_id(vnet_name, subnet_name), parse_ip(ip), collections))
        return self

    # -- assembly --
    def _vnet_id(self, name: str) -> str:
        return rid("Microsoft.Network/virtualNetworks", name)

    def _subnet_id(self, vnet: str, subnet: str) -> str:
        return f"{self._vnet_id(vnet)}/subnets/{subnet}"

    def build(self) -> Topology:
        vnets = []
        for name, spec in self.vnets.items():
            subnets = []
            for sname, sspec in spec["subnets"].items():
                sspec = {"prefix": sspec} if isinstance(sspec, str) else sspec
                subnets.append(Subnet(
                    self._subnet_id(name, sname), sname, (parse_prefix(sspec["prefix"]),),
                    self.nsgs[sspec["nsg"]].id if sspec.get("nsg") else None,
                    self.tables[sspec["route_table"]].id if sspec.get("route_table") else None,
                    tuple(sspec.get("service_endpoints", ()))))
            links = []
            for link in (x for x in self.links if x["vnet"] == name):
                remote_space = (tuple(parse_prefix(p) for p in link["remote_space"])
                                if link["remote_space"] is not None
                                else self.vnets[link["remote"]]["space"])
                opts = {k: v for k, v in link.items()
                        if k not in ("vnet", "remote", "state", "remote_space")}
                links.append(VirtualNetworkPeering(
                    f"{self._vnet_id(name)}/virtualNetworkPeerings/{name}-to-{link['remote']}",
                    f"{name}-to-{link['remote']}", self._vnet_id(name),
                    self._vnet_id(link["remote"]), peering_state=link["state"],
                    remote_address_space=remote_space, **opts))
            vnets.append(VirtualNetwork(self._vnet_id(name), name, spec["region"], spec["space"],
                                        tuple(subnets), tuple(links)))
        return Topology(
            virtual_networks=tuple(vnets), network_security_groups=tuple(self.nsgs.values()),
            application_security_groups=tuple(self.asgs.values()),
            route_tables=tuple(self.tables.values()), network_interfaces=tuple(self.nics),
            virtual_machines=tuple(self.vms), virtual_network_gateways=tuple(self.gateways),
            local_network_gateways=tuple(self.lngs), connections=tuple(self.conns),
            azure_firewalls=tuple(self.firewalls))


def _no_address(rule: SecurityRule, field: str) -> SecurityRule:
    from dataclasses import replace
    return replace(rule, **{field: ()})
