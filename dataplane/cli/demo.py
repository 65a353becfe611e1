"""`dataplane demo`: load the built-in two-region hub-and-spoke and show what it is.

The topology ships as package data (dataplane/data/demo.yaml); `--show-yaml` prints it so a
user can copy and edit it. The demo prints the VNets, the peerings with their states and the
validation findings, then walks the peering lifecycle once (delete a link -> Disconnected;
add an address prefix -> sync levels) so the control plane's behaviour is visible.
"""

from __future__ import annotations

import argparse
from importlib import resources

from dataplane.cli._table import table
from dataplane.cli.check import check_report, peering_rows, render_text
from dataplane.control import peering
from dataplane.load.scenario import load_scenario_text
from dataplane.model import Topology

DEMO_NAME = "demo.yaml"


def demo_text() -> str:
    return resources.files("dataplane.data").joinpath(DEMO_NAME).read_text(encoding="utf-8")


def demo_topology() -> Topology:
    return load_scenario_text(demo_text(), f"<built-in {DEMO_NAME}>")


def _states(topology: Topology) -> str:
    return table(["VNet", "link", "remote", "state", "sync"], [
        (p["vnet"], p["name"], p["remoteVnet"], p["peeringState"], p["peeringSyncLevel"])
        for p in peering_rows(topology)])


def run(args: argparse.Namespace) -> int:
    if args.show_yaml:
        print(demo_text(), end="")
        return 0
    topology = demo_topology()
    print("vnet-dataplane demo: a two-region hub-and-spoke (hub and spoke1 in West Europe, "
          "spoke2 in East US,\nhub NVA 10.0.1.4, VPN gateway to the branch office "
          "192.168.0.0/16).\n")
    print(render_text(topology, check_report(topology)))
    print("\nPeering lifecycle (azure-semantics.md 4.2, 4.3):")
    changed = peering.delete_link(topology, "hub", "hub-to-spoke2")
    print("\n1. Delete hub's link to spoke2: spoke2's link goes Disconnected and carries no "
          "traffic.")
    print(_states(changed))
    grown = peering.add_address_prefix(topology, "spoke1", "10.11.0.0/16")
    print("\n2. Add 10.11.0.0/16 to spoke1: spoke1's link is RemoteNotInSync, the hub's "
          "link LocalNotInSync.")
    print(_states(grown))
    synced = peering.sync_link(grown, "hub", "hub-to-spoke1")
    print("\n3. Sync the hub's link: both FullyInSync; the new prefix is now routable.")
    print(_states(synced))
    print("\nSee the topology with: dataplane demo --show-yaml")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the built-in two-region hub-and-spoke demo",
        description="Load the built-in hub-and-spoke topology and show its VNets, peerings, "
                    "validation findings and the peering lifecycle.")
    parser.add_argument("--show-yaml", action="store_true",
                        help="print the demo topology (scenario YAML) and exit")
    parser.set_defaults(handler=run)
