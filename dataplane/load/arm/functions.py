"""ARM template functions, evaluated without touching Azure.

Expects: calls from expressions.evaluate through `FunctionContext`, which binds a `Scope` (the
template being evaluated: parameters, variables, resources, deployment scope) and the active
copy loops. Function names are case-insensitive, as in ARM.
Emits: plain JSON data (str, int, bool, list, dict, None). `reference()` results are wrapped in
`Runtime` so that reading a property Azure assigns at deployment time (a public IP address, a
principal id) yields an `Unknown` placeholder instead of failing; the placeholder becomes the
string "<runtime: reference(...).path>" when used, and the evaluator records an assumption.
Raises: InputError "unsupported template function 'X'" for list*/listKeys and any function not
implemented here; InputError for wrong argument types and counts; InputError from limits.py
when a value would outgrow the evaluation bounds (checked before building values whose size an
argument chooses: range, padLeft, format, replace, concat, join; and on every result).
Integers are exact (div/mod never go through floats) and 64-bit (limits.py). Set functions
(union, intersection) hash a canonical form of each item: linear, not quadratic.
Follows: learn.microsoft.com/azure/azure-resource-manager/templates/template-functions.
Not byte-identical to Azure: uniqueString (same shape: 13 chars of [a-z2-7], deterministic,
different hash) and utcNow (a fixed instant, 2024-01-01T00:00:00Z, so runs are reproducible).
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from dataplane.errors import InputError
from dataplane.load.arm import ids
from dataplane.load.arm.expressions import Node, evaluate, lookup, type_name
from dataplane.load.arm.limits import Budget, check_int, check_size
from dataplane.load.arm.placeholders import texts_of
from dataplane.load.jsonfile import parse_json_int

UNSUPPORTED = "unsupported template function"


class Scope(Protocol):
    """The template side of evaluation (implemented by template.py)."""

    subscription_id: str
    resource_group_name: str | None  # None at subscription scope

    def parameter(self, name: str) -> Any: ...
    def variable(self, name: str) -> Any: ...
    def reference(self, target: str, full: bool) -> Any: ...
    def resource_group(self) -> dict[str, Any]: ...
    def subscription(self) -> dict[str, Any]: ...
    def deployment(self) -> dict[str, Any]: ...
    def user_function(self, name: str, args: list[Any]) -> Any: ...
    def note(self, assumption: str) -> None: ...


@dataclass(frozen=True)
class Runtime:
    """Data known from the template, read through reference(); missing keys are Unknown."""

    data: Any
    label: str


@dataclass(frozen=True)
class Unknown:
    """A value Azure assigns at deployment time that the template does not determine."""

    label: str

    def text(self) -> str:
        return f"<runtime: {self.label}>"


@dataclass(frozen=True)
class Loop:
    name: str
    index: int
    resource: bool  # a resource copy loop (what copyIndex() without a name means)


class FunctionContext:
    """An expressions.EvalContext: dispatches calls and member access for one scope."""

    def __init__(self, scope: Scope, loops: tuple[Loop, ...] = (),
                 budget: Budget | None = None) -> None:
        self.scope = scope
        self.loops = loops
        # one work counter per evaluation: the scope's (template.py's run) when it has one
        self.budget = budget or getattr(scope, "budget", None) or Budget()

    def with_loop(self, name: str, index: int, resource: bool = False) -> FunctionContext:
        return FunctionContext(self.scope, (*self.loops, Loop(name, index, resource)),
                               self.budget)

    def call(self, name: str, args: tuple[Node, ...]) -> Any:
        key = name.lower()
        self.budget.charge(1)
        if key in LAZY:
            return LAZY[key](self, args)
        values = [self.plain(evaluate(a, self)) for a in args]
        if "." in key:
            result = self.scope.user_function(name, values)
            self.budget.charge_value(result, f"{name}()")
            return result
        if key in EAGER:
            function = EAGER[key]
            try:
                _signature(function).bind(self, *values)
            except TypeError:
                raise InputError(f"{name}() cannot take {len(values)} argument(s)") from None
            result = function(self, *values)
            if key not in ALREADY_WEIGHED:
                self.budget.charge_value(result, f"{name}()")
                self._watch_placeholders(values, result)
            return result
        if key.startswith("list"):
            raise InputError(
                f"{UNSUPPORTED} '{name}' (it reads secrets or runtime state from Azure)"
            )
        raise InputError(f"{UNSUPPORTED} '{name}'")

    def _watch_placeholders(self, values: list[Any], result: Any) -> None:
        """A parameter placeholder consumed by a function whose result no longer shows it
        decided something (placeholders.py): record it."""
        placeholders = getattr(self.scope, "placeholders", None)
        if placeholders is None or not placeholders.names:
            return
        texts = [t for v in values for t in texts_of(v)]
        if any(placeholders.found_in(t) for t in texts):
            placeholders.note_decision(texts, " ".join(texts_of(result)))

    def member(self, base: Any, name: str | int) -> Any:
        if isinstance(base, Unknown):
            return Unknown(f"{base.label}{_step(name)}")
        if isinstance(base, Runtime):
            label = f"{base.label}{_step(name)}"
            try:
                value = lookup(base.data, name)
            except InputError:
                return Unknown(label)
            return Runtime(value, label) if isinstance(value, Mapping | list) else value
        return lookup(base, name)

    def plain(self, value: Any) -> Any:
        """Strip the reference() wrappers: data stays data, unknowns become placeholders."""
        if isinstance(value, Runtime):
            return value.data
        if isinstance(value, Unknown):
            self.scope.note(
                f"{value.label} is assigned by Azure at deployment; the placeholder "
                f"'{value.text()}' stands for it"
            )
            return value.text()
        return value

    def value(self, node: Node) -> Any:
        return self.plain(evaluate(node, self))


@cache
def _signature(function: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(function)


def _step(name: str | int) -> str:
    return f"[{name}]" if isinstance(name, int) else f".{name}"


# ---------------------------------------------------------------- helpers


def _arity(name: str, args: tuple[Any, ...], low: int, high: int | None = None) -> None:
    high = low if high is None else high
    if not low <= len(args) <= (high if high >= 0 else len(args)):
        want = str(low) if low == high else f"{low} to {high if high >= 0 else 'any'}"
        raise InputError(f"{name}() takes {want} argument(s), got {len(args)}")


def _want(name: str, value: Any, *kinds: type) -> Any:
    ok = isinstance(value, kinds) and not (
        isinstance(value, bool) and bool not in kinds and int in kinds
    )
    if not ok:
        raise InputError(f"{name}() cannot take {type_name(value)} value {value!r}")
    return value


def to_text(value: Any) -> str:
    """How ARM turns a value into text (string(), concat of strings, format)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def _truthy(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InputError(f"{name}() needs a bool, got {type_name(value)} value {value!r}")


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


# ---------------------------------------------------------------- string functions


def _format_item(value: Any, spec: str) -> str:
    if spec and isinstance(value, int) and not isinstance(value, bool):
        kind, digits = spec[0], spec[1:]
        places = int(digits) if digits.isdigit() and len(digits) <= 12 else None
        if digits and places is None:
            raise InputError(f"format specifier '{spec}' has a malformed width")
        check_size(places or 0, f"format specifier '{spec}'")
        if kind in "Nn":
            return f"{value:,.{2 if places is None else places}f}"
        if kind in "Dd":
            return f"{value:0{places or 1}d}"
        if kind in "Xx":
            text = f"{value:0{places or 1}x}"
            return text.upper() if kind == "X" else text
    return to_text(value)


def format_(ctx: FunctionContext, template: Any, *values: Any) -> str:
    """.NET composite formatting: {0}, {1:N2}, {{ and }} for braces."""
    _want("format", template, str)
    out, i, size = [], 0, 0
    while i < len(template):
        if out:
            size += len(out[-1])
            check_size(size, "format()")
        ch = template[i]
        if ch in "{}" and template[i : i + 2] == ch * 2:
            out.append(ch)
            i += 2
        elif ch == "{":
            end = template.find("}", i)
            if end < 0:
                raise InputError(f"format string '{template}' has an unclosed '{{'")
            field, _, spec = template[i + 1 : end].partition(":")
            field = field.split(",")[0].strip()
            if not field.isdigit() or int(field) >= len(values):
                raise InputError(f"format string '{template}' refers to a missing {{{field}}}")
            out.append(_format_item(values[int(field)], spec.strip()))
            i = end + 1
        elif ch == "}":
            raise InputError(f"format string '{template}' has an unmatched '}}'")
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def concat(ctx: FunctionContext, *values: Any) -> Any:
    if values and all(isinstance(v, list) for v in values):
        check_size(sum(len(v) for v in values), "concat()")
        return [item for v in values for item in v]
    if any(isinstance(v, list | Mapping) for v in values):
        raise InputError("concat() takes either only arrays or only strings and numbers")
    texts = [to_text(v) for v in values]
    check_size(sum(len(t) for t in texts), "concat()")
    return "".join(texts)


def join(ctx: FunctionContext, items: Any, separator: Any) -> str:
    _want("join", separator, str)
    texts = [to_text(i) for i in _want("join", items, list)]
    check_size(sum(len(t) for t in texts) + len(separator) * len(texts), "join()")
    return separator.join(texts)


def replace(ctx: FunctionContext, text: Any, old: Any, new: Any) -> str:
    _want("replace", text, str)
    _want("replace", old, str)
    _want("replace", new, str)
    if len(new) > len(old):
        hits = text.count(old) if old else len(text) + 1
        check_size(len(text) + hits * (len(new) - len(old)), "replace()")
    return text.replace(old, new)


def split(ctx: FunctionContext, text: Any, delimiter: Any) -> list[str]:
    _want("split", text, str)
    delimiters = delimiter if isinstance(delimiter, list) else [delimiter]
    parts = [text]
    for d in delimiters:
        _want("split", d, str)
        parts = [piece for part in parts for piece in part.split(d)]
    return parts


def substring(ctx: FunctionContext, text: Any, start: Any, length: Any = None) -> str:
    _want("substring", text, str)
    _want("substring", start, int)
    end = len(text) if length is None else start + _want("substring", length, int)
    if start < 0 or end > len(text) or end < start:
        raise InputError(f"substring('{text}', {start}, {length}) is out of range")
    return text[start:end]


def pad_left(ctx: FunctionContext, value: Any, total: Any, char: Any = " ") -> str:
    _want("padLeft", total, int)
    if not isinstance(char, str) or len(char) != 1:
        raise InputError("padLeft() needs a single padding character")
    check_size(total, "padLeft()")
    return to_text(value).rjust(total, char)


def unique_string(ctx: FunctionContext, *values: Any) -> str:
    """13 characters of [a-z2-7] from a 64-bit hash: ARM's shape, not ARM's exact hash."""
    if not values:
        raise InputError("uniqueString() needs at least one argument")
    digest = hashlib.sha256("-".join(to_text(v) for v in values).encode()).digest()
    number = int.from_bytes(digest[:8], "big") << 1  # 65 bits: 13 groups of 5
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    return "".join(alphabet[(number >> (60 - 5 * i)) & 31] for i in range(13))


_GUID_NAMESPACE = uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830")


def guid(ctx: FunctionContext, *values: Any) -> str:
    """A name-based (v5) UUID of the arguments: deterministic, like ARM's guid()."""
    if not values:
        raise InputError("guid() needs at least one argument")
    return str(uuid.uuid5(_GUID_NAMESPACE, "-".join(to_text(v) for v in values)))


def _index_of(ctx: FunctionContext, text: Any, item: Any, last: bool = False) -> int:
    _want("indexOf", text, str)
    _want("indexOf", item, str)
    return (text.lower().rfind if last else text.lower().find)(item.lower())


# ---------------------------------------------------------------- arrays and objects


def length(ctx: FunctionContext, value: Any) -> int:
    return len(_want("length", value, str, list, Mapping))


def first(ctx: FunctionContext, value: Any) -> Any:
    _want("first", value, str, list)
    return value[0] if value else ("" if isinstance(value, str) else None)


def last(ctx: FunctionContext, value: Any) -> Any:
    _want("last", value, str, list)
    return value[-1] if value else ("" if isinstance(value, str) else None)


def take(ctx: FunctionContext, value: Any, count: Any) -> Any:
    _want("take", value, str, list)
    return value[: max(0, _want("take", count, int))]


def skip(ctx: FunctionContext, value: Any, count: Any) -> Any:
    _want("skip", value, str, list)
    return value[max(0, _want("skip", count, int)) :]


def contains(ctx: FunctionContext, container: Any, item: Any) -> bool:
    if isinstance(container, str):
        return to_text(item) in container
    if isinstance(container, list):
        return any(_equal(x, item) for x in container)
    if isinstance(container, Mapping):
        return isinstance(item, str) and item.lower() in (k.lower() for k in container)
    raise InputError(f"contains() cannot search {type_name(container)} value {container!r}")


def empty(ctx: FunctionContext, value: Any) -> bool:
    if value is None:
        return True
    return len(_want("empty", value, str, list, Mapping)) == 0


def _merge(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(out.get(k), Mapping) and isinstance(
            v, Mapping) else v
    return out


def _canonical(value: Any) -> str:
    """A hashable stand-in for `value` under ARM equality (true and 1 differ; key order not)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def union(ctx: FunctionContext, *values: Any) -> Any:
    if values and all(isinstance(v, Mapping) for v in values):
        out: dict[str, Any] = {}
        for v in values:
            out = _merge(out, v)
        return out
    if values and all(isinstance(v, list) for v in values):
        check_size(sum(len(v) for v in values), "union()")
        seen: dict[str, Any] = {}
        for v in values:
            for x in v:
                seen.setdefault(_canonical(x), x)
        return list(seen.values())
    raise InputError("union() takes either only arrays or only objects")


def intersection(ctx: FunctionContext, *values: Any) -> Any:
    if values and all(isinstance(v, Mapping) for v in values):
        return {k: v for k, v in values[0].items()
                if all(k in o and _equal(o[k], v) for o in values[1:])}
    if values and all(isinstance(v, list) for v in values):
        others = [{_canonical(y) for y in o} for o in values[1:]]
        out: dict[str, Any] = {}
        for x in values[0]:
            key = _canonical(x)
            if all(key in o for o in others):
                out.setdefault(key, x)
        return list(out.values())
    raise InputError("intersection() takes either only arrays or only objects")


def create_object(ctx: FunctionContext, *values: Any) -> dict[str, Any]:
    if len(values) % 2:
        raise InputError("createObject() needs key/value pairs")
    return {_want("createObject", values[i], str): values[i + 1] for i in range(0, len(values), 2)}


def range_(ctx: FunctionContext, start: Any, count: Any) -> list[int]:
    _want("range", start, int)
    if _want("range", count, int) < 0:
        raise InputError("range() needs a count of zero or more")
    check_size(count, "range()")
    check_int(start + count, "range()")
    return list(range(start, start + count))


def json_(ctx: FunctionContext, text: Any) -> Any:
    _want("json", text, str)
    try:
        return json.loads(text, strict=False, parse_int=parse_json_int)
    except ValueError as exc:  # JSONDecodeError, or an integer beyond 64 bits
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else (
            f"integer {exc} is outside the 64-bit range")
        raise InputError(f"json() cannot parse {_short(text)}: {reason}") from None


def int_(ctx: FunctionContext, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip() if isinstance(value, str) else None
    if text is None or len(text) > 20:
        raise InputError(f"int() cannot convert {_short(value)}")
    try:
        return check_int(int(text), "int()")
    except ValueError:
        raise InputError(f"int() cannot convert {value!r}") from None


def bool_(ctx: FunctionContext, value: Any) -> bool:
    if isinstance(value, int):
        return bool(value)
    return _truthy("bool", value)


# ---------------------------------------------------------------- numbers and logic


def _ints(name: str, *values: Any) -> tuple[int, ...]:
    return tuple(_want(name, v, int) for v in values)


def _truncated_quotient(a: int, b: int) -> int:
    """a / b rounded toward zero, exactly (no float: exact past 2**53)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def div(ctx: FunctionContext, a: Any, b: Any) -> int:
    a, b = _ints("div", a, b)
    if b == 0:
        raise InputError("div() by zero")
    return check_int(_truncated_quotient(a, b), "div()")  # ARM truncates toward zero


def mod(ctx: FunctionContext, a: Any, b: Any) -> int:
    a, b = _ints("mod", a, b)
    if b == 0:
        raise InputError("mod() by zero")
    return a - b * _truncated_quotient(a, b)


def base64_to_string(ctx: FunctionContext, value: Any) -> str:
    _want("base64ToString", value, str)
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):  # binascii.Error is a ValueError
        raise InputError(f"base64ToString() cannot decode {_short(value)}: not base64 of "
                         "UTF-8 text") from None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _compare(name: str, op: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def compare(ctx: FunctionContext, a: Any, b: Any) -> bool:
        if isinstance(a, str) and isinstance(b, str):
            return op(a, b)
        return op(*_ints(name, a, b))
    return compare


def _min_max(name: str, pick: Callable[..., int]) -> Callable[..., int]:
    def choose(ctx: FunctionContext, *values: Any) -> int:
        flat = values[0] if len(values) == 1 and isinstance(values[0], list) else values
        if not flat:
            raise InputError(f"{name}() needs at least one number")
        return pick(_ints(name, *flat))
    return choose


def if_(ctx: FunctionContext, args: tuple[Node, ...]) -> Any:
    """Only the chosen branch is evaluated, as ARM does (a branch may reference a resource
    that is not deployed)."""
    _arity("if", args, 3)
    return ctx.value(args[1] if _truthy("if", ctx.value(args[0])) else args[2])


def and_(ctx: FunctionContext, args: tuple[Node, ...]) -> bool:
    _arity("and", args, 2, -1)
    return all(_truthy("and", ctx.value(a)) for a in args)


def or_(ctx: FunctionContext, args: tuple[Node, ...]) -> bool:
    _arity("or", args, 2, -1)
    return any(_truthy("or", ctx.value(a)) for a in args)


def coalesce(ctx: FunctionContext, args: tuple[Node, ...]) -> Any:
    for a in args:
        value = ctx.value(a)
        if value is not None:
            return value
    return None


# ---------------------------------------------------------------- deployment functions


def copy_index(ctx: FunctionContext, *args: Any) -> int:
    _arity("copyIndex", args, 0, 2)
    name = next((a for a in args if isinstance(a, str)), None)
    offset = next((a for a in args if isinstance(a, int) and not isinstance(a, bool)), 0)
    if name is None:
        loop = next((lp for lp in reversed(ctx.loops) if lp.resource), None) or (
            ctx.loops[-1] if ctx.loops else None)
        if loop is None:
            raise InputError("copyIndex() is used outside a copy loop")
    else:
        loop = next((lp for lp in reversed(ctx.loops) if lp.name.lower() == name.lower()), None)
        if loop is None:
            raise InputError(f"copyIndex('{name}') is used outside the copy loop '{name}'")
    return loop.index + offset


def _resource_id_parts(name: str, values: tuple[Any, ...]) -> tuple[list[str], str, list[str]]:
    texts = [to_text(v) for v in values]
    at = next((i for i, t in enumerate(texts) if "/" in t), None)
    if at is None:
        raise InputError(f"{name}() needs a resource type such as 'Microsoft.Network/virtualNetworks'")
    return texts[:at], texts[at], texts[at + 1 :]


def resource_id(ctx: FunctionContext, *values: Any) -> str:
    before, kind, names = _resource_id_parts("resourceId", values)
    sub, rg = ctx.scope.subscription_id, ctx.scope.resource_group_name
    if len(before) == 1:
        rg = before[0]
    elif len(before) == 2:
        sub, rg = before
    elif before:
        raise InputError("resourceId() takes at most a subscription id and a resource group name before the type")
    return ids.resource_id(ids.scope_prefix(sub, rg), kind, names)


def subscription_resource_id(ctx: FunctionContext, *values: Any) -> str:
    before, kind, names = _resource_id_parts("subscriptionResourceId", values)
    if len(before) > 1:
        raise InputError("subscriptionResourceId() takes at most a subscription id before the type")
    sub = before[0] if before else ctx.scope.subscription_id
    return ids.resource_id(ids.scope_prefix(sub, None), kind, names)


def tenant_resource_id(ctx: FunctionContext, *values: Any) -> str:
    before, kind, names = _resource_id_parts("tenantResourceId", values)
    return ids.resource_id("", kind, names)


def extension_resource_id(ctx: FunctionContext, base: Any, *values: Any) -> str:
    _want("extensionResourceId", base, str)
    _, kind, names = _resource_id_parts("extensionResourceId", values)
    return base.rstrip("/") + ids.provider_path(kind, names)[0]


def reference(ctx: FunctionContext, target: Any, api_version: Any = None, full: Any = None) -> Any:
    _want("reference", target, str)
    return ctx.scope.reference(target, isinstance(full, str) and full.lower() == "full")


def parameters(ctx: FunctionContext, name: Any) -> Any:
    return ctx.scope.parameter(_want("parameters", name, str))


def variables(ctx: FunctionContext, name: Any) -> Any:
    return ctx.scope.variable(_want("variables", name, str))


def resource_group(ctx: FunctionContext) -> dict[str, Any]:
    return ctx.scope.resource_group()


def subscription(ctx: FunctionContext) -> dict[str, Any]:
    return ctx.scope.subscription()


def deployment(ctx: FunctionContext) -> dict[str, Any]:
    return ctx.scope.deployment()


def environment(ctx: FunctionContext) -> dict[str, Any]:
    """Azure public cloud's endpoints, as environment() returns them there."""
    return {
        "name": "AzureCloud",
        "gallery": "https://gallery.azure.com/",
        "graph": "https://graph.windows.net/",
        "portal": "https://portal.azure.com",
        "graphAudience": "https://graph.windows.net/",
        "activeDirectoryDataLake": "https://datalake.azure.net/",
        "batch": "https://batch.core.windows.net/",
        "media": "https://rest.media.azure.net",
        "sqlManagement": "https://management.core.windows.net:8443/",
        "vmImageAliasDoc": "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/master/arm-compute/quickstart-templates/aliases.json",
        "resourceManager": "https://management.azure.com/",
        "authentication": {
            "loginEndpoint": "https://login.microsoftonline.com/",
            "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
            "tenant": "common",
            "identityProvider": "AAD",
        },
        "suffixes": {
            "acrLoginServer": ".azurecr.io",
            "azureDatalakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
            "azureDatalakeStoreFileSystem": "azuredatalakestore.net",
            "azureFrontDoorEndpointSuffix": "azurefd.net",
            "keyvaultDns": ".vault.azure.net",
            "sqlServerHostname": ".database.windows.net",
            "storage": "core.windows.net",
        },
    }


def utc_now(ctx: FunctionContext, fmt: Any = None) -> str:
    """A fixed instant so that evaluations are reproducible (documented in the header)."""
    if fmt in (None, "u"):
        return "20240101T000000Z" if fmt is None else "2024-01-01 00:00:00Z"
    _want("utcNow", fmt, str)
    return ("2024-01-01T00:00:00.0000000Z" if fmt == "o" else
            fmt.replace("yyyy", "2024").replace("MM", "01").replace("dd", "01")
            .replace("HH", "00").replace("mm", "00").replace("ss", "00"))


def uri(ctx: FunctionContext, base: Any, relative: Any) -> str:
    _want("uri", base, str)
    _want("uri", relative, str)
    return urllib.parse.urljoin(base, relative)


EAGER: dict[str, Callable[..., Any]] = {
    "parameters": parameters,
    "variables": variables,
    "resourceid": resource_id,
    "subscriptionresourceid": subscription_resource_id,
    "tenantresourceid": tenant_resource_id,
    "extensionresourceid": extension_resource_id,
    "reference": reference,
    "resourcegroup": resource_group,
    "subscription": subscription,
    "deployment": deployment,
    "environment": environment,
    "tenant": lambda ctx: {"tenantId": ctx.scope.subscription().get("tenantId"),
                           "countryCode": "US", "displayName": "Default Directory"},
    "copyindex": copy_index,
    "utcnow": utc_now,
    "concat": concat,
    "format": format_,
    "string": lambda ctx, v: to_text(v),
    "int": int_,
    "bool": bool_,
    "json": json_,
    "null": lambda ctx: None,
    "true": lambda ctx: True,
    "false": lambda ctx: False,
    "equals": lambda ctx, a, b: _equal(a, b),
    "not": lambda ctx, v: not _truthy("not", v),
    "greater": _compare("greater", lambda a, b: a > b),
    "less": _compare("less", lambda a, b: a < b),
    "greaterorequals": _compare("greaterOrEquals", lambda a, b: a >= b),
    "lessorequals": _compare("lessOrEquals", lambda a, b: a <= b),
    "add": lambda ctx, a, b: sum(_ints("add", a, b)),
    "sub": lambda ctx, a, b: _ints("sub", a, b)[0] - _ints("sub", a, b)[1],
    "mul": lambda ctx, a, b: _ints("mul", a, b)[0] * _ints("mul", a, b)[1],
    "div": div,
    "mod": mod,
    "min": _min_max("min", min),
    "max": _min_max("max", max),
    "length": length,
    "tolower": lambda ctx, v: _want("toLower", v, str).lower(),
    "toupper": lambda ctx, v: _want("toUpper", v, str).upper(),
    "trim": lambda ctx, v: _want("trim", v, str).strip(),
    "split": split,
    "join": join,
    "first": first,
    "last": last,
    "take": take,
    "skip": skip,
    "createarray": lambda ctx, *values: list(values),
    "createobject": create_object,
    "union": union,
    "intersection": intersection,
    "contains": contains,
    "empty": empty,
    "replace": replace,
    "substring": substring,
    "indexof": lambda ctx, s, item: _index_of(ctx, s, item),
    "lastindexof": lambda ctx, s, item: _index_of(ctx, s, item, last=True),
    "startswith": lambda ctx, s, p: _want("startsWith", s, str).lower().startswith(
        _want("startsWith", p, str).lower()),
    "endswith": lambda ctx, s, p: _want("endsWith", s, str).lower().endswith(
        _want("endsWith", p, str).lower()),
    "padleft": pad_left,
    "range": range_,
    "array": lambda ctx, v: v if isinstance(v, list) else [v],
    "uniquestring": unique_string,
    "guid": guid,
    "uri": uri,
    "uricomponent": lambda ctx, v: urllib.parse.quote(_want("uriComponent", v, str), safe=""),
    "uricomponenttostring": lambda ctx, v: urllib.parse.unquote(_want("uriComponentToString", v, str)),
    "base64": lambda ctx, v: base64.b64encode(_want("base64", v, str).encode()).decode(),
    "base64tostring": base64_to_string,
}
# Results that are stored values, weighed when they were built: not weighed again.
ALREADY_WEIGHED = frozenset({"parameters", "variables", "reference", "resourcegroup",
                             "subscription", "deployment", "environment", "tenant"})

LAZY: dict[str, Callable[[FunctionContext, tuple[Node, ...]], Any]] = {
    "if": if_,
    "and": and_,
    "or": or_,
    "coalesce": coalesce,
}

