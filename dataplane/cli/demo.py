"""`dataplane demo`: load the built-in two-region hub-and-spoke and show what it is.

The topology ships as package data (dataplane/data/demo.yaml); `--show-yaml` prints it so a
user can copy and edit it. The demo prints the VNets, the peerings with their states and the
validation findings, then walks the peering lifecycle once (delete a link -> Disconnected;
add an address prefix -> sync levels) so the control plane's behaviour is visible.
Then the traffic section (`traffic`): scapy builds a short capture on the built-in topology
(web through the internal load balancer, database through the hub NVA across global peering,
on-premises both ways through the VPN gateway, Internet, NSG-blocked flows, a private address
outside every VNet, an unknown source, and a burst at web1's egress cap), `Emulator.replay`
runs it, and a short report says what was delivered, what was dropped and why, latency
regional vs global and the throughput at the VM cap. The replay outputs (summary.json,
packets.parquet, packets.csv, per-VM pcaps, dropped.pcapng: io/writers.py) and the generated
capture go to `--out` (default ./dataplane-demo), checked writable before anything runs.
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path
from typing import Any

from dataplane.cli.check import check_report, peering_rows, render_text
from dataplane.cli.demo_traffic import footer, interleaved, replay_frames
from dataplane.cli.options import command, out_dir
from dataplane.control import peering
from dataplane.errors import InputError
from dataplane.load.scenario import load_scenario_text
from dataplane.model import Topology
from dataplane.textable import duration, fit, table

DEMO_NAME = "demo.yaml"


def say(text: str = "", end: str = "\n") -> None:
    """print, with prose wrapped to the terminal (tables fit it already)."""
    print(fit(text), end=end)


def demo_text() -> str:
    return resources.files("dataplane.data").joinpath(DEMO_NAME).read_text(encoding="utf-8")


def demo_topology() -> Topology:
    return load_scenario_text(demo_text(), f"<built-in {DEMO_NAME}>")


def _states(topology: Topology) -> str:
    return table(["VNet", "link", "remote", "state", "sync"], [
        (p["vnet"], p["name"], p["remoteVnet"], p["peeringState"], p["peeringSyncLevel"])
        for p in peering_rows(topology)])


def run(args: argparse.Namespace) -> int:
    if args.dual_stack:  # v6 hook (issue 17): the dual-stack demo, cli/demo_dual_stack.py
        from dataplane.cli import demo_dual_stack

        if args.output != "table" or args.query is not None:
            raise InputError("--output/--query: the demo prints a walk-through")
        return demo_dual_stack.run(Path(args.out) if args.show_yaml else out_dir(
            "--out", args.out), args.show_yaml)
    if args.show_yaml:
        print(demo_text(), end="")
        return 0
    if args.output != "table" or args.query is not None:
        raise InputError("--output/--query: the demo prints a walk-through; its results are "
                         "in --out (summary.json, packets.parquet)")
    ignored = [flag for flag, given in (
        ("--allow-path", args.allow_paths), ("--bgp-routes", args.bgp_routes),
        ("--service-tags", args.service_tags), ("--vm-cap", args.vm_caps)) if given]
    if ignored:
        raise InputError(f"{ignored[0]}: the demo runs its built-in topology only (see it with "
                         "--show-yaml; give a copy to check, explain, trace or replay with "
                         f"{ignored[0]})")
    out = out_dir("--out", args.out)
    topology = demo_topology()
    say("vnet-dataplane demo: a two-region hub-and-spoke (hub and spoke1 in West Europe, "
          "spoke2 in East US,\nhub NVA 10.0.1.4, VPN gateway to the branch office "
          "192.168.0.0/16).\n")
    say(render_text(topology, check_report(topology)))
    say("\nPeering lifecycle (docs/azure-behaviour.md §4.2, 4.3):")
    changed = peering.delete_link(topology, "hub", "hub-to-spoke2")
    say("\n1. Delete hub's link to spoke2: spoke2's link goes Disconnected and carries no "
          "traffic.")
    say(_states(changed))
    grown = peering.add_address_prefix(topology, "spoke1", "10.11.0.0/16")
    say("\n2. Add 10.11.0.0/16 to spoke1: spoke1's link is RemoteNotInSync, the hub's "
          "link LocalNotInSync.")
    say(_states(grown))
    synced = peering.sync_link(grown, "hub", "hub-to-spoke1")
    say("\n3. Sync the hub's link: both FullyInSync; the new prefix is now routable.")
    say(_states(synced))
    say("\nSee the topology with: dataplane demo --show-yaml")
    traffic(topology, out)
    return 0


# (scenario, source VM or None for an outside source, src, dst, proto, sport, dport, count)
_FLOWS: list[tuple[str, str | None, str, str, str, int, int, int]] = [
    ("web: jumpbox -> web-ilb 10.1.1.100:443", "jumpbox", "10.0.2.4", "10.1.1.100", "tcp",
     41000, 443, 24),
    ("database: web1 -> db1:1433 via hub NVA (global)", "web1", "10.1.1.4", "10.2.1.4", "tcp",
     42000, 1433, 12),
    ("database replies: db1 -> web1", "db1", "10.2.1.4", "10.1.1.4", "tcp", 1433, 42000, 12),
    ("on-premises in: branch -> web1:22 (transit)", None, "192.168.10.20", "10.1.1.4", "tcp",
     43000, 22, 6),
    ("on-premises out: web2 -> branch:443", "web2", "10.1.1.5", "192.168.10.20", "tcp", 44000,
     443, 6),
    ("internet: web1 -> 8.8.8.8:443 via NVA", "web1", "10.1.1.4", "8.8.8.8", "tcp", 45000, 443,
     6),
    ("blocked: web1 -> db1:22 (db-nsg)", "web1", "10.1.1.4", "10.2.1.4", "tcp", 46000, 22, 6),
    ("blocked: web2 -> jumpbox:23 (shared-nsg)", "web2", "10.1.1.5", "10.0.2.4", "tcp", 46500,
     23, 6),
    ("blocked: branch -> db1:1433 (db-nsg)", None, "192.168.10.20", "10.2.1.4", "tcp", 47000,
     1433, 6),
    ("outside every VNet: web1 -> 10.3.0.4 (private)", "web1", "10.1.1.4",
     "10.3.0.4", "udp", 48000, 53, 6),
    ("unknown source 10.1.1.99 (no NIC holds it)", None, "10.1.1.99", "10.2.1.4", "tcp", 49000,
     1433, 6),
]
BURST = 600          # full-size frames from web1 back to back: below the 1 MiB queue bound
BURST_BYTES = 1500


def _packets() -> tuple[list[Any], list[str]]:
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.l2 import Ether

    def frame(flow: tuple[Any, ...], round_: int) -> Any:
        name, _vm, src, dst, proto, sport, dport, _count = flow
        sp = sport + round_ if "replies" not in name else sport
        dp = dport if "replies" not in name else dport + round_
        l4 = TCP(sport=sp, dport=dp, flags="S") if proto == "tcp" else UDP(sport=sp, dport=dp)
        return Ether() / IP(src=src, dst=dst) / l4 / (b"x" * 64)

    frames, labels, t = interleaved(_FLOWS, frame)
    t += 0.01
    for _ in range(BURST):  # one flow, back to back: serialised at web1's cap
        pkt = Ether() / IP(src="10.1.1.4", dst="10.2.1.4") / TCP(sport=50000, dport=1433) / (
            b"b" * (BURST_BYTES - 54))
        pkt.time = t
        frames.append(pkt)
        labels.append("burst: web1 -> db1:1433, 600 x 1500 B")
    return frames, labels


def traffic(topology: Topology, out: Path) -> None:
    """Generate, replay and report the demo traffic; outputs in `out`."""
    from collections import Counter

    frames, labels = _packets()
    capture = out / "demo-traffic.pcap"
    em, result, summary = replay_frames(topology, frames, capture, timing="capture")
    rows = result.rows()
    say(f"\nTraffic: {len(frames)} packets built with scapy ({capture}), replayed through "
          "the emulator:")
    per: dict[str, Counter] = {}
    ends: dict[str, Counter] = {}
    for label, row in zip(labels, rows, strict=True):
        per.setdefault(label, Counter())[row["disposition"]] += 1
        if row["disposition"] == "DELIVERED":
            ends.setdefault(label, Counter())[row["hops"].split(" > ")[-1]] += 1
    lines = []
    for label, counts in per.items():
        outcome = ", ".join(f"{d} {n}" for d, n in counts.most_common())
        where = ends.get(label)
        if where and len(where) > 1:
            outcome += " (" + ", ".join(f"{k} {v}" for k, v in sorted(where.items())) + ")"
        example = next(r for lab, r in zip(labels, rows, strict=True) if lab == label)
        lines.append((label, sum(counts.values()), outcome,
                      example["deciding"] if example["disposition"] != "DELIVERED" or
                      "lb " in example["deciding"] else example["hops"]))
    say(table(["traffic", "packets", "outcome", "decided by / path"], lines, keep=(0,)))
    say("\nDispositions:")
    say(table(["disposition", "packets", "reason"],
                [(k, v, summary["reasons"][k]) for k, v in summary["dispositions"].items()]))
    lat = summary["latencyNs"]
    say("\nLatency of delivered packets (one way, emulated):")
    for kind in ("regional", "global"):
        if kind in lat:
            v = lat[kind]
            say(f"  {kind:8s} p50 {duration(v['p50']):>9s}  p99 {duration(v['p99']):>9s}  "
                  f"({v['count']} packets)")
    burst = [r for lab, r in zip(labels, rows, strict=True) if lab.startswith("burst")
             and r["disposition"] == "DELIVERED"]
    if len(burst) > 1:
        span = burst[-1]["time_out_ns"] - burst[0]["time_out_ns"]
        bits = 8 * sum(r["length"] for r in burst[1:])
        cap = int(em.net.vm_cap_bps[em.net.vm_names.index("web1")])
        say(f"\nThroughput at web1's egress cap: {len(burst)} x {BURST_BYTES} B arrive over "
              f"{span / 1e6:.3f} ms = {bits / span:.3f} Gbit/s (cap {cap / 1e9:g} Gbit/s)")
    say(footer(summary, result.read, out))


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command(
        subparsers, "demo", "run the built-in two-region hub-and-spoke demo", run, inputs=None,
        description="Load the built-in hub-and-spoke topology and show its VNets, peerings, "
                    "validation findings and the peering lifecycle; then replay generated "
                    "traffic through the emulator and report it.")
    parser.add_argument("--dual-stack", action="store_true",
                        help="the dual-stack demo instead: IPv4 and IPv6 traffic through a "
                             "hub NVA, with an explicit address map")
    parser.add_argument("--show-yaml", action="store_true",
                        help="print the demo topology (scenario YAML) and exit")
    parser.add_argument("--out", default="dataplane-demo", metavar="DIR",
                        help="folder for the traffic section's replay outputs "
                             "(default ./dataplane-demo)")
