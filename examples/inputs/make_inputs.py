"""Regenerate the az dumps (from hub.json) and the capture (for hub-spoke.yaml) in this folder.

Usage (from the repository root): python examples/inputs/make_inputs.py

Writes, beside this script:
* vnets.json, nsgs.json, nics.json, route-tables.json: what `az network vnet list -o json`,
  `az network nsg list`, `az network nic list` and `az network route-table list` print for the
  topology in hub-spoke.yaml: the ARM properties flattened into each object (and into each
  child: subnets, peerings, security rules, IP configurations), `resourceGroup`,
  `provisioningState`, and the peering state Azure reports (Connected for a link whose
  counterpart exists, Initiated otherwise);
* capture.pcap: a small capture taken somewhere else (a lab whose web server was 10.9.0.5),
  to be replayed with `--map 10.9.0.5=web1`: SQL from the web server to db1 (delivered through
  the hub NVA), telnet to the jumpbox (denied by shared-nsg), RDP to db1 (denied by db-nsg).
The output is deterministic: running the script again gives the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DUMPS = {
    "vnets.json": "Microsoft.Network/virtualNetworks",
    "nsgs.json": "Microsoft.Network/networkSecurityGroups",
    "nics.json": "Microsoft.Network/networkInterfaces",
    "route-tables.json": "Microsoft.Network/routeTables",
}
CHILDREN = ("subnets", "virtualNetworkPeerings", "securityRules", "ipConfigurations", "routes")


def _resource_group(resource_id: str) -> str:
    parts = resource_id.split("/")
    return parts[parts.index("resourceGroups") + 1]


def flatten(obj: dict[str, Any]) -> dict[str, Any]:
    """An ARM object as az prints it: `properties` merged into the top level, recursively."""
    out = {k: v for k, v in obj.items() if k not in ("properties", "source")}
    for key, value in (obj.get("properties") or {}).items():
        out[key] = [flatten(c) for c in value] if key in CHILDREN else value
    if "id" in out:
        out["resourceGroup"] = _resource_group(out["id"])
    out["provisioningState"] = "Succeeded"
    return out


def with_peering_state(vnets: list[dict[str, Any]]) -> None:
    """Azure reports each link's state; a link whose counterpart exists is Connected."""
    by_id = {v["id"]: v for v in vnets}
    for vnet in vnets:
        for link in vnet.get("virtualNetworkPeerings", []):
            remote = by_id.get(link["remoteVirtualNetwork"]["id"], {})
            back = any(x["remoteVirtualNetwork"]["id"] == vnet["id"]
                       for x in remote.get("virtualNetworkPeerings", []))
            link["peeringState"] = "Connected" if back else "Initiated"
            link["peeringSyncLevel"] = "FullyInSync"
            link["remoteAddressSpace"] = remote.get("addressSpace", {})


def write_dumps() -> None:
    from dataplane.load import read_resources

    resources, _ = read_resources(HERE / "hub.json", HERE / "hub.parameters.json")
    # az prints a VNet's peerings inside it; the template declares them as child resources
    for child in [r for r in resources if r["type"].endswith("/virtualNetworkPeerings")]:
        parent = next(r for r in resources if child["id"].startswith(r["id"] + "/"))
        parent["properties"].setdefault("virtualNetworkPeerings", []).append(child)
    for name, kind in DUMPS.items():
        items = [flatten(r) for r in resources if r["type"] == kind]
        if name == "vnets.json":
            with_peering_state(items)
        (HERE / name).write_text(json.dumps(items, indent=2) + "\n")


def write_capture() -> None:
    from scapy.all import IP, TCP, Ether, wrpcap

    web = "10.9.0.5"
    frames = []
    for i in range(6):
        frames.append(IP(src=web, dst="10.2.1.4") / TCP(sport=50000 + i, dport=1433, flags="S"))
    frames.append(IP(src=web, dst="10.0.2.4") / TCP(sport=51000, dport=23, flags="S"))
    frames.append(IP(src=web, dst="10.2.1.4") / TCP(sport=52000, dport=3389, flags="S"))
    packets = []
    for i, frame in enumerate(frames):
        packet = Ether(src="00:15:5d:00:00:01", dst="12:34:56:78:9a:bc") / frame
        packet.time = 1_700_000_000 + i * 0.001
        packets.append(packet)
    wrpcap(str(HERE / "capture.pcap"), packets)


if __name__ == "__main__":
    write_dumps()
    write_capture()
