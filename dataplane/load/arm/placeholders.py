"""Placeholders for template parameters a network analysis does not need (issue 18, item 5).

Expects: a parameter declared without a default and given no value.
Emits: `Placeholders.stand_in(name, kind)` -> the value that stands for it: for `securestring`,
`secureObject`, `string` and `object` parameters a marker ("<parameter 'adminPassword' not
given>", or an object holding that marker) that survives string functions, so it can be found
wherever it ends up; `None` for other kinds (int, bool, array: counts and options shape the
network, so they stay required).
Then `found_in(value)` names the parameters whose marker a value holds, and `note_decision`
records a parameter whose marker went into a function whose result no longer shows it
(equals, length, if conditions, ...): the parameter decided something, so it is required.
The converter (resources.py, `refuse_read_placeholders`) checks the model it built: a marker
anywhere in it means the parameter shapes the network, and loading fails with "required
parameter 'X' has no value" naming where the model reads it; otherwise the printed assumption stands: the parameter
is read only by properties the model ignores (credentials, images, DNS labels, ...).
Choice (Microsoft is silent, this is ours): secure parameters always get a placeholder, as
before; Azure itself never lets a deployment run without them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from dataplane.errors import InputError

PLACEHOLDER_KINDS = ("securestring", "secureobject", "string", "object")
_MARKER = re.compile(r"<parameter '([^'<>]+)' not given>", re.IGNORECASE)


def marker(name: str) -> str:
    return f"<parameter '{name}' not given>"


def names_in(text: str) -> list[str]:
    """The parameters whose placeholder `text` holds (as written there)."""
    return _MARKER.findall(text)


def required_parameter(name: str, file: str | None, why: str) -> InputError:
    """The error of a parameter without value that the analysis needs."""
    return InputError(f"required parameter '{name}' has no value (give it in the parameters "
                      f"file or as a parameter): {why}", file=file,
                      property=f"parameters.{name}")


@dataclass
class Placeholders:
    """The parameters of one evaluation that stand in as markers."""

    plain_too: bool = False  # string/object parameters too (the loader verifies), not only secure
    names: dict[str, str] = field(default_factory=dict)  # marker (lower case) -> name
    decided: list[str] = field(default_factory=list)

    def stand_in(self, name: str, kind: str) -> Any:
        """The placeholder value of parameter `name` of type `kind`, or None (required)."""
        if kind not in PLACEHOLDER_KINDS or not (self.plain_too or kind.startswith("secure")):
            return None
        text = marker(name)
        self.names[text.lower()] = name
        # an object holds the marker as its key, so "has no property" errors name it
        return {text: "placeholder"} if kind in ("object", "secureobject") else text

    def found_in(self, text: str) -> list[str]:
        """Parameters whose marker `text` holds (case-insensitively: toLower keeps it)."""
        if not self.names or "not given>" not in text.lower():
            return []
        lowered = text.lower()
        return [name for key, name in self.names.items() if key in lowered]

    def note_decision(self, arguments: Iterable[str], result: str) -> None:
        """Markers in `arguments` that `result` no longer shows decided something."""
        for text in arguments:
            for name in self.found_in(text):
                if marker(name).lower() not in result.lower() and name not in self.decided:
                    self.decided.append(name)


def texts_of(value: Any) -> Iterable[str]:
    """Every string inside a JSON-like value (keys included)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, Mapping):
            for key, inner in item.items():
                yield str(key)
                stack.append(inner)


# Model fields that hold values known only at deployment (or from a parameter with no value)
# apart, as written, for a caveat: the model does not read them (load/firewall_policy.py).
_HELD_APART = ("unresolved",)

# Topology fields that are not the model's reading of the network.
_NOT_READ = ("unknown_resources", "sources", "load_findings", "assumptions")


def read_by_model(topology: Any) -> list[tuple[str, str, str]]:
    """[(parameter, resource name, field path)] of the placeholders the model holds, one per
    parameter (its first reader), in the order the model holds them.

    `topology` is a dataplane.model.Topology; every field of every modelled resource is
    searched (names, ids, prefixes, rules, ...), so a placeholder found means the parameter
    shapes the network."""
    found: dict[str, tuple[str, str, str]] = {}
    for collection in fields(topology):
        if collection.name in _NOT_READ:
            continue
        value = getattr(topology, collection.name)  # a collection, or one optional object
        for item in value if isinstance(value, tuple) else (() if value is None else (value,)):
            for name, path in _search(item, ""):
                found.setdefault(name, (name, str(getattr(item, "name", "?")), path))
    return list(found.values())


def refuse_read_placeholders(topology: Any, resources: Iterable[Mapping[str, Any]],
                             source: str) -> None:
    """InputError "required parameter 'X' has no value" when the model reads a placeholder
    (named with the template that declared it, the resource and the model field); every other
    parameter the model reads without a value is named in the same line, so one run lists
    them all."""
    used = read_by_model(topology)
    if not used:
        return
    name, resource, where = used[0]
    files = [str(r.get("source", "")).partition("#")[0] for r in resources
             if isinstance(r, Mapping) and r.get("name") == resource]
    others = "".join(f"; also '{n}' (resource '{r}', {w})" for n, r, w in used[1:])
    raise required_parameter(name, files[0] if files and files[0] else source or None,
                             f"the model reads it (resource '{resource}', {where}), so it "
                             f"shapes the network{others}")


def _search(value: Any, path: str) -> list[tuple[str, str]]:
    """[(parameter, field path)] of every placeholder inside `value`."""
    if isinstance(value, str):
        return [(name, path) for name in names_in(value)]
    found: list[tuple[str, str]] = []
    if is_dataclass(value) and not isinstance(value, type):
        for f in fields(value):
            if f.name not in _HELD_APART:
                found += _search(getattr(value, f.name), f"{path}.{f.name}".lstrip("."))
    elif isinstance(value, tuple | list):
        for i, item in enumerate(value):
            found += _search(item, f"{path}[{i}]")
    return found


__all__ = ["PLACEHOLDER_KINDS", "Placeholders", "marker", "names_in", "read_by_model",
           "refuse_read_placeholders", "required_parameter", "texts_of"]
