"""check on the names Azure's platform checks: locations, regions without data, VM sizes.

Locations: Microsoft's "Azure regions list", https://learn.microsoft.com/azure/reliability/
regions-list ("Programmatic name"); ARM's LocationNotAvailableForResourceType ("The provided
location 'notreal' is not available for resource type 'Microsoft.Network/virtualNetworks'",
Azure/azure-service-operator#781). Latency: "Azure network round-trip latency statistics",
https://learn.microsoft.com/azure/networking/azure-network-latency. Sizes: the size pages'
"Network" tab (tests/timing/test_vm_sizes.py).
"""

from __future__ import annotations

from dataclasses import replace

from topo_factory import Builder

from dataplane.control.validate import validate
from dataplane.regions import close_regions, region


def topo(location: str, size: str = "Standard_D2s_v5"):
    t = (Builder().vnet("v", "10.0.0.0/16", region=location, subnets={"s": "10.0.1.0/24"})
         .vm("vm1", "v/s", "10.0.1.4").build())
    return replace(t, virtual_machines=tuple(replace(vm, vm_size=size, location=location)
                                              for vm in t.virtual_machines))


def codes(t, severity: str) -> list[str]:
    return sorted(f.code for f in validate(t) if f.severity == severity)


def test_region_table_knows_names_and_display_names():
    assert region("swedencentral").display_name == "Sweden Central"
    assert region("Sweden Central").name == "swedencentral"
    assert region("mars") is None
    assert close_regions("westeurop")[0] == "westeurope"


def test_location_azure_does_not_have_is_an_error():
    t = topo("mars")
    wrong = [f for f in validate(t) if f.code == "LocationNotAvailableForResourceType"]
    assert {f.resource.split("/")[-2] for f in wrong} == {  # VNet, its NIC, the VM
        "virtualNetworks", "networkInterfaces", "virtualMachines"}
    assert codes(t, "error") == ["LocationNotAvailableForResourceType"] * len(wrong)
    finding = next(f for f in validate(t) if f.code == "LocationNotAvailableForResourceType")
    assert "'mars'" in finding.message and "Microsoft.Network/virtualNetworks" in finding.message
    assert codes(topo("West Europe"), "error") == []
    misspelt = next(f for f in validate(topo("westeurop"))
                    if f.code == "LocationNotAvailableForResourceType")
    assert "Close names: westeurope" in misspelt.message


def test_region_without_latency_or_pricing_is_a_warning():
    assert codes(topo("swedencentral"), "warning") == []  # in both tables
    assert codes(topo("westindia"), "warning") == ["RegionLatencyNotPublished"]
    assert codes(topo("chilecentral"), "warning") == ["RegionLatencyNotPublished",
                                                      "RegionPricingZoneMissing"]
    assert codes(topo("chilecentral"), "error") == []


def test_vm_sizes_warn_with_close_names():
    assert codes(topo("westeurope", "Standard_D2as_v5"), "warning") == []
    unpublished = topo("westeurope", "Standard_B2ms")
    assert codes(unpublished, "warning") == ["VmSizeBandwidthNotPublished"]
    unknown = next(f for f in validate(topo("westeurope", "Standard_D2as_v6x"))
                   if f.code == "VmSizeUnknown")
    assert unknown.severity == "warning" and "Standard_D2as_v5" in unknown.message
