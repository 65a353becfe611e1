"""Private IPv4 addresses held by NICs of different virtual networks (overlapping spaces).

Azure lets unpeered VNets use the same private ranges (each VNet is its own address space; only
peering refuses overlap: "Azure Virtual Network frequently asked questions (FAQ)",
https://learn.microsoft.com/azure/virtual-network/virtual-networks-faq, "Virtual network
peering": "You can't enable virtual network peering if address spaces overlap"). A captured
packet carries only its addresses, so a packet from such an address does not say which NIC sent
it. The engine attributes it to the first NIC holding it in topology order (engine/compile.py
`Network.ip_nic`) unless the user names the sender (`replay --map ADDR=VM`, `send(source=VM)`);
an answer the engine attributed that way carries caveat AMBIGUOUS_SOURCE (assumption: the first
NIC, written down because Microsoft's pages have no notion of a capture's sender).

Takes a Topology. Emits `shared_private_addresses(topology)` -> tuple[SharedAddress, ...]
(IPv4 address as int, NIC indices in topology order: the first is the one captures are
attributed to; only addresses two or more NICs hold) and `shared_address_findings(topology)`
-> one warning Finding `AmbiguousSourceAddress` per such address held in two or more VNets
(`check` prints them; holders within one VNet are Azure's error PrivateIPAddressIsAllocated,
control/validate.py, though the engine's caveat covers them too).
IPv6 private addresses are not examined (left for a later change).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from dataplane.errors import Finding
from dataplane.model import NetworkInterface, Topology, id_key

AMBIGUOUS_SOURCE_KEY = "ambiguous-source-address"
AMBIGUOUS_SOURCE = (
    f"{AMBIGUOUS_SOURCE_KEY}: the packet's source address is held by NICs of several virtual "
    "networks (overlapping address spaces); the emulator attributed it to the first NIC in "
    "topology order (name the sender with replay --map ADDR=VM)")


@dataclass(frozen=True)
class SharedAddress:
    """An IPv4 address (int) and the NIC indices (topology order, >= 2) holding it."""

    address: int
    nics: tuple[int, ...]


def shared_private_addresses(topology: Topology) -> tuple[SharedAddress, ...]:
    """Every IPv4 private address more than one NIC holds, in order of first holder."""
    holders: dict[int, list[int]] = {}
    for i, nic in enumerate(topology.network_interfaces):
        for config in nic.ip_configurations:
            ip = config.private_ip_address
            if ip is not None and ip.version == 4 and i not in holders.get(ip.value, []):
                holders.setdefault(ip.value, []).append(i)
    return tuple(SharedAddress(a, tuple(n)) for a, n in holders.items() if len(n) > 1)


def holder_name(topology: Topology, nic_index: int) -> str:
    """'VM (NIC)' for a VM's NIC, else the NIC's name."""
    nic = topology.network_interfaces[nic_index]
    vm = topology.vm_of_nic(nic)
    return f"{vm.name} ({nic.name})" if vm is not None else nic.name


def _vnet_key(topology: Topology, nic: NetworkInterface) -> str:
    subnets = [c.subnet for c in nic.ip_configurations if c.subnet]
    vnet = topology.vnet_of_subnet(subnets[0]) if subnets else None
    return id_key(vnet.id) if vnet is not None else nic.id


def shared_address_findings(topology: Topology) -> list[Finding]:
    """One warning per shared address: the address, every NIC/VM holding it, and which one a
    captured packet from it is attributed to."""
    nics = topology.network_interfaces
    out = []
    for shared in shared_private_addresses(topology):
        if len({_vnet_key(topology, nics[n]) for n in shared.nics}) < 2:
            continue  # one VNet: Azure refuses it (PrivateIPAddressIsAllocated, validate.py)
        names = [holder_name(topology, n) for n in shared.nics]
        out.append(Finding(
            "AmbiguousSourceAddress",
            f"{ipaddress.IPv4Address(shared.address)} is held by {', '.join(names)}; a "
            f"captured packet from it is attributed to {names[0]} unless replay --map "
            f"{ipaddress.IPv4Address(shared.address)}=VM names the sender "
            f"(caveat {AMBIGUOUS_SOURCE_KEY})", nics[shared.nics[0]].id, "warning"))
    return out
