"""Per-VM egress caps in bits per second from the VM size.

Takes: vm-bandwidth.csv (package data, "expected network bandwidth" in Mbps per size,
azure-semantics.md 5) and a Topology. Emits `vm_egress_caps(topology) -> {vm id key: bps}`.
The cap is per VM, metered on egress only and shared by all its NICs (section 5: "summed
across all NICs"), so one shaper per VM. VirtualMachine.egress_cap_bps overrides the size.
A size missing from the table or without a published figure (B-series) is an InputError
naming the VM, unless egress_cap_bps is set.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

from dataplane.errors import InputError
from dataplane.model import Topology, VirtualMachine, id_key


@lru_cache(maxsize=1)
def size_table() -> dict[str, int | None]:
    """size (lower case) -> bps, None when the size's bandwidth is not published."""
    text = resources.files("dataplane.data").joinpath("vm-bandwidth.csv").read_text()
    out: dict[str, int | None] = {}
    for row in csv.DictReader(text.splitlines()):
        mbps = (row.get("expected_network_bandwidth_mbps") or "").strip()
        out[row["vm_size"].lower()] = int(float(mbps) * 1_000_000) if mbps else None
    return out


def vm_cap_bps(vm: VirtualMachine) -> int:
    if vm.egress_cap_bps is not None:
        return int(vm.egress_cap_bps)
    table = size_table()
    key = vm.vm_size.lower()
    if key not in table:
        raise InputError(f"VM size '{vm.vm_size}' is not in vm-bandwidth.csv; set "
                         "egress_cap_bps on the VM", resource=vm.name, property="vmSize")
    bps = table[key]
    if bps is None:
        raise InputError(f"Azure publishes no bandwidth for size '{vm.vm_size}'; set "
                         "egress_cap_bps on the VM", resource=vm.name, property="vmSize")
    return bps


def vm_egress_caps(topology: Topology) -> dict[str, int]:
    return {id_key(vm.id): vm_cap_bps(vm) for vm in topology.virtual_machines}
