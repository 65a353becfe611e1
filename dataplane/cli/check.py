"""`dataplane check TOPOLOGY [--parameters FILE] [TOPOLOGY ...] [-o json]`: load and validate.

Exit status: 0 valid, 1 the topology has errors, 2 the input cannot be read. JSON shape (the
contract other tools build on): {"valid", "errors": [{"code", "message", "resource"}],
"warnings": [...], "peerings": [{"vnet", "name", "remoteVnet", "peeringState",
"peeringSyncLevel", "allowVirtualNetworkAccess", "allowForwardedTraffic",
"allowGatewayTransit", "useRemoteGateways", "global"}], "virtualNetworks": [{"name",
"location", "addressSpace": {"addressPrefixes"}, "subnets": [{"name", "addressPrefix" |
"addressPrefixes"}], "virtualNetworkGateways": [{"name", "gatewayType", "vpnType", "sku",
"activeActive", "enableBgp", "bgpSettings": {"asn", "bgpPeeringAddress"} | null}]}],
"connections": [{"name", "connectionType", "enableBgp", "virtualNetworkGateway1": {"id"},
"virtualNetworkGateway2" | "localNetworkGateway2" | "peer": {"id"}}], "routeServers": [{"name",
"virtualRouterAsn", "virtualRouterIps", "bgpConnections": [{"name", "peerIp", "peerAsn"}]}],
"bgpAdvertisements": [{"peer", "prefixes", "asPath", "nextHop"}], "publicIpAddresses":
[{"name", "sku", "ipAddress", "chosenOffline"}], "azureFirewalls": [{"name", "location",
"sku": {"tier"}, "privateIPAddress", "publicIPAddresses": [{"name", "ipAddress"}],
"firewallPolicy": {"id", "name", "inInput", "basePolicy": {"id"} | null,
"ruleCollectionGroups", "dnsSettings": {"enableProxy"}} | null, "networkRuleCollections",
"applicationRuleCollections", "natRuleCollections", "additionalProperties":
{"Network.DNS.EnableProxy"}}], "unknownResources", "assumptions"}.
Keys are az's (az network vnet / vnet-gateway / vpn-connection / firewall show; a subnet with
one prefix has addressPrefix, with several addressPrefixes, as az prints them; a firewall's
rule collections and a policy's rule collection groups are counted, the classic DNS proxy
setting is its additionalProperties entry, a policy's is the policy's dnsSettings).
"""

from __future__ import annotations

import argparse
from typing import Any

from dataplane.cli.options import command, emit, load_inputs
from dataplane.control.public_addresses import (
    chosen_here,
    public_address,
    public_address_assumptions,
)
from dataplane.control.validate import validate
from dataplane.model import (
    AZURE_DEFAULT_ASN,
    BgpSettings,
    Connection,
    FirewallPolicy,
    PublicIPAddress,
    Topology,
    VirtualNetwork,
    VirtualNetworkGateway,
    id_name,
)
from dataplane.textable import items_line, table
from dataplane.timing.firewall_capacity import DEFAULT_TIER


def peering_rows(topology: Topology) -> list[dict[str, Any]]:
    rows = []
    for vnet in topology.virtual_networks:
        for link in vnet.virtual_network_peerings:
            remote = topology.get(link.remote_virtual_network)
            is_global = (remote.location != vnet.location
                         if isinstance(remote, VirtualNetwork) else None)
            rows.append({
                "vnet": vnet.name, "name": link.name,
                "remoteVnet": remote.name if isinstance(remote, VirtualNetwork)
                else id_name(link.remote_virtual_network),
                "peeringState": link.peering_state, "peeringSyncLevel": link.peering_sync_level,
                "allowVirtualNetworkAccess": link.allow_virtual_network_access,
                "allowForwardedTraffic": link.allow_forwarded_traffic,
                "allowGatewayTransit": link.allow_gateway_transit,
                "useRemoteGateways": link.use_remote_gateways,
                "global": is_global,
            })
    return rows


def _bgp_settings(settings: BgpSettings | None) -> dict[str, Any] | None:
    if settings is None:
        return None
    return {"asn": settings.asn,
            "bgpPeeringAddress": ",".join(map(str, settings.bgp_peering_address))}


