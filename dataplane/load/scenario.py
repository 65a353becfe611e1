"""Scenario YAML: a short, human-written topology for experiments (docs/scenario.md).

Maps one-to-one onto ARM resources: each section below becomes the resource dicts ARM would
hold (same ids, same property names), which `resources.resources_to_topology` converts. So a
scenario and the equivalent template load to the same model.

    vnets:       NAME: {region, address_space: [...], subnets: {NAME: PREFIX | {prefix, prefix6, nsg,
                 route_table, service_endpoints, nat_gateway, private_endpoint_network_policies,
                 default_outbound_access}}, gateway: {type, sku, bgp, asn, active_active},
                 subscription, resource_group}
    peerings:    - {between: [A, B], <options>}       both links (Connected)
                 - {vnet: A, remote: B, <options>}     one link, A's side (Initiated until B's);
                                                       a later entry for the same pair refines it
                 options: allow_virtual_network_access, allow_forwarded_traffic,
                          allow_gateway_transit, use_remote_gateways, name
    nsgs:        NAME: {rules: [{name, priority, direction, access, protocol, source, destination,
                 source_ports, destination_ports, source_asgs, destination_asgs}]}
    asgs:        [NAME, ...]
    route_tables: NAME: {disable_bgp_route_propagation, routes: [{name, prefix, next_hop, next_hop_ip}]}
    vms:         NAME: {subnet: VNET/SUBNET, ip, ip6, size, nsg, asgs, ip_forwarding, region,
                 egress_cap_bps, public_ip, public_ip6, nics: [{subnet, ip, ip6, nsg, asgs,
                 ip_forwarding, public_ip, public_ip6}]}
                 (dual-stack: `prefix6` a subnet's IPv6 prefix, `ip6` a second ip configuration
                 with privateIPAddressVersion IPv6 in it, "auto" for a dynamic one; `asgs`
                 then apply to both ip configurations)
    public_ips:  NAME: {sku (Standard), version (IPv4), address}
    nat_gateways: NAME: {public_ips: [...]}
    private_endpoints: NAME: {subnet: VNET/SUBNET, ip, target: RESOURCE ID, group_ids: [...]}
    on_premises: NAME: {prefixes: [...], gateway_ip, connect_to: VNET, asn, bgp_ip, bgp}
    load_balancers: NAME: {sku, frontend: {subnet, ip} | {public_ip}, backends: [VM, ...],
                 rules: [{name, protocol, frontend_port, backend_port, disable_outbound_snat}],
                 outbound_rules: [{name, protocol}], inbound_nat_rules: [{name, vm, protocol,
                 frontend_port, backend_port}]}
    firewalls:   NAME: {subnet, ip, ip6, sku (Basic | Standard | Premium), collections: [{name,
                 priority, action, rules: [{name, protocols, source, destination, ports}]}],
                 application_collections: [{name, priority, action, rules: [{name, source,
                 protocols ("Https:443"), fqdns}]}], public_ips: [NAME, ...] (its
                 ipConfigurations' publicIPAddress, in order), nat_collections: [{name,
                 priority, rules: [{name, protocols, source, destination, ports,
                 translated_address, translated_port}]}], snat_private_ranges: [...],
                 dns_proxy: BOOL, management: BOOL}
    roles:       - {principal, role, scope: VNET | id, actions: [...]}
    bgp_routes:  - {peer, prefixes: [...], asPath, nextHop}   read by load/bgp_sidecar.py

Errors are InputError naming the file, the entry (resource) and the key (property); a key no
section reads is one (load/scenario_keys.py, with the closest known key).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from dataplane.errors import InputError
from dataplane.load.other_inputs import OtherInputs, Subnet
from dataplane.load.resources import resources_to_topology
from dataplane.load.scenario_keys import check_scenario_keys, did_you_mean
from dataplane.model import Assumption, Topology
from dataplane.net import parse_prefix

DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
DEFAULT_RESOURCE_GROUP = "vnet-dataplane-rg"
SECTIONS = ("name", "description", "subscription", "resource_group", "vnets", "peerings", "nsgs",
            "asgs", "route_tables", "vms", "on_premises", "load_balancers", "firewalls", "roles",
            "bgp_routes", "public_ips", "nat_gateways", "private_endpoints")
PIP = "Microsoft.Network/publicIPAddresses"


def one_or_many(value: Any) -> list[str]:
    """A list of values, or one value standing for a one-element list (`source: 10.1.0.0/16`
    means `source: [10.1.0.0/16]`, as in NSG rules; never read character by character)."""
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, dict):
        raise TypeError(f"expected a value or a list of values, got a mapping {value!r}")
    return [str(value)]


class _Builder:
    def __init__(self, doc: dict[str, Any], source: str,
                 others: OtherInputs | None = None) -> None:
        self.doc = doc
        self.source = source
        self.others = others or OtherInputs()
        self.subscription = str(doc.get("subscription", DEFAULT_SUBSCRIPTION))
        self.group = str(doc.get("resource_group", DEFAULT_RESOURCE_GROUP))
        self.resources: list[dict[str, Any]] = []
        self.vnet_scope: dict[str, tuple[str, str, str]] = {}  # name -> (sub, rg, region)
        self.taken: dict[str, set[str]] = {}
        self._other_subnets: dict[str, Subnet] = {}  # id -> a subnet of another input
        self._reserved: set[str] = set()  # other inputs' subnets whose addresses are taken
        self.notes: list[str] = []  # assumptions made reading the scenario (`allocate`)

    # -- helpers --

    def error(self, resource: str, prop: str, message: str) -> InputError:
        return InputError(message, file=self.source, resource=resource, property=prop)

    def rid(self, kind: str, name: str, sub: str | None = None, rg: str | None = None) -> str:
        return (f"/subscriptions/{sub or self.subscription}/resourceGroups/{rg or self.group}"
                f"/providers/{kind}/{name}")

    def section(self, key: str) -> dict[str, Any]:
        value = self.doc.get(key) or {}
        if not isinstance(value, dict):
            raise self.error(key, key, "expected a mapping of NAME: settings")
        for name, body in value.items():
            if body is not None and not isinstance(body, dict):
                raise self.error(str(name), key, "expected a mapping of settings")
            # A name becomes the last segment of an ARM id (and of output file names): Azure's
            # naming rules forbid '/' and '\\' in these resources ("Naming rules and
            # restrictions for Azure resources", learn.microsoft.com/azure/azure-resource-manager/
            # management/resource-name-rules, Microsoft.Network and Microsoft.Compute).
            if not str(name).strip() or any(c in str(name) for c in "/\\\0"):
                raise self.error(str(name), key, f"'{name}' is not a valid resource name (empty, "
                                 "or holds '/', '\\' or NUL)")
        return {str(k): (v or {}) for k, v in value.items()}

    def vnet_id(self, name: str, where: str, prop: str) -> str:
        if name not in self.vnet_scope:
            raise self.error(where, prop, f"unknown VNet '{name}' (define it under vnets:)")
        sub, rg, _ = self.vnet_scope[name]
        return self.rid("Microsoft.Network/virtualNetworks", name, sub, rg)

    def subnet_id(self, path: Any, where: str, prop: str) -> str:
        text = str(path or "")
        vnet, sep, subnet = text.partition("/")
        if not sep:
            raise self.error(where, prop, f"'{text}' is not VNET/SUBNET")
        vnets = self.section("vnets")
        if vnet not in vnets:  # a subnet another input of this run defines
            try:
                other = self.others.subnet(vnet, subnet)
            except LookupError as error:
                raise self.error(where, prop, str(error)) from None
            if other is not None:
                self._other_subnets[other.id] = other
                return other.id
            if vnet not in self.others.vnets:
                raise self.error(where, prop, f"unknown VNet '{vnet}' (define it under vnets: "
                                 "or give the template or dump that defines it in the same run)")
        if subnet not in (vnets.get(vnet, {}).get("subnets") or {}):
            raise self.error(where, prop, f"VNet '{vnet}' has no subnet '{subnet}'")
        return f"{self.vnet_id(vnet, where, prop)}/subnets/{subnet}"

    def named(self, kind: str, section: str, name: Any, where: str, prop: str) -> dict[str, str]:
        if name is None:
            return {}
        if str(name) not in self.section(section) and section != "asgs":
            known = [str(k) for k in self.section(section)]
            raise self.error(where, prop, f"unknown {section[:-1]} '{name}'"
                             + (did_you_mean(str(name), known) if known else
                                f" (no {section} are defined)"))
        return {"id": self.rid(kind, str(name))}

    def add(self, kind: str, name: str, properties: dict[str, Any], *, rid: str | None = None,
            location: str = "", **extra: Any) -> dict[str, Any]:
        resource = {"type": kind, "name": name, "id": rid or self.rid(kind, name),
                    "location": location, "properties": properties,
                    "source": self.source, **extra}
        self.resources.append(resource)
        return resource

    def allocate(self, subnet_id: str, prefix: str, requested: Any, *, resource: str,
                 prop: str) -> str:
        """The address `requested` (static) or the lowest free one in the subnet, noted as an
        assumption as the ARM loader notes a dynamic ipConfiguration (load/arm/template.py;
        docs/scenario.md: "listed as an assumption"); a bad or taken request is an InputError
        naming the file, `resource` and `prop`."""
        try:
            got = self._allocate(subnet_id, prefix, requested)
        except InputError as error:
            raise self.error(resource, prop, error.message) from None
        if requested is None:
            self.notes.append(
                f"{resource} ({Path(self.source).name}) gives no {prop}: private IP {got} "
                f"assumed (lowest free address of subnet {prefix} after Azure's 4 reserved, in "
                "input order; Azure allocates it at deployment: 'Private IP addresses', "
                "private-ip-addresses, 'Dynamic allocation')")
        return got

    def _allocate(self, subnet_id: str, prefix: str, requested: Any) -> str:
        from dataplane.load.allocation import AddressAllocator

        allocator = self.__dict__.setdefault("_allocator", AddressAllocator())
        if subnet_id in self._other_subnets and subnet_id not in self._reserved:
            self._reserved.add(subnet_id)  # what the other inputs hold there is taken
            for address in self.others.taken(subnet_id):
                allocator.allocate(prefix, address, key=subnet_id)
        return allocator.allocate(prefix, None if requested is None else str(requested),
                                  key=subnet_id)

    def subnet_region(self, subnet_id: str) -> str:
        if subnet_id in self._other_subnets:
            return self._other_subnets[subnet_id].region
        return self.vnet_scope[subnet_id.split("/virtualNetworks/")[1].split("/")[0]][2]

    def ipv6_config(self, vm: str, subnet_id: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
        """A NIC's IPv6 ip configuration (`ip6`: an address or "auto"), or none."""
        if not spec.get("ip6"):
            return []
        vnet, subnet = subnet_id.split("/virtualNetworks/")[1].split("/subnets/")
        body = self.section("vnets")[vnet]["subnets"][subnet]
        prefix6 = body.get("prefix6") if isinstance(body, dict) else None
        if not prefix6:
            raise self.error(vm, "ip6", f"subnet {vnet}/{subnet} has no prefix6")
        wanted = None if str(spec["ip6"]).lower() == "auto" else spec["ip6"]
        ip = self.allocate(subnet_id + "#v6", str(prefix6), wanted, resource=vm, prop="ip6")
        return [{"name": "ipconfig-v6", "properties": {  # the VM's ASGs on both configurations
            "subnet": {"id": subnet_id}, "privateIPAddress": ip,
            "privateIPAllocationMethod": "Dynamic" if wanted is None else "Static",
            "privateIPAddressVersion": "IPv6", "primary": False,
            "applicationSecurityGroups": [
                {"id": self.rid("Microsoft.Network/applicationSecurityGroups", a)}
                for a in spec.get("asgs") or []],
            **({"publicIPAddress": self.named(PIP, "public_ips", spec["public_ip6"], vm,
                                              "public_ip6")}  # an IPv6 public IP (issue 17)
               if spec.get("public_ip6") else {})}}]

    def subnet_prefix(self, subnet_id: str) -> str:
        if subnet_id in self._other_subnets:
            return self._other_subnets[subnet_id].prefix
        vnet, subnet = subnet_id.split("/virtualNetworks/")[1].split("/subnets/")
        body = self.section("vnets")[vnet]["subnets"][subnet]
        return str(body["prefix"] if isinstance(body, dict) else body)

    # -- sections --

    def vnets(self) -> None:
        for name, body in self.section("vnets").items():
            sub = str(body.get("subscription", self.subscription))
            rg = str(body.get("resource_group", self.group))
            region = str(body.get("region", body.get("location", "")))
            if not region:
                raise self.error(name, "region", "every VNet needs a region")
            self.vnet_scope[name] = (sub, rg, region)
        for name, body in self.section("vnets").items():
            sub, rg, region = self.vnet_scope[name]
            vid = self.rid("Microsoft.Network/virtualNetworks", name, sub, rg)
            space = body.get("address_space")
            if isinstance(space, str):
                space = [space]
            if not isinstance(space, list) or not space:
                raise self.error(name, "address_space", "expected a list of address prefixes")
            subnets = []
            raw_subnets = body.get("subnets") or {}
            if not isinstance(raw_subnets, dict):
                raise self.error(name, "subnets", "expected a mapping NAME: PREFIX")
            for sname, sbody in raw_subnets.items():
                spec = sbody if isinstance(sbody, dict) else {"prefix": sbody}
                if "prefix" not in spec:
                    raise self.error(name, f"subnets.{sname}.prefix", "subnet needs a prefix")
                try:  # parsed here so a bad prefix names its subnet, not a VM placed in it
                    parse_prefix(str(spec["prefix"]), strict=False)  # host bits: validate.py
                except InputError as error:
                    raise self.error(name, f"subnets.{sname}.prefix", error.message) from None
                props: dict[str, Any] = {"addressPrefix": str(spec["prefix"])}
                if spec.get("prefix6"):  # dual-stack: both prefixes (ARM addressPrefixes)
                    try:
                        parse_prefix(str(spec["prefix6"]), strict=False)
                    except InputError as error:
                        raise self.error(name, f"subnets.{sname}.prefix6", error.message) from None
                    props = {"addressPrefixes": [str(spec["prefix"]), str(spec["prefix6"])]}
                where = f"{name}/{sname}"
                if spec.get("nsg"):
                    props["networkSecurityGroup"] = self.named(
                        "Microsoft.Network/networkSecurityGroups", "nsgs", spec["nsg"], where, "nsg")
                if spec.get("route_table"):
                    props["routeTable"] = self.named(
                        "Microsoft.Network/routeTables", "route_tables", spec["route_table"], where,
                        "route_table")
                if spec.get("service_endpoints"):
                    props["serviceEndpoints"] = [{"service": s} for s in spec["service_endpoints"]]
                if spec.get("nat_gateway"):
                    props["natGateway"] = self.named("Microsoft.Network/natGateways",
                                                     "nat_gateways", spec["nat_gateway"], where,
                                                     "nat_gateway")
                if spec.get("private_endpoint_network_policies") is not None:
                    props["privateEndpointNetworkPolicies"] = str(
                        spec["private_endpoint_network_policies"])
                if spec.get("default_outbound_access") is not None:
                    props["defaultOutboundAccess"] = spec["default_outbound_access"]
                subnets.append({"name": str(sname), "id": f"{vid}/subnets/{sname}",
                                "properties": props})
            classic = bool(body.get("classic", False))
            kind = "Microsoft.ClassicNetwork/virtualNetworks" if classic else \
                "Microsoft.Network/virtualNetworks"
            self.add(kind, name, {"addressSpace": {"addressPrefixes": [str(p) for p in space]},
                                  "subnets": subnets, "virtualNetworkPeerings": []},
                     rid=vid, location=region)
            gateway = body.get("gateway")
            if gateway:
                if "GatewaySubnet" not in raw_subnets:
                    raise self.error(name, "gateway", "a gateway needs a subnet named GatewaySubnet")
                gw_name = str(gateway.get("name", f"{name}-gw"))
                self.add("Microsoft.Network/virtualNetworkGateways", gw_name, {
                    "gatewayType": str(gateway.get("type", "Vpn")),
                    "vpnType": str(gateway.get("vpn_type", "RouteBased")),
                    "sku": {"name": str(gateway.get("sku", "VpnGw1"))},
                    "enableBgp": bool(gateway.get("bgp", False)),
                    "activeActive": bool(gateway.get("active_active", False)),
                    **({"bgpSettings": {"asn": gateway["asn"]}} if "asn" in gateway else {}),
                    "ipConfigurations": [{"name": "default", "properties": {
                        "subnet": {"id": f"{vid}/subnets/GatewaySubnet"}}}],
                }, rid=self.rid("Microsoft.Network/virtualNetworkGateways", gw_name, sub, rg),
                    location=region)

    OPTIONS = {"allow_virtual_network_access": "allowVirtualNetworkAccess",
               "allow_forwarded_traffic": "allowForwardedTraffic",
               "allow_gateway_transit": "allowGatewayTransit",
               "use_remote_gateways": "useRemoteGateways"}

    def peerings(self) -> None:
        entries = self.doc.get("peerings") or []
        if not isinstance(entries, list):
            raise self.error("peerings", "peerings", "expected a list")
        vnets = {r["name"]: r for r in self.resources if r["type"].endswith("virtualNetworks")}
        for index, entry in enumerate(entries):
            where = f"peerings[{index}]"
            if not isinstance(entry, dict):
                raise self.error(where, "peerings", "expected a mapping")
            if "between" in entry:
                pair = entry["between"]
                if not isinstance(pair, list) or len(pair) != 2:
                    raise self.error(where, "between", "expected [VNET, VNET]")
                links = [(str(pair[0]), str(pair[1])), (str(pair[1]), str(pair[0]))]
            elif "vnet" in entry and "remote" in entry:
                links = [(str(entry["vnet"]), str(entry["remote"]))]
            else:
                raise self.error(where, "between", "give between: [A, B] or vnet: A, remote: B")
            for local, remote in links:
                local_id = self.vnet_id(local, where, "vnet")
                remote_id = self.vnet_id(remote, where, "remote")
                options = {arm: bool(entry[key]) for key, arm in self.OPTIONS.items()
                           if key in entry}
                owned = vnets[local]["properties"]["virtualNetworkPeerings"]
                # A later entry for the same VNet pair refines that link (a VNet has one link
                # per remote, docs/azure-behaviour.md §4.6); it does not add a second one.
                existing = next((x for x in owned if x["properties"]["remoteVirtualNetwork"]
                                 ["id"] == remote_id), None)
                if existing is not None:
                    existing["properties"].update(options)
                    if entry.get("name"):
                        existing["name"] = str(entry["name"])
                        existing["id"] = f"{local_id}/virtualNetworkPeerings/{entry['name']}"
                    continue
                link_name = str(entry.get("name") or f"{local}-to-{remote}")
                owned.append({
                    "name": link_name, "id": f"{local_id}/virtualNetworkPeerings/{link_name}",
                    "properties": {"remoteVirtualNetwork": {"id": remote_id},
                                   "allowVirtualNetworkAccess": True, **options}})

    def nsgs(self) -> None:
        for name, body in self.section("nsgs").items():
            rules = []
            for index, rule in enumerate(body.get("rules") or []):
                prop = f"rules[{index}]"
                if not isinstance(rule, dict):
                    raise self.error(name, prop, "expected a mapping")
                missing = [k for k in ("name", "priority", "direction", "access") if k not in rule]
                if missing:
                    raise self.error(name, f"{prop}.{missing[0]}", "required key is missing")
                props = {"priority": rule["priority"], "direction": rule["direction"],
                         "access": rule["access"], "protocol": str(rule.get("protocol", "*"))}
                for side in ("source", "destination"):
                    addresses = rule.get(side, "*")
                    props[f"{side}AddressPrefixes"] = (
                        [str(a) for a in addresses] if isinstance(addresses, list)
                        else [str(addresses)])
                    ports = rule.get(f"{side}_ports", "*")
                    props[f"{side}PortRanges"] = ([str(p) for p in ports]
                                                  if isinstance(ports, list) else [str(ports)])
                    asgs = rule.get(f"{side}_asgs")
                    if asgs:
                        props[f"{side}ApplicationSecurityGroups"] = [
                            {"id": self.rid("Microsoft.Network/applicationSecurityGroups", a)}
                            for a in asgs]
                        if rule.get(side) is None:
                            props[f"{side}AddressPrefixes"] = []
                rules.append({"name": str(rule["name"]), "properties": props})
            self.add("Microsoft.Network/networkSecurityGroups", name,
                     {"securityRules": rules}, location=str(body.get("region", "")))

    def asgs(self) -> None:
        names = self.doc.get("asgs") or []
        if not isinstance(names, list):
            raise self.error("asgs", "asgs", "expected a list of names")
        for name in names:
            self.add("Microsoft.Network/applicationSecurityGroups", str(name), {})

    def route_tables(self) -> None:
        for name, body in self.section("route_tables").items():
            routes = []
            for index, route in enumerate(body.get("routes") or []):
                prop = f"routes[{index}]"
                if not isinstance(route, dict) or "prefix" not in route or "next_hop" not in route:
                    raise self.error(name, prop, "a route needs prefix and next_hop")
                props = {"addressPrefix": str(route["prefix"]),
                         "nextHopType": str(route["next_hop"])}
                if route.get("next_hop_ip") is not None:
                    props["nextHopIpAddress"] = str(route["next_hop_ip"])
                routes.append({"name": str(route.get("name", f"route{index}")),
                               "properties": props})
            self.add("Microsoft.Network/routeTables", name, {
                "routes": routes,
                "disableBgpRoutePropagation": bool(body.get("disable_bgp_route_propagation",
                                                            False))})

    def vms(self) -> None:
        for name, body in self.section("vms").items():
            nic_specs = body.get("nics") or [body]
            nic_refs = []
            region = str(body.get("region", ""))
            for index, spec in enumerate(nic_specs):
                subnet_id = self.subnet_id(spec.get("subnet"), name, f"nics[{index}].subnet")
                region = region or self.subnet_region(subnet_id)
                ip = self.allocate(subnet_id, self.subnet_prefix(subnet_id), spec.get("ip"),
                                   resource=name, prop=f"nics[{index}].ip" if "nics" in body
                                   else "ip")
                nic_name = str(spec.get("nic_name", f"{name}-nic" + (str(index) if index else "")))
                props: dict[str, Any] = {
                    "ipConfigurations": [{"name": "ipconfig1", "properties": {
                        "subnet": {"id": subnet_id}, "privateIPAddress": ip,
                        "privateIPAllocationMethod": "Static" if spec.get("ip") else "Dynamic",
                        "privateIPAddressVersion": "IPv6" if ":" in str(ip) else "IPv4",
                        "primary": True,
                        "applicationSecurityGroups": [
                            {"id": self.rid("Microsoft.Network/applicationSecurityGroups", a)}
                            for a in spec.get("asgs") or []],
                        **({"publicIPAddress": self.named(PIP, "public_ips", spec["public_ip"],
                                                          name, "public_ip")}
                           if spec.get("public_ip") else {})}},
                        *self.ipv6_config(name, subnet_id, spec)],
                    "enableIPForwarding": bool(spec.get("ip_forwarding", False)),
                    "virtualMachine": {"id": self.rid("Microsoft.Compute/virtualMachines", name)},
                }
                if spec.get("nsg"):
                    props["networkSecurityGroup"] = self.named(
                        "Microsoft.Network/networkSecurityGroups", "nsgs", spec["nsg"], name, "nsg")
                nic = self.add("Microsoft.Network/networkInterfaces", nic_name, props,
                               location=region)
                nic_refs.append({"id": nic["id"]})
            extra = {}
            if body.get("egress_cap_bps") is not None:
                extra["egressCapBps"] = body["egress_cap_bps"]
            self.add("Microsoft.Compute/virtualMachines", name, {
                "hardwareProfile": {"vmSize": str(body.get("size", "Standard_D2s_v3"))},
                "networkProfile": {"networkInterfaces": nic_refs}}, location=region, **extra)

    def on_premises(self) -> None:
        gateways = {r["id"].rsplit("/", 1)[-1]: r for r in self.resources
                    if r["type"].endswith("virtualNetworkGateways")}
        for name, body in self.section("on_premises").items():
            prefixes = body.get("prefixes")
            if not isinstance(prefixes, list) or not prefixes:
                raise self.error(name, "prefixes", "expected a list of on-premises prefixes")
            lng = self.add("Microsoft.Network/localNetworkGateways", name, {
                "localNetworkAddressSpace": {"addressPrefixes": [str(p) for p in prefixes]},
                "gatewayIpAddress": str(body.get("gateway_ip", "203.0.113.1")),
                **({"bgpSettings": {"asn": body["asn"], "bgpPeeringAddress": body.get("bgp_ip")}}
                   if "asn" in body else {})})
            if body.get("connect_to"):
                vnet = str(body["connect_to"])
                self.vnet_id(vnet, name, "connect_to")
                gateway = next((g for g in gateways.values()
                                if g["properties"]["ipConfigurations"][0]["properties"]["subnet"]
                                ["id"].split("/virtualNetworks/")[1].split("/")[0] == vnet), None)
                if gateway is None:
                    raise self.error(name, "connect_to", f"VNet '{vnet}' has no gateway")
                self.add("Microsoft.Network/connections", f"{vnet}-to-{name}", {
                    "connectionType": str(body.get("connection_type", "IPsec")),
                    "enableBgp": bool(body.get("bgp", "asn" in body)),
                    "virtualNetworkGateway1": {"id": gateway["id"]},
                    "localNetworkGateway2": {"id": lng["id"]}})

    def load_balancers(self) -> None:
        nics = {r["properties"]["virtualMachine"]["id"].rsplit("/", 1)[-1]: r
                for r in self.resources if r["type"].endswith("networkInterfaces")}
        for name, body in self.section("load_balancers").items():
            lb_id = self.rid("Microsoft.Network/loadBalancers", name)
            frontend = body.get("frontend") or {}
            frontend_id = f"{lb_id}/frontendIPConfigurations/frontend"
            if frontend.get("public_ip"):
                frontend_props: dict[str, Any] = {"publicIPAddress": self.named(
                    PIP, "public_ips", frontend["public_ip"], name, "frontend.public_ip")}
            else:
                subnet_id = self.subnet_id(frontend.get("subnet"), name, "frontend.subnet")
                frontend_props = {"subnet": {"id": subnet_id}, "privateIPAddress": self.allocate(
                    subnet_id, self.subnet_prefix(subnet_id), frontend.get("ip"), resource=name,
                    prop="frontend.ip")}
            pool_id = f"{lb_id}/backendAddressPools/backend"
            six = ":" in str(frontend.get("ip") or "")  # an IPv6 frontend: IPv6 pool members
            for vm in body.get("backends") or []:
                if str(vm) not in nics:
                    raise self.error(name, "backends", f"unknown VM '{vm}'")
                configs = [c["properties"] for c in nics[str(vm)]["properties"]["ipConfigurations"]
                           if (c["properties"].get("privateIPAddressVersion") == "IPv6") == six]
                if not configs:
                    raise self.error(name, "backends", f"VM '{vm}' has no IPv6 ip configuration "
                                     "(ip6) for the IPv6 frontend")
                configs[0].setdefault("loadBalancerBackendAddressPools", []).append(
                    {"id": pool_id})
            rules = [{"name": str(r.get("name", f"rule{i}")), "properties": {
                "frontendIPConfiguration": {"id": frontend_id},
                "backendAddressPool": {"id": pool_id},
                "protocol": str(r.get("protocol", "All")),
                "frontendPort": int(r.get("frontend_port", 0)),
                "backendPort": int(r.get("backend_port", r.get("frontend_port", 0))),
                "disableOutboundSnat": bool(r.get("disable_outbound_snat", False))}}
                for i, r in enumerate(body.get("rules") or [{"name": "ha-ports"}])]
            outbound = [{"name": str(r.get("name", f"outbound{i}")), "properties": {
                "frontendIPConfigurations": [{"id": frontend_id}],
                "backendAddressPool": {"id": pool_id},
                "protocol": str(r.get("protocol", "All"))}}
                for i, r in enumerate(body.get("outbound_rules") or [])]
            nat_rules = []
            for i, r in enumerate(body.get("inbound_nat_rules") or []):
                vm = str(r.get("vm"))
                if vm not in nics:
                    raise self.error(name, f"inbound_nat_rules[{i}].vm", f"unknown VM '{vm}'")
                nic = nics[vm]
                config = nic["properties"]["ipConfigurations"][0]
                nat_rules.append({"name": str(r.get("name", f"nat{i}")), "properties": {
                    "frontendIPConfiguration": {"id": frontend_id},
                    "backendIPConfiguration": {"id": f"{nic['id']}/ipConfigurations/"
                                                     f"{config['name']}"},
                    "protocol": str(r.get("protocol", "Tcp")),
                    "frontendPort": int(r.get("frontend_port", 0)),
                    "backendPort": int(r.get("backend_port", r.get("frontend_port", 0)))}})
            self.add("Microsoft.Network/loadBalancers", name, {
                "frontendIPConfigurations": [{"name": "frontend", "id": frontend_id,
                                              "properties": frontend_props}],
                "backendAddressPools": [{"name": "backend", "id": pool_id}],
                "loadBalancingRules": rules, "outboundRules": outbound,
                "inboundNatRules": nat_rules}, rid=lb_id,
                sku={"name": str(body.get("sku", "Standard"))})

    def public_ips(self) -> None:
        for name, body in self.section("public_ips").items():
            props: dict[str, Any] = {
                "publicIPAddressVersion": str(body.get("version", "IPv4")),
                "publicIPAllocationMethod": "Static"}
            if body.get("address"):
                props["ipAddress"] = str(body["address"])
            self.add(PIP, name, props, sku={"name": str(body.get("sku", "Standard"))})

    def dnat_destination(self, value: str) -> str:
        """A DNAT rule's `destination` as the ARM loader reads it: the name of a `public_ips`
        entry is that public IP -- its `address` when given, else the reference a template
        writes (`[reference(resourceId(...)).ipAddress]`), which control/firewall_rules.py
        resolves to the address chosen offline (caveat firewall-dnat-runtime-address); an
        address, prefix or '*' as written."""
        if value not in self.section("public_ips"):
            return value
        address = self.section("public_ips")[value].get("address")
        return str(address) if address else (
            f"[reference(resourceId('{PIP}', '{value}')).ipAddress]")

    def nat_gateways(self) -> None:
        for name, body in self.section("nat_gateways").items():
            self.add("Microsoft.Network/natGateways", name, {"publicIpAddresses": [
                self.named(PIP, "public_ips", a, name, "public_ips")
                for a in body.get("public_ips") or []]}, sku={"name": "Standard"})

    def private_endpoints(self) -> None:
        for name, body in self.section("private_endpoints").items():
            subnet_id = self.subnet_id(body.get("subnet"), name, "subnet")
            target = str(body.get("target") or "")
            if not target:
                raise self.error(name, "target", "a private endpoint needs the id of its "
                                 "target resource (target)")
            ip = self.allocate(subnet_id, self.subnet_prefix(subnet_id), body.get("ip"),
                               resource=name, prop="ip")
            self.add("Microsoft.Network/privateEndpoints", name, {
                "subnet": {"id": subnet_id},
                "ipConfigurations": [{"name": "ipconfig", "properties": {
                    "privateIPAddress": ip}}],
                "privateLinkServiceConnections": [{"name": name, "properties": {
                    "privateLinkServiceId": target,
                    "groupIds": [str(g) for g in body.get("group_ids") or []]}}]})

    def firewalls(self) -> None:
        for name, body in self.section("firewalls").items():
            subnet_id = self.subnet_id(body.get("subnet"), name, "subnet")
            ip = self.allocate(subnet_id, self.subnet_prefix(subnet_id), body.get("ip"),
                               resource=name, prop="ip")
            collections = []
            for c in body.get("collections") or []:
                collections.append({"name": str(c.get("name", "collection")), "properties": {
                    "priority": int(c.get("priority", 100)),
                    "action": {"type": str(c.get("action", "Allow"))},
                    "rules": [{"name": str(r.get("name", "rule")),
                               "protocols": one_or_many(r.get("protocols", "Any")),
                               "sourceAddresses": one_or_many(r.get("source", "*")),
                               "destinationAddresses": one_or_many(r.get("destination", "*")),
                               "destinationPorts": one_or_many(r.get("ports", "*"))}
                              for r in c.get("rules") or []]}})
            applications = []
            for c in body.get("application_collections") or []:
                applications.append({"name": str(c.get("name", "collection")), "properties": {
                    "priority": int(c.get("priority", 100)),
                    "action": {"type": str(c.get("action", "Allow"))},
                    "rules": [{"name": str(r.get("name", "rule")),
                               "sourceAddresses": one_or_many(r.get("source", "*")),
                               "protocols": [self.app_protocol(x, name) for x in one_or_many(
                                   r.get("protocols", "Https:443"))],
                               "targetFqdns": one_or_many(r.get("fqdns", []))}
                              for r in c.get("rules") or []]}})
            nats = [{"name": str(c.get("name", "collection")), "properties": {
                "priority": int(c.get("priority", 100)), "action": {"type": "Dnat"},
                "rules": [{"name": str(r.get("name", "rule")),
                           "protocols": one_or_many(r.get("protocols", "TCP")),
                           "sourceAddresses": one_or_many(r.get("source", "*")),
                           "destinationAddresses": [self.dnat_destination(d) for d in
                                                    one_or_many(r.get("destination", []))],
                           "destinationPorts": one_or_many(r.get("ports", [])),
                           "translatedAddress": str(r.get("translated_address", "")),
                           "translatedPort": str(r.get("translated_port", ""))}
                          for r in c.get("rules") or []]}}
                for c in body.get("nat_collections") or []]
            pips = [self.named(PIP, "public_ips", p, name, "public_ips")
                    for p in one_or_many(body.get("public_ips", []))]
            configs = [{"name": f"config{i}" if i else "config", "properties": {
                **({"subnet": {"id": subnet_id}, "privateIPAddress": ip} if i == 0 else {}),
                **({"publicIPAddress": pips[i]} if i < len(pips) else {})}}
                for i in range(max(1, len(pips)))]
            configs += self.ipv6_config(name, subnet_id, body)  # `ip6`: dual stack (preview)
            props: dict[str, Any] = {
                "ipConfigurations": configs,
                "networkRuleCollections": collections,
                **({"applicationRuleCollections": applications} if applications else {}),
                **({"natRuleCollections": nats} if nats else {})}
            extra: dict[str, str] = {}
            if body.get("snat_private_ranges") is not None:
                extra["Network.SNAT.PrivateRanges"] = ", ".join(
                    str(x) for x in one_or_many(body["snat_private_ranges"]))
            if body.get("dns_proxy") is not None:  # classic DNS proxy
                extra["Network.DNS.EnableProxy"] = str(bool(body["dns_proxy"])).lower()
            if extra:
                props["additionalProperties"] = extra
            if body.get("management"):  # a management IP configuration (forced tunnelling)
                props["managementIpConfiguration"] = {"name": "management", "properties": {}}
            if body.get("sku") is not None:  # the tier: Basic | Standard | Premium
                props["sku"] = {"name": "AZFW_VNet", "tier": str(body["sku"])}
            self.add("Microsoft.Network/azureFirewalls", name, props)

    def app_protocol(self, text: str, firewall: str) -> dict[str, Any]:
        """'Https:443' -> an application rule's protocol (Http, Https or Mssql with a port)."""
        kind, _, port = text.partition(":")
        if kind.strip().lower() not in ("http", "https", "mssql") or not port.strip().isdigit():
            raise self.error(firewall, "application_collections",
                             f"protocol '{text}' must be Http:PORT, Https:PORT or Mssql:PORT")
        return {"protocolType": kind.strip().capitalize(), "port": int(port)}

    def roles(self) -> None:
        for index, role in enumerate(self.doc.get("roles") or []):
            where = f"roles[{index}]"
            if not isinstance(role, dict) or "principal" not in role or "role" not in role:
                raise self.error(where, "roles", "a role needs principal and role")
            scope = str(role.get("scope", f"/subscriptions/{self.subscription}"))
            if scope in self.vnet_scope:
                scope = self.vnet_id(scope, where, "scope")
            self.add("Microsoft.Authorization/roleAssignments", f"role{index}", {
                "principalId": str(role["principal"]), "roleDefinitionName": str(role["role"]),
                "scope": scope, "actions": list(role.get("actions") or [])},
                rid=f"{scope}/providers/Microsoft.Authorization/roleAssignments/role{index}")


