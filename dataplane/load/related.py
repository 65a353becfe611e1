"""Which modelled resources each unmodelled resource is connected to (for caveats).

Takes the raw resource dicts (ARM-evaluated, az dump or scenario) and the ids of the resources the
loader did not model. Emits, per unmodelled id, the ids of modelled resources (and subnets) it is
connected to by a reference in either direction, directly or through other unmodelled resources
(a Firewall Policy's rule collection group reaches the firewall through its policy). Child ids
(`.../firewallPolicies/P/ruleCollectionGroups/G`) are connected to their parent. Used by
control/caveats.py to put a named caveat on every answer such a resource can change.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from dataplane.model import id_key

_ID = re.compile(r"^/subscriptions/[^/]+/resourcegroups/[^/]+/providers/.+", re.IGNORECASE)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _owner(reference: str, known: set[str]) -> str:
    """The resource a reference points into: itself if known or a subnet, else the nearest
    known ancestor (an ipConfiguration id -> its NIC), else itself (outside the input)."""
    parts = reference.split("/")
    if len(parts) >= 2 and parts[-2] == "subnets":
        return reference
    for end in range(len(parts), 8, -2):
        candidate = "/".join(parts[:end])
        if candidate in known:
            return candidate
    return reference


def referenced_ids(resources: Iterable[dict[str, Any]], kinds: Iterable[str]) -> set[str]:
    """Lower-cased ids referenced from the properties of the resources of the given types
    (lower-cased ARM types): which public IPs a modelled resource uses."""
    wanted = set(kinds)
    return {id_key(text) for r in resources
            if isinstance(r, dict) and str(r.get("type", "")).lower() in wanted
            for text in _strings(r.get("properties", r)) if _ID.match(text)}


def related_resources(resources: Iterable[dict[str, Any]],
                      unmodelled: set[str]) -> dict[str, tuple[str, ...]]:
    """{unmodelled id (lower case): sorted ids (as written) of the modelled resources it is
    connected to}."""
    raws = [r for r in resources if isinstance(r, dict) and r.get("id")]
    known = {id_key(str(r["id"])) for r in raws}
    spelled = {id_key(str(r["id"])): str(r["id"]) for r in raws}
    edges: dict[str, set[str]] = defaultdict(set)
    for raw in raws:
        own = id_key(str(raw["id"]))
        for text in _strings(raw.get("properties")):
            if _ID.match(text):
                spelled.setdefault(id_key(text), text)
                other = _owner(id_key(text), known)
                if other != own:
                    edges[own].add(other)
                    edges[other].add(own)
        parent = own.rsplit("/", 2)[0]
        if parent in known:
            edges[own].add(parent)
            edges[parent].add(own)
    out: dict[str, tuple[str, ...]] = {}
    for start in unmodelled:
        seen, stack, found = {start}, [start], set()
        while stack:
            for other in edges[stack.pop()]:
                if other in seen:
                    continue
                seen.add(other)
                if other in unmodelled:
                    stack.append(other)
                else:
                    found.add(other)
        out[start] = tuple(sorted(spelled.get(f, f) for f in found))
    return out
