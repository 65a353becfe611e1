"""Rendering of one flow's walk for `dataplane explain` (issue 3's contract); no stage logic.

The walk itself is the engine's reference pipeline (engine/reference.py), run for one packet
by `dataplane.watcher.explain`, so explain and the emulator cannot disagree. This module only
turns that walk into the explain answer. Takes: the walk's hop dicts, its disposition name
(engine/dispositions.py) and deciding rule/route label, the flow. Emits a plain dict
{"flow", "hops": [...], "disposition": Delivered | LeftNetwork | Dropped | Undecided (an Azure
Firewall application rule needs the flow's server name: --sni / --host), "reason",
"deciding", "engineDisposition", "assumptions", "caveats"}; each hop names the rule or route that
decided (route hops carry addressPrefix, nextHopType, nextHopIpAddress, routeTableId and
routeName as `az network watcher show-next-hop` would; NSG hops the rule per level).
Drop reasons (stable codes): NsgDenied, NextHopNone, NoGateway, NoNicAtDestination,
PeeringNotConnected, ForwardedTrafficNotAllowed, NextHopUnreachable, IpForwardingDisabled,
FirewallDenied, InternetRoutePrivateDestination, RoutingLoop, HopLimitExceeded, Spoofed,
LoadBalancerNoRule, LoadBalancerNoBackend, BasicLoadBalancerAcrossGlobalPeering,
GatewayTransitNotAllowed.
"""

from __future__ import annotations

import textwrap
from typing import Any

EPHEMERAL_PORT = 49152
DEFAULT_PORT = 80
PROTOCOL_NAMES = {6: "Tcp", 17: "Udp", 1: "Icmp", 50: "Esp", 51: "Ah"}

_DROP_CODES = {
    "DENIED_OUT": "NsgDenied", "DENIED_IN": "NsgDenied", "NULL_ROUTED": "NextHopNone",
    "NO_ROUTE": "NextHopNone", "NO_DESTINATION": "NoNicAtDestination",
    "PEERING_BLOCKED": "PeeringNotConnected",
    "FORWARDING_BLOCKED": "ForwardedTrafficNotAllowed",
    "NEXT_HOP_UNREACHABLE": "NextHopUnreachable",
    "IP_FORWARDING_DISABLED": "IpForwardingDisabled", "FIREWALL_DENIED": "FirewallDenied",
    "NON_ROUTABLE": "InternetRoutePrivateDestination", "LOOP": "RoutingLoop",
    "SPOOFED": "Spoofed", "LB_NO_RULE": "LoadBalancerNoRule",
    "LB_NO_BACKEND": "LoadBalancerNoBackend",
    "LB_BASIC_GLOBAL": "BasicLoadBalancerAcrossGlobalPeering",
    "TRANSIT_BLOCKED": "GatewayTransitNotAllowed", "BLOCKED_IN_VNET": "BlockedInVirtualNetwork",
    "LB_HAIRPIN": "LoadBalancerHairpin",
}


def outcome(disposition: str, deciding: str, hops: list[dict[str, Any]]) -> tuple[str, str]:
    """(Delivered | LeftNetwork | Dropped, reason) for an engine disposition name."""
    last = {h["step"]: h for h in hops}
    if disposition == "DELIVERED":
        hop = last.get("deliver", {})
        via = last.get("loadbalancer")
        return "Delivered", (f"delivered to {hop.get('nic', hop.get('at'))}"
                             + (f" through load balancer {via['at']}" if via else ""))
    if disposition == "EXITS_INTERNET":
        if last.get("exit", {}).get("serviceEndpoint"):
            return "LeftNetwork", "to an Azure service over its service endpoint"
        return "LeftNetwork", "to the Internet"
    if disposition == "EXITS_PLATFORM":
        hop = last.get("platform", {})
        return "LeftNetwork", (f"answered by Azure's host: {hop.get('service', '?')} at "
                               f"{hop.get('address', '?')} (no NSG, no user route)")
    if disposition == "EXITS_ON_PREMISES":
        gw = last.get("gateway", {})
        if gw.get("localNetworkGateway"):
            return "LeftNetwork", (f"to on-premises '{gw['localNetworkGateway']}' over "
                                   f"'{gw['connection']}'")
        return "LeftNetwork", f"through gateway '{gw.get('at', '?')}' (no site prefix matched)"
    if disposition == "NO_ROUTE" and last.get("gateway", {}).get("result") == "NoGateway":
        return "Dropped", "NoGateway"
    if disposition == "FIREWALL_NAME_UNKNOWN":
        return "Undecided", "FirewallServerNameUnknown"
    if disposition == "LOOP" and deciding == "hop limit":
        return "Dropped", "HopLimitExceeded"
    return "Dropped", _DROP_CODES.get(disposition, disposition)


