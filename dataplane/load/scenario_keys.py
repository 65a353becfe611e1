"""The keys a scenario YAML entry may hold, and the check that refuses any other (docs/scenario.md).

A scenario is hand-written, so a misspelt key (`fqnds`, `aplication_collections`, a VM's `ipp`)
is a mistake, never a property we chose not to model: it is an InputError naming the file, the
entry (resource) and the key (property), with the closest known key ("did you mean 'fqdns'?").

    check_scenario_keys(doc, source)   raises InputError at the first unknown key, walking the
                                       sections in document order, or at a VM's NIC key
                                       beside its `nics:` (never read); returns None otherwise.

SCHEMA maps a section to the keys of one of its entries; a key whose value is itself a mapping
or a list of mappings (a subnet, a gateway, an NSG rule, a firewall rule collection, ...) maps to
its own nested schema. Values that are not mappings are left to the section builders
(scenario.py), which say what shape they expected.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, Union

from dataplane.errors import InputError

Schema = dict[str, Union["Schema", None]]  # key -> nested schema (mapping / list of mappings)

_NIC: Schema = {k: None for k in ("subnet", "ip", "ip6", "nsg", "asgs", "ip_forwarding",
                                  "public_ip", "public_ip6", "nic_name")}
_FIREWALL_RULE_COLLECTION = ("name", "priority", "action")

SCHEMA: Schema = {
    "vnets": {
        "region": None, "location": None, "address_space": None, "subscription": None,
        "resource_group": None, "classic": None,
        "subnets": {k: None for k in ("prefix", "prefix6", "nsg", "route_table",
                                      "service_endpoints", "nat_gateway",
                                      "private_endpoint_network_policies",
                                      "default_outbound_access")},
        "gateway": {k: None for k in ("name", "type", "vpn_type", "sku", "bgp", "asn",
                                      "active_active")},
    },
    "peerings": {k: None for k in ("between", "vnet", "remote", "name",
                                   "allow_virtual_network_access", "allow_forwarded_traffic",
                                   "allow_gateway_transit", "use_remote_gateways")},
    "nsgs": {"region": None, "rules": {k: None for k in (
        "name", "priority", "direction", "access", "protocol", "source", "destination",
        "source_ports", "destination_ports", "source_asgs", "destination_asgs")}},
    "route_tables": {"disable_bgp_route_propagation": None, "routes": {
        k: None for k in ("name", "prefix", "next_hop", "next_hop_ip")}},
    "vms": {**_NIC, "size": None, "region": None, "egress_cap_bps": None, "nics": _NIC},
    "public_ips": {k: None for k in ("sku", "version", "address")},
    "nat_gateways": {"public_ips": None},
    "private_endpoints": {k: None for k in ("subnet", "ip", "target", "group_ids")},
    "on_premises": {k: None for k in ("prefixes", "gateway_ip", "connect_to", "asn", "bgp_ip",
                                      "bgp", "connection_type")},
    "load_balancers": {
        "sku": None, "backends": None,
        "frontend": {k: None for k in ("subnet", "ip", "public_ip")},
        "rules": {k: None for k in ("name", "protocol", "frontend_port", "backend_port",
                                    "disable_outbound_snat")},
        "outbound_rules": {k: None for k in ("name", "protocol")},
        "inbound_nat_rules": {k: None for k in ("name", "vm", "protocol", "frontend_port",
                                                "backend_port")},
    },
    "firewalls": {
        "subnet": None, "ip": None, "ip6": None, "sku": None, "public_ips": None,
        "snat_private_ranges": None, "dns_proxy": None, "management": None,
        "collections": {**{k: None for k in _FIREWALL_RULE_COLLECTION}, "rules": {
            k: None for k in ("name", "protocols", "source", "destination", "ports")}},
        "application_collections": {**{k: None for k in _FIREWALL_RULE_COLLECTION}, "rules": {
            k: None for k in ("name", "source", "protocols", "fqdns")}},
        "nat_collections": {"name": None, "priority": None, "rules": {k: None for k in (
            "name", "protocols", "source", "destination", "ports", "translated_address",
            "translated_port")}},
    },
    "roles": {k: None for k in ("principal", "role", "scope", "actions")},
}
# Sections whose entries are a list (the others are NAME: settings mappings); bgp_routes
# entries are checked by load/bgp_sidecar.py, asgs is a list of names.
LIST_SECTIONS = ("peerings", "roles")
# Keys whose value is NAME: settings (a subnet per name), not one settings mapping.
NAMED_MAPPINGS = ("subnets",)


def did_you_mean(key: str, known: list[str] | tuple[str, ...]) -> str:
    """' (did you mean 'fqdns'?)' for the closest known key, else the list of known keys."""
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return f" (known: {', '.join(sorted(known))})"


def check_scenario_keys(doc: Mapping[str, Any], source: str) -> None:
    """Raise InputError for the first key no schema knows, naming `source`, the entry
    (`web1`, `peerings[2]`, `hub/web`) and the key's path within it (`nics[0].ipp`)."""
    for section, schema in SCHEMA.items():
        body = doc.get(section)
        if section in LIST_SECTIONS:
            for index, entry in enumerate(body if isinstance(body, list) else []):
                _check(entry, schema, source, f"{section}[{index}]", "")
        elif isinstance(body, Mapping):
            for name, entry in body.items():
                _check(entry, schema, source, str(name), "")
                if section == "vms":
                    _nic_keys_beside_nics(entry, source, str(name))


def _check(value: Any, schema: Schema | None, source: str, resource: str, path: str) -> None:
    if schema is None or not isinstance(value, Mapping):
        return
    for key, inner in value.items():
        where = f"{path}.{key}" if path else str(key)
        if key not in schema:
            raise InputError(f"unknown key '{key}'{did_you_mean(str(key), list(schema))}",
                             file=source, resource=resource, property=where)
        child = schema[key]
        if key in NAMED_MAPPINGS and isinstance(inner, Mapping):
            for name, entry in inner.items():
                _check(entry, child, source, resource, f"{where}.{name}")
        elif isinstance(inner, list):
            for index, entry in enumerate(inner):
                _check(entry, child, source, resource, f"{where}[{index}]")
        else:
            _check(inner, child, source, resource, where)


def _nic_keys_beside_nics(vm: Any, source: str, name: str) -> None:
    """A VM with `nics:` reads its NIC settings from each entry only: a `subnet`, `ip`, ...
    beside `nics` would be ignored, so it is an error naming it."""
    if isinstance(vm, Mapping) and "nics" in vm:
        beside = [k for k in vm if k in _NIC]
        if beside:
            raise InputError(f"'{beside[0]}' beside 'nics' is not read: a VM with nics: takes "
                             f"{', '.join(sorted(_NIC))} in each NIC entry",
                             file=source, resource=name, property=beside[0])
