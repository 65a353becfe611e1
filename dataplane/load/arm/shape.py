"""The shape of a deployment template, checked once at the edge, by kind.

Expects: a parsed template (any JSON value) and the file it came from.
Emits: nothing when the sections and resource declarations have the kinds the evaluator relies
on; the evaluator then never meets a string where it expects an object.
Raises: InputError naming the file, the resource (its declared name, or its position) and the
property, e.g. "property 'resources[2].dependsOn': expected an array, got int 5".
Also enforces Azure's documented counts of parameters (256), variables (256) and outputs (64)
("ARM template best practices", "Template limits",
https://learn.microsoft.com/azure/azure-resource-manager/templates/best-practices#template-limits).
The kinds follow "Understand the structure and syntax of ARM templates",
https://learn.microsoft.com/azure/azure-resource-manager/templates/syntax (parameters, variables,
functions, resources, outputs sections).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dataplane.errors import InputError
from dataplane.load.arm.expressions import type_name
from dataplane.load.arm.limits import MAX_OUTPUTS, MAX_PARAMETERS, MAX_VARIABLES, azure_limit

OBJECT, ARRAY, STRING = "an object", "an array", "a string"
_KINDS = {OBJECT: Mapping, ARRAY: list, STRING: str}


def _expect(value: Any, kind: str, file: str, prop: str, resource: str | None = None) -> None:
    if not isinstance(value, _KINDS[kind]):
        shown = repr(value)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise InputError(f"expected {kind}, got {type_name(value)} {shown}", file=file,
                         resource=resource, property=prop)


def _optional(doc: Mapping[str, Any], key: str, kind: str, file: str, prop: str,
              resource: str | None = None) -> Any:
    value = doc.get(key)
    if value is not None:
        _expect(value, kind, file, prop, resource)
    return value


def check_template(raw: Any, file: str, where: str = "") -> None:
    """Sections of a template (and, recursively, its resource declarations)."""
    _expect(raw, OBJECT, file, where.rstrip(".") or "(template)")
    for section, limit in (("parameters", MAX_PARAMETERS), ("variables", MAX_VARIABLES),
                           ("outputs", MAX_OUTPUTS)):
        body = _optional(raw, section, OBJECT, file, f"{where}{section}")
        if body is None:
            continue
        count = len(body) - (1 if section == "variables" and "copy" in body else 0)
        if count > limit:
            raise azure_limit(f"{count} {section} (at most {limit})").located(
                file=file, property=f"{where}{section}")
        for name, entry in body.items():
            if section == "variables":
                if str(name).lower() == "copy":
                    _check_copy_list(entry, file, f"{where}variables.copy")
                continue
            _expect(entry, OBJECT, file, f"{where}{section}.{name}")
    functions = _optional(raw, "functions", ARRAY, file, f"{where}functions")
    for i, group in enumerate(functions or []):
        _expect(group, OBJECT, file, f"{where}functions[{i}]")
        members = _optional(group, "members", OBJECT, file, f"{where}functions[{i}].members")
        for name, body in (members or {}).items():
            prop = f"{where}functions[{i}].members.{name}"
            _expect(body, OBJECT, file, prop)
            for j, p in enumerate(_optional(body, "parameters", ARRAY, file,
                                            f"{prop}.parameters") or []):
                _expect(p, OBJECT, file, f"{prop}.parameters[{j}]")
            _optional(body, "output", OBJECT, file, f"{prop}.output")
    resources = raw.get("resources")
    if isinstance(resources, Mapping):  # languageVersion 2.0: symbolic names
        resources = list(resources.values())
    elif resources is not None:
        _expect(resources, ARRAY, file, f"{where}resources")
    check_declarations(resources or [], file, f"{where}resources")


def _check_copy_list(loops: Any, file: str, prop: str) -> None:
    _expect(loops, ARRAY, file, prop)
    for n, loop in enumerate(loops):
        _expect(loop, OBJECT, file, f"{prop}[{n}]")


def check_declarations(decls: list[Any], file: str, path: str) -> None:
    """Resource declarations: kinds of the keys that steer a deployment."""
    for i, decl in enumerate(decls):
        where = f"{path}[{i}]"
        _expect(decl, OBJECT, file, where)
        name = decl.get("name")
        resource = name if isinstance(name, str) else where
        _expect(decl.get("type"), STRING, file, "type", resource)
        _expect(name, STRING, file, "name", resource)
        _optional(decl, "dependsOn", ARRAY, file, "dependsOn", resource)
        _optional(decl, "copy", OBJECT, file, "copy", resource)
        props = decl.get("properties")
        if isinstance(props, Mapping):
            for key, value in props.items():
                if str(key).lower() == "copy" and value is not None:
                    _check_copy_list(value, file, "properties.copy")
        if str(decl.get("type", "")).lower() == "microsoft.resources/deployments":
            _expect(props, OBJECT, file, "properties", resource)
            _optional(props, "parameters", OBJECT, file, "properties.parameters", resource)
            template = props.get("template")
            if template is not None:
                check_template(template, file, f"{where}.properties.template.")
        children = _optional(decl, "resources", ARRAY, file, "resources", resource)
        check_declarations(children or [], file, f"{where}.resources")


__all__ = ["check_declarations", "check_template"]
