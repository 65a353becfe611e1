"""`dataplane trace TOPOLOGY --vm VM --to IP[:PORT] [--port N] [--protocol P] [--sni NAME | --host NAME]`:
one flow, both ways.

With --sni (--host) the request carries a TLS 1.2 ClientHello with that server name (an HTTP/1.1
GET with that Host) as its payload, so Azure Firewall application rules decide it as they would
the real flow (engine/payload.py, engine/stages/firewall.py); without either, a flow an
application rule could allow ends FIREWALL_NAME_UNKNOWN and the output says so.

Sends one synthetic packet from the VM to the address (or VM name; an IPv6 address as
'[IPv6]:PORT', leaving from the VM's IPv6 ip configuration, issue 17) and, when it is delivered to
a VM, the reply from the VM that received it (behind an internal load balancer: the chosen
backend, from its own address and the translated port, engine/stages/loadbalancer.py); when it
leaves for on-premises, or for the Internet after a source NAT (an Azure Firewall's, a NAT
gateway's, a public IP's), the reply from there to the address:port it left with (`sourceVm`
null), so the return path and its un-SNAT are shown. Both packets go
through the engine in one run, the reply one second after the request, so the reply meets the
state the request left (NSGs are stateful: an allowed flow's reply passes, docs/azure-behaviour.md §2.1)
and the hop-by-hop explanation (the engine's reference walk, as `explain`) sees that same state.
Prints each hop with the deciding rule or route and, for a packet that arrived, its latency
and per-leg propagation and processing (µs/ms), like Network Watcher's connection
troubleshoot. A packet that was dropped shows where and why, and no latency.
-o json: [{"direction", "sourceVm", "sourceIp", "destinationIp", "protocol", "sourcePort",
"destinationPort", "disposition", "reason", "deciding", "hops", "latencyNs" (arrived only),
"legs": [{"from", "to", "propagationNs", "processingNs", "global"}] (arrived only),
"assumptions", "caveats" (as explain: dataplane/watcher.py walk_notes)}]; the table ends with
the Caveats and Assumptions of both directions, as explain's.
"""

from __future__ import annotations

import argparse
import ipaddress
from typing import Any

from dataplane.cli.options import (
    APPLICATION_RULE_HINT,
    command,
    destination,
    destination_ip,
    emit,
    load_inputs,
    protocol,
    server_name_options,
)
from dataplane.engine.payload import NOT_IN_CAPTURE, synthetic
from dataplane.errors import InputError
from dataplane.textable import duration, table

REPLY_AFTER_NS = 10**9
CLIENT_PORT = 49152


def register(subparsers: argparse._SubParsersAction) -> None:
    p = command(subparsers, "trace", "trace one flow hop by hop, both ways", run,
                description=__doc__)
    p.add_argument("--vm", "--from", dest="vm", required=True, metavar="VM",
                   help="the sending virtual machine (--from is the old spelling)")
    p.add_argument("--to", required=True, metavar="IP[:PORT]",
                   help="destination address (or VM name), optionally with the port")
    p.add_argument("--port", type=int, default=None,
                   help="destination port (default: the port given in --to, else 443 with "
                        "--sni, else 80)")
    p.add_argument("--protocol", default="Tcp", type=protocol, choices=("Tcp", "Udp", "Icmp"),
                   help="Tcp (default), Udp or Icmp (any case)")
    server_name_options(p)


