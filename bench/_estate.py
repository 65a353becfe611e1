"""Estate generators for the scale benchmarks (bench/test_scale.py): deterministic resource dumps.

`hub_spoke_estate(hubs, spokes_per_hub)` -> an az-style resource list (JSON-ready dicts):
hub VNets 10.<h>.0.0/16 (h < 128) and spokes in 10.128.0.0/9 (/24 each, up to 32,768), each spoke peered with
its hub in both directions (Connected, FullyInSync), one NIC + VM in each hub and in the first
spoke of each hub, in westeurope. Over 500 spokes per hub is over Azure's peering limit.
`depends_on_chain(n)` -> an ARM template of n network security groups, each dependsOn the one
before it (declared in reverse order, so every resource must wait for the next one declared).
"""

from __future__ import annotations

from typing import Any

SUB = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/scale/providers"
LOC = "westeurope"


def _vnet_id(name: str) -> str:
    return f"{SUB}/Microsoft.Network/virtualNetworks/{name}"


def _spoke_prefix(k: int) -> str:
    base = (10 << 24) | (128 << 16)  # 10.128.0.0/9 has room for 32,768 /24s
    net = base + (k << 8)
    return f"{net >> 24}.{(net >> 16) & 255}.{(net >> 8) & 255}.0/24"


def _vnet(name: str, prefix: str, subnet_prefix: str, links: list[dict[str, Any]]
          ) -> dict[str, Any]:
    vid = _vnet_id(name)
    return {"type": "Microsoft.Network/virtualNetworks", "name": name, "id": vid,
            "location": LOC, "properties": {
                "addressSpace": {"addressPrefixes": [prefix]},
                "subnets": [{"name": "default", "id": f"{vid}/subnets/default",
                             "properties": {"addressPrefix": subnet_prefix}}],
                "virtualNetworkPeerings": links}}


def _link(owner: str, remote: str, remote_prefix: str) -> dict[str, Any]:
    return {"name": f"{owner}-to-{remote}",
            "id": f"{_vnet_id(owner)}/virtualNetworkPeerings/{owner}-to-{remote}",
            "properties": {"peeringState": "Connected", "peeringSyncLevel": "FullyInSync",
                           "remoteVirtualNetwork": {"id": _vnet_id(remote)},
                           "remoteAddressSpace": {"addressPrefixes": [remote_prefix]},
                           "allowVirtualNetworkAccess": True, "allowForwardedTraffic": True,
                           "allowGatewayTransit": False, "useRemoteGateways": False}}


def _vm(name: str, vnet: str, ip: str) -> list[dict[str, Any]]:
    nic_id = f"{SUB}/Microsoft.Network/networkInterfaces/{name}-nic"
    return [
        {"type": "Microsoft.Network/networkInterfaces", "name": f"{name}-nic", "id": nic_id,
         "location": LOC, "properties": {"ipConfigurations": [{
             "name": "ipconfig1", "id": f"{nic_id}/ipConfigurations/ipconfig1",
             "properties": {"privateIPAddress": ip, "privateIPAllocationMethod": "Static",
                            "primary": True,
                            "subnet": {"id": f"{_vnet_id(vnet)}/subnets/default"}}}]}},
        {"type": "Microsoft.Compute/virtualMachines", "name": name,
         "id": f"{SUB}/Microsoft.Compute/virtualMachines/{name}", "location": LOC,
         "properties": {"hardwareProfile": {"vmSize": "Standard_D2s_v3"},
                        "networkProfile": {"networkInterfaces": [{"id": nic_id}]}}},
    ]


def hub_spoke_estate(hubs: int, spokes_per_hub: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    k = 0
    for h in range(hubs):
        hub, hub_prefix = f"hub{h}", f"10.{h}.0.0/16"
        hub_links = []
        for s in range(spokes_per_hub):
            spoke, prefix = f"hub{h}-spoke{s}", _spoke_prefix(k)
            k += 1
            hub_links.append(_link(hub, spoke, prefix))
            out.append(_vnet(spoke, prefix, prefix, [_link(spoke, hub, hub_prefix)]))
            if s == 0:
                out += _vm(f"{spoke}-vm", spoke, prefix.replace(".0/24", ".4"))
        out.append(_vnet(hub, hub_prefix, f"10.{h}.1.0/24", hub_links))
        out += _vm(f"{hub}-vm", hub, f"10.{h}.1.4")
    return out


def depends_on_chain(n: int) -> dict[str, Any]:
    resources = []
    for i in reversed(range(n)):
        r: dict[str, Any] = {"type": "Microsoft.Network/networkSecurityGroups",
                             "apiVersion": "2023-09-01", "name": f"nsg{i}", "location": LOC,
                             "properties": {"securityRules": []}}
        if i:
            r["dependsOn"] = [f"[resourceId('Microsoft.Network/networkSecurityGroups', "
                              f"'nsg{i - 1}')]"]
        resources.append(r)
    return {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/"
                       "deploymentTemplate.json#", "contentVersion": "1.0.0.0",
            "resources": resources}