def scenario_read(text: str, source: str = "<scenario>", others: OtherInputs | None = None
                  ) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    """The scenario's resource dicts and the assumptions made reading it (an address chosen
    for an entry that gives none)."""
    builder = _build(text, source, others)
    return builder.resources, tuple(dict.fromkeys(builder.notes))


def scenario_resources(text: str, source: str = "<scenario>",
                       others: OtherInputs | None = None) -> list[dict[str, Any]]:
    """Parse scenario YAML text into the ARM resource dicts it stands for.

    `others`: the VNets and subnets the run's other inputs define (load/other_inputs.py); a
    VNET/SUBNET reference (vms, firewalls, load balancer frontends, private endpoints) that the
    scenario's own vnets: do not hold resolves there, so test VMs can be added to a template's
    subnets (docs/scenario.md, "Adding test VMs to a template")."""
    return _build(text, source, others).resources


def _build(text: str, source: str, others: OtherInputs | None) -> _Builder:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(f"malformed YAML{where}: {getattr(error, 'problem', error)}",
                         file=source) from None
    if not isinstance(doc, dict):
        raise InputError("a scenario is a YAML mapping with a 'vnets:' section", file=source)
    unknown = [str(key) for key in doc if key not in SECTIONS]
    if unknown:
        raise InputError(f"unknown section '{unknown[0]}'{did_you_mean(unknown[0], SECTIONS)}",
                         file=source, property=unknown[0])
    check_scenario_keys(doc, source)  # a misspelt key is an error, never silently ignored
    builder = _Builder(doc, source, others)
    for step in (builder.vnets, builder.peerings, builder.nsgs, builder.asgs,
                 builder.route_tables, builder.public_ips, builder.nat_gateways, builder.vms,
                 builder.on_premises, builder.load_balancers, builder.firewalls,
                 builder.private_endpoints, builder.roles):
        try:
            step()
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as error:
            raise InputError(f"malformed {step.__name__} section: {error}", file=source,
                             property=step.__name__) from None
    return builder


def load_scenario_text(text: str, source: str = "<scenario>") -> Topology:
    """Parse scenario YAML text into a Topology (with the assumptions made reading it)."""
    resources, notes = scenario_read(text, source)
    topology = resources_to_topology(resources, source)
    return replace(topology, assumptions=(*scenario_assumptions(source, notes),
                                          *topology.assumptions))


def scenario_assumptions(source: str, notes: tuple[str, ...]) -> tuple[Assumption, ...]:
    """`scenario_read`'s notes as the topology's assumptions, keyed as the ARM loader keys a
    template's (load/__init__.py: arm.FILE.N)."""
    return tuple(Assumption(f"scenario.{Path(source).name}.{i}", text)
                 for i, text in enumerate(notes))


def load_scenario(path: str | Path) -> Topology:
    path = Path(path)
    return load_scenario_text(path.read_text(encoding="utf-8"), str(path))
