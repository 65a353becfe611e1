"""`dataplane check TOPOLOGY [--parameters FILE] [TOPOLOGY ...] [-o json]`: load and validate.

Exit status: 0 valid, 1 the topology has errors, 2 the input cannot be read. JSON shape (the
contract other tools build on): {"valid", "errors": [{"code", "message", "resource"}],
"warnings": [...], "peerings": [{"vnet", "name", "remoteVnet", "peeringState",
"peeringSyncLevel", "allowVirtualNetworkAccess", "allowForwardedTraffic",
"allowGatewayTransit", "useRemoteGateways", "global"}], "publicIpAddresses": [{"name",
"sku", "ipAddress", "chosenOffline"}], "unknownResources", "assumptions"}.
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
from dataplane.model import Topology, VirtualNetwork, id_name
from dataplane.textable import table


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


def check_report(topology: Topology) -> dict[str, Any]:
    findings = validate(topology)
    errors = [f.as_dict() for f in findings if f.severity == "error"]
    return {
        "valid": not errors,
        "errors": errors,
        "warnings": [f.as_dict() for f in findings if f.severity == "warning"],
        "peerings": peering_rows(topology),
        "publicIpAddresses": [  # control/public_addresses.py
            {"name": p.name, "sku": p.sku, "ipAddress": str(public_address(topology, p)),
             "chosenOffline": chosen_here(topology, p.id)} for p in topology.public_ip_addresses],
        "unknownResources": [{"type": u.type, "name": u.name, "id": u.id}
                             for u in topology.unknown_resources],
        "assumptions": [a.text for a in (*topology.assumptions,
                                         *public_address_assumptions(topology))],
    }


def render_text(topology: Topology, report: dict[str, Any]) -> str:
    yes = {True: "yes", False: "no", None: "?"}
    parts = [f"Topology: {', '.join(topology.sources) or '<memory>'}", "", "Virtual networks:"]
    parts.append(table(["VNet", "region", "address space", "subnets", "gateway"], [
        (v.name, v.location, ", ".join(map(str, v.address_space)),
         ", ".join(f"{s.name} {','.join(map(str, s.address_prefixes))}" for s in v.subnets),
         ", ".join(f"{g.name} ({g.gateway_type} {g.sku})" for g in topology.gateways_of(v.id)))
        for v in topology.virtual_networks]))
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
    if report["publicIpAddresses"]:
        parts += ["", "Public IP addresses:", table(["name", "SKU", "address", "source"], [
            (p["name"], p["sku"], p["ipAddress"], "chosen offline" if p["chosenOffline"]
             else "input") for p in report["publicIpAddresses"]])]
    counts = (f"{len(topology.network_interfaces)} NICs, {len(topology.virtual_machines)} VMs, "
              f"{len(topology.network_security_groups)} NSGs, {len(topology.route_tables)} route "
              f"tables, {len(topology.local_network_gateways)} on-premises networks, "
              f"{len(topology.load_balancers)} load balancers, "
              f"{len(topology.azure_firewalls)} firewalls, "
              f"{len(topology.nat_gateways)} NAT gateways, "
              f"{len(topology.private_endpoints)} private endpoints")
    parts += ["", f"Resources: {counts}"]
    for title, key in (("Errors", "errors"), ("Warnings", "warnings")):
        parts += ["", f"{title}: {len(report[key])}"]
        parts += [f"  {f['code']}: {f['message']}" for f in report[key]]
    if report["assumptions"]:
        parts += ["", "Assumptions:"] + [f"  - {a}" for a in report["assumptions"]]
    parts += ["", "VALID" if report["valid"] else "INVALID"]
    return "\n".join(parts)


def run(args: argparse.Namespace) -> int:
    topology = load_inputs(args)
    report = check_report(topology)
    emit(args, report, lambda: render_text(topology, report))
    return 0 if report["valid"] else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    command(subparsers, "check", "load a topology and validate it as Azure would", run,
            description="Load a topology (ARM template, az JSON dumps, scenario YAML) and "
                        "report Azure's validation errors, warnings and the peering links with "
                        "their states. Exit 0 valid, 1 errors found, 2 unreadable input.")