def _gateway(gateway: VirtualNetworkGateway) -> dict[str, Any]:
    return {"name": gateway.name, "gatewayType": gateway.gateway_type,
            "vpnType": gateway.vpn_type, "sku": gateway.sku,
            "activeActive": gateway.active_active, "enableBgp": gateway.enable_bgp,
            "bgpSettings": _bgp_settings(gateway.bgp_settings)}


def vnet_rows(topology: Topology) -> list[dict[str, Any]]:
    """The VNets as `az network vnet show` names their parts, with their gateways."""
    def subnet(s: Any) -> dict[str, Any]:
        prefixes = [str(p) for p in s.address_prefixes]
        return {"name": s.name, **({"addressPrefix": prefixes[0]} if len(prefixes) == 1
                                   else {"addressPrefixes": prefixes})}
    return [{"name": v.name, "location": v.location,
             "addressSpace": {"addressPrefixes": [str(p) for p in v.address_space]},
             "subnets": [subnet(s) for s in v.subnets],
             "virtualNetworkGateways": [_gateway(g) for g in topology.gateways_of(v.id)]}
            for v in topology.virtual_networks]


def _connection(c: Connection) -> dict[str, Any]:
    other = ({"virtualNetworkGateway2": {"id": c.virtual_network_gateway2}}
             if c.virtual_network_gateway2 else
             {"localNetworkGateway2": {"id": c.local_network_gateway2}}
             if c.local_network_gateway2 else {"peer": {"id": c.peer}} if c.peer else {})
    return {"name": c.name, "connectionType": c.connection_type, "enableBgp": c.enable_bgp,
            "virtualNetworkGateway1": {"id": c.virtual_network_gateway1}, **other}


def bgp_rows(topology: Topology) -> dict[str, list[dict[str, Any]]]:
    """Route Servers with their BGP peers, and the sidecar's advertised routes."""
    return {
        "routeServers": [{"name": h.name, "virtualRouterAsn": h.virtual_router_asn,
                          "virtualRouterIps": [str(i) for i in h.virtual_router_ips],
                          "bgpConnections": [{"name": b.name, "peerIp": str(b.peer_ip or ""),
                                              "peerAsn": b.peer_asn}
                                             for b in h.bgp_connections]}
                         for h in topology.virtual_hubs if h.virtual_wan is None],
        "bgpAdvertisements": [{"peer": a.peer, "prefixes": [str(p) for p in a.prefixes],
                               "asPath": list(a.as_path),
                               "nextHop": str(a.next_hop) if a.next_hop else None}
                              for a in topology.bgp_advertisements],
    }


def firewall_rows(topology: Topology) -> list[dict[str, Any]]:
    """The Azure Firewalls as `az network firewall show` names their parts (module doc)."""
    rows = []
    for fw in topology.azure_firewalls:
        found = topology.get(fw.firewall_policy) if fw.firewall_policy else None
        policy = found if isinstance(found, FirewallPolicy) else None
        pips = []
        for ref in fw.public_ip_addresses:
            pip = topology.get(ref)
            address = (public_address(topology, pip) if isinstance(pip, PublicIPAddress)
                       else None)
            pips.append({"name": id_name(ref), "ipAddress": str(address) if address else None})
        rows.append({
            "name": fw.name, "location": fw.location, "sku": {"tier": fw.sku_tier},
            "privateIPAddress": str(fw.private_ip_address) if fw.private_ip_address else None,
            "publicIPAddresses": pips,
            "firewallPolicy": None if not fw.firewall_policy else {
                "id": fw.firewall_policy, "name": id_name(fw.firewall_policy),
                "inInput": policy is not None,
                "basePolicy": {"id": policy.base_policy} if policy and policy.base_policy
                else None,
                "ruleCollectionGroups": len(policy.rule_collection_groups) if policy else None,
                "dnsSettings": {"enableProxy": policy.dns_proxy_enabled} if policy else None},
            "networkRuleCollections": len(fw.network_rule_collections),
            "applicationRuleCollections": len(fw.application_rule_collections),
            "natRuleCollections": len(fw.nat_rule_collections),
            "additionalProperties": {"Network.DNS.EnableProxy":
                                     "true" if fw.dns_proxy_enabled else "false"},
        })
    return rows


