"""The reference pipeline: one packet at a time, plain Python, readable; the batch oracle.

Takes: a `Network` (compile.py) and packets as `Packet` tuples (ingress NIC index or -1,
IPv4 source/destination integers, protocol, ports, length, time_in ns), in time order.
Emits per packet a `Walk`: disposition, deciding rule/route label, the node path (NIC, firewall,
gateway, internet node ids) and detailed hop dicts for `explain`.
Order (DESIGN.md pipeline; the same as control/explain.py so answers agree):
1 source NIC, anti-spoofing unless enableIPForwarding (SPOOFED; UNMAPPED without a NIC);
2 outbound NSG, NIC then subnet (azure-semantics.md 2.4; DENIED_OUT); return traffic of an
  established flow skips every NSG (stateful, 2.1; assumption `stateful`);
3 route: longest prefix match on the current subnet's effective routes (3.4; NO_ROUTE,
  NULL_ROUTED for next hop None);
4 peering: both links Connected (4.2; PEERING_BLOCKED); traffic not originating in the
  sending VNet needs allowForwardedTraffic on the receiving link (4.1; FORWARDING_BLOCKED);
  allowVirtualNetworkAccess only changes the VirtualNetwork tag (control assumption
  `vnet-access-tag-only`), so it is seen through NSG rules only;
5 VirtualAppliance: the packet is delivered to the NVA NIC (inbound NSG, IP forwarding,
  outbound NSG) or Azure Firewall (network rule collections, FIREWALL_DENIED), which forwards
  with its own subnet's routes; a revisited appliance or more than MAX_HOPS hops -> LOOP;
6 gateway: VirtualNetworkGateway routes leave to on-premises (EXITS_ON_PREMISES), own or
  transit gateway (4.4); Internet routes leave (EXITS_INTERNET);
7 inbound NSG at the destination, subnet then NIC (DENIED_IN); delivery (DELIVERED).
A flow is established (for return traffic) by its first packet that is delivered or leaves.
Timing is not here: engine/timing_stage.py applies it to the node paths of both pipelines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from dataplane.control.nsg import ANY_PROTOCOL, Flow, RuleCompiler, evaluate, protocol_number
from dataplane.control.routes import lookup
from dataplane.engine.compile import MAX_HOPS, Network
from dataplane.engine.dispositions import Disposition as D
from dataplane.model import AzureFirewall, Prefix, id_key
from dataplane.net import IPAddress


class Packet(NamedTuple):
    nic: int
    src: int
    dst: int
    proto: int
    sport: int
    dport: int
    length: int = 64
    time_ns: int = 0


def flow_key(p: Packet) -> tuple[int, int, int, int, int]:
    ported = p.proto in (6, 17)
    return (p.src, p.dst, p.proto, p.sport if ported else 0, p.dport if ported else 0)


def reverse_key(p: Packet) -> tuple[int, int, int, int, int]:
    s, d, pr, sp, dp = flow_key(p)
    return (d, s, pr, dp, sp)


@dataclass
class Walk:
    disposition: D
    deciding: str
    nodes: list[int]
    hops: list[dict[str, Any]] = field(default_factory=list)


def nsg_label(verdict: Any) -> str:
    last = verdict.levels[-1] if verdict.levels else None
    for d in verdict.levels:
        if d.access == "Deny":
            last = d
    nsg = last.nsg.rsplit("/", 1)[-1] if last and last.nsg else "-"
    return f"nsg {nsg}/{verdict.rule_name}"


def firewall_verdict(fw: AzureFirewall, p: Packet) -> tuple[bool, str]:
    """Network rule collections by priority; first matching rule; default deny."""
    for coll in sorted(fw.network_rule_collections, key=lambda c: c.priority):
        for rule in coll.rules:
            protos = {ANY_PROTOCOL if x.lower() == "any" else protocol_number(x)
                      for x in rule.protocols}
            if ANY_PROTOCOL not in protos and p.proto not in protos:
                continue
            if not _in(rule.source_addresses, p.src) or not _in(rule.destination_addresses,
                                                               p.dst):
                continue
            if p.proto in (6, 17) and not any(r.low <= p.dport <= r.high
                                              for r in rule.destination_ports):
                continue
            return coll.action == "Allow", f"firewall {fw.name}/{coll.name}/{rule.name}"
    return False, f"firewall {fw.name}/default-deny"


def _in(matches: tuple, value: int) -> bool:
    return any(m == "*" or (isinstance(m, Prefix) and m.version == 4
                            and m.first <= value <= m.last) for m in matches)


class ReferencePipeline:
    def __init__(self, net: Network) -> None:
        self.net = net
        self.rules = RuleCompiler(net.topology)
        self.security = [self.rules.nic_security(n) if net.node_subnet[i] >= 0 else None
                         for i, n in enumerate(net.nics)]
        self.established: set[tuple[int, int, int, int, int]] = set()
        self.owner = {(int(net.node_vnet[i]), ip.value): i for i, nic in enumerate(net.nics)
                      for c in nic.ip_configurations
                      if (ip := c.private_ip_address) is not None and ip.version == 4}

    def run(self, packets: list[Packet]) -> list[Walk]:
        out = []
        for p in packets:
            w = self.walk(p)
            if w.disposition in (D.DELIVERED, D.EXITS_INTERNET, D.EXITS_ON_PREMISES):
                self.established.add(flow_key(p))
            out.append(w)
        return out

    # -- one packet --
    def walk(self, p: Packet) -> Walk:
        net = self.net
        if p.nic < 0:
            return Walk(D.UNMAPPED, "source address is not an emulated NIC", [])
        nic = net.nics[p.nic]
        w = Walk(D.DELIVERED, "", [p.nic])
        ips = {c.private_ip_address.value for c in nic.ip_configurations
               if c.private_ip_address is not None}
        if p.src not in ips and not nic.enable_ip_forwarding:
            w.hops.append({"step": "source", "at": net.node_names[p.nic], "result": "spoofed"})
            return self._end(w, D.SPOOFED, f"anti-spoofing {net.node_names[p.nic]}")
        state = reverse_key(p) in self.established
        flow = Flow(p.proto, IPAddress(4, p.src), p.sport, IPAddress(4, p.dst), p.dport)
        w.hops.append({"step": "source", "at": net.node_names[p.nic], "established": state})
        if not state and not self._nsg(w, p.nic, "Outbound", flow):
            return self._end(w, D.DENIED_OUT, w.deciding)
        subnet = int(net.node_subnet[p.nic])
        current = p.nic
        visited: set[int] = set()
        for _ in range(MAX_HOPS):
            sid = id_key(net.program.subnet_ids[subnet])
            vnet = int(net.program.subnet_vnet[subnet])
            rows = net.routes_by_subnet[sid]
            route = lookup(rows, IPAddress(4, p.dst))
            if route is None:
                w.hops.append({"step": "route", "at": net.node_names[current], "route": None})
                return self._end(w, D.NO_ROUTE, "no route")
            rid = net.route_index[(sid, rows.index(route))]
            label = net.route_labels[rid]
            w.deciding = label
            w.hops.append({"step": "route", "at": net.node_names[current], "route": label})
            kind = route.next_hop_type
            if kind == "None":
                return self._end(w, D.NULL_ROUTED, label)
            if kind in ("Internet", "VirtualNetworkServiceEndpoint"):
                w.nodes.append(net.internet_node)
                return self._end(w, D.EXITS_INTERNET, label)
            if kind == "VirtualNetworkGateway":
                gw = int(net.route_gateway[rid])
                if gw < 0:
                    return self._end(w, D.NO_ROUTE, label)
                w.nodes.append(gw)
                w.hops.append({"step": "gateway", "at": net.node_names[gw],
                               "transit": route.transit_link is not None})
                return self._end(w, D.EXITS_ON_PREMISES, label)
            if kind in ("VnetLocal", "VNetPeering", "VNetGlobalPeering"):
                tv = int(net.route_vnet[rid])
                target = self.owner.get((tv, p.dst))
                if target is None:
                    return self._end(w, D.NO_DESTINATION, label)
                blocked = self._cross(w, vnet, tv, p)
                if blocked is not None:
                    return blocked
                w.nodes.append(target)
                if not state and not self._nsg(w, target, "Inbound", flow):
                    return self._end(w, D.DENIED_IN, w.deciding)
                w.hops.append({"step": "deliver", "at": net.node_names[target]})
                return self._end(w, D.DELIVERED, label)
            # VirtualAppliance
            app = int(net.route_appliance[rid])
            if app < 0:
                return self._end(w, D.NEXT_HOP_UNREACHABLE, label)
            blocked = self._cross(w, vnet, int(net.node_vnet[app]), p)
            if blocked is not None:
                return blocked
            if app in visited:
                w.hops.append({"step": "appliance", "at": net.node_names[app],
                               "result": "loop"})
                return self._end(w, D.LOOP, label)
            visited.add(app)
            w.nodes.append(app)
            if net.node_kind[app] == "firewall":
                fw = net.firewalls[app - len(net.nics)]
                ok, rule = firewall_verdict(fw, p)
                w.hops.append({"step": "firewall", "at": fw.name, "rule": rule,
                               "result": "Allow" if ok else "Deny"})
                if not ok:
                    return self._end(w, D.FIREWALL_DENIED, rule)
            else:
                if not state and not self._nsg(w, app, "Inbound", flow):
                    return self._end(w, D.DENIED_IN, w.deciding)
                if not net.nics[app].enable_ip_forwarding:
                    return self._end(w, D.IP_FORWARDING_DISABLED,
                                     f"ip-forwarding {net.node_names[app]}")
                w.hops.append({"step": "appliance", "at": net.node_names[app],
                               "result": "forwarded"})
                if not state and not self._nsg(w, app, "Outbound", flow):
                    return self._end(w, D.DENIED_OUT, w.deciding)
            subnet = int(net.node_subnet[app])
            current = app
            if subnet < 0:
                return self._end(w, D.NEXT_HOP_UNREACHABLE, label)
        return self._end(w, D.LOOP, "hop limit")

    def _nsg(self, w: Walk, nic: int, direction: str, flow: Flow) -> bool:
        sec = self.security[nic]
        if sec is None:
            return True
        verdict = evaluate(sec, direction, flow)
        w.hops.append({"step": f"nsg-{direction.lower()}", "at": self.net.node_names[nic],
                       "access": verdict.access, "rule": verdict.rule_name})
        if verdict.access != "Allow":
            w.deciding = nsg_label(verdict)
            return False
        return True

    def _cross(self, w: Walk, a: int, b: int, p: Packet) -> Walk | None:
        net = self.net
        if a == b:
            return None
        hop = {"step": "peering", "from": net.vnet_names[a], "to": net.vnet_names[b]}
        w.hops.append(hop)
        label = f"peering {net.vnet_names[a]}->{net.vnet_names[b]}"
        if not net.connected[a, b]:
            hop["result"] = "not connected"
            return self._end(w, D.PEERING_BLOCKED, label)
        originated = any(lo <= p.src <= hi for lo, hi in zip(
            net.vnet_lo[a].tolist(), net.vnet_hi[a].tolist(), strict=True))
        if not originated and not net.forward_ok[a, b]:
            hop["result"] = "forwarded traffic not allowed"
            return self._end(w, D.FORWARDING_BLOCKED, label)
        hop["result"] = "allowed"
        return None

    @staticmethod
    def _end(w: Walk, d: D, deciding: str) -> Walk:
        w.disposition = d
        w.deciding = deciding
        return w
