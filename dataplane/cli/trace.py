"""`dataplane trace TOPOLOGY --from VM --to IP [--port N --protocol P]`: one flow both ways.

Sends one synthetic packet from the VM to the address and, when it is delivered to a VM, the
reply from the VM that received it (behind an internal load balancer: the chosen backend, from
its own address and the translated port, engine/loadbalancer.py); prints each hop with the deciding rule or route and per-leg latency (propagation +
processing, ns), like Network Watcher's connection troubleshoot.
"""

from __future__ import annotations

import argparse
import json

from dataplane.errors import InputError
from dataplane.textable import table


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("trace", help="trace one flow hop by hop, both ways",
                              description=__doc__)
    p.add_argument("topology", metavar="TOPOLOGY")
    p.add_argument("--from", dest="source", required=True, metavar="VM")
    p.add_argument("--to", dest="destination", required=True, metavar="IP")
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--protocol", default="Tcp", choices=("Tcp", "Udp", "Icmp", "tcp", "udp",
                                                          "icmp"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from scapy.layers.inet import ICMP, IP, TCP, UDP

    from dataplane.engine import Disposition, Emulator
    from dataplane.load import load

    em = Emulator(load(args.topology))
    src_ip = str(_ip(em.address_of(args.source)))
    dst_ip = str(_ip(em.address_of(args.destination)))
    proto = args.protocol.lower()
    if not 0 <= args.port <= 65535:
        raise InputError("--port must be 0..65535")

    def packet(s: str, d: str, sport: int, dport: int):
        l4 = TCP(sport=sport, dport=dport) if proto == "tcp" else (
            UDP(sport=sport, dport=dport) if proto == "udp" else ICMP())
        return IP(src=s, dst=d) / l4

    out = em.send(packet(src_ip, dst_ip, 49152, args.port), source=args.source)
    answers = [out.explain(0)]
    if out.dispositions()[0] == Disposition.DELIVERED:
        receiver = out.row(0)["hops"].split(" > ")[-1]
        reply_ip, reply_port = str(_ip(em.address_of(receiver))), args.port
        for hop in answers[0]["hops"]:
            if hop["step"] == "loadbalancer" and hop.get("translated"):
                reply_ip = hop["translated"]["destinationIp"]
                reply_port = hop["translated"]["destinationPort"]
        back = em.send(packet(reply_ip, src_ip, reply_port, 49152), times_ns=[10**9],
                       source=receiver)
        answers.append(back.explain(0))
    if args.json:
        print(json.dumps(answers, indent=2, default=str))
        return 0
    for title, a in zip(("forward", "return"), answers, strict=False):
        print(f"{title}: {a['src']} -> {a['dst']} {a['proto']} {a['dport']}: "
              f"{a['disposition']} ({a['deciding']}); latency {a['latency_ns']} ns")
        rows = [(h.get("step"), h.get("at", f"{h.get('from')}->{h.get('to')}"),
                 h.get("route") or h.get("rule") or "", h.get("result", h.get("access", "")))
                for h in a["hops"]]
        print(table(["step", "at", "rule/route", "result"], rows))
        legs = [(g["from"], g["to"], g["propagation_ns"], g["processing_ns"],
                 "global" if g["global"] else "regional") for g in a.get("legs", [])]
        if legs:
            print(table(["from", "to", "propagation ns", "processing ns", "path"], legs))
    return 0


def _ip(v: int) -> str:
    return ".".join(str((v >> s) & 255) for s in (24, 16, 8, 0))
