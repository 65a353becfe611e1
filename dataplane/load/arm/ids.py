"""ARM resource ids: build them from a scope, a full type and a full name.

Expects: a type such as "Microsoft.Network/virtualNetworks/virtualNetworkPeerings" and a name
with one segment per type segment after the namespace ("vnet1/peer1"). A "providers" type
segment marks an extension resource ("Microsoft.Network/virtualNetworks/providers/
diagnosticSettings" named "vnet1/Microsoft.Insights/diag1"): its name segment is the
extension's namespace.
Emits: "/subscriptions/<sub>/resourceGroups/<rg>/providers/<ns>/<type>/<name>/..." plus the
resource's own type ("Microsoft.Insights/diagnosticSettings") and last name segment.
Raises: InputError when the type and name segment counts disagree (ARM's InvalidTemplate).
"""

from __future__ import annotations

from dataplane.errors import InputError


def scope_prefix(subscription_id: str | None, resource_group: str | None) -> str:
    """The id of a subscription or resource group ('' for the tenant)."""
    if subscription_id is None:
        return ""
    if resource_group is None:
        return f"/subscriptions/{subscription_id}"
    return f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"


def split_segments(text: str) -> list[str]:
    return [s for s in str(text).strip("/").split("/") if s != ""]


def provider_path(full_type: str, names: list[str] | str) -> tuple[str, str, str]:
    """(path below the scope, the resource's own type, its last name segment)."""
    type_segments = split_segments(full_type)
    name_segments = split_segments(names) if isinstance(names, str) else [
        seg for name in names for seg in split_segments(name)
    ]
    if len(type_segments) < 2:
        raise InputError(f"resource type '{full_type}' needs a namespace and a type")
    namespace, kinds = type_segments[0], type_segments[1:]
    if len(kinds) != len(name_segments):
        raise InputError(
            f"resource type '{full_type}' has {len(kinds)} segment(s) after the namespace but "
            f"the name '{'/'.join(name_segments)}' has {len(name_segments)}"
        )
    path = f"/providers/{namespace}"
    own_namespace, own_kinds = namespace, []
    for kind, name in zip(kinds, name_segments, strict=True):
        if kind.lower() == "providers":  # extension resource: the name is its namespace
            path += f"/providers/{name}"
            own_namespace, own_kinds = name, []
        else:
            path += f"/{kind}/{name}"
            own_kinds.append(kind)
    own_type = "/".join([own_namespace, *own_kinds])
    return path, own_type, name_segments[-1]


def resource_id(prefix: str, full_type: str, names: list[str] | str) -> str:
    path, _, _ = provider_path(full_type, names)
    if full_type.lower() == "microsoft.resources/resourcegroups" and prefix.count("/") == 2:
        # ARM: a resource group's id has no provider segment.
        return f"{prefix}/resourceGroups/{split_segments(names if isinstance(names, str) else '/'.join(names))[-1]}"
    return prefix + path