def _firewall_text(f: dict[str, Any]) -> tuple[str, ...]:
    """One table row: name, SKU tier, private IP, public IPs, policy, rules, DNS proxy."""
    policy = f["firewallPolicy"]
    if policy is None:
        rules = (f"classic: network {f['networkRuleCollections']}, application "
                 f"{f['applicationRuleCollections']}, NAT {f['natRuleCollections']}")
        proxy = f["additionalProperties"]["Network.DNS.EnableProxy"] == "true"
        named = "-"
    else:
        base = policy["basePolicy"]
        named = policy["name"] + (f" (base {id_name(base['id'])})" if base else "") + (
            "" if policy["inInput"] else " (not in the input)")
        groups = policy["ruleCollectionGroups"]
        rules = ("policy: " + _count(groups, "rule collection group") if groups is not None
                 else "policy: not in the input")
        proxy = bool(policy["dnsSettings"] and policy["dnsSettings"]["enableProxy"])
    return (f["name"], f["sku"]["tier"] or f"{DEFAULT_TIER} (assumed)",
            f["privateIPAddress"] or "-",
            ", ".join(f"{p['name']} {p['ipAddress'] or '?'}" for p in f["publicIPAddresses"])
            or "-", named, rules, "yes" if proxy else "no")


def check_report(topology: Topology) -> dict[str, Any]:
    findings = validate(topology)
    errors = [f.as_dict() for f in findings if f.severity == "error"]
    return {
        "valid": not errors,
        "errors": errors,
        "warnings": [f.as_dict() for f in findings if f.severity == "warning"],
        "peerings": peering_rows(topology),
        "virtualNetworks": vnet_rows(topology),
        "connections": [_connection(c) for c in topology.connections],
        **bgp_rows(topology),
        "publicIpAddresses": [  # control/public_addresses.py
            {"name": p.name, "sku": p.sku, "ipAddress": str(public_address(topology, p)),
             "chosenOffline": chosen_here(topology, p.id)} for p in topology.public_ip_addresses],
        "azureFirewalls": firewall_rows(topology),
        "unknownResources": [{"type": u.type, "name": u.name, "id": u.id}
                             for u in topology.unknown_resources],
        "assumptions": [a.text for a in (*topology.assumptions,
                                         *public_address_assumptions(topology))],
    }


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _gateway_text(g: dict[str, Any]) -> str:
    bgp = g["bgpSettings"]
    return (f"{g['name']} ({g['gatewayType']} {g['sku']}"
            + (", active-active" if g["activeActive"] else "")
            + (f", BGP AS{bgp['asn'] if bgp else AZURE_DEFAULT_ASN}"
               + (f" {bgp['bgpPeeringAddress']}" if bgp and bgp["bgpPeeringAddress"] else "")
               if g["enableBgp"] else "") + ")")


