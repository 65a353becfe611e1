"""The subnets the other inputs of one run define, so a scenario YAML can place resources in them.

Contract
- `OtherInputs.of(resources)` indexes resource dicts already read from the run's other inputs
  (ARM templates, az dumps, earlier scenarios; as `dataplane.load.read_resources` returns them):
  each virtual network by name with its id, region and subnets (name -> (id, first address
  prefix)), subnets given inline (`properties.subnets`) or as child resources
  (`Microsoft.Network/virtualNetworks/subnets`, named VNET/SUBNET); and every private address
  an IP configuration there already holds, per subnet id.
- `subnet(vnet, subnet)` -> `Subnet` or None when no other input defines it; raises
  `LookupError` (message names the ids) when the other inputs define several VNets of that name (a scenario
  names a VNet by name only: ambiguous across resource groups).
- `taken(subnet_id)` -> the addresses other inputs' IP configurations hold in that subnet, so
  the scenario's dynamic addresses do not collide with them.
Nothing here checks the other inputs: the resource converter does that once, on the merged list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

VNET = "microsoft.network/virtualnetworks"
SUBNET = "microsoft.network/virtualnetworks/subnets"


@dataclass(frozen=True)
class Subnet:
    """A subnet of another input: its ARM id, first address prefix and its VNet's region."""

    id: str
    prefix: str
    region: str


def _properties(resource: Any) -> dict[str, Any]:
    found = resource.get("properties") if isinstance(resource, dict) else None
    return found if isinstance(found, dict) else {}


def _first_prefix(properties: dict[str, Any]) -> str | None:
    if properties.get("addressPrefix"):
        return str(properties["addressPrefix"])
    many = properties.get("addressPrefixes")
    return str(many[0]) if isinstance(many, list) and many else None


def _ip_configurations(value: Any) -> Iterable[dict[str, Any]]:
    """Every dict under `value` that has a subnet reference and a private address."""
    if isinstance(value, dict):
        subnet = value.get("subnet")
        if isinstance(subnet, dict) and value.get("privateIPAddress"):
            yield value
        for item in value.values():
            yield from _ip_configurations(item)
    elif isinstance(value, list):
        for item in value:
            yield from _ip_configurations(item)


@dataclass
class OtherInputs:
    """Index of the VNets, subnets and taken addresses of a run's other inputs."""

    vnets: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # name -> [(id, region)]
    subnets: dict[tuple[str, str], Subnet] = field(default_factory=dict)  # (vnet id, name)
    addresses: dict[str, list[str]] = field(default_factory=dict)  # subnet id (lower) -> IPs

    @classmethod
    def of(cls, resources: Iterable[dict[str, Any]]) -> OtherInputs:
        index = cls()
        regions: dict[str, str] = {}
        children = []
        for resource in resources:
            kind = str(resource.get("type", "")).lower()
            if kind == VNET:
                vnet_id, region = str(resource.get("id", "")), str(resource.get("location", ""))
                regions[vnet_id.lower()] = region
                index.vnets.setdefault(str(resource.get("name", "")), []).append(
                    (vnet_id, region))
                for subnet in _properties(resource).get("subnets") or []:
                    prefix = _first_prefix(_properties(subnet))
                    if isinstance(subnet, dict) and prefix:
                        name = str(subnet.get("name", ""))
                        index.subnets[(vnet_id.lower(), name)] = Subnet(
                            str(subnet.get("id") or f"{vnet_id}/subnets/{name}"), prefix, region)
            elif kind == SUBNET:
                children.append(resource)
            for config in _ip_configurations(_properties(resource)):
                subnet_id = str(config["subnet"].get("id", "")).lower()
                index.addresses.setdefault(subnet_id, []).append(str(config["privateIPAddress"]))
        for child in children:
            prefix = _first_prefix(_properties(child))
            subnet_id = str(child.get("id", ""))
            vnet_id, _, name = subnet_id.rpartition("/subnets/")
            if prefix and vnet_id:
                index.subnets.setdefault((vnet_id.lower(), name), Subnet(
                    subnet_id, prefix, regions.get(vnet_id.lower(), "")))
        return index

    def subnet(self, vnet: str, subnet: str) -> Subnet | None:
        candidates = self.vnets.get(vnet, [])
        if len(candidates) > 1:
            raise LookupError(f"the other inputs define {len(candidates)} VNets named '{vnet}' "
                              f"({', '.join(i for i, _ in candidates)})")
        if not candidates:
            return None
        return self.subnets.get((candidates[0][0].lower(), subnet))

    def taken(self, subnet_id: str) -> list[str]:
        return self.addresses.get(subnet_id.lower(), [])
