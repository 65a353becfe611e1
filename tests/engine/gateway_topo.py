"""Topologies for the gateway stage tests: the ARM builders of tests/control/bgp_topo.py (one
copy, loaded by path when that folder is not on sys.path) plus network interfaces and NSGs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any


def _bgp_topo() -> Any:
    found = sys.modules.get("bgp_topo")
    if found is not None:
        return found
    path = Path(__file__).resolve().parents[1] / "control" / "bgp_topo.py"
    spec = importlib.util.spec_from_file_location("bgp_topo", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bgp_topo"] = module
    spec.loader.exec_module(module)
    return module


bgp_topo = _bgp_topo()
RG = bgp_topo.RG
Arm = bgp_topo.Arm
peering = bgp_topo.peering
three_vnets = bgp_topo.three_vnets


def nic(arm: Any, name: str, vnet: str, subnet: str, ip: str, *, forwarding: bool = False,
        nsg: str | None = None, subnet_id: str | None = None) -> Any:
    props: dict[str, Any] = {
        "enableIPForwarding": forwarding,
        "ipConfigurations": [{"name": "ipconfig1", "properties": {
            "privateIPAddress": ip, "privateIPAllocationMethod": "Static",
            "subnet": {"id": subnet_id or f"{RG}/virtualNetworks/{vnet}/subnets/{subnet}"}}}]}
    if nsg:
        props["networkSecurityGroup"] = {"id": f"{RG}/networkSecurityGroups/{nsg}"}
    return arm.add("networkInterfaces", name, props)


def deny_inbound_from(arm: Any, name: str, prefix: str) -> Any:
    """An NSG whose one rule denies inbound traffic from `prefix` (priority 100)."""
    return arm.add("networkSecurityGroups", name, {"securityRules": [{
        "name": "deny-from", "properties": {
            "priority": 100, "direction": "Inbound", "access": "Deny", "protocol": "*",
            "sourceAddressPrefix": prefix, "sourcePortRange": "*",
            "destinationAddressPrefix": "*", "destinationPortRange": "*"}}]})


def vm(arm: Any, name: str, nic_name: str) -> Any:
    """A virtual machine holding one NIC (watcher.explain starts from a VM)."""
    arm.resources.append({
        "type": "Microsoft.Compute/virtualMachines", "name": name, "location": "westeurope",
        "id": RG.replace("Microsoft.Network", "Microsoft.Compute") + f"/virtualMachines/{name}",
        "properties": {"hardwareProfile": {"vmSize": "Standard_D2s_v3"},
                       "networkProfile": {"networkInterfaces": [
                           {"id": f"{RG}/networkInterfaces/{nic_name}"}]}}})
    return arm
