"""Network Watcher-style subcommands: routes, rules, next-hop, ip-flow-verify, explain.

Each takes TOPOLOGY... (as `check` does, cli/options.py) and prints a readable table, or with
-o json the dict dataplane.watcher returns (Azure's shapes plus an "assumptions" list; --query
and -o tsv as az). Unknown names: one line on stderr, exit 2.
  dataplane routes TOPOLOGY --nic NIC
  dataplane rules TOPOLOGY --nic NIC
  dataplane next-hop TOPOLOGY --vm VM --source-ip IP --dest-ip IP
  dataplane ip-flow-verify TOPOLOGY --vm VM --direction Inbound|Outbound --protocol Tcp|Udp
                           --local IP:PORT --remote IP:PORT
  dataplane explain TOPOLOGY --vm VM --to IP[:PORT] [--protocol P] [--sni NAME | --host NAME]
IPv6 addresses are accepted everywhere (an IPv6 endpoint with a port: [ADDRESS]:PORT); Azure's
own IP flow verify takes IPv4 only, ours goes beyond it (dataplane/watcher.py). explain walks
IPv6 flows through the engine's stages like IPv4 ones (issue 17).
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from dataplane import watcher
from dataplane.cli.options import (
    APPLICATION_RULE_HINT,
    command,
    destination,
    destination_ip,
    emit,
    protocol,
    server_name_options,
)
from dataplane.cli.options import load_inputs as load_topology
from dataplane.control.explain import describe
from dataplane.model import Topology
from dataplane.textable import fit, table


def _bullets(lines: list[str], mark: str) -> str:
    """One wrapped bullet per line (textable.fit: the terminal's width, 100 by default)."""
    return "\n".join(fit(f"  {mark} {line}") for line in lines)  # textable.fit: ids at '/'


def notes_text(text: str, caveats: list[str], notes: list[str]) -> str:
    """`text` followed by the "Caveats" and "Assumptions" blocks (100 columns; a caveat
    `text` already shows is not printed twice). Shared by the watcher commands and trace."""
    printed = " ".join(text.split())
    caveats = [c for c in caveats if " ".join(c.split()) not in printed]  # not twice
    return (text
            + ("\n\nCaveats (what the model leaves out that can change this answer):\n"
               + _bullets(caveats, "!") if caveats else "")
            + ("\n\nAssumptions:\n" + _bullets(notes, "-") if notes else ""))


def _emit(args: argparse.Namespace, result: dict[str, Any], text: str) -> int:
    emit(args, result, notes_text(text, result.get("caveats", []),
                                  result.get("assumptions", [])))
    return 0


def _routes(args: argparse.Namespace) -> int:
    topology = load_topology(args)
    result = watcher.effective_route_table(topology, args.nic)
    result["outbound"] = internet_egress(topology, result)
    rows = [(r["source"], r["state"], ", ".join(r["addressPrefix"]), r["nextHopType"],
             ", ".join(r["nextHopIpAddress"]), "yes" if r["disableBgpRoutePropagation"] else "")
            for r in result["value"]]
    text = f"Effective routes of {args.nic}:\n" + table(
        ["Source", "State", "Address prefix", "Next hop type", "Next hop IP",
         "BGP propagation off"], rows)
    return _emit(args, result, text + _edge_lines(result))


def appliance_names(topology: Topology, addresses: list[str]) -> list[str]:
    """What holds each next-hop address: 'Azure Firewall fw', 'VM nva1' (its NIC's address),
    'load balancer ilb (frontend fe)'; an address nothing in the input holds is left out."""
    names = []
    for text in addresses:
        for fw in topology.azure_firewalls:
            if str(fw.private_ip_address) == text:
                names.append(f"Azure Firewall {fw.name}")
        for nic in topology.network_interfaces:
            if any(str(c.private_ip_address) == text for c in nic.ip_configurations):
                machine = topology.vm_of_nic(nic)
                names.append(f"VM {machine.name}" if machine else f"NIC {nic.name}")
        for lb in topology.load_balancers:
            names += [f"load balancer {lb.name} (frontend {f.name})"
                      for f in lb.frontend_ip_configurations
                      if str(f.private_ip_address) == text]
        for gw in topology.virtual_network_gateways:
            settings = gw.bgp_settings
            if settings and text in map(str, settings.bgp_peering_address):
                names.append(f"gateway {gw.name}")
    return list(dict.fromkeys(names))


def internet_egress(topology: Topology, result: dict[str, Any]) -> dict[str, Any] | None:
    """A routes answer's way to the Internet, following its Active 0.0.0.0/0 route: Internet
    traffic takes that route, and a user route 0.0.0.0/0 overrides the system one ("Virtual
    network traffic routing", https://learn.microsoft.com/azure/virtual-network/
    virtual-networks-udr-overview, "Default route": next hop VirtualAppliance or
    VirtualNetworkGateway (forced tunnelling) or None). Next hop
    Internet: the answer's own `outbound` (control/outbound.py: NAT gateway, public IP, load
    balancer rule or default outbound access). Otherwise that route's next hop instead:
    {"method": VirtualAppliance | VirtualNetworkGateway | None, "nextHopIpAddress",
    "appliances" (what holds those addresses: `appliance_names`), "routeSource",
    "publicIpAddresses": []} -- the source address is then the appliance's or the far side's,
    not this NIC's. No Active 0.0.0.0/0 route: the answer's `outbound` unchanged."""
    current = result.get("outbound")
    default = next((r for r in result.get("value", []) if r["state"] == "Active"
                    and "0.0.0.0/0" in r["addressPrefix"]), None)
    if default is None or default["nextHopType"] == "Internet":
        return current
    return {"method": default["nextHopType"], "nextHopIpAddress": default["nextHopIpAddress"],
            "appliances": appliance_names(topology, default["nextHopIpAddress"]),
            "routeSource": default["source"], "publicIpAddresses": []}


def _egress_text(out: dict[str, Any]) -> str:
    """The 'Outbound to the Internet' line of a route's next hop other than Internet."""
    ips = ", ".join(out["nextHopIpAddress"])
    held = f" ({', '.join(out['appliances'])})" if out.get("appliances") else ""
    route = f"{out['routeSource']} route 0.0.0.0/0"
    if out["method"] == "VirtualAppliance":
        return (f"Outbound to the Internet: through the appliance {ips}{held} ({route}; the "
                "appliance's own outbound method gives the source address)")
    if out["method"] == "VirtualNetworkGateway":
        return (f"Outbound to the Internet: through the virtual network gateway"
                f"{' ' + ips if ips else ''}{held} ({route}: forced tunnelling, the far side "
                "decides the way out)")
    return f"Outbound to the Internet: none ({route} -> {out['method']}: dropped)"


def _edge_lines(result: dict[str, Any]) -> str:
    """The outbound method and the private endpoint of an answer (control/outbound.py)."""
    lines = []
    out = result.get("outbound")
    if out and out["method"] in ("VirtualAppliance", "VirtualNetworkGateway", "None") and \
            "routeSource" in out:
        lines.append(_egress_text(out))
    elif out:
        via = out["method"] + (f" {out['resourceId'].rsplit('/', 1)[-1]}" if out.get(
            "resourceId") else "") + (f"/{out['rule']}" if out.get("rule") else "")
        source = ("source " + ", ".join(out["publicIpAddresses"]) if out["publicIpAddresses"]
                  else "private subnet: no outbound access" if out["method"] == "None"
                  else "source: an address Microsoft owns, not known offline")
        lines.append(f"Outbound to the Internet: {via} ({source})")
        if out.get("overrides"):
            lines.append(f"  overrides: {', '.join(out['overrides'])}")
    endpoint = result.get("privateEndpoint")
    if endpoint:
        groups = f" ({', '.join(endpoint['groupIds'])})" if endpoint["groupIds"] else ""
        lines.append(f"Private endpoint {endpoint['id'].rsplit('/', 1)[-1]} -> "
                     f"{endpoint['privateLinkServiceId']}{groups}")
    return "".join("\n" + fit(line) for line in lines)


def _rules(args: argparse.Namespace) -> int:
    result = watcher.effective_security_rules(load_topology(args), args.nic)
    parts = [f"Effective security rules of {args.nic}:"]
    if not result["value"]:
        parts.append("  no NSG on the NIC or its subnet: all traffic allowed at the NSG layer")
    for group in result["value"]:
        (level, target), = group["association"].items()
        parts.append(f"\nNSG {group['networkSecurityGroup']['id'].rsplit('/', 1)[-1]} "
                     f"(associated with {level} {target['id'].rsplit('/', 1)[-1]}):")
        parts.append(table(
            ["Direction", "Priority", "Name", "Access", "Protocol", "Source", "Src ports",
             "Destination", "Dst ports"],
            [(r["direction"], r["priority"], r["name"], r["access"], r["protocol"],
              _short(r["sourceAddressPrefixes"] + r["sourceApplicationSecurityGroups"]),
              ",".join(r["sourcePortRanges"]),
              _short(r["destinationAddressPrefixes"] + r["destinationApplicationSecurityGroups"]),
              ",".join(r["destinationPortRanges"])) for r in group["effectiveSecurityRules"]]))
        for tag, prefixes in group["tagMap"].items():
            parts.append(f"  {tag} = {_short(prefixes, 8)}")
    return _emit(args, result, "\n".join(parts))


def _short(items: list[str], limit: int = 4) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items)} total)" if len(items) > limit else "")


