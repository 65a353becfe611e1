"""Findings about the names Azure's platform checks: service tags, locations, VM sizes.

Takes: a Topology. Emits Findings (validate.py adds them to `check`):
* SecurityRuleInvalidAddressPrefix (error): a security rule names a service tag Azure does not
  have. ARM's message: "Security rule <id> has invalid Address prefix. Value provided: <value>"
  (seen in ARM responses: Azure/azure-powershell#391, #4557; hashicorp/
  terraform-provider-azurerm#16761); the close names (difflib) follow. Tag names:
  control/servicetags.py.
* ServiceTagPrefixesNotLoaded (warning, ours): a rule names a tag whose prefixes come from the
  built-in partial set (no service tags file, or the file lacks it).
* LocationNotAvailableForResourceType (error): a location Azure does not have. ARM's message:
  "The provided location 'notreal' is not available for resource type
  'Microsoft.Network/virtualNetworks'." (Azure/azure-service-operator#781, MicrosoftDocs/
  azure-docs#4981). Region names: dataplane/regions.py ("Azure regions list",
  https://learn.microsoft.com/azure/reliability/regions-list). `global` and empty locations pass.
* RegionLatencyNotPublished / RegionPricingZoneMissing (warnings, ours): a VNet's region has no
  row in azure-latency.csv (timing to or from it fails) or no peering pricing zone.
* VmSizeUnknown / VmSizeBandwidthNotPublished (warnings, ours): a VM size missing from
  vm-bandwidth.csv (with the close names) or without a published bandwidth; runs use the
  stated default cap (timing/bandwidth.py, caveat `vm-default-cap`).
"""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

from dataplane.control.servicetags import close_tags, is_known_tag
from dataplane.errors import Finding
from dataplane.model import Topology
from dataplane.regions import close_regions, fold_region, region
from dataplane.timing.bandwidth import DEFAULT_CAP_BPS, close_sizes, size_table

BUILT_FROM_TOPOLOGY = ("virtualnetwork", "azureloadbalancer", "internet", "virtual_network",
                       "azure_loadbalancer")
RESOURCE_TYPES = {
    "virtual_networks": "Microsoft.Network/virtualNetworks",
    "network_security_groups": "Microsoft.Network/networkSecurityGroups",
    "route_tables": "Microsoft.Network/routeTables",
    "network_interfaces": "Microsoft.Network/networkInterfaces",
    "virtual_machines": "Microsoft.Compute/virtualMachines",
    "virtual_network_gateways": "Microsoft.Network/virtualNetworkGateways",
    "local_network_gateways": "Microsoft.Network/localNetworkGateways",
    "connections": "Microsoft.Network/connections",
    "load_balancers": "Microsoft.Network/loadBalancers",
    "azure_firewalls": "Microsoft.Network/azureFirewalls",
    "application_security_groups": "Microsoft.Network/applicationSecurityGroups",
}


@lru_cache(maxsize=1)
def _data_regions() -> tuple[frozenset[str], frozenset[str]]:
    """Folded regions with latency rows, with pricing zones."""
    base = resources.files("dataplane.data")
    latency = frozenset(fold_region(r["source_region"]) for r in csv.DictReader(
        base.joinpath("azure-latency.csv").read_text().splitlines()))
    priced = frozenset(fold_region(r["region"]) for r in csv.DictReader(
        base.joinpath("region-zones.csv").read_text().splitlines()))
    return latency, priced


def _tag_findings(topology: Topology) -> list[Finding]:
    out: list[Finding] = []
    loaded = topology.service_tags
    loaded_names = {name.lower() for name, _ in loaded.tags} if loaded else set()
    for nsg in topology.network_security_groups:
        for rule in nsg.security_rules:
            rid = f"{nsg.id}/securityRules/{rule.name}"
            for value in (*rule.source_address_prefixes, *rule.destination_address_prefixes):
                if not isinstance(value, str) or value == "*":
                    continue
                if not is_known_tag(value, loaded):
                    close = close_tags(value, loaded)
                    hint = f" Close names: {', '.join(close)}." if close else ""
                    out.append(Finding("SecurityRuleInvalidAddressPrefix",
                                       f"Security rule {rid} has invalid Address prefix. Value "
                                       f"provided: {value}.{hint}", rid))
                elif value.lower() not in BUILT_FROM_TOPOLOGY \
                        and value.lower() not in loaded_names:
                    out.append(Finding("ServiceTagPrefixesNotLoaded",
                                       f"Security rule {rule.name} uses service tag {value}, "
                                       "whose prefixes are not loaded: only a built-in partial "
                                       "set is matched (give Microsoft's file with "
                                       "--service-tags FILE).", rid, "warning"))
    return out


def _location_findings(topology: Topology) -> list[Finding]:
    out: list[Finding] = []
    latency, priced = _data_regions()
    for collection, resource_type in RESOURCE_TYPES.items():
        for resource in getattr(topology, collection):
            location = str(getattr(resource, "location", "") or "")
            if not location or location.lower() == "global":
                continue
            if region(location) is None:
                close = close_regions(location)
                hint = f" Close names: {', '.join(close)}." if close else ""
                out.append(Finding("LocationNotAvailableForResourceType",
                                   f"The provided location '{location}' of '{resource.name}' is "
                                   f"not available for resource type '{resource_type}'.{hint}",
                                   resource.id))
    for vnet in topology.virtual_networks:
        if region(vnet.location) is None:
            continue
        key = fold_region(vnet.location)
        if key not in latency:
            out.append(Finding("RegionLatencyNotPublished",
                               f"Region '{vnet.location}' of virtual network '{vnet.name}' has "
                               "no published inter-region latency (azure-latency.csv): timing "
                               "to or from other regions cannot be computed.", vnet.id,
                               "warning"))
        if key not in priced:
            out.append(Finding("RegionPricingZoneMissing",
                               f"Region '{vnet.location}' of virtual network '{vnet.name}' has "
                               "no peering pricing zone (region-zones.csv): whatif cost needs "
                               "cost.zones for it.", vnet.id, "warning"))
    return out


def _size_findings(topology: Topology) -> list[Finding]:
    out: list[Finding] = []
    table = size_table()
    default = f"{DEFAULT_CAP_BPS // 1_000_000} Mbps"
    for vm in topology.virtual_machines:
        if vm.egress_cap_bps is not None:
            continue
        key = vm.vm_size.lower()
        if key not in table:
            close = close_sizes(vm.vm_size)
            hint = f" Close names: {', '.join(close)}." if close else ""
            out.append(Finding("VmSizeUnknown",
                               f"VM size '{vm.vm_size}' of '{vm.name}' is not in vm-bandwidth.csv;"
                               f" runs cap its egress at the stated default {default}.{hint}",
                               vm.id, "warning"))
        elif table[key] is None:
            out.append(Finding("VmSizeBandwidthNotPublished",
                               f"Microsoft publishes no bandwidth for size '{vm.vm_size}' of "
                               f"'{vm.name}'; runs cap its egress at the stated default "
                               f"{default}.", vm.id, "warning"))
    return out


def platform_findings(topology: Topology) -> list[Finding]:
    return _tag_findings(topology) + _location_findings(topology) + _size_findings(topology)