def render(flow: dict[str, Any], hops: list[dict[str, Any]], disposition: str, deciding: str,
           assumptions: list[str]) -> dict[str, Any]:
    """The explain answer. The source hop is shown only when it decided (anti-spoofing)."""
    shown = [h for h in hops if h["step"] != "source" or h.get("result") == "Spoofed"]
    result, reason = outcome(disposition, deciding, hops)
    caveats = list(dict.fromkeys(c for h in hops for c in h.get("caveats", ())))
    return {"flow": flow, "hops": shown, "disposition": result, "reason": reason,
            "deciding": deciding, "engineDisposition": disposition, "assumptions": assumptions,
            "caveats": caveats}


def flow_dict(source_vm: str | None, source_nic: str, source_ip: str, destination_ip: str,
              protocol: int, sport: int, dport: int, ports_assumed: bool) -> dict[str, Any]:
    return {"sourceVm": source_vm, "sourceNic": source_nic, "sourceIp": source_ip,
            "destinationIp": destination_ip,
            "protocol": PROTOCOL_NAMES.get(protocol, str(protocol)),
            "sourcePort": sport, "destinationPort": dport, "portsAssumed": ports_assumed}


def describe(hop: dict[str, Any]) -> str:
    """One readable line per hop (the text form of `dataplane explain`)."""
    step = hop["step"]
    if step.startswith("nsg-"):
        levels = "; ".join(f"{lv['level']} {lv['nsg'] or '(no NSG)'}: {lv['access']}"
                           + (f" by {lv['rule']}" if lv["rule"] else "")
                           for lv in hop.get("levels", []))
        return f"NSG {step[4:]} at {hop['at']}: {hop['access']} ({levels})"
    if step == "route":
        via = f" {hop['nextHopIpAddress']}" if hop.get("nextHopIpAddress") else ""
        return (f"route at {hop['at']}: {hop.get('addressPrefix')} -> {hop['nextHopType']}{via}"
                f" [{hop.get('routeTableId') or 'System Route'}"
                + (f" / {hop['routeName']}" if hop.get("routeName") else "") + "]")
    if step == "peering":
        if hop.get("transit"):
            return (f"peering {hop['from']} -> {hop['to']} from {hop['gateway']} (gateway "
                    f"transit): {hop['result']}")
        fwd = " (forwarded traffic)" if hop.get("forwarded") else ""
        return (f"peering {hop['from']} -> {hop['to']} via {hop['link']}/{hop['remoteLink']}"
                f"{fwd}: {hop['result']}")
    if step == "appliance":
        rule = f" by {hop['rule']}" if hop.get("rule") else ""
        if hop.get("session"):
            rule = " by its session (a reply of a flow it allowed; stateful)"
        name = f" [{hop['serverName']}]" if hop.get("serverName") else ""
        text = (f"appliance {hop.get('at') or '?'} ({hop.get('kind', '?')}) at {hop['ip']}: "
                f"{hop['result']}{rule}{name}")
        # the caveats of this firewall, one indented, wrapped line block each (never silent)
        for caveat in hop.get("caveats", ()):
            text += "\n" + textwrap.fill(f"caveat {caveat}", width=92, initial_indent=" " * 5,
                                          break_on_hyphens=False,
                                          subsequent_indent=" " * 7)
        return text
    if step == "gateway":
        where = hop.get("localNetworkGateway")
        return (f"gateway {hop.get('at', '-')}"
                + (" (hub gateway, transit)" if hop.get("transit") else "")
                + (f": to {where} over {hop['connection']}" if where
                   else f": {hop.get('result', 'no site prefix matched')}"))
    if step == "loadbalancer":
        text = (f"load balancer {hop['at']} ({hop['sku']}) frontend {hop['frontend']}"
                + (f" rule {hop['rule']}" if hop.get("rule") else "") + f": {hop['result']}")
        if hop.get("backend"):
            text += (f" -> backend {hop['backend']} {hop['backendIp']} "
                     f"(hash {hop['hash']} mod {hop['pool']})")
        if hop.get("translated"):
            t = hop["translated"]
            text += f", destination now {t['destinationIp']}:{t['destinationPort']}"
        return text
    if step == "ingress":
        where = (f" from {hop['localNetworkGateway']} over {hop['connection']}"
                 if hop.get("localNetworkGateway") else "")
        return f"enters from {hop['kind']}{where} at {hop['at']}"
    if step == "edge":
        return f"Azure edge: {hop['result']} ({hop['destination']})"
    if step == "exit":
        return "leaves to the Internet" + (" (service endpoint)" if hop.get("serviceEndpoint")
                                           else "")
    if step == "deliver":
        if not hop.get("at"):
            return f"no NIC holds the destination: {hop.get('result')}"
        return f"delivered to {hop['at']}" + (f" ({hop['vm']})" if hop.get("vm") else "")
    if step == "nat":
        o, t = hop["original"], hop["translated"]
        return (f"{hop['kind']} at {hop['at']}: source {o['sourceIp']}:{o['sourcePort']} -> "
                f"{t['sourceIp']}:{t['sourcePort']} (reply of a load-balanced flow)")
    if step == "platform":
        return f"{hop['service']} at {hop['address']}: answered by Azure's host"
    if step == "source":
        return f"source {hop['at']}: {hop.get('result')}"
    return ", ".join(f"{k}={v}" for k, v in hop.items())
