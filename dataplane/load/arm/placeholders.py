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
The loader (dataplane/load/__init__.py) checks the converted model: a marker anywhere in it
means the parameter shapes the network, and loading fails with "required parameter 'X' has no
value" naming where the model reads it; otherwise the printed assumption stands: the parameter
is read only by properties the model ignores (credentials, images, DNS labels, ...).
Choice (Microsoft is silent, this is ours): secure parameters always get a placeholder, as
before; Azure itself never lets a deployment run without them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

PLACEHOLDER_KINDS = ("securestring", "secureobject", "string", "object")


def marker(name: str) -> str:
    return f"<parameter '{name}' not given>"


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


# Topology fields that are not the model's reading of the network.
_NOT_READ = ("unknown_resources", "sources", "load_findings", "assumptions")


def read_by_model(topology: Any, names: Iterable[str]) -> tuple[str, str, str] | None:
    """(parameter, resource name, field path) of the first placeholder marker the model holds.

    `topology` is a dataplane.model.Topology; every field of every modelled resource is
    searched (names, ids, prefixes, rules, ...), so a marker found means the parameter
    shapes the network."""
    wanted = {marker(n).lower(): n for n in names}
    if not wanted:
        return None
    for collection in fields(topology):
        if collection.name in _NOT_READ:
            continue
        for item in getattr(topology, collection.name):
            found = _search(item, wanted, "")
            if found is not None:
                return found[0], str(getattr(item, "name", "?")), found[1]
    return None


def _search(value: Any, wanted: dict[str, str], path: str) -> tuple[str, str] | None:
    if isinstance(value, str):
        lowered = value.lower()
        return next(((name, path) for key, name in wanted.items() if key in lowered), None)
    if is_dataclass(value) and not isinstance(value, type):
        for f in fields(value):
            found = _search(getattr(value, f.name), wanted, f"{path}.{f.name}".lstrip("."))
            if found is not None:
                return found
    elif isinstance(value, tuple | list):
        for i, item in enumerate(value):
            found = _search(item, wanted, f"{path}[{i}]")
            if found is not None:
                return found
    return None


__all__ = ["PLACEHOLDER_KINDS", "Placeholders", "marker", "read_by_model", "texts_of"]