def _next_hop(args: argparse.Namespace) -> int:
    result = watcher.next_hop(load_topology(args), args.vm, args.source_ip, args.dest_ip,
                              args.nic)
    text = table(["Next hop type", "Next hop IP", "Route table"], [
        (result["nextHopType"], result["nextHopIpAddress"] or "-", result["routeTableId"])])
    return _emit(args, result, text + _edge_lines(result))


def _ip_flow(args: argparse.Namespace) -> int:
    result = watcher.ip_flow_verify(load_topology(args), args.vm, args.direction,
                                    args.protocol.upper(),
                                    args.local, args.remote, args.nic)
    text = f"Access: {result['access']}\nRule:   {result.get('ruleName', '(no NSG applies)')}"
    return _emit(args, result, text)


def endpoint_text(ip: str, port: int) -> str:
    """'10.0.0.4:80', '[2001:db8::4]:80'."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def port_assumed(to: str, flow: dict[str, Any], sni: str | None = None) -> str:
    """The line saying which destination port was assumed, why, and how to give one: --to
    gave none, so HTTPS's 443 for a flow naming a TLS server (--sni), else HTTP's 80
    (options.default_port). An IPv6 address is never split at its last colon ('fd00::5:22' is
    one address, RFC 4291 text form); a port goes after brackets, as in URLs (RFC 3986 host
    syntax)."""
    example = (f"[{flow['destinationIp']}]:PORT" if ":" in flow["destinationIp"]
               else f"{flow['destinationIp']}:PORT")
    read = (f"'{to}' is read as the IPv6 address {flow['destinationIp']}; "
            if ":" in flow["destinationIp"] and not to.strip().startswith("[") else "")
    why = "HTTPS for --sni" if sni else "HTTP without --sni"
    return fit(f"  ({read}port {flow['destinationPort']} assumed, {why}: --to gives "
               f"none; give one as --to {example})")


_ADDRESS = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d./])")  # IPv4, not a prefix


def input_notes(topology: Topology, answer: Any) -> list[str]:
    """The load's assumptions (`topology.assumptions`: a template's dynamic private IP, a
    scenario entry given no ip, load/scenario.py) that name an IPv4 address the answer
    shows, as "key: text" lines: a flow from or to a chosen address says it was chosen.
    Shared by explain and trace."""
    shown = set(_ADDRESS.findall(json.dumps(answer, default=str)))
    return [f"{a.key}: {a.text}" for a in topology.assumptions
            if shown & set(_ADDRESS.findall(a.text))]


def _explain(args: argparse.Namespace) -> int:
    topology = load_topology(args)
    dest = destination(args.to, sni=args.sni)  # cli/options.py, shared with trace
    address = destination_ip(topology, dest)
    to = address if dest.assumed else endpoint_text(address, dest.port)
    result = watcher.explain(topology, args.vm, to, args.protocol, sni=args.sni,
                             host=args.host)
    result["assumptions"] = [*input_notes(topology, result), *result["assumptions"]]
    flow = result["flow"]
    lines = [f"Flow {flow['protocol']} {endpoint_text(flow['sourceIp'], flow['sourcePort'])} -> "
             f"{endpoint_text(flow['destinationIp'], flow['destinationPort'])} from "
             f"{flow['sourceVm']} ({flow['sourceNic']})"]
    if flow["portsAssumed"]:
        lines.append(port_assumed(args.to, flow, args.sni))
    for i, hop in enumerate(result["hops"], 1):
        lines.append(f"  {i}. {describe(hop)}")
    lines.append(fit(f"=> {result['disposition']}: {result['reason']}"
                     + (f"  [decided by {result['deciding']}]" if result.get("deciding")
                        else "")))
    if result["engineDisposition"] == "FIREWALL_NAME_UNKNOWN":
        lines.append(APPLICATION_RULE_HINT)
    return _emit(args, result, "\n".join(lines))


def register(subparsers: argparse._SubParsersAction) -> None:
    nic_help = "network interface name as written in the template, or its full resource id"
    vm_help = "virtual machine name as written in the template, or its full resource id"
    p = command(subparsers, "routes",
                "effective routes of a NIC (az network nic show-effective-route-table)", _routes)
    p.add_argument("--nic", required=True, help=nic_help)
    p = command(subparsers, "rules",
                "effective security rules of a NIC (az network nic list-effective-nsg)", _rules)
    p.add_argument("--nic", required=True, help=nic_help)
    p = command(subparsers, "next-hop",
                "next hop from a VM to an address (az network watcher show-next-hop)", _next_hop)
    p.add_argument("--vm", required=True, help=vm_help)
    p.add_argument("--source-ip", required=True, help="IPv4 or IPv6 address of the VM")
    p.add_argument("--dest-ip", required=True, help="IPv4 or IPv6 address (same family)")
    p.add_argument("--nic", help="the VM's NIC when it has several (" + nic_help + ")")
    p = command(subparsers, "ip-flow-verify",
                "would NSGs allow this flow (az network watcher test-ip-flow; IPv6 too, where "
                "Azure's takes IPv4 only)", _ip_flow)
    p.add_argument("--vm", required=True, help=vm_help)
    p.add_argument("--direction", required=True, choices=["Inbound", "Outbound"],
                   type=lambda s: s.capitalize())
    p.add_argument("--protocol", required=True, choices=["Tcp", "Udp"], type=protocol,
                   help="Tcp or Udp (any case)")
    p.add_argument("--local", required=True, metavar="IP:PORT",
                   help="the VM's address and port; IPv6 as [ADDRESS]:PORT (Azure's IP flow "
                   "verify takes IPv4 only: IPv6 answers go beyond it)")
    p.add_argument("--remote", required=True, metavar="IP:PORT",
                   help="the other end, same IP version as --local")
    p.add_argument("--nic", help="the VM's NIC when it has several (" + nic_help + ")")
    p = command(subparsers, "explain", "walk one flow hop by hop: NSG out, route, peering, "
                "NVA, gateway, NSG in", _explain)
    p.add_argument("--vm", required=True, help=vm_help)
    p.add_argument("--to", required=True, metavar="IP[:PORT]",
                   help="destination; IPv6 as ADDRESS or [ADDRESS]:PORT (a bare address "
                   "takes the default port: 443 with --sni, else 80)")
    p.add_argument("--protocol", default="Tcp", type=protocol,
                   help="Tcp (default), Udp, Icmp, Esp, Ah (any case)")
    server_name_options(p)