def run(args: argparse.Namespace) -> int:
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6

    from dataplane.cli.watcher import input_notes, notes_text, port_assumed
    from dataplane.dispositions import Disposition
    from dataplane.engine import Emulator
    from dataplane.engine.payload import first_payload
    from dataplane.watcher import ipv6_source, nic_for, walk_notes

    dest = destination(args.to, args.port, args.sni)  # cli/options.py, shared with explain
    six, port, assumed = dest.six, dest.port, dest.assumed
    if (args.sni or args.host) and args.protocol != "Tcp":
        raise InputError("--sni and --host name the server of a TCP flow: use --protocol Tcp")
    try:
        payload = first_payload(args.sni, args.host)
    except ValueError as e:
        raise InputError(str(e)) from None
    topology = load_inputs(args)
    em = Emulator(topology)
    dst_ip = destination_ip(topology, dest)
    if six:  # the VM's IPv6 ip configuration sends it (a packet's family selects it)
        src_ip = str(ipv6_source(nic_for(topology, args.vm)))
    else:
        src_ip = str(ipaddress.IPv4Address(em.address_of(args.vm)))

    def packet(s: str, d: str, sport: int, dport: int, data: bytes = b"") -> Any:
        icmp = ICMPv6EchoRequest if six else ICMP
        l4 = {"Tcp": lambda: TCP(sport=sport, dport=dport, flags="PA" if data else "S"),
              "Udp": lambda: UDP(sport=sport, dport=dport), "Icmp": icmp}[args.protocol]()
        l3 = IPv6(src=s, dst=d) if six else IP(src=s, dst=d)
        return l3 / l4 / data if data else l3 / l4

    request = packet(src_ip, dst_ip, CLIENT_PORT, port, payload)
    first = em.send(request, source=args.vm)
    packets, sources = [request], [args.vm]
    sent, row = first.dispositions()[0], first.row(0)
    translated = (row["final_src"], row["final_sport"]) != (row["src"], row["sport"])
    hairpin = sent == Disposition.EXITS_INTERNET and _own_public(topology, row["dst"])
    if sent in (Disposition.DELIVERED, Disposition.EXITS_ON_PREMISES) or (
            sent == Disposition.EXITS_INTERNET and translated and not hairpin):  # to its SNAT
        # the request as it arrived (a load balancer's or an Azure Firewall's translation,
        # engine/stages/nat.py, firewall_nat.py; the source NAT of its way out, public_edge.py):
        # the reply answers that 5-tuple, from the VM that received it or from outside
        packets.append(packet(row["final_dst"], row["final_src"], row["final_dport"],
                              row["final_sport"]))
        sources.append(row["hops"].split(" > ")[-1] if sent == Disposition.DELIVERED else None)
    em.reset()  # one run with both packets: the reply meets the request's state
    both = em.send(packets, source=sources, times_ns=[0, REPLY_AFTER_NS][:len(packets)])
    answers, caveats, notes = [], [], []
    for i, (direction, vm) in enumerate(zip(("forward", "return"), sources, strict=False)):
        explained = _synthetic_name(both.explain(i))
        answer = _answer(direction, explained, vm)
        answer["assumptions"], answer["caveats"] = walk_notes(  # from outside: the VM's path
            topology, nic_for(topology, vm or args.vm), explained["hops"], 6 if six else 4)
        answer["assumptions"] = [*input_notes(topology, answer), *answer["assumptions"]]
        if direction == "forward" and hairpin:
            answer["caveats"] = [*answer["caveats"], HAIRPIN.format(address=row["dst"])]
        answers.append(answer)
        notes += answer["assumptions"]
        caveats += answer["caveats"]
    note = "\n" + port_assumed(args.to, answers[0], args.sni) if assumed else ""
    emit(args, answers, lambda: notes_text(_text(answers), list(dict.fromkeys(caveats)),
                                           list(dict.fromkeys(notes))) + note)
    return 0


HAIRPIN = (
    "public-hairpin: {address} is one of this topology's own public addresses; a flow from a VM "
    "to it leaves for the Internet edge and comes back in to that address (its DNAT, firewall or "
    "load balancer rules then decide it, from the VM's outbound address): that way back in is not "
    "modelled, so the answer ends at the edge and no reply is traced (docs/public-edge.md, "
    "'Left undone')")


def _own_public(topology: Any, address: str) -> bool:
    """Whether `address` is a public IP resource's of `topology` (control/public_addresses.py:
    the input's address or the one chosen offline)."""
    from dataplane.control.public_addresses import public_address

    return any(str(public_address(topology, pip)) == address
               for pip in topology.public_ip_addresses)


