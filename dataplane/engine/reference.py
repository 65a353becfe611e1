"""The reference pipeline: one packet at a time, plain Python, readable; the batch oracle.

Takes: a `Network` (compile.py) and packets as `Packet` tuples (ingress NIC index or -1,
IPv4 source/destination integers, protocol, ports, length, time_in ns), in time order.
Emits per packet a `Walk`: disposition, deciding rule/route label, the node path (NIC, firewall,
gateway, internet node ids) and detailed hop dicts for `explain`.
This walk is the only copy of the stage logic for explanations: `dataplane explain` /
watcher.explain render its hops (control/explain.py), Result.explain shows them.
Order (DESIGN.md pipeline):
0 a source that is no emulated NIC: ingress (stages/gateway.py): on-premises through the VPN
  gateway (routed with the GatewaySubnet's routes; TRANSIT_BLOCKED), the probe source
  168.63.129.16 and the Internet (UNMAPPED, labelled, without a public IP -- but the reply of
  a flow an Azure Firewall's application rules dropped enters through that firewall with the
  flow's verdict, engine/pending.py, and an expired flow's reply is labelled so,
  stages/gateway.py expired-reply-at-vm: `_unexposed`); else UNMAPPED;
1 source NIC, anti-spoofing unless enableIPForwarding (SPOOFED);
2 outbound NSG, NIC then subnet (docs/azure-behaviour.md §2.4; DENIED_OUT); return traffic of an
  established flow skips every NSG (stateful, 2.1; assumption `stateful`); a packet to the
  instance address:port an Azure Firewall translated a flow's source to, after the flow idled
  out, goes to that firewall and is its default deny (`_expired_firewall`; at the public
  address the DNAT miss is relabelled, `_expired_own`; stages/gateway.py
  expired-reply-at-firewall);
3 route: longest prefix match on the current subnet's effective routes (3.4; NO_ROUTE,
  NULL_ROUTED for next hop None);
4 peering: both links Connected (4.2; PEERING_BLOCKED); traffic not originating in the
  sending VNet needs allowForwardedTraffic on the receiving link (4.1; FORWARDING_BLOCKED);
  allowVirtualNetworkAccess=false on either link stops traffic both ways (PEERING_BLOCKED;
  control/peering.peering_access, assumption `vnet-access-blocks`; `vnet-access-tag-only`
  reads it as a tag change only);
5 VirtualAppliance: the packet is delivered to the NVA NIC (inbound NSG, IP forwarding,
  outbound NSG) or Azure Firewall (stages/firewall.py: classic network rule collections,
  stateful sessions, FIREWALL_DENIED), which forwards with its own subnet's routes; a
  revisited appliance or more than MAX_HOPS hops -> LOOP;
6 gateway (stages/gateway.py): one of equal-cost gateway rows per flow (symmetric flow hash);
  VirtualNetworkGateway routes leave to on-premises (EXITS_ON_PREMISES), own or transit
  gateway (4.4), or cross the gateways of VNet-to-VNet connections into the remote VNet (routed
  there from its GatewaySubnet); a Route Server row goes to its NVA as VirtualAppliance does;
  Internet routes leave (EXITS_INTERNET) unless the destination is not Internet space
  (NON_ROUTABLE, stages/gateway.py assumption `internet-non-routable`);
6b internal load balancers (stages/loadbalancer.py): a frontend destination is DNATed to a
  backend (LB_NO_RULE, LB_NO_BACKEND, LB_BASIC_GLOBAL); an ILB frontend as next hop picks the
  backend appliance;
7 inbound NSG at the destination, subnet then NIC (DENIED_IN); delivery (DELIVERED).
State: the connection-tracking table (conntrack.py, reference form `ConnTrack`): `run`
commits each packet that survives its whole path; a packet answering a tracked flow skips the
NSGs, passes the firewalls holding its session and is un-DNATed at its source (stages/nat.py)
when the flow was load-balanced. Stages with both forms live in engine/stages/.
Timing is not here: engine/timing_stage.py applies it to the node paths of both pipelines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from dataplane.control.nsg import Flow, RuleCompiler
from dataplane.dispositions import Disposition as D
from dataplane.engine import fragments, reopen
from dataplane.engine.addresses import NicAddresses
from dataplane.engine.compile import MAX_HOPS, Network
from dataplane.engine.conntrack import (
    IDLE_TIMEOUT_NS,
    PASSING,
    ConnTrack,
    Entry,
    FragmentChains,
)
from dataplane.engine.conntrack import flow_key as _key
from dataplane.engine.path_caveats import firewall_addresses, hop_caveats
from dataplane.engine.payload import NOT_SEEN, FlowName
from dataplane.engine.pending import PendingSessions, PendingVerdict, public_reply_key
from dataplane.engine.snat_ports import ported
from dataplane.engine.stages import (
    appliance,
    deliver,
    firewall_nat,
    gateway,
    nat,
    nsg,
    peering,
    platform,
    public_edge,
    public_edge6,
    source,
)
from dataplane.engine.stages import loadbalancer as lbm
from dataplane.engine.stages import route as routing
from dataplane.engine.stages.firewall import Verdict
from dataplane.engine.stages.ipv6 import firewall_own6, firewall_own6_label
from dataplane.model import Prefix
from dataplane.net import IPAddress


class Packet(NamedTuple):
    """One packet; `src`/`dst` are address integers of `family` (4: 32-bit, 6: 128-bit)."""

    nic: int
    src: int
    dst: int
    proto: int
    sport: int
    dport: int
    length: int = 64
    time_ns: int = 0
    family: int = 4


V6_TAG = 1 << 128  # or-ed into IPv6 addresses in flow keys: never equal to an IPv4 value


def flow_key(p: Packet) -> tuple[int, int, int, int, int]:
    """The conntrack key (conntrack.flow_key); IPv6 addresses carry V6_TAG so an IPv6 tuple
    never shares a key with an IPv4 one (the batch form's family word)."""
    if p.family == 6:
        return _key(p.src | V6_TAG, p.dst | V6_TAG, p.proto, p.sport, p.dport)
    return _key(p.src, p.dst, p.proto, p.sport, p.dport)


def _flow(p: Packet) -> Flow:
    """The NSG evaluator's view of a packet (control/nsg.py), either family."""
    return Flow(p.proto, IPAddress(p.family, p.src), p.sport, IPAddress(p.family, p.dst),
                p.dport)


IPV6_INGRESS_LABEL = ("IPv6 source is not an emulated NIC (IPv6 ingress from on-premises or "
                      "the Internet is not modelled, replies of tracked flows aside)")


def reverse_key(p: Packet) -> tuple[int, int, int, int, int]:
    s, d, pr, sp, dp = flow_key(p)
    return (d, s, pr, dp, sp)


@dataclass
class Walk:
    disposition: D
    deciding: str
    nodes: list[int]
    hops: list[dict[str, Any]] = field(default_factory=list)
    reply_of: Entry | None = None  # the tracked flow this packet answers (conntrack.py)
    out: tuple[int, int, int, int] | None = None  # (src, dst, sport, dport) as it arrived
    snat_pool: tuple[int, ...] | None = None  # the firewall SNAT port pool it draws from
    pending: PendingVerdict | None = None  # the pending session it records (pending.py)
    pending_public: tuple[int, ...] | None = None  # its pending.public_reply_key
    reopens: bool = False  # committed, it re-opened its idled-out flow (engine/reopen.py)

    def firewalls(self, net: Network) -> frozenset[int]:
        return frozenset(n for n in self.nodes if net.node_kind[n] == "firewall")


def _in(matches: tuple, value: int) -> bool:
    return any(m == "*" or (isinstance(m, Prefix) and m.version == 4
                            and m.first <= value <= m.last) for m in matches)


class ReferencePipeline:
    def __init__(self, net: Network, capacity: int | None = None,
                 idle_timeout_ns: int = IDLE_TIMEOUT_NS) -> None:
        self.net = net
        self.rules = RuleCompiler(net.topology)
        self.security = [self.rules.nic_security(n) if net.node_subnet[i] >= 0 else None
                         for i, n in enumerate(net.nics)]
        self.nic_tags = platform.tags_per_nic(net)
        self.conntrack = ConnTrack(capacity, idle_timeout_ns)
        self.fragments = FragmentChains()  # fragment chains (engine/fragments.py)
        self.addresses = NicAddresses(net.nics, net.node_vnet)
        self.server_names: dict[tuple[int, ...], FlowName] = {}  # flow_key -> its name
        self._name = NOT_SEEN
        self._key = (0, 0, 0, 0, 0)  # the walked packet's flow_key, as it was sent
        self.pending_sessions = PendingSessions(capacity, idle_timeout_ns)  # engine/pending.py
        self.fw_public, self.fw_private = firewall_nat.address_owners(net)  # address -> firewall
        self.fw_instance = firewall_nat.instance_owners(net)
        self.fw_own = {**self.fw_public, **self.fw_instance}  # _expired_own
        self.fw_addresses = firewall_addresses(net)  # DNAT caveats: engine/path_caveats.py
        self.fw_own6 = firewall_own6(net.firewalls)  # dual-stack firewalls (stages/ipv6.py)

    def run(self, packets: list[Packet]) -> list[Walk]:
        out = []
        for p in packets:
            w = self.walk(p)
            self.commit(p, w)
            out.append(w)
        return out

    def send(self, p: Packet, frag: fragments.Fragment | None = None) -> Walk:
        """One packet that may be an IP fragment (`frag`: its fragment fields) through the
        fragment edge step, the stages and the commit step (engine/fragments.py); the flow is
        committed as by run()."""
        return fragments.walk(self, self.fragments, p, frag)

    def commit(self, p: Packet, w: Walk) -> None:
        """Conntrack: a packet that survived its whole path opens its flow (conntrack.py);
        callers that shape (the emulator) commit only packets the shaper kept."""
        if w.pending is not None:  # dropped by a firewall's application rules (pending.py)
            self.pending_sessions.record(reverse_key(p), w.pending, p.time_ns,
                                        w.pending_public)
        if w.disposition.name in PASSING:
            w.reopens = reopen.reopens(self.conntrack, flow_key(p), p.proto, p.time_ns)
            src, dst, sport, dport = w.out or (p.src, p.dst, p.sport, p.dport)
            kept = self.conntrack.commit(flow_key(p), flow_key(p._replace(
                src=src, dst=dst, sport=sport, dport=dport)), w.firewalls(self.net), p.time_ns,
                w.snat_pool)
            if kept is not None and w.snat_pool is not None and ported(p.proto):
                w.out = (src, dst, kept[3], dport)  # its entry's SNAT port (snat_ports.py)

    # -- one packet --
    def walk(self, p: Packet) -> Walk:
        net = self.net
        self._key = flow_key(p)
        self._name = self.server_names.get(self._key, NOT_SEEN)  # as it was sent
        self._sent = p  # the packet as it was sent (its flow's original key)
        entry = self.conntrack.reply_of(self._key, p.time_ns)  # live entries only
        state = entry is not None
        flow = _flow(p)
        if p.nic < 0 and p.family == 6:  # engine assumption `engine-ipv6`
            return self._ingress6(p, entry, flow)
        if p.nic < 0 and p.family == 4 and not state and p.dst in self.fw_public:  # stages/firewall_nat.py
            w = Walk(D.DELIVERED, "", [net.internet_node], out=(p.src, p.dst, p.sport, p.dport))
            fw_at = self.fw_public[p.dst]
            step = self._firewall_dnat(w, p, fw_at)
            if isinstance(step, Walk):
                return self._expired_own(step, fw_at)
            q, subnet, translated = step
            node = fw_at + len(net.nics)
            return self._hops(w, q, subnet, node, False, translated, {node})
        if p.nic < 0 and not state and net.lb.at_public(p.dst) >= 0:  # stages/loadbalancer.py
            return self._public_frontend(p, net.lb.frontends[net.lb.at_public(p.dst)])
        if p.nic < 0:
            unsnat = entry.unsnat() if entry is not None else None
            back = None
            fw_at = self._reply_firewall(entry, p.dst, self.fw_public)
            entered = net.internet_node  # where the reply enters
            if fw_at < 0 and entry is not None and self.fw_instance:  # to an instance
                kind, site = gateway.classify(net, p.src, p.dst)  # address, from on-premises
                if kind == "onprem":  # (forced tunnelling: stages/firewall_nat.py)
                    fw_at = self._reply_firewall(entry, p.dst, self.fw_instance)
                    entered = site.gateway_node if fw_at >= 0 else entered
            if fw_at < 0 and unsnat is not None and (p.dst, p.dport) == unsnat:
                fw_at = self._captured_at_vm(entry)  # firewall SNAT, reply captured at the VM
            if unsnat is not None and (p.dst, p.dport) != unsnat:  # a SNATed flow's reply
                p, back = nat.unsnat(p, *unsnat, **(
                    {"at": net.firewall_rules[fw_at].name} if fw_at >= 0 else {}))
            if fw_at >= 0:  # to a firewall's address: restored there, routed on
                node = fw_at + len(net.nics)
                w = Walk(D.DELIVERED, "", [entered, node], reply_of=entry,
                         out=(p.src, p.dst, p.sport, p.dport))
                if entered == net.internet_node:  # from the Internet (to its public address,
                    # or captured at the VM: snat-capture-at-vm)
                    w.hops.append({"step": "ingress", "kind": "Internet",
                                   "at": net.node_names[node],
                                   "publicIp": self._sent.dst in self.fw_public,
                                   "established": True, "result": "ToFirewall"})
                else:  # from on-premises, through its gateway
                    w.hops.append({"step": "ingress", "kind": "on-premises",
                                   "at": net.node_names[entered], site.site_key: site.site,
                                   "connection": site.connection, "prefix": site.prefix,
                                   "established": True})
                    blocked = self._cross(w, int(net.node_vnet[entered]),
                                          int(net.node_vnet[node]), self._sent, entered)
                    if blocked is not None:
                        return blocked
                if back is not None:
                    w.hops.append(back)
                flow = Flow(p.proto, IPAddress(4, p.src), p.sport, IPAddress(4, p.dst), p.dport)
                return self._hops(w, p, appliance.next_subnet(net, node), node, True, flow,
                                  {node})
            p, edge, shut = public_edge.inbound(net, p, state)  # DNAT to a public IP's NIC
            if shut:
                w = Walk(D.DELIVERED, "", [], reply_of=entry,
                         out=(p.src, p.dst, p.sport, p.dport))
                w.hops.append(edge)
                return self._end(w, D.NAT_OUTBOUND_ONLY if edge["result"] == "OutboundOnly"
                                 else D.PUBLIC_IP_CLOSED, shut)
            flow = _flow(p)
            w = self._ingress(p, state, flow, entry)
            if edge is not None:
                w.hops.insert(0, edge)
            if back is not None:
                w.hops.insert(0, back)
            w.out = w.out or (p.src, p.dst, p.sport, p.dport)
            return w
        w = Walk(D.DELIVERED, "", [p.nic], reply_of=entry, out=(p.src, p.dst, p.sport, p.dport))
        ok, hop = source.decide(net, p.nic, p.src, state, p.family)
        w.hops.append(hop)
        if not ok:
            return self._end(w, D.SPOOFED, source.label(net, p.nic))
        kind = source.blocked(p.dst, p.proto, p.family, p.sport)
        if kind is not None:
            hop["result"] = f"Blocked ({kind})"
            return self._end(w, D.BLOCKED_IN_VNET, source.blocked_label(kind))
        if platform.is_nd(p.family, p.proto, p.sport):  # stages/platform.py, ipv6-nd-host
            w.hops.append({"step": "platform", "at": net.node_names[p.nic],
                           "service": "IPv6 neighbour discovery",
                           "message": platform.ND_KINDS[p.sport], "result": "AnsweredByHost"})
            return self._end(w, D.EXITS_PLATFORM, platform.nd_label(p.sport))
        service = platform.decide(p.dst, p.proto, p.dport, self.nic_tags[p.nic]) \
            if p.family == 4 else None
        if service is not None:
            w.hops.append({"step": "platform", "at": net.node_names[p.nic],
                           "service": service.name, "address": str(service.address),
                           "result": "AnsweredByHost"})
            return self._end(w, D.EXITS_PLATFORM, platform.label(service))
        if not state and not self._nsg(w, p.nic, "Outbound", flow):
            return self._end(w, D.DENIED_OUT, w.deciding)
        fw_at = self._expired_firewall(self.fw_instance) if not state else -1
        if fw_at >= 0:  # to a firewall's instance address, its flow idled out: denied there
            node = fw_at + len(net.nics)
            blocked = self._cross(w, int(net.node_vnet[p.nic]), int(net.node_vnet[node]), p)
            if blocked is not None:
                return blocked
            w.nodes.append(node)
            name = net.firewall_rules[fw_at].name
            w.hops.append({"step": "appliance", "ip": str(IPAddress(4, p.dst)), "at": name,
                           "kind": "AzureFirewall", "result": "FirewallDenied",
                           "expired": True})
            return self._expired_own(self._end(w, D.FIREWALL_DENIED, ""), fw_at)
        fw_at = self._reply_firewall(entry, p.dst, self.fw_instance)
        at = net.firewall_rules[fw_at].name if fw_at >= 0 else net.node_names[p.nic]
        if fw_at >= 0:  # to a firewall's instance address: it crosses as sent, then is
            # restored at the firewall (stages/firewall_nat.py, firewall-reply-return)
            blocked = self._cross(w, int(net.node_vnet[p.nic]),
                                  int(net.node_vnet[fw_at + len(net.nics)]), p)
            if blocked is not None:
                return blocked
        chain = self._chain(entry) if fw_at >= 0 else {}
        unnat = entry.unnat() if entry is not None and fw_at not in chain else None
        if fw_at in chain:  # chained DNAT: this firewall undoes its own translation only
            p, hop = self._restore(w, p, at, chain[fw_at])
            flow = _flow(p)
        if unnat is not None:  # a load-balanced flow's reply leaves from the frontend
            p, hop = nat.unnat(p, at, unnat[0] & (V6_TAG - 1), unnat[1], p.family)
            w.hops.append(hop)
            flow = _flow(p)
            w.out = (p.src, p.dst, p.sport, p.dport)
        restore = entry.source_restore() if entry is not None and fw_at not in chain else None
        if restore is not None and (p.dst, p.dport) != restore:  # a firewall-translated source
            p, hop = nat.unsnat(p, *restore, at=at)
            w.hops.append(hop)
            flow = Flow(p.proto, IPAddress(4, p.src), p.sport, IPAddress(4, p.dst), p.dport)
            w.out = (p.src, p.dst, p.sport, p.dport)
        if fw_at >= 0:  # restored at the firewall (above), routed on from its subnet
            node = fw_at + len(net.nics)
            w.nodes.append(node)
            return self._hops(w, p, appliance.next_subnet(net, node), node, state, flow, {node})
        return self._hops(w, p, int(net.node_subnet[p.nic]), p.nic, state, flow)

    def _chain(self, entry: Entry | None) -> dict[int, tuple[int, int, int, int, int]]:
        """stages/firewall_nat.py `dnat_chain` of a tracked IPv4 flow ({} when not chained)."""
        if entry is None or any(v >= V6_TAG for v in entry.original[:2]):
            return {}
        first = len(self.net.nics)
        return firewall_nat.dnat_chain(self.net.firewall_rules, self.fw_public, self.fw_private,
                                       entry.original,
                                       frozenset(n - first for n in entry.firewalls))

    @staticmethod
    def _restore(w: Walk, p: Packet, at: str, key: tuple[int, int, int, int, int]
                 ) -> tuple[Packet, dict[str, Any]]:
        """A chained flow's reply at firewall `at` becomes reverse(`key`), the tuple that
        firewall received (stages/firewall_nat.py `dnat_chain`)."""
        hop = firewall_nat.restore_hop(at, p, key)
        w.hops.append(hop)
        p = p._replace(src=key[1], dst=key[0], sport=key[4] if p.proto in (6, 17) else p.sport,
                       dport=key[3] if p.proto in (6, 17) else p.dport)
        w.out = (p.src, p.dst, p.sport, p.dport)
        return p, hop

    def _expired_firewall(self, owners: dict[int, int]) -> int:
        """The firewall (index) whose own address (`owners`: instance or public addresses) the
        packet as sent is addressed to, when its key is the reply key of a flow that idled
        out and that firewall held the flow's session (it translated the flow's source to
        that address:port); -1 otherwise. Batch form: batch.py `_expired` (value
        EXPIRED_OWN | k + 1); assumption stages/gateway.py expired-reply-at-firewall."""
        sent = self._sent
        f = owners.get(sent.dst, -1) if sent.family == 4 else -1
        gone = self.conntrack.by_reply.get(self._key) if f >= 0 else None
        return f if gone is not None and f + len(self.net.nics) in gone.firewalls else -1

    def _expired_own(self, w: Walk, fw_index: int) -> Walk:
        """A walk that ended in firewall `fw_index`'s default deny: when the packet is the
        reply of a flow that firewall translated to the address:port it is sent to, after the
        flow idled out (`_expired_firewall`), its label says so (expired-reply-at-firewall);
        otherwise unchanged."""
        fw = self.net.firewall_rules[fw_index]
        if w.disposition != D.FIREWALL_DENIED or w.deciding not in ("", fw.no_dnat_label) \
                or self._expired_firewall(self.fw_own) != fw_index:
            return w
        sent = self._sent
        w.deciding = gateway.label_expired_own(fw.name, sent.dst, sent.proto, sent.dport)
        w.hops[-1]["expired"] = True
        if w.hops[-1]["step"] == "appliance":
            w.hops[-1]["rule"] = w.deciding
        return w

    def _fw_caveats(self, fw: Any) -> dict[str, list[str]]:
        """A firewall hop's "caveats" (none: {}), its DNAT ones only for a packet addressed to
        a firewall's address, as the replay counts them (engine/path_caveats.py hop_caveats)."""
        sent = self._sent
        shown = hop_caveats(fw.caveats, sent.family == 4 and sent.dst in self.fw_addresses)
        return {"caveats": shown} if shown else {}

    def _reply_firewall(self, entry: Entry | None, dst: int, owners: dict[int, int]) -> int:
        """The firewall (index) a reply addressed to `dst` returns to: one whose address it is
        (`owners`) and that holds the flow's session; -1 otherwise (stages/firewall_nat.py)."""
        f = owners.get(dst, -1) if entry is not None else -1
        return f if f >= 0 and f + len(self.net.nics) in entry.firewalls else -1

    def _captured_at_vm(self, entry: Entry) -> int:
        """The firewall (index) a source-translated flow's reply captured at the VM (keyed by
        reverse(original), assumption snat-capture-at-vm) entered through: the lowest-indexed
        firewall holding the flow's session, -1 none (batch form: batch.py
        `_captured_at_vm`; assumption firewall-reply-return)."""
        first = len(self.net.nics)
        fws = [n - first for n in entry.firewalls if self.net.node_kind[n] == "firewall"]
        return min(fws) if fws else -1

    def _ingress6(self, p: Packet, entry: Entry | None, flow: Flow) -> Walk:
        """An IPv6 packet from outside the VNets: from an on-premises IPv6 prefix, in at its
        gateway (stages/gateway.py); a new flow to a public load balancer's IPv6 frontend, its
        rule, DNAT and backend (stages/loadbalancer.py); to an instance public IPv6 (DNAT) or
        the private address behind one, through the NIC's inbound NSG; a reply of a tracked
        flow to its NIC (no NSG: stateful; stages/public_edge6.py); anything else UNMAPPED."""
        net = self.net
        state = entry is not None
        site = net.ingress.site_of6(p.src)  # on-premises over ExpressRoute (stages/gateway.py)
        if site is not None and site.gateway_node in net.ingress.entry_subnet:
            gw = site.gateway_node
            w = Walk(D.DELIVERED, "", [gw], reply_of=entry)
            w.hops.append({"step": "ingress", "kind": "on-premises", "at": net.node_names[gw],
                           site.site_key: site.site, "connection": site.connection,
                           "prefix": site.prefix, "established": state})
            if gw in net.ingress.ipv4_only:
                w.hops[-1]["result"] = "IPv4Only"
                return self._end(w, D.GATEWAY_IPV4_ONLY, net.ingress.ipv4_only[gw])
            return self._hops(w, p, net.ingress.entry_subnet[gw], gw, state, flow)
        if site is not None:  # no GatewaySubnet in the model (as for IPv4)
            return Walk(D.UNMAPPED, IPV6_INGRESS_LABEL, [])
        if not state and net.lb.at_public6(p.dst) >= 0:  # stages/loadbalancer.py, IPv6
            return self._public_frontend(p, net.lb.frontends[net.lb.at_public6(p.dst)])
        unsnat = entry.unsnat() if entry is not None else None
        back = None
        if unsnat is not None and (p.dst, p.dport) != (unsnat[0] & (V6_TAG - 1), unsnat[1]):
            p, back = nat.unsnat(p, unsnat[0] & (V6_TAG - 1), unsnat[1], family=6)  # SNATed
        kind, p, target, edge, label = public_edge6.ingress(net, p, state)  # (public_edge6)
        if kind == "unmapped":
            return Walk(D.UNMAPPED, IPV6_INGRESS_LABEL, [])
        if kind in ("closed", "outbound-only"):  # a NAT gateway's address: outbound only
            w = Walk(D.DELIVERED, "", [])
            w.hops.append(edge or {"step": "ingress", "kind": "Internet", "result":
                                   "ClosedToInbound"})
            return self._end(w, D.PUBLIC_IP_CLOSED if kind == "closed"
                             else D.NAT_OUTBOUND_ONLY, label)
        w = Walk(D.DELIVERED, "", [target], reply_of=entry, out=(p.src, p.dst, p.sport, p.dport))
        w.hops += [h for h in (back, edge) if h is not None]
        w.hops.append({"step": "ingress", "kind": "Internet", "at": net.node_names[target],
                       "publicIp": kind == "public", "established": state,
                       "result": "Allowed"})
        return self._deliver(w, p, target, state, _flow(p),
                             gateway.label_internet(net, target, kind == "reply"), append=False)

    def _ingress(self, p: Packet, state: bool, flow: Flow, entry: Entry | None) -> Walk:
        """Sources that are no emulated NIC (stages/gateway.py)."""
        net = self.net
        kind, what = gateway.classify(net, p.src, p.dst)
        if kind == "onprem":
            gw = what.gateway_node
            w = Walk(D.DELIVERED, "", [gw], reply_of=entry)
            w.hops.append({"step": "ingress", "kind": "on-premises", "at": net.node_names[gw],
                           what.site_key: what.site, "connection": what.connection,
                           "prefix": what.prefix, "established": state})
            return self._hops(w, p, net.ingress.entry_subnet[gw], gw, state, flow)
        if kind == "probe":
            w = Walk(D.DELIVERED, "", [what])
            w.hops.append({"step": "ingress", "kind": "AzureLoadBalancer probe",
                           "at": net.node_names[what], "established": state})
            return self._deliver(w, p, what, state, flow, gateway.label_probe(), append=False)
        if kind == "internet":
            if not state and p.dst in net.ingress.closed:  # taken as translated: still closed
                w = Walk(D.DELIVERED, "", [])
                w.hops.append({"step": "ingress", "kind": "Internet", "at": net.node_names[what],
                               "publicIp": True, "result": "ClosedToInbound"})
                return self._end(w, D.PUBLIC_IP_CLOSED, net.ingress.closed[p.dst])
            w = Walk(D.DELIVERED, "", [what])
            exposed = p.dst in net.ingress.public or state
            w.hops.append({"step": "ingress", "kind": "Internet", "at": net.node_names[what],
                           "publicIp": p.dst in net.ingress.public, "established": state,
                           "result": "Allowed" if exposed else "NotExposed"})
            if not exposed:
                return self._unexposed(p, what)
            return self._deliver(w, p, what, state, flow,
                                 gateway.label_internet(net, what, p.dst not in net.ingress.public),
                                 append=False)
        return Walk(D.UNMAPPED, "source address is not an emulated NIC", [])

    def _unexposed(self, p: Packet, nic: int) -> Walk:
        """An Internet packet to NIC `nic`'s private address without a live flow entry (no
        public address admits it): the reply of a flow an Azure Firewall's application rules
        dropped enters through that firewall and takes the flow's verdict (a live pending
        record, engine/pending.py `answer_from_internet`); the reply of a flow that idled out
        is labelled so (stages/gateway.py assumption expired-reply-at-vm); else UNMAPPED."""
        net = self.net
        held = self.pending_sessions.answer_from_internet(self._key, self._sent.time_ns)
        if held is not None:  # captured at the VM: through the firewall, the flow's verdict
            name = net.node_names[held.firewall]
            own = net.firewalls[held.firewall - len(net.nics)].private_ip_address
            w = Walk(D.DELIVERED, "", [net.internet_node, held.firewall])
            w.hops.append({"step": "ingress", "kind": "Internet", "at": name,
                           "publicIp": False, "established": False, "result": "ToFirewall"})
            unknown = held.disposition == D.FIREWALL_NAME_UNKNOWN
            w.hops.append({"step": "appliance", "ip": str(own) if own else None, "at": name,
                           "kind": "AzureFirewall",
                           "rule": held.label, "result": "ServerNameUnknown" if unknown
                           else "FirewallDenied", "session": "pending"})
            return self._end(w, held.disposition, held.label)
        gone = self.conntrack.by_reply.get(self._key) if p.family == 4 else None
        if gone is not None:  # its flow idled out (conntrack-idle)
            fw_at = self._captured_at_vm(gone) if gone.snat and \
                (self._sent.dst, self._sent.dport) == gone.unsnat() else -1
            name = net.firewall_rules[fw_at].name if fw_at >= 0 else None
            label = gateway.label_expired(net, nic, self._key, name)
            if name is None:
                return Walk(D.UNMAPPED, label, [])
            node = fw_at + len(net.nics)
            w = Walk(D.DELIVERED, "", [net.internet_node, node])
            w.hops.append({"step": "ingress", "kind": "Internet", "at": name,
                           "publicIp": False, "established": False, "expired": True,
                           "result": "FirewallDenied"})
            return self._end(w, D.FIREWALL_DENIED, label)
        return Walk(D.UNMAPPED, gateway.label_not_exposed(net, nic), [])

    def _hops(self, w: Walk, p: Packet, subnet: int, current: int, state: bool,
              flow: Flow, visited: set[int] | None = None) -> Walk:
        """The hop loop from `current` in `subnet`; `visited`: appliances already entered."""
        net = self.net
        visited = set() if visited is None else visited
        for _ in range(MAX_HOPS):
            if len(w.nodes) > MAX_HOPS:  # gateways crossed count as path nodes (gateway.py)
                break
            via_gateway = bool(net.node_is_gateway[current])
            vnet = int(net.program.subnet_vnet[subnet])
            rid, route, hop = routing.decide(net, subnet, current, p.dst, p.family)  # route.py
            w.hops.append(hop)
            if route is None:
                return self._end(w, D.NO_ROUTE, routing.NO_ROUTE_LABEL)
            rid, route = gateway.ecmp(net, rid, route, hop, current, p)
            label = net.route_labels[rid]
            w.deciding = label
            kind = route.next_hop_type
            if kind == "Internet" and (public_edge.nonroutable6(p.dst) if p.family == 6
                                       else net.ingress.nonroutable(p.dst)):
                w.hops.append({"step": "edge", "at": "internet", "result":
                               "NonRoutableDestination",
                               "destination": str(IPAddress(p.family, p.dst))})
                return self._end(w, D.NON_ROUTABLE, label)
            if kind == "None":
                return self._end(w, D.NULL_ROUTED, label)
            shut = public_edge.no_outbound(net, current, state) if (
                kind == "Internet" and p.family == 4) else ""
            if shut:  # stages/public_edge.py: a private subnet without outbound method
                w.hops.append({"step": "exit", "at": "internet", "result": "NoOutboundAccess"})
                return self._end(w, D.NO_OUTBOUND_ACCESS, shut)
            shut = public_edge6.no_internet(net, current, state) if (
                kind == "Internet" and p.family == 6) else ""
            if shut:  # stages/public_edge6.py: no IPv6 outbound method on the NIC
                w.hops.append({"step": "exit", "at": "internet", "result":
                               "NoIPv6InternetAccess"})
                return self._end(w, D.NO_IPV6_INTERNET, shut)
            if kind == "Internet":  # a new flow's outbound source
                p, hop = (public_edge.snat if p.family == 4 else public_edge6.snat)(
                    net, current, p, state)  # stages/public_edge.py, public_edge6.py
                if hop is not None:
                    w.hops.append(hop)
                    w.out = (p.src, p.dst, p.sport, p.dport)
            if kind in ("Internet", "VirtualNetworkServiceEndpoint"):
                w.nodes.append(net.internet_node)
                w.hops.append({"step": "exit", "at": "internet", "serviceEndpoint":
                               kind == "VirtualNetworkServiceEndpoint",
                               **({"outbound": public_edge.outbound_text(net, current)}
                                  if kind == "Internet" and p.family == 4 and
                                  public_edge.outbound_text(net, current) else {}),
                               **({"assumption": public_edge6.IPV6_EGRESS}
                                  if p.family == 6 else {})})
                return self._end(w, D.EXITS_INTERNET, label)
            if kind == "VirtualNetworkGateway" and not net.ingress.routes.to_nva[rid]:
                end, path, entry, hop = gateway.cross(net, rid, route, p.dst, len(w.nodes),
                                                      p.family)  # IPv6: ExpressRoute only
                w.hops.append(hop)
                w.nodes += path
                if end is not None:
                    return self._end(w, *end)
                subnet, current = entry, path[-1]
                continue
            if kind == "InterfaceEndpoint":  # stages/public_edge.py
                blocked = self._cross(w, vnet, int(net.route_vnet[rid]), p,
                                      current if via_gateway else -1)
                if blocked is not None:
                    return blocked
                w.hops.append(public_edge.reach(route, label))
                return self._end(w, D.PRIVATE_ENDPOINT, label)
            if kind in ("VnetLocal", "VNetPeering", "VNetGlobalPeering"):
                tv = int(net.route_vnet[rid])
                target = self.addresses.owner(tv, IPAddress(p.family, p.dst))
                fw_at = firewall_nat.private_target(self.fw_private, net, p.dst, tv) if (
                    target < 0 and p.family == 4 and not state) else -1  # also from a gateway
                back = self._reply_firewall(w.reply_of, p.dst, self.fw_instance) if (
                    target < 0 and state and p.family == 4) else -1
                chain = self._chain(w.reply_of) if back >= 0 else {}
                if back in chain and back + len(net.nics) not in visited:
                    node = back + len(net.nics)  # a chained flow's reply: the next firewall
                    blocked = self._cross(w, vnet, int(net.node_vnet[node]), p)
                    if blocked is not None:
                        return blocked
                    w.nodes.append(node)
                    p, _ = self._restore(w, p, net.firewall_rules[back].name, chain[back])
                    flow = _flow(p)
                    subnet, current = appliance.next_subnet(net, node), node
                    visited.add(current)
                    if subnet < 0:
                        return self._end(w, D.NEXT_HOP_UNREACHABLE, label)
                    continue
                if fw_at >= 0:  # private-IP DNAT at the firewall (stages/firewall_nat.py)
                    blocked = self._cross(w, vnet, tv, p, current if via_gateway else -1)
                    if blocked is not None:
                        return blocked
                    w.nodes.append(fw_at + len(net.nics))
                    step = self._firewall_dnat(w, p, fw_at)
                    if isinstance(step, Walk):
                        return step
                    p, subnet, flow = step
                    current = fw_at + len(net.nics)
                    visited.add(current)
                    continue
                if target < 0 and p.family == 6 and net.lb.at6(tv, p.dst) >= 0:  # dual-stack ILB
                    return self._frontend(w, p, net.lb.frontends[net.lb.at6(tv, p.dst)], vnet,
                                          current, state, flow, via_gateway)
                fw6 = self.fw_own6.get(p.dst, -1) if p.family == 6 else -1
                if target < 0 and fw6 >= 0 and int(net.node_vnet[fw6 + len(net.nics)]) == tv:
                    name = net.firewalls[fw6].name
                    w.hops.append({"step": "firewall", "at": name, "result": "IPv6NotModelled"})
                    return self._end(w, D.IPV6_NOT_MODELLED, firewall_own6_label(name))
                if target < 0 and p.family == 6:
                    w.hops.append({"step": "deliver", "at": None, "result":
                                   "NoNicAtDestination"})
                    return self._end(w, D.NO_DESTINATION, label)
                if target < 0:
                    fe = net.lb.at(tv, p.dst)
                    if fe < 0:
                        w.hops.append({"step": "deliver", "at": None, "result":
                                       "NoNicAtDestination"})
                        return self._end(w, D.NO_DESTINATION, label)
                    return self._frontend(w, p, net.lb.frontends[fe], vnet, current, state,
                                          flow, via_gateway)
                blocked = self._cross(w, vnet, tv, p, current if via_gateway else -1)
                if blocked is not None:
                    return blocked
                return self._deliver(w, p, target, state, flow, label)
            # VirtualAppliance (stages/appliance.py)
            app = int(net.route_appliance[rid])
            fe = int(net.route_fe[rid])
            if fe >= 0:  # an ILB frontend as next hop picks the backend appliance
                choice = lbm.decide_next_hop(net, net.lb.frontends[fe], vnet, p)
                w.hops.append(choice.hop)
                if choice.drop is not None:
                    return self._end(w, *choice.drop)
                app = choice.backend
            ip = str(route.next_hop_ip[0]) if route.next_hop_ip else None
            leaves = gateway.nva_exit(net, rid, app, current)
            if leaves is not None:
                w.hops.append(leaves)
                return self._end(w, D.EXITS_ON_PREMISES, label)
            if app < 0:
                w.hops.append(appliance.unreachable_hop(ip))
                return self._end(w, D.NEXT_HOP_UNREACHABLE, label)
            # an appliance (or ILB backend) in another VNet: ordinary peering checks, also
            # from a gateway (transit applies to direct deliveries only; stages/gateway.py)
            blocked = self._cross(w, vnet, int(net.node_vnet[app]), p)
            if blocked is not None:
                return blocked
            looped, hop = appliance.enter(net, app, ip, visited)
            if looped is not None:
                w.hops.append(hop)
                return self._end(w, looped, label)
            visited.add(app)
            w.nodes.append(app)
            if appliance.is_firewall(net, app) and p.family == 6:  # network rules (preview)
                stop = self._firewall6(w, p, app, hop)
                if stop is not None:
                    return stop
            elif appliance.is_firewall(net, app):  # stages/firewall.py; replies have a session
                fw = net.firewall_rules[app - len(net.nics)]
                session = w.reply_of is not None and app in w.reply_of.firewalls
                if not state and p.dst in fw.nat.addresses.tolist():  # DNAT rules come first
                    w.hops.append({**hop, "result": "Forwarded"})
                    step = self._firewall_dnat(w, p, app - len(net.nics))
                    if isinstance(step, Walk):
                        return step
                    p, subnet, flow = step
                    current = app
                    continue
                name = self._name  # its flow's server name (engine/payload.py)
                v = fw.decide(p.proto, p.src, p.dst, p.dport, session, name)
                held = None  # a pending application-rule session (engine/pending.py)
                if not v.allowed and v.application_part:
                    w.pending = PendingVerdict(app, D.FIREWALL_NAME_UNKNOWN if v.unknown else
                                               D.FIREWALL_DENIED, v.label or fw.default_label)
                    w.pending_public = public_reply_key(net, app, self.fw_public, self._key)
                elif not v.allowed and not session:
                    held = self.pending_sessions.answer(self._key, app, self._sent.time_ns)
                    if held is not None:
                        v = Verdict(False, held.label, held.disposition == D.FIREWALL_NAME_UNKNOWN)
                ok, rule = v.allowed, v.label
                w.hops.append({**hop, "rule": rule, "result": "Forwarded" if ok else
                               "ServerNameUnknown" if v.unknown else "FirewallDenied",
                               **({"session": "established"} if session else {}),
                               **({"session": "pending"} if held is not None else {}),
                               **({"serverName": name.describe()} if p.proto == 6 and
                                  fw.app_rules and not session and not name.unknown else {}),
                               **self._fw_caveats(fw)})
                if not ok:
                    return self._end(w, D.FIREWALL_NAME_UNKNOWN if v.unknown else
                                     D.FIREWALL_DENIED, rule or fw.default_label)
                if not session:  # SNAT of an allowed new flow (stages/firewall_nat.py)
                    step = self._firewall_snat(w, p, app, v.label in fw.app_labels, flow)
                    if isinstance(step, Walk):
                        return step
                    p, flow = step
            else:
                if not state and not self._nsg(w, app, "Inbound", flow):
                    return self._end(w, D.DENIED_IN, w.deciding)
                if not appliance.forwards(net, app):
                    w.hops.append({**hop, "result": "IpForwardingDisabled"})
                    return self._end(w, D.IP_FORWARDING_DISABLED,
                                     appliance.label_forwarding(net, app))
                w.hops.append({**hop, "result": "Forwarded"})
                if not state and not self._nsg(w, app, "Outbound", flow):
                    return self._end(w, D.DENIED_OUT, w.deciding)
            subnet = appliance.next_subnet(net, app)
            current = app
            if subnet < 0:
                return self._end(w, D.NEXT_HOP_UNREACHABLE, label)
        w.hops.append({"step": "hop-limit", "result": "HopLimitExceeded"})
        return self._end(w, D.LOOP, "hop limit")

    def _firewall6(self, w: Walk, p: Packet, app: int, hop: dict[str, Any]) -> Walk | None:
        """An IPv6 packet at a dual-stack Azure Firewall: its network rules, sessions as for
        IPv4, no translation (stages/firewall.py `decide6`); the ended walk, or None when it
        is forwarded."""
        fw = self.net.firewall_rules[app - len(self.net.nics)]
        session = w.reply_of is not None and app in w.reply_of.firewalls
        v = fw.decide6(p.proto, p.src, p.dst, p.dport, session)
        w.hops.append({**hop, "rule": v.label, "result": "Forwarded" if v.allowed else
                       "IPv6NotModelled" if v.not_modelled else "FirewallDenied",
                       **({"session": "established"} if session else {}),
                       **self._fw_caveats(fw)})
        if v.allowed:
            return None
        return self._end(w, D.IPV6_NOT_MODELLED if v.not_modelled else D.FIREWALL_DENIED,
                         v.label or fw.default_label)

    # -- Azure Firewall translation (stages/firewall_nat.py) --
    def _firewall_snat(self, w: Walk, p: Packet, app: int, application: bool, flow: Flow
                       ) -> Walk | tuple[Packet, Flow]:
        """A new flow the firewall allowed: SNAT when its destination is outside the private
        ranges (or always for an application rule), to a public address when the firewall's
        subnet routes the destination to the Internet, else to an instance address; a flow
        without an entry whose port pool is in use ends the walk (FIREWALL_SNAT_EXHAUSTED)."""
        net = self.net
        fwn = net.firewall_rules[app - len(net.nics)].nat
        if not fwn.needs_snat(p.dst, application):
            return p, flow
        _, route, _ = routing.decide(net, appliance.next_subnet(net, app), app, p.dst)
        internet = route is not None and route.next_hop_type == "Internet"
        address, port = fwn.snat_source(internet, p.src, p.dst, p.proto, p.sport, p.dport)
        if w.snat_pool is None:  # ports are counted at the first firewall that SNATs
            w.snat_pool = fwn.snat_key(app - len(net.nics), address, p.src, p.dst, p.proto,
                                       p.sport, p.dport)
            limit = fwn.snat_limit(address)
            if flow_key(self._sent) not in self.conntrack.by_original and \
                    self.conntrack.live_in_pool(w.snat_pool, self._sent.time_ns) >= limit:
                w.hops.append({**firewall_nat.snat_hop(fwn, p, address, port, application),
                               "result": "SnatPortsExhausted", "ports": limit})
                return self._end(w, D.FIREWALL_SNAT_EXHAUSTED,
                                 firewall_nat.exhausted_label(fwn, address))
        w.hops.append(self._snat_hop(fwn, p, address, port, application))
        p = p._replace(src=address, sport=port)
        w.out = (p.src, p.dst, p.sport, p.dport)
        return p, Flow(p.proto, IPAddress(4, p.src), p.sport, IPAddress(4, p.dst), p.dport)

    def _snat_hop(self, fwn: firewall_nat.FirewallNat, p: Packet, address: int, port: int,
                  application: bool) -> dict[str, Any]:
        """The SNAT hop with the port the flow leaves with (engine/snat_ports.py): its
        entry's, else the one its commit would allocate now; the stages after it read the
        hash port `port` (assumption firewall-snat-port), the hop says so when they differ."""
        given = port
        if ported(p.proto):
            e = self.conntrack.by_original.get(flow_key(self._sent))
            translated = (address, p.dst, p.proto, port, p.dport)
            if e is None:
                given = self.conntrack.snat_port(translated, self._sent.time_ns)[0]
            elif e.translated[0::2] == translated[0::2]:
                given = e.translated[3]
        hop = firewall_nat.snat_hop(fwn, p, address, given, application)
        if given != port:
            hop["note"] = (f"port {port} (the flow's hash port, which the stages after this "
                           "one read) was held by another live flow when this flow opened: "
                           "the next free port (engine/snat_ports.py)")
        return hop

    def _firewall_dnat(self, w: Walk, p: Packet, fw_index: int
                       ) -> Walk | tuple[Packet, int, Flow]:
        """A new flow to one of firewall `fw_index`'s own addresses (the firewall node is the
        path's last node): its DNAT rules in order; a match translates the destination (and
        the source to an instance address) and returns (packet, the firewall's subnet, flow)
        to route on; no match ends the walk with the firewall's default deny."""
        net = self.net
        fw = net.firewall_rules[fw_index]
        node = len(net.nics) + fw_index
        if w.nodes[-1] != node:
            w.nodes.append(node)
        if fw.dns_proxy_answers(p.proto, p.dst, p.dport):  # stages/firewall.py, firewall-own-address
            w.hops.append({"step": "platform", "at": fw.name, "service": "Azure Firewall DNS proxy",
                           "address": _ip(p.dst), "result": "AnsweredByFirewall"})
            return self._end(w, D.EXITS_PLATFORM, fw.dns_proxy_label)
        i = fw.nat.dnat(p.proto, p.src, p.dst, p.dport, fw.groups)
        if i < 0:  # a server's reply to a flow the application rules dropped (pending.py)?
            held = self.pending_sessions.answer(self._key, node, self._sent.time_ns)
            w.hops.append({"step": "nat", "at": fw.name, "kind": "DNAT (firewall)",
                           "rule": held.label if held else None, "result": "FirewallDenied"
                           if held is None or held.disposition == D.FIREWALL_DENIED else
                           "ServerNameUnknown", **({"session": "pending"} if held else {}),
                           **self._fw_caveats(fw)})
            if held is not None:
                return self._end(w, held.disposition, held.label)
            return self._end(w, D.FIREWALL_DENIED, fw.no_dnat_label)
        rule = fw.nat.rules[i]
        address, port = fw.nat.snat_source(False, p.src, p.dst, p.proto, p.sport, p.dport)
        q = nat.dnat(p, rule.translated_address, rule.translated_port)._replace(
            src=address, sport=port)
        w.hops.append({**firewall_nat.dnat_hop(fw.nat, rule, p, (q.src, q.dst, q.sport, q.dport)),
                       "result": "Forwarded",
                       **self._fw_caveats(fw)})
        w.out = (q.src, q.dst, q.sport, q.dport)
        w.deciding = rule.label
        flow = Flow(q.proto, IPAddress(4, q.src), q.sport, IPAddress(4, q.dst), q.dport)
        subnet = appliance.next_subnet(net, node)
        if subnet < 0:
            return self._end(w, D.NEXT_HOP_UNREACHABLE, rule.label)
        return q, subnet, flow

    # -- load balancers (stages/loadbalancer.py) --
    def _frontend(self, w: Walk, p: Packet, fe: lbm.Frontend, vnet: int, current: int,
                  state: bool, flow: Flow, via_gateway: bool) -> Walk:
        """Peering into the frontend's VNet, the load balancer's choice, DNAT (stages/nat.py),
        delivery at the backend."""
        blocked = self._cross(w, vnet, fe.vnet, p, current if via_gateway else -1)
        if blocked is not None:
            return blocked
        return self._balanced(w, p, lbm.decide_frontend(self.net, fe, vnet, p), state)

    def _public_frontend(self, p: Packet, fe: lbm.Frontend) -> Walk:
        """A new flow from outside every VNet to a public LB frontend: the load balancer's
        choice and SKU default, DNAT (stages/nat.py), delivery at the backend; its replies are
        un-NATed at the backend (walk)."""
        w = Walk(D.DELIVERED, "", [], out=(p.src, p.dst, p.sport, p.dport))
        return self._balanced(w, p, lbm.decide_public(self.net, fe, p), False)

    def _balanced(self, w: Walk, p: Packet, choice: lbm.Choice, state: bool) -> Walk:
        """A load balancer's choice: its drop, or DNAT (stages/nat.py) and delivery at the
        backend with the translated 5-tuple."""
        w.hops.append(choice.hop)
        if choice.drop is not None:
            return self._end(w, *choice.drop)
        assert choice.to is not None
        q = nat.dnat(p, *choice.to)
        translated = _flow(q)
        w.out = (q.src, q.dst, q.sport, q.dport)
        return self._deliver(w, p, choice.backend, state, translated, choice.label)

    # -- shared steps --
    def _deliver(self, w: Walk, p: Packet, target: int, state: bool, flow: Flow,
                 label: str, append: bool = True) -> Walk:
        """Into a destination NIC: its inbound NSG (stages/nsg.py), delivery
        (stages/deliver.py)."""
        if append:
            w.nodes.append(target)
        if not state and not self._nsg(w, target, "Inbound", flow):
            return self._end(w, D.DENIED_IN, w.deciding)
        done, hop = deliver.decide(self.net, target)
        w.hops.append(hop)
        return self._end(w, done, label)

    def _nsg(self, w: Walk, nic: int, direction: str, flow: Flow) -> bool:
        """stages/nsg.py's reference form; its hop is recorded, a deny decides."""
        ok, hop, label = nsg.decide(self.security[nic], self.net.node_names[nic], direction,
                                    flow)
        if hop is not None:
            w.hops.append(hop)
        if not ok:
            w.deciding = label or ""
        return ok

    def _cross(self, w: Walk, a: int, b: int, p: Packet, gateway: int = -1) -> Walk | None:
        """stages/peering.py's reference form (from VNet a into b; `gateway`: the on-premises
        gateway the packet entered at, -1 otherwise)."""
        drop, hop = peering.decide(self.net, a, b, p.src, gateway, p.family)
        if hop is not None:
            w.hops.append(hop)
        return None if drop is None else self._end(w, *drop)

    @staticmethod
    def _end(w: Walk, d: D, deciding: str) -> Walk:
        w.disposition = d
        w.deciding = deciding
        return w


def _ip(v: int) -> str:
    return ".".join(str((v >> s) & 255) for s in (24, 16, 8, 0))
