"""Per-VM egress caps in bits per second from the VM size.

Takes: vm-bandwidth.csv (package data: per size the "Max NICs" and "Max Bandwidth (Mbps)"
columns of Microsoft's size pages, page and commit or date on every row; semantics in
"Virtual machine network bandwidth", https://learn.microsoft.com/azure/virtual-network/
virtual-machine-network-throughput: "metered on egress ... All network traffic leaving the
virtual machine is counted toward the allocated limit") and a Topology.
Emits `vm_egress_caps(topology) -> {vm id key: bps}`: one shaper per VM (the cap is summed
across all NICs). VirtualMachine.egress_cap_bps overrides the size (`with_vm_caps`, the API of
`--vm-cap VM=BPS`). A size missing from the table, or one Microsoft publishes no figure for
(B-series v1: the column is blank), never blocks a run: it gets DEFAULT_CAP_BPS and
`cap_caveats(topology)` names it (assumption `vm-default-cap`).
"""

from __future__ import annotations

import csv
import difflib
from collections.abc import Iterable, Mapping
from dataclasses import replace
from functools import lru_cache
from importlib import resources

from dataplane.errors import InputError
from dataplane.model import Topology, VirtualMachine, id_key

# Not an Azure figure: the smallest 2-vCPU figure in the table's general-purpose rows
# (Standard_D2s_v3, 1,000 Mbps); stated in every caveat that uses it.
DEFAULT_CAP_BPS = 1_000_000_000


@lru_cache(maxsize=1)
def _rows() -> dict[str, dict[str, str]]:
    text = resources.files("dataplane.data").joinpath("vm-bandwidth.csv").read_text()
    return {row["vm_size"].lower(): row for row in csv.DictReader(text.splitlines())}


@lru_cache(maxsize=1)
def size_table() -> dict[str, int | None]:
    """size (lower case) -> bps, None when the size's bandwidth is not published."""
    out: dict[str, int | None] = {}
    for key, row in _rows().items():
        mbps = (row.get("expected_network_bandwidth_mbps") or "").strip()
        out[key] = int(float(mbps) * 1_000_000) if mbps else None
    return out


def max_nics(vm_size: str) -> int | None:
    row = _rows().get(vm_size.lower())
    return int(row["max_nics"]) if row and row.get("max_nics") else None


def close_sizes(vm_size: str, n: int = 3) -> list[str]:
    rows = _rows()
    return [rows[k]["vm_size"] for k in
            difflib.get_close_matches(vm_size.lower(), list(rows), n=n, cutoff=0.75)]


def published_cap_bps(vm_size: str) -> int | None:
    """The size's published bandwidth, None when unknown or unpublished."""
    return size_table().get(vm_size.lower())


def vm_cap_bps(vm: VirtualMachine) -> int:
    if vm.egress_cap_bps is not None:
        return int(vm.egress_cap_bps)
    found = published_cap_bps(vm.vm_size)
    return DEFAULT_CAP_BPS if found is None else found


def vm_egress_caps(topology: Topology) -> dict[str, int]:
    return {id_key(vm.id): vm_cap_bps(vm) for vm in topology.virtual_machines}


def cap_caveats(topology: Topology) -> list[str]:
    """One line per VM whose cap is the stated default rather than a published figure."""
    out = []
    for vm in topology.virtual_machines:
        if vm.egress_cap_bps is not None or published_cap_bps(vm.vm_size) is not None:
            continue
        why = ("Microsoft publishes no bandwidth for this size" if vm.vm_size.lower() in
               size_table() else "the size is not in vm-bandwidth.csv")
        out.append(f"vm-default-cap: VM {vm.name} ({vm.vm_size}): {why}; its egress is capped "
                   f"at the stated default {DEFAULT_CAP_BPS // 1_000_000} Mbps (not an Azure "
                   "figure); set --vm-cap VM=BPS for a known value.")
    return out


def parse_vm_caps(items: Iterable[str]) -> dict[str, int]:
    """'VM=BPS' strings (the --vm-cap flag; BPS may be written 2e9) -> {VM: bps}."""
    out: dict[str, int] = {}
    for item in items:
        name, sep, value = str(item).partition("=")
        try:
            bps = int(float(value))
        except ValueError:
            bps = -1
        if not sep or not name.strip() or bps <= 0:
            raise InputError(f"--vm-cap '{item}' must be VM=BPS with a positive number of bits "
                             "per second (e.g. web1=2e9)", property="vm-cap")
        out[name.strip()] = bps
    return out


def with_vm_caps(topology: Topology, vm_caps: Mapping[str, int] | None) -> Topology:
    """The topology with egress_cap_bps set on the named VMs (name or resource id,
    case-insensitive); an unknown VM name is an InputError naming it and the known ones."""
    if not vm_caps:
        return topology
    wanted = {k.lower(): int(v) for k, v in vm_caps.items()}
    names = {vm.name.lower() for vm in topology.virtual_machines} | {
        vm.id.lower() for vm in topology.virtual_machines}
    missing = sorted(k for k in wanted if k not in names)
    if missing:
        known = ", ".join(sorted(vm.name for vm in topology.virtual_machines)) or "none"
        raise InputError(f"--vm-cap names unknown VM(s) {', '.join(missing)} (known: {known})",
                         property="vm-cap")
    vms = tuple(replace(vm, egress_cap_bps=wanted.get(vm.name.lower(),
                                                      wanted.get(vm.id.lower(),
                                                                 vm.egress_cap_bps)))
                for vm in topology.virtual_machines)
    return replace(topology, virtual_machines=vms)
