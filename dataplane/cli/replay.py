"""`dataplane replay TOPOLOGY... CAPTURE... --out DIR`: replay captures through the emulator.

Inputs are told apart by content: pcap/pcapng files (by their magic number) are captures, every
other input is topology (with its own --parameters/-p, cli/options.py). Usage is checked before
any work: --out a folder that can be written, --speed a finite positive number, captures
readable with intact file headers (a capture damaged at its file header is one line naming it,
exit 2; damage further in is counted and reported, exit 0). Addresses: a capture that already
uses the topology's NIC addresses is replayed as it is; one taken elsewhere has its private
addresses outside the topology mapped onto NICs
(io/mapping.py); the map is printed. Writes summary.json, packets.parquet, one pcap per
receiving VM (emulated arrival timestamps) and dropped.pcapng (reason in each packet's comment);
--csv adds packets.csv (the same rows; off by default: it costs more than the engine itself);
--no-parquet/--no-pcaps/--no-dropped skip outputs (io/writers.py). Memory stays bounded
whatever the capture's size: outputs are written a batch at a time and summary.json comes from
running aggregates.
Exit 0 when the replay ran (drops are results, not errors), 2 on usage and input errors.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dataplane.cli.demo_traffic import notes
from dataplane.cli.options import command, emit, load_inputs, out_dir, positive_finite
from dataplane.errors import InputError
from dataplane.textable import fit, table

CAPTURE_MAGICS = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1",
                  b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a")


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise InputError(f"{flag} {item}: expected A=B")
        out[key.strip()] = value.strip()
    return out


def register(subparsers: argparse._SubParsersAction) -> None:
    p = command(subparsers, "replay", "replay pcap/pcapng captures through a topology", run,
                inputs="INPUT", description=__doc__,
                inputs_help="the topology (ARM template, az JSON dump(s), scenario YAML, or a "
                            "folder of them), then the pcap/pcapng captures")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--map", action="append", default=[], metavar="CAPTURE_IP=VM",
                   help="replay a capture address as the VM's address; an IPv6 one with "
                        "VM:public as its public IPv6 (translated at the edge); an IPv4 one "
                        "as a public IP resource's address (CAPTURE_IP=PUBLIC_IP_NAME, e.g. "
                        "a firewall's, for its DNAT rules); repeatable")
    p.add_argument("--map-subnet", action="append", default=[], metavar="CIDR=VNET/SUBNET",
                   help="replay a capture prefix inside a subnet (host offset kept; an "
                        "offset on one of the subnet's five Azure-reserved addresses stays "
                        "as captured, listed in the map)")
    p.add_argument("--no-auto-map", action="store_true",
                   help="never map capture addresses onto VMs by order of appearance")
    p.add_argument("--timing", choices=("capture", "asap"), default="capture")
    p.add_argument("--speed", type=positive_finite("--speed"), default=None, metavar="N",
                   help="replay capture timing N times faster (1e-6..1e6; implies --timing "
                        "capture)")
    p.add_argument("--csv", action="store_true",
                   help="also write packets.csv (the rows of packets.parquet as text)")
    for name, what in (("parquet", "packets.parquet"), ("pcaps", "the per-VM pcaps"),
                       ("dropped", "dropped.pcapng")):
        p.add_argument(f"--no-{name}", action="store_true", help=f"do not write {what}")


CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".dmp")


def is_capture(path: str) -> bool:
    """A file that starts like a pcap or pcapng. A path named like a capture that is missing
    or is not one is an InputError naming it (one line, exit 2), not a topology input."""
    file = Path(path)
    named_like_one = file.suffix.lower() in CAPTURE_SUFFIXES
    if not file.is_file():
        if named_like_one:
            raise InputError("capture file not found", file=path)
        return False
    with file.open("rb") as f:
        head = f.read(4)
    if head in CAPTURE_MAGICS:
        return True
    if named_like_one:
        raise InputError(f"not a pcap or pcapng file (it starts with bytes {head.hex() or 'none'})",
                         file=path)
    return False


def run(args: argparse.Namespace) -> int:
    from dataplane.engine import Emulator
    from dataplane.io.capture import check_file_header
    from dataplane.io.writers import Outputs, ReplayWriter

    captures = [path for path, _ in args.inputs if is_capture(path)]
    topology_inputs = [item for item in args.inputs if not is_capture(item[0])]
    if not captures:
        raise InputError("replay needs at least one capture (pcap or pcapng) among the inputs")
    if not topology_inputs:
        raise InputError("replay needs a topology input before the captures")
    for path, parameters in args.inputs:
        if path in captures and parameters is not None:
            raise InputError(f"--parameters/-p after {path}: a capture takes no parameters")
    for path in captures:  # a damaged file header: nothing of it would replay (exit 2)
        check_file_header(path)
    out = out_dir("--out", args.out)
    outputs = Outputs(csv=args.csv, parquet=not args.no_parquet, pcaps=not args.no_pcaps,
                      dropped=not args.no_dropped)
    em = Emulator(load_inputs(args, topology_inputs),
                  fragments_out_of_order=args.fragments_out_of_order)
    mapping = _pairs(args.map, "--map")
    subnets = _pairs(args.map_subnet, "--map-subnet")
    em.address_map(mapping, subnets, auto=False)  # unknown VM/subnet names: before any work
    writer = ReplayWriter(out, em, outputs)
    try:
        result = em.replay(captures, mapping=mapping, subnet_mapping=subnets,
                           auto_map=not args.no_auto_map,
                           timing="capture" if args.speed else args.timing,
                           speed=args.speed or 1.0, sink=writer, keep=False)
    finally:
        writer.close()
    summary = writer.write_summary(result)
    emit(args, summary, lambda: _text(summary, out))
    return 0


def _text(summary: dict, out: Path) -> str:
    lines = [f"map: {line}" for line in summary["addressMap"]] or ["map: none"]
    for s in summary["captures"]:
        msg = f"{s['path']}: {s['records']} records"
        if s.get("damage"):
            msg += f"; damaged: {s['damage']} ({s['unreadable']} unreadable record(s) counted)"
        lines.append(msg)
    rows = [(k, v, summary["reasons"][k]) for k, v in summary["dispositions"].items()]
    lines.append(table(["disposition", "packets", "reason"], rows))
    lines += notes(summary, out)
    frag = summary["fragmentChains"]
    if frag["opened"] or frag["outOfOrder"] or frag["stateFull"]:
        lines.append(f"fragments ({frag['outOfOrderMode']} out of order): {frag['opened']} "
                     f"chain(s) opened, {frag['followed']} fragment(s) followed, "
                     f"{frag['outOfOrder']} dropped out of order, {frag['outOfOrderForwarded']} "
                     f"forwarded out of order, {frag['stateFull']} state full")
    acc = summary["accounting"]
    lines.append(f"read {summary['read']} = sum of dispositions: "
                 f"{summary['accountingOk'] and acc['holds']} (delivered {acc['delivered']} + "
                 f"left the network {acc['leftNetwork']} + dropped {acc['dropped']}, of which "
                 f"unsupported {acc['unsupported']}, + unparsed {acc['unparsed']})")
    lines.append(f"outputs in {out}: {', '.join(summary['files'])}")
    return fit("\n".join(lines))