def render_text(topology: Topology, report: dict[str, Any]) -> str:
    yes = {True: "yes", False: "no", None: "?"}
    parts = [f"Topology: {', '.join(topology.sources) or '<memory>'}", "", "Virtual networks:"]
    parts.append(table(["VNet", "region", "address space", "subnets", "gateway"], [
        (v["name"], v["location"], ", ".join(v["addressSpace"]["addressPrefixes"]),
         ", ".join(f"{s['name']} {s.get('addressPrefix') or ','.join(s['addressPrefixes'])}"
                   for s in v["subnets"]),
         ", ".join(_gateway_text(g) for g in v["virtualNetworkGateways"]))
        for v in report["virtualNetworks"]]))
    parts += ["", "Peerings:"]
    if report["peerings"]:
        parts.append(table(["VNet", "link", "remote", "state", "sync", "access", "forwarded",
                            "gw transit", "use remote gw", "global"], [
            (p["vnet"], p["name"], p["remoteVnet"], p["peeringState"], p["peeringSyncLevel"],
             yes[p["allowVirtualNetworkAccess"]], yes[p["allowForwardedTraffic"]],
             yes[p["allowGatewayTransit"]], yes[p["useRemoteGateways"]], yes[p["global"]])
            for p in report["peerings"]]))
    else:
        parts.append("  (none)")
    parts += ["", "Connections:"]
    if report["connections"]:
        parts.append(table(["connection", "type", "gateway", "to", "BGP"], [
            (c["name"], c["connectionType"], id_name(c["virtualNetworkGateway1"]["id"]),
             next((f"{id_name(c[k]['id'])} ({what})" for k, what in (
                 ("virtualNetworkGateway2", "VNet gateway"),
                 ("localNetworkGateway2", "local network gateway"),
                 ("peer", "ExpressRoute circuit")) if k in c), "-"),
             yes[c["enableBgp"]]) for c in report["connections"]]))
    else:
        parts.append("  (none)")
    if report["routeServers"]:
        parts += ["", "Route Servers:", table(["Route Server", "ASN", "router IPs", "BGP peers"], [
            (h["name"], h["virtualRouterAsn"], ", ".join(h["virtualRouterIps"]),
             ", ".join(f"{b['name']} {b['peerIp']} AS{b['peerAsn']}" for b in h["bgpConnections"])
             or "(none)") for h in report["routeServers"]])]
    if report["bgpAdvertisements"]:
        parts += ["", "BGP routes advertised (--bgp-routes, bgp_routes:):", table(
            ["peer", "prefixes", "AS path", "next hop"], [
                (a["peer"], ", ".join(a["prefixes"]), " ".join(map(str, a["asPath"])) or "-",
                 a["nextHop"] or "-") for a in report["bgpAdvertisements"]])]
    if report["publicIpAddresses"]:
        parts += ["", "Public IP addresses:", table(["name", "SKU", "address", "source"], [
            (p["name"], p["sku"], p["ipAddress"], "chosen offline" if p["chosenOffline"]
             else "input") for p in report["publicIpAddresses"]])]
    if report["azureFirewalls"]:
        parts += ["", "Azure Firewalls:", table(
            ["firewall", "SKU", "private IP", "public IPs", "policy", "rules", "DNS proxy"],
            [_firewall_text(f) for f in report["azureFirewalls"]], keep=(0,))]
    counts = [_count(len(group), name) for group, name in (
        (topology.network_interfaces, "NIC"), (topology.virtual_machines, "VM"),
        (topology.network_security_groups, "NSG"), (topology.route_tables, "route table"),
        (topology.local_network_gateways, "on-premises network"),
        (topology.load_balancers, "load balancer"), (topology.azure_firewalls, "firewall"),
        (topology.nat_gateways, "NAT gateway"), (topology.private_endpoints, "private endpoint"))]
    parts += ["", items_line("Resources:", counts)]
    for title, key in (("Errors", "errors"), ("Warnings", "warnings")):
        parts += ["", f"{title}: {len(report[key])}"]
        parts += _finding_lines(report[key])
    if report["assumptions"]:
        parts += ["", "Assumptions:"] + [f"  - {a}" for a in report["assumptions"]]
    parts += ["", "VALID" if report["valid"] else "INVALID"]
    return "\n".join(parts)


_NOT_MODELLED = " is not modelled: "


def _finding_lines(findings: list[dict[str, Any]]) -> list[str]:
    """One line per finding ("  CODE: message"), except that findings of one code whose
    message says the same "... is not modelled: WHY" (a property set the same way on several
    subnets, say) print WHY once, then one "- where" line each."""
    groups: dict[tuple[str, str], list[str]] = {}
    for f in findings:
        where, sep, why = f["message"].partition(_NOT_MODELLED)
        groups.setdefault((f["code"], why if sep else f["message"]), []).append(
            where if sep else "")
    lines = []
    for (code, why), places in groups.items():
        if len(places) == 1:
            lines.append(f"  {code}: {places[0] + _NOT_MODELLED + why if places[0] else why}")
            continue
        lines.append(f"  {code} ({len(places)} places): not modelled: {why}")
        lines += [f"    - {place}" for place in places]
    return lines


def run(args: argparse.Namespace) -> int:
    topology = load_inputs(args)
    report = check_report(topology)
    emit(args, report, lambda: render_text(topology, report))
    return 0 if report["valid"] else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    command(subparsers, "check", "load a topology and validate it as Azure would", run,
            description="Load a topology (ARM template, az JSON dumps, scenario YAML) and "
                        "report Azure's validation errors, warnings, the VNets with their "
                        "gateways (BGP settings), the peering links with their states, the "
                        "gateway connections and BGP peers, the Azure Firewalls. Exit 0 valid, 1 errors found, 2 unreadable input.")