def _synthetic_name(value: Any) -> Any:
    """`value` (an explained row: dicts, lists, strings) with the capture-side reason for an
    unknown server name ("no payload of this flow is in the capture (yet)") replaced by the
    synthetic flow's ("no --sni or --host given", engine/payload.py `synthetic`, as explain
    says): trace sends no capture, and with --sni/--host the name is known."""
    if isinstance(value, str):
        return value.replace(NOT_IN_CAPTURE, synthetic().missing)
    if isinstance(value, dict):
        return {k: _synthetic_name(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_synthetic_name(v) for v in value)
    return value


def _answer(direction: str, explained: dict[str, Any], vm: str) -> dict[str, Any]:
    arrived = explained["disposition"] == "DELIVERED" or explained["disposition"].startswith(
        "EXITS_")
    out = {"direction": direction, "sourceVm": vm, "sourceIp": explained["src"],
           "destinationIp": explained["dst"], "protocol": explained["proto"],
           "sourcePort": explained["sport"], "destinationPort": explained["dport"],
           "disposition": explained["disposition"], "reason": explained["reason"],
           "deciding": explained["deciding"], "hops": explained["hops"]}
    if arrived and explained["latency_ns"] >= 0:
        out["latencyNs"] = explained["latency_ns"]
        out["legs"] = [{"from": g["from"], "to": g["to"], "propagationNs": g["propagation_ns"],
                        "processingNs": g["processing_ns"], "global": g["global"]}
                       for g in explained.get("legs", [])]
    return out


def _hop_rows(hops: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    return [(str(h.get("step", "")), str(h.get("at") or f"{h.get('from')}->{h.get('to')}"),
             str(h.get("route") or h.get("rule") or (
                 f"{h['session']} session (no rule evaluated)" if h.get("session") else "")),
             _translation(h) or str(h.get("result", h.get("access", "")))) for h in hops]


def _translation(hop: dict[str, Any]) -> str:
    """'KIND a:p -> b:q[, c:r -> d:s]' for a translation hop (step nat), else ''."""
    o, t = hop.get("original"), hop.get("translated")
    if hop.get("step") != "nat" or not o or not t:
        return ""
    sides = [f"{_endpoint(o[k + 'Ip'], o.get(k + 'Port'))} -> "
             f"{_endpoint(t[k + 'Ip'], t.get(k + 'Port'))}"
             for k in ("destination", "source") if k + "Ip" in o and k + "Ip" in t]
    return f"{hop.get('kind', 'NAT')} " + ", ".join(sides)


def _endpoint(ip: str, port: Any) -> str:
    """'a:p', '[IPv6]:p' (RFC 3986 host syntax: an IPv6 address is never split at a colon),
    or the bare address when there is no port."""
    if port in (None, ""):
        return ip
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _text(answers: list[dict[str, Any]]) -> str:
    parts = []
    for a in answers:
        head = (f"{a['direction']}: {a['sourceIp']} -> {a['destinationIp']} {a['protocol']} "
                f"{a['destinationPort']}: {a['disposition']}"
                + (f" ({a['deciding']})" if a["deciding"] else ""))
        if "latencyNs" in a:
            head += f"; latency {duration(a['latencyNs'])}"
        else:
            head += f"; {a['reason']}"
        parts += [head, table(["step", "at", "rule/route", "result"], _hop_rows(a["hops"]))]
        if a.get("legs"):
            parts.append(table(["from", "to", "propagation", "processing", "path"], [
                (g["from"], g["to"], duration(g["propagationNs"]), duration(g["processingNs"]),
                 "global" if g["global"] else "regional") for g in a["legs"]]))
    if len(answers) == 1:
        parts.append("return: not sent (" + (
            "its destination is one of the topology's own public addresses (caveat "
            "public-hairpin)" if any(c.startswith("public-hairpin") for c in answers[0]["caveats"])
            else "the request left for the Internet with its own address, no source NAT on its "
            "path to reply to" if answers[0]["disposition"] == "EXITS_INTERNET"
            else "the request reached no VM and did not leave for on-premises or the "
            "Internet") + ")")
    if answers[0]["disposition"] == "FIREWALL_NAME_UNKNOWN":
        parts.append(APPLICATION_RULE_HINT)
    return "\n".join(parts)
