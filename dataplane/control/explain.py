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
HTTPS_PORT = 443  # a flow asking a TLS server name (--sni) given no port: HTTPS's
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
    "PUBLIC_IP_CLOSED": "StandardPublicIpClosedToInbound", "NO_OUTBOUND_ACCESS": "NoOutboundAccess",
    "NO_IPV6_INTERNET": "NoIpv6InternetAccess", "GATEWAY_IPV4_ONLY": "GatewayIpv4Only",  # v6edge
}


def _endpoint(address: str, port: object) -> str:
    """'address:port', an IPv6 address in brackets ('[2001:db8::1]:443')."""
    return f"[{address}]:{port}" if ":" in str(address) else f"{address}:{port}"


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
    if disposition == "PRIVATE_ENDPOINT":  # engine/stages/public_edge.py
        return "LeftNetwork", f"to {last.get('private-endpoint', {}).get('privateLinkService')}"
    if disposition == "EXITS_PLATFORM":
        hop = last.get("platform", {})
        if hop.get("result") == "AnsweredByFirewall":  # engine/stages/firewall.py DNS proxy
            return "LeftNetwork", (f"answered by Azure Firewall {hop.get('at')}'s DNS proxy at "
                                   f"{hop.get('address', '?')}")
        return "LeftNetwork", (f"answered by Azure's host: {hop.get('service', '?')} at "
                               f"{hop.get('address', '?')} (no NSG, no user route)")
    if disposition == "EXITS_ON_PREMISES":
        gw = last.get("gateway", {})
        if site_of(gw):
            return "LeftNetwork", (f"to on-premises '{site_of(gw)}' over "
                                   f"'{gw['connection']}'")
        if gw.get("connection"):
            return "LeftNetwork", f"through '{gw.get('at', '?')}' over '{gw['connection']}'"
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


