"""Service tags: Azure's tag names (built in) and Microsoft's published prefix file (given).

Takes: the built-in table service-tag-names.csv (package data: every tag name with its
"Can be regional?" column and the page it comes from, Microsoft's "Azure service tags
overview", https://learn.microsoft.com/azure/virtual-network/service-tags-overview, section
"Available service tags"), and optionally Microsoft's file: the weekly ServiceTags_Public_*.json
download or `az network list-service-tags -o json` (same shape: a top-level `changeNumber`,
`cloud` and `values: [{name, properties: {addressPrefixes, ...}}]`; service-tags-overview,
"Discover service tags by using downloadable JSON files").
Emits:
* `load_service_tags(path) -> ServiceTagSet` (InputError naming the file, the value, the
  property on a malformed file);
* `with_service_tags(topology, path=None) -> Topology`: the API parameter for `--service-tags
  FILE`; without a path the environment variable VNET_DATAPLANE_SERVICE_TAGS is read; with
  neither the topology is returned unchanged (built-in prefix subset, caveat on answers);
* `is_known_tag(name, loaded)`: the name (case-insensitive; classic spellings; `Tag.Region`
  regional forms with a region Azure has) is a tag Azure accepts; `close_tags(name)`: the
  nearest names for the error message. An unknown tag in a security rule is Azure's
  `SecurityRuleInvalidAddressPrefix` ("Security rule ... has invalid Address prefix. Value
  provided: ..."; seen in ARM responses: Azure/azure-powershell#391, #4557,
  hashicorp/terraform-provider-azurerm#16761).
"""

from __future__ import annotations

import csv
import difflib
import json
import os
from dataclasses import replace
from functools import lru_cache
from importlib import resources
from pathlib import Path

from dataplane.errors import InputError
from dataplane.model import ServiceTagSet, Topology
from dataplane.net import parse_prefix
from dataplane.regions import region

SERVICE_TAGS_ENV = "VNET_DATAPLANE_SERVICE_TAGS"
CLASSIC_TAGS = {"virtual_network": "VirtualNetwork", "azure_loadbalancer": "AzureLoadBalancer",
                "internet": "Internet"}


@lru_cache(maxsize=1)
def builtin_tag_names() -> dict[str, str]:
    """Lower-case name -> the name as Microsoft spells it."""
    text = resources.files("dataplane.data").joinpath("service-tag-names.csv").read_text()
    return {r["name"].lower(): r["name"] for r in csv.DictReader(text.splitlines())}


def _names(loaded: ServiceTagSet | None) -> dict[str, str]:
    names = dict(builtin_tag_names())
    if loaded is not None:
        names.update({name.lower(): name for name, _ in loaded.tags})
    return names


def is_known_tag(name: str, loaded: ServiceTagSet | None = None) -> bool:
    key = name.lower()
    names = _names(loaded)
    if key in names or key in CLASSIC_TAGS:
        return True
    base, dot, suffix = name.rpartition(".")
    return bool(dot) and base.lower() in names and region(suffix) is not None


def close_tags(name: str, loaded: ServiceTagSet | None = None, n: int = 3) -> list[str]:
    names = _names(loaded)
    found = difflib.get_close_matches(name.lower(), list(names), n=n, cutoff=0.7)
    return [names[k] for k in found]


def _read(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise InputError(f"cannot read the service tags file: {exc.strerror}",
                         file=str(path)) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON (line {exc.lineno}): {exc.msg}", file=str(path)) from None


def load_service_tags(path: str | Path) -> ServiceTagSet:
    """Microsoft's service-tag file (download or `az network list-service-tags`)."""
    path = Path(path)
    doc = _read(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("values"), list):
        raise InputError("not a service tags file (expected an object with 'values', as in "
                         "ServiceTags_Public_*.json or az network list-service-tags)",
                         file=str(path), property="values")
    tags = []
    for index, value in enumerate(doc["values"]):
        name = value.get("name") if isinstance(value, dict) else None
        if not isinstance(name, str) or not name:
            raise InputError(f"values[{index}] has no name", file=str(path), property="name")
        props = value.get("properties")
        prefixes = props.get("addressPrefixes") if isinstance(props, dict) else None
        if not isinstance(prefixes, list):
            raise InputError("no properties.addressPrefixes list", file=str(path),
                             resource=name, property="properties.addressPrefixes")
        try:
            parsed = tuple(parse_prefix(str(p), strict=False) for p in prefixes)
        except InputError as exc:
            raise exc.located(file=str(path), resource=name,
                              property="properties.addressPrefixes") from None
        tags.append((name, parsed))
    return ServiceTagSet(str(path), str(doc.get("changeNumber", "")), str(doc.get("cloud", "")),
                         tuple(tags))


def with_service_tags(topology: Topology, path: str | Path | None = None) -> Topology:
    """The topology with Microsoft's service tags from `path`, else from the file named by
    the environment variable VNET_DATAPLANE_SERVICE_TAGS, else unchanged."""
    chosen = path if path is not None else os.environ.get(SERVICE_TAGS_ENV, "").strip() or None
    if chosen is None:
        return topology
    return replace(topology, service_tags=load_service_tags(chosen))
