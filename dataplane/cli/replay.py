"""`dataplane replay TOPOLOGY CAPTURE... --out DIR`: replay captures through the emulator.

Writes packets.csv, summary.json, one pcap per receiving VM (emulated arrival timestamps) and
dropped.pcapng (reason in each packet's comment); prints the address map, damage messages and
counts. Exit 0 when the replay ran (drops are results, not errors), 2 on input errors.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dataplane.errors import InputError
from dataplane.textable import table


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise InputError(f"{flag} {item}: expected A=B")
        out[key.strip()] = value.strip()
    return out


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("replay", help="replay pcap/pcapng captures through a topology",
                              description=__doc__)
    p.add_argument("topology", metavar="TOPOLOGY")
    p.add_argument("captures", nargs="+", metavar="CAPTURE")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--map", action="append", default=[], metavar="CAPTURE_IP=VM")
    p.add_argument("--map-subnet", action="append", default=[], metavar="CIDR=VNET/SUBNET")
    p.add_argument("--no-auto-map", action="store_true",
                   help="do not map other capture addresses onto VMs by order of appearance")
    p.add_argument("--timing", choices=("capture", "asap"), default="capture")
    p.add_argument("--speed", type=float, default=None,
                   help="replay capture timing N times faster (implies --timing capture)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from dataplane.engine import Emulator
    from dataplane.io.writers import ReplayWriter
    from dataplane.load import load

    for c in args.captures:
        if not Path(c).is_file():
            raise InputError(f"{c}: no such capture file")
    em = Emulator(load(args.topology))
    writer = ReplayWriter(Path(args.out), em)
    try:
        result = em.replay(args.captures, mapping=_pairs(args.map, "--map"),
                           subnet_mapping=_pairs(args.map_subnet, "--map-subnet"),
                           auto_map=not args.no_auto_map,
                           timing="capture" if args.speed else args.timing,
                           speed=args.speed or 1.0, sink=writer)
    finally:
        writer.close()
    summary = result.summary()
    (Path(args.out) / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    for line in result.mapping:
        print(f"map: {line}")
    for s in result.captures:
        msg = f"{s.path}: {s.records} records"
        if s.damage:
            msg += f"; damaged: {s.damage} ({s.unreadable} unreadable record(s) counted)"
        print(msg)
    rows = [(k, v, summary["reasons"][k]) for k, v in summary["dispositions"].items()]
    print(table(["disposition", "packets", "reason"], rows))
    print(f"read {result.read} = sum of dispositions: {result.check_accounting()}; "
          f"outputs in {args.out}")
    return 0