def site_of(hop: dict[str, Any]) -> str | None:
    """The on-premises end a gateway or ingress hop names: a local network gateway or an
    ExpressRoute circuit (engine/stages/gateway.py)."""
    return hop.get("localNetworkGateway") or hop.get("expressRouteCircuit")


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
        if hop.get("ecmp"):  # one of equal-cost rows, by flow hash (stages/gateway.py)
            via += f" (equal-cost {hop['ecmp']})"
        # a user route is named by its own ARM id (TABLE_ID/routes/NAME): one word, so a
        # narrow terminal breaks it only after a '/'
        source = hop.get("routeTableId") or "System Route"
        if hop.get("routeTableId") and hop.get("routeName"):
            source = f"{hop['routeTableId']}/routes/{hop['routeName']}"
        return (f"route at {hop['at']}: {hop.get('addressPrefix')} -> {hop['nextHopType']}{via}"
                f" [{source}]")
    if step == "peering":
        if hop.get("transit"):
            return (f"peering {hop['from']} -> {hop['to']} from {hop['gateway']} (gateway "
                    f"transit): {hop['result']}")
        fwd = " (forwarded traffic)" if hop.get("forwarded") else ""
        return (f"peering {hop['from']} -> {hop['to']} via {hop['link']}/{hop['remoteLink']}"
                f"{fwd}: {hop['result']}")
    if step == "appliance":
        rule = f" by {hop['rule']}" if hop.get("rule") else ""
        if hop.get("session") == "pending":  # engine/pending.py
            rule = (f" by {hop['rule']} (a reply of a flow its application rules did not "
                    "allow: the flow's verdict, pending session)")
        elif hop.get("session"):
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
        where = site_of(hop)
        # node names already say "gateway NAME" (engine/compile.py): not "gateway gateway"
        text = (f"gateway {str(hop.get('at', '-')).removeprefix('gateway ')}"
                + (f" (instance {hop['instance']})" if hop.get("instance") else "")
                + (" (hub gateway, transit)" if hop.get("transit") else "")
                + "".join(f" > {name}" for name in hop.get("via", ())))
        if hop.get("toVnet"):
            return f"{text}: {hop['result']} into {hop['toVnet']}"
        if where:
            return f"{text}: to {where} over {hop['connection']}"
        if hop.get("connection"):
            return f"{text}: {hop.get('result', 'leaves')} over {hop['connection']}"
        return f"{text}: {hop.get('result', 'no site prefix matched')}"
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
        where = (f" from {site_of(hop)} over {hop['connection']}" if site_of(hop) else "")
        if hop.get("expired"):  # engine/stages/gateway.py expired-reply-at-vm
            where += (": the reply of a flow that idled out (conntrack-idle), a new flow: "
                      f"{hop['result']}")
        return f"enters from {hop['kind']}{where} at {hop['at']}"
    if step == "edge":
        return f"Azure edge: {hop['result']} ({hop['destination']})"
    if step == "exit":
        if hop.get("result") == "NoOutboundAccess":
            return "no outbound access to the Internet (private subnet, no outbound method)"
        if hop.get("result") == "NoIPv6InternetAccess":  # engine/stages/public_edge6.py
            return "no IPv6 Internet access (no public IPv6, no load balancer IPv6 frontend)"
        return "leaves to the Internet" + (" (service endpoint)" if hop.get("serviceEndpoint")
                                           else "") + (f", outbound {hop['outbound']}"
                                                       if hop.get("outbound") else "")
    if step == "private-endpoint":
        return f"reaches {hop['privateLinkService']}"
    if step == "deliver":
        if not hop.get("at"):
            return f"no NIC holds the destination: {hop.get('result')}"
        return f"delivered to {hop['at']}" + (f" ({hop['vm']})" if hop.get("vm") else "")
    if step == "nat" and hop.get("result") == "OutboundOnly":  # public_edge: NAT gateway
        return f"{hop['kind']} {hop['at']}: outbound only, no flow to answer"
    if step == "nat" and hop.get("kind") == "DNAT (firewall)":  # engine/stages/firewall_nat.py
        if hop.get("session") == "pending":  # engine/pending.py public_reply_key
            return (f"{hop['kind']} {hop['at']}: no DNAT rule matches; {hop['result']} by "
                    f"{hop['rule']} (a reply of a flow its application rules did not allow: "
                    "the flow's verdict, pending session)")
        if hop.get("rule") is None:
            return f"{hop['kind']} {hop['at']}: no DNAT rule matches" + (
                " (the reply of a flow it translated, after the flow idled out "
                "(conntrack-idle): a new flow; engine/stages/gateway.py "
                "expired-reply-at-firewall)" if hop.get("expired") else "")
        o, t = hop["original"], hop["translated"]
        return (f"{hop['kind']} {hop['at']} by {hop['rule']}: destination {o['destinationIp']}:"
                f"{o['destinationPort']} -> {t['destinationIp']}:{t['destinationPort']}, source "
                f"{o['sourceIp']}:{o['sourcePort']} -> {t['sourceIp']}:{t['sourcePort']}")
    if step == "nat" and "destinationIp" in hop["original"]:  # public IP DNAT, un-SNAT
        o, t = hop["original"], hop["translated"]
        port = (f" -> {_endpoint(t['destinationIp'], t['destinationPort'])}"
                if "destinationPort" in o else f" -> {t['destinationIp']}")
        first = (_endpoint(o["destinationIp"], o["destinationPort"]) if "destinationPort" in o
                 else o["destinationIp"])
        return (f"{hop['kind']} {hop['at']}: destination {first}{port}" + (
            " closed: Standard SKU, no NSG allows it"
            if hop.get("result") == "ClosedToInbound" else ""))
    if step == "nat":  # un-DNAT of a load-balanced flow's reply, SNAT (public_edge)
        o, t = hop["original"], hop["translated"]
        why = " (reply of a load-balanced flow)" if hop["kind"] == "un-DNAT" else ""
        note = f" ({hop['note']})" if hop.get("note") else ""  # firewall SNAT port moved
        return (f"{hop['kind']} at {hop['at']}: source {_endpoint(o['sourceIp'], o['sourcePort'])}"
                f" -> {_endpoint(t['sourceIp'], t['sourcePort'])}{why}{note}")
    if step == "platform":
        who = f"firewall {hop['at']}" if hop.get("result") == "AnsweredByFirewall" else \
            "Azure's host"
        return f"{hop['service']} at {hop['address']}: answered by {who}"
    if step == "source":
        return f"source {hop['at']}: {hop.get('result')}"
    return ", ".join(f"{k}={v}" for k, v in hop.items())
