"""ARM deployment templates -> the flat list of resolved resources `az ... -o json` would show.

Expects: a deploymentTemplate (any schema version; resource-group or subscription scope) and
its parameters (a dict of values, a deploymentParameters file, or None).
Emits: TemplateResult: `resources` (one dict per deployed resource: full `type` of the resource
itself, `name` (last segment), full ARM `id`, `location`, `resourceGroup`, evaluated
`properties` and other top-level keys such as sku/zones/tags/kind, and `source`
"<file>#<resource path>"), `skipped` (condition false, resource groups at subscription scope),
`assumptions` (values the template does not determine and we chose), `source`.
Order: deployment order, i.e. template order constrained by dependsOn; nested deployments are
flattened at their own place. A resource declared twice (e.g. redeployed by a nested
deployment) keeps the definition deployed last, as an incremental deployment leaves it.
Evaluation is lazy and memoised (parameters, variables, resources), with a recursion guard, so
reference() and variables() work regardless of declaration order.
Raises: InputError naming the file, the resource (its name, evaluated when possible) and the
property path (e.g. properties.subnets[0].properties.addressPrefix) for every problem.
Follows: learn.microsoft.com/azure/azure-resource-manager/templates/ (syntax, copy, condition,
child resources, linked and nested templates, scope of nested-template expressions).
Assumptions it makes (and reports): secure parameters, and string or object parameters,
without a value get a placeholder (placeholders.py; `TemplateResult.placeholders` lists them so
the loader can prove the model never reads them; a placeholder that decides a comparison or a
condition, or that makes evaluation fail, is reported as the missing required parameter);
dynamic private IPs of NICs and Azure Firewalls are the lowest free host of their subnet in
deployment order (statics reserved first); runtime-only values read via reference() (public
IPs, principal ids, keys) become "<runtime: ...>" placeholders. Other address consumers
(private endpoints, internal load balancers, gateways) are not allocated here (private endpoints
and internal load-balancer frontends are, after loading: load/public_edge.py).
"""

from __future__ import annotations

import copy as copylib
import heapq
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataplane.errors import InputError
from dataplane.load.allocation import IPV6_ALLOCATION_ASSUMPTION, AddressAllocator, ip_version
from dataplane.load.arm import ids
from dataplane.load.arm.expressions import evaluate, is_expression, literal_text, parse, type_name
from dataplane.load.arm.functions import UNSUPPORTED, FunctionContext, Runtime
from dataplane.load.arm.limits import (
    MAX_DEPLOYMENT_DEPTH,
    MAX_RESOURCE_BYTES,
    MAX_RESOURCES,
    MAX_TEMPLATE_BYTES,
    Budget,
    azure_limit,
    budget_exceeded,
    check_count,
)
from dataplane.load.arm.placeholders import Placeholders, marker, required_parameter
from dataplane.load.arm.shape import check_template
from dataplane.load.confine import Confinement
from dataplane.load.jsonfile import read_json
from dataplane.load.shapes import check_shape

DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
DEFAULT_TENANT = "00000000-0000-0000-0000-000000000001"
DEPLOYMENTS = "microsoft.resources/deployments"
RESOURCE_GROUPS = "microsoft.resources/resourcegroups"
ALLOCATING = ("microsoft.network/networkinterfaces", "microsoft.network/azurefirewalls")
# Top-level resource keys that steer the deployment rather than describe the resource.
NOT_OUTPUT = {"condition", "copy", "dependson", "resources", "comments", "apiversion", "name",
              "type", "metadata", "scope", "resourcegroup", "subscriptionid"}


@dataclass(frozen=True)
class TemplateResult:
    resources: tuple[dict[str, Any], ...]
    skipped: tuple[dict[str, Any], ...]
    assumptions: tuple[str, ...]
    source: str
    placeholders: tuple[tuple[str, str], ...] = ()  # (parameter name, marker text)


def evaluate_template(
    path: str | Path,
    parameters: Mapping[str, Any] | str | Path | None = None,
    *,
    subscription_id: str = DEFAULT_SUBSCRIPTION,
    resource_group: str = "vnet-dataplane-rg",
    location: str = "westeurope",
    linked_templates: Mapping[str, str | Path] | None = None,
    unsupported: str = "error",
    allow_paths: Sequence[str | Path] = (),
    confinement: Confinement | None = None,
    stand_in_parameters: bool = False,
) -> TemplateResult:
    """Evaluate the template at `path` as a deployment to `resource_group` would.

    `linked_templates` maps a templateLink.uri to a local copy of that template (the caller
    names it, so it is not confined); any other remote link is an InputError naming the
    deployment resource.
    Files the template names (templateLink / parametersLink relativePath, plain-path or
    file:// uri) must resolve, symlinks first, inside the folder tree of `path` or one of
    `allow_paths` (or `confinement`, which `load` passes for a folder input); else InputError
    naming the template, the deployment resource, the property and the path.
    Secure parameters without a value get a placeholder; `stand_in_parameters=True` (what
    `dataplane.load` passes, then proves the model never reads them) gives string and object
    parameters one too, listed in `TemplateResult.placeholders` (arm/placeholders.py).
    `unsupported="skip"` moves a resource that needs an unsupported function (listKeys, ...)
    into `skipped` (with the error as reason, and an assumption) instead of failing.
    """
    if unsupported not in ("error", "skip"):
        raise ValueError("unsupported must be 'error' or 'skip'")
    file = str(path)
    raw = read_json(path, max_bytes=MAX_TEMPLATE_BYTES)
    if not isinstance(raw, Mapping) or "resources" not in raw:
        raise InputError("not an ARM deployment template (no 'resources')", file=file)
    run = _Run(dict(linked_templates or {}), skip_unsupported=unsupported == "skip",
               confinement=confinement or Confinement.for_input(path, allow_paths),
               stand_in_parameters=stand_in_parameters)
    supplied = supplied_parameters(parameters)
    at_subscription = "subscriptiondeploymenttemplate" in str(raw.get("$schema", "")).lower()
    template = _Template(
        run, raw, file=file, where="", subscription_id=subscription_id,
        resource_group_name=None if at_subscription else resource_group, location=location,
        deployment_name=Path(file).stem.split(".")[0] or "deployment", supplied=supplied,
        default_resource_group=resource_group,
    )
    try:
        template.check_parameters()
        resources, skipped = template.flatten()
    except InputError as exc:  # a message without a file is about this template
        raise _required_instead(exc.located(file=file), run.placeholders, file) from None
    if run.placeholders.decided:
        name = run.placeholders.decided[0]
        raise required_parameter(name, file, "the template compares or tests it (a condition, "
                                 "equals, length, ...), so its value decides what is deployed")
    _check_expanded_size(resources)
    return TemplateResult(_dedupe(resources, run), tuple(skipped), tuple(run.assumptions), file,
                          tuple((n, marker(n)) for n in run.placeholders.names.values()))


def _required_instead(exc: InputError, placeholders: Placeholders, file: str) -> InputError:
    """An evaluation error caused by a placeholder is the missing parameter's error."""
    names = placeholders.found_in(exc.one_line())
    if not names:
        return exc
    return required_parameter(names[0], file, f"evaluation needs it ({exc.one_line()})")


def _check_expanded_size(resources: list[dict[str, Any]]) -> None:
    """Azure's 1 MB per resource definition and 4 MB per template, after expansion."""
    total = 0
    for res in resources:
        size = len(json.dumps(res, separators=(",", ":")))
        total += size
        if size > MAX_RESOURCE_BYTES:
            file, _, where = str(res.get("source", "")).partition("#")
            raise azure_limit(f"the resource definition is {size:,} bytes after expansion "
                              f"(at most {MAX_RESOURCE_BYTES:,})").located(
                file=file or None, resource=str(res.get("name")), property=where or None)
        if total > MAX_TEMPLATE_BYTES:
            file = str(res.get("source", "")).partition("#")[0]
            raise azure_limit(f"the deployed resources exceed {MAX_TEMPLATE_BYTES:,} bytes "
                              "after expansion").located(file=file or None,
                                                         resource=str(res.get("name")))


def supplied_parameters(parameters: Mapping[str, Any] | str | Path | None) -> dict[str, Any]:
    if parameters is None:
        return {}
    if isinstance(parameters, str | Path):
        data = read_json(parameters, max_bytes=MAX_TEMPLATE_BYTES)
        values = data.get("parameters") if isinstance(data, Mapping) else None
        if not isinstance(values, Mapping):
            raise InputError("not a deploymentParameters file (no 'parameters' object)",
                             file=str(parameters))
        out = {}
        for name, entry in values.items():
            out[name] = _parameter_entry(entry, str(parameters), name)
        return out
    if "$schema" in parameters and isinstance(parameters.get("parameters"), Mapping):
        return {k: _parameter_entry(v, None, k) for k, v in parameters["parameters"].items()}
    return dict(parameters)


def _parameter_entry(entry: Any, file: str | None, name: str) -> Any:
    if isinstance(entry, Mapping) and "value" in entry:
        return entry["value"]
    if isinstance(entry, Mapping) and "reference" in entry:
        secret = entry["reference"].get("secretName", "?") if isinstance(
            entry["reference"], Mapping) else "?"
        return _KeyVault(f"<key vault secret '{secret}'>")
    raise InputError("a parameter value needs a 'value' (or a key vault 'reference')",
                     file=file, property=f"parameters.{name}")


@dataclass(frozen=True)
class _KeyVault:
    text: str


class _Run:
    """State shared by a template and its nested deployments."""

    def __init__(self, linked: dict[str, str | Path], skip_unsupported: bool = False,
                 confinement: Confinement | None = None,
                 stand_in_parameters: bool = False) -> None:
        self.linked = linked
        self.confinement = confinement or Confinement((Path.cwd(),))
        self.skip_unsupported = skip_unsupported
        self.assumptions: list[str] = []
        self.budget = Budget()
        self.placeholders = Placeholders(plain_too=stand_in_parameters)
        self.allocator = AddressAllocator()
        self.templates: list[_Template] = []

    def note(self, text: str) -> None:
        if text not in self.assumptions:
            self.assumptions.append(text)

    def subnet_prefix(self, subnet_id: str, version: int = 4) -> str | None:
        """The subnet's first address prefix of that IP version (4 or 6), declared anywhere in
        this run, by id."""
        wanted = subnet_id.lower()
        vnet_id, _, subnet_name = wanted.rpartition("/subnets/")
        for template in list(self.templates):
            for inst in template.instances():
                try:
                    own = inst.id().lower()
                except InputError:
                    continue
                # Only the matching resource's body is evaluated: others may themselves be
                # waiting for an allocated address (a VNet whose DNS server is the firewall).
                if own not in (wanted, vnet_id) or not inst.deployed():
                    continue
                if own == wanted:
                    return _first_prefix(inst.body().get("properties", {}), version)
                if own == vnet_id:
                    for subnet in inst.subnets():
                        if isinstance(subnet, Mapping) and str(subnet.get("name", "")).lower() == subnet_name:
                            return _first_prefix(subnet.get("properties", {}), version)
        return None


def _first_prefix(props: Any, version: int = 4) -> str | None:
    """addressPrefix, then addressPrefixes in order: the first one of that IP version."""
    if not isinstance(props, Mapping):
        return None
    prefixes = props.get("addressPrefixes")
    written = [props.get("addressPrefix"), *(prefixes if isinstance(prefixes, list) else [])]
    return next((p for p in written if isinstance(p, str) and (":" in p) == (version == 6)),
                None)


_BUSY = object()  # memo marker: evaluation in progress (the recursion guard)


class _Memo:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str, what: str, compute: Any) -> Any:
        value = self.values.get(key)
        if value is _BUSY:
            raise InputError(f"circular reference: {what} depends on itself")
        if key in self.values:
            return value
        self.values[key] = _BUSY
        try:
            value = compute()
        except BaseException:
            del self.values[key]
            raise
        self.values[key] = value
        return value


class _Template:
    """One template being evaluated: the `Scope` its expressions see."""

    def __init__(self, run: _Run, raw: Mapping[str, Any], *, file: str, where: str,
                 subscription_id: str, resource_group_name: str | None, location: str,
                 deployment_name: str, supplied: dict[str, Any],
                 default_resource_group: str, outer: _Template | None = None,
                 deployment_properties: dict[str, Any] | None = None,
                 links: tuple[str, ...] = (), depth: int = 0) -> None:
        if depth > MAX_DEPLOYMENT_DEPTH:
            raise budget_exceeded(f"deployments nested more than {MAX_DEPLOYMENT_DEPTH} deep")
        if not where:  # a template file (inline templates are checked with their parent)
            check_template(raw, file)
        self.run, self.raw, self.file, self.where = run, raw, file, where
        self.depth = depth
        self.budget = run.budget
        self.placeholders = run.placeholders
        # the files of the templateLink chain that led here, this one last (cycle guard)
        self.links = links or (str(Path(file).resolve()),)
        self.subscription_id = subscription_id
        self.resource_group_name = resource_group_name
        self.location = location
        self.deployment_name = deployment_name
        self.default_resource_group = default_resource_group
        self.outer = outer  # expressions use the outer template's parameters and variables
        self.deployment_properties = deployment_properties or {}
        self.memo = _Memo()
        self._instances: list[_Instance] | None = None
        self.params = {str(k).lower(): (str(k), v) for k, v in
                       (raw.get("parameters") or {}).items()}
        self.supplied = {str(k).lower(): (str(k), v) for k, v in supplied.items()}
        if outer is None:
            for key, (name, _) in self.supplied.items():
                if key not in self.params:
                    raise InputError(f"parameter '{name}' is not declared by the template",
                                     file=file, property=f"parameters.{name}")
        run.templates.append(self)

    def check_parameters(self) -> None:
        """Resolve every parameter now, as ARM validates them before deploying anything."""
        if self.outer is None:
            for name, _ in self.params.values():
                self.parameter(name)

    # ------------------------------------------------------------ Scope for functions

    def ctx(self) -> FunctionContext:
        return FunctionContext(self)

    def note(self, assumption: str) -> None:
        self.run.note(assumption)

    def parameter(self, name: str) -> Any:
        if self.outer is not None:
            return self.outer.parameter(name)
        key = name.lower()
        if key not in self.params:
            raise InputError(f"parameters('{name}'): the template declares no parameter "
                             f"'{name}'")
        return self.memo.get("p:" + key, f"parameter '{name}'", lambda: self._parameter(key))

    def _parameter(self, key: str) -> Any:
        name, decl = self.params[key]
        decl = decl if isinstance(decl, Mapping) else {}
        kind = str(decl.get("type", "")).lower()
        where = f"parameters.{name}"
        if key in self.supplied:
            value = self.supplied[key][1]
            if isinstance(value, _KeyVault):
                self.note(f"parameter '{name}' is a key vault reference; the placeholder "
                          f"'{value.text}' stands for the secret")
                value = value.text
        elif "defaultValue" in decl:
            value = self.eval(decl["defaultValue"], self.ctx(), f"{where}.defaultValue")
        elif (stand_in := self.run.placeholders.stand_in(name, kind)) is not None:
            secure = "secure " if kind.startswith("secure") else ""
            self.note(f"{secure}parameter '{name}' has no value; the placeholder '{marker(name)}'"
                      " stands for it (the analysis reads no property that uses it: "
                      "credentials, images, DNS labels and the like)")
            return stand_in
        else:
            raise InputError(f"required parameter '{name}' has no value (give it in the "
                             "parameters file or as a parameter)", file=self.file,
                             property=where)
        _check_type(name, kind, value, self.file)
        allowed = decl.get("allowedValues")
        if isinstance(allowed, list) and value not in allowed and not (
                isinstance(value, list) and all(v in allowed for v in value)):
            raise InputError(f"parameter '{name}' is {value!r}, not one of the allowed values "
                             f"{allowed!r}", file=self.file, property=where)
        return value

    def variable(self, name: str) -> Any:
        if self.outer is not None:
            return self.outer.variable(name)
        variables = self.raw.get("variables") or {}
        key = name.lower()
        for declared, value in variables.items():
            if declared.lower() == key and declared.lower() != "copy":
                return self.memo.get("v:" + key, f"variable '{name}'", lambda d=declared, v=value:
                                     self.eval(v, self.ctx(), f"variables.{d}"))
        for i, loop in enumerate(variables.get("copy") or []):
            if isinstance(loop, Mapping) and str(loop.get("name", "")).lower() == key:
                return self.memo.get("v:" + key, f"variable '{name}'", lambda i=i, lp=loop:
                                     self._copy_array(lp, self.ctx(), f"variables.copy[{i}]"))
        raise InputError(f"variables('{name}'): the template declares no variable '{name}'")

    def resource_group(self) -> dict[str, Any]:
        if self.resource_group_name is None:
            raise InputError("resourceGroup() is not available in a subscription-scope template")
        self.note(f"resourceGroup() is the resource group '{self.resource_group_name}' in "
                  f"'{self.location}' (ARM would use the group deployed to; the region decides "
                  "latency, price and which peerings are global)")
        return {
            "id": ids.scope_prefix(self.subscription_id, self.resource_group_name),
            "name": self.resource_group_name,
            "type": "Microsoft.Resources/resourceGroups",
            "location": self.location,
            "managedBy": None,
            "tags": {},
            "properties": {"provisioningState": "Succeeded"},
        }

    def subscription(self) -> dict[str, Any]:
        return {
            "id": ids.scope_prefix(self.subscription_id, None),
            "subscriptionId": self.subscription_id,
            "tenantId": DEFAULT_TENANT,
            "displayName": "vnet-dataplane subscription",
        }

    def deployment(self) -> dict[str, Any]:
        return {
            "name": self.deployment_name,
            "location": self.location,
            "properties": {
                "template": {"contentVersion": self.raw.get("contentVersion", "1.0.0.0")},
                "templateLink": self.deployment_properties.get("templateLink"),
                "parameters": {},
                "mode": "Incremental",
                "provisioningState": "Accepted",
            },
        }

    def user_function(self, name: str, args: list[Any]) -> Any:
        namespace, _, member = name.partition(".")
        for group in self.raw.get("functions") or []:
            if str(group.get("namespace", "")).lower() != namespace.lower():
                continue
            for declared, body in (group.get("members") or {}).items():
                if declared.lower() == member.lower():
                    return _UserFunction(self, body, args).result()
        if self.outer is not None:
            return self.outer.user_function(name, args)
        raise InputError(f"unsupported template function '{name}' (no user-defined function "
                         "of that name)")

    def reference(self, target: str, full: bool) -> Any:
        inst = self.find(target)
        if inst is None:
            raise InputError(f"reference('{target}'): no resource with that id or name is "
                             "declared in this template; resources that already exist in "
                             "Azure cannot be read offline")
        if not inst.deployed():
            raise InputError(f"reference('{target}'): that resource is not deployed (its "
                             "condition is false)")
        label = f"reference('{inst.full_name()}')"
        if inst.kind() == DEPLOYMENTS:
            return Runtime({"outputs": inst.child().outputs()}, label)
        data = inst.output(for_reference=True)
        return Runtime(data if full else data.get("properties", {}), label)

    # ------------------------------------------------------------ resources

    def find(self, target: str) -> _Instance | None:
        wanted = target.strip().lower()
        matches = []
        for inst in self.instances():
            try:
                if wanted.startswith("/"):
                    hit = inst.id().lower() == wanted
                else:
                    hit = inst.full_name().lower() == wanted
            except InputError:
                continue
            if hit:
                matches.append(inst)
        deployed = [m for m in matches if m.deployed()]
        return (deployed or matches or [None])[0]

    def instances(self) -> list[_Instance]:
        if self._instances is None:
            self._instances = []
            resources = self.raw.get("resources") or []
            if isinstance(resources, Mapping):  # languageVersion 2.0: symbolic names
                resources = list(resources.values())
            self._expand(resources, None, f"{self.where}resources", ())
        return self._instances

    def _expand(self, decls: list[Any], parent: _Instance | None, path: str,
                loops: tuple[Any, ...]) -> None:
        assert self._instances is not None
        for i, decl in enumerate(decls):
            where = f"{path}[{i}]"
            if not isinstance(decl, Mapping):
                raise InputError("a resource must be an object", file=self.file, property=where)
            loop = decl.get("copy")
            if isinstance(loop, Mapping):
                ctx = FunctionContext(self, loops)
                name = str(loop.get("name", "copy"))
                try:
                    count = self.eval(loop.get("count", 0), ctx, "copy.count")
                except InputError as exc:
                    raise exc.located(file=self.file, resource=str(decl.get("name")),
                                      property="copy.count") from None
                if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                    raise InputError(f"copy count must be a whole number >= 0, got {count!r}",
                                     file=self.file, resource=str(decl.get("name")),
                                     property="copy.count")
                try:
                    check_count(count, "the copy count")
                    if len(self._instances) + count > MAX_RESOURCES:
                        raise azure_limit(f"more than {MAX_RESOURCES} resources including "
                                          "copy count")
                except InputError as exc:
                    raise exc.located(file=self.file, resource=str(decl.get("name")),
                                      property="copy.count") from None
                for index in range(count):
                    inner = ctx.with_loop(name, index, resource=True).loops
                    inst = _Instance(self, decl, inner, parent, f"{where}#{index}")
                    self._instances.append(inst)
                    self._expand(decl.get("resources") or [], inst, f"{where}.resources", inner)
            else:
                if len(self._instances) + 1 > MAX_RESOURCES:
                    raise azure_limit(f"more than {MAX_RESOURCES} resources including copy "
                                      "count").located(file=self.file,
                                                       resource=str(decl.get("name")))
                inst = _Instance(self, decl, loops, parent, where)
                self._instances.append(inst)
                self._expand(decl.get("resources") or [], inst, f"{where}.resources", loops)

    def ordered(self) -> list[_Instance]:
        """Deployment order: template order, each resource after what it dependsOn (the
        lowest-positioned ready resource first; a dependency cycle, which ARM rejects, keeps
        template order). O((resources + dependsOn entries) log resources): dependsOn targets
        are resolved through one name/id index (`find`'s rules: instance order, deployed
        first) and the ready resources wait in a heap."""
        instances = self.instances()
        count = len(instances)
        position = {id(inst): n for n, inst in enumerate(instances)}
        by_id: dict[str, list[_Instance]] = {}
        by_name: dict[str, list[_Instance]] = {}
        for inst in instances:
            for table, key in ((by_id, inst.id), (by_name, inst.full_name)):
                try:
                    table.setdefault(key().lower(), []).append(inst)
                except InputError:
                    continue

        def target_of(dep: str) -> _Instance | None:
            wanted = dep.strip().lower()
            matches = (by_id if wanted.startswith("/") else by_name).get(wanted, [])
            deployed = [m for m in matches if m.deployed()]
            return (deployed or matches or [None])[0]

        waiting = [0] * count  # unplaced resources each one waits for
        dependents: list[list[int]] = [[] for _ in range(count)]
        for n, inst in enumerate(instances):
            after: set[int] = set()
            for dep in inst.depends_on():
                target = target_of(dep)
                if target is not None and target is not inst:
                    after.add(position[id(target)])
            if inst.parent is not None:
                after.add(position[id(inst.parent)])
            after.discard(n)
            waiting[n] = len(after)
            for m in after:
                dependents[m].append(n)
        ready = [n for n in range(count) if waiting[n] == 0]
        heapq.heapify(ready)
        placed = [False] * count
        done: list[int] = []
        scan = 0  # lowest position possibly unplaced (for cycles)
        while len(done) < count:
            if ready:
                n = heapq.heappop(ready)
                if placed[n]:
                    continue
            else:  # a dependency cycle: ARM rejects it; keep template order
                while placed[scan]:
                    scan += 1
                n = scan
            placed[n] = True
            done.append(n)
            for m in dependents[n]:
                waiting[m] -= 1
                if waiting[m] == 0 and not placed[m]:
                    heapq.heappush(ready, m)
        return [instances[n] for n in done]

    def flatten(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        resources: list[dict[str, Any]] = []
        skipped: list[dict[str, Any]] = []
        self.allocate()
        for inst in self.ordered():
            if not inst.deployed():
                skipped.append(inst.skipped("condition is false"))
            elif inst.kind() == RESOURCE_GROUPS:
                skipped.append(inst.skipped("a resource group: the container, not a network "
                                            "resource; its contents come from deployments"))
            elif inst.kind() == DEPLOYMENTS:
                inner, inner_skipped = inst.child().flatten()
                resources.extend(inner)
                skipped.extend(inner_skipped)
            else:
                try:
                    resources.append(inst.output())
                except InputError as exc:
                    if not (self.run.skip_unsupported and UNSUPPORTED in exc.message):
                        raise
                    skipped.append(inst.skipped(exc.one_line()))
                    self.note(f"{inst.describe()} was left out: {exc.message}")
        return resources, skipped

    def outputs(self) -> dict[str, Any]:
        def compute() -> dict[str, Any]:
            out = {}
            for name, decl in (self.raw.get("outputs") or {}).items():
                if not isinstance(decl, Mapping):
                    continue
                if "condition" in decl and not _as_bool(
                        self.eval(decl["condition"], self.ctx(), f"outputs.{name}.condition")):
                    continue
                value = self.eval(decl.get("value"), self.ctx(), f"outputs.{name}.value")
                out[name] = {"type": decl.get("type"), "value": value}
            return out
        try:
            return self.memo.get("outputs", "the template's outputs", compute)
        except InputError as exc:
            raise exc.located(file=self.file) from None

    def allocate(self) -> None:
        """Give NICs and firewalls their private IPs, statics first, in deployment order."""
        self.memo.get("allocation", "private IP allocation", self._allocate)

    def _allocate(self) -> bool:
        wanted = []
        for inst in self.ordered():
            if inst.kind() in ALLOCATING and inst.deployed():
                for n, ipc in enumerate((inst.checked_body().get("properties") or {}).get(
                        "ipConfigurations") or []):
                    props = ipc.get("properties") if isinstance(ipc, Mapping) else None
                    subnet = (props or {}).get("subnet")
                    if isinstance(subnet, Mapping) and isinstance(subnet.get("id"), str):
                        wanted.append((inst, n, ipc, props, subnet["id"]))
        for static_pass in (True, False):
            for inst, n, ipc, props, subnet_id in wanted:
                address = props.get("privateIPAddress") or props.get("privateIpAddress")
                static = str(props.get("privateIPAllocationMethod", "")).lower() == "static"
                if static_pass != bool(static and address):
                    continue
                if not static_pass and address:
                    continue
                # An IPv6 configuration takes its address from the subnet's IPv6 prefix and
                # leaves the IPv4 pool alone (allocation.py, "ip_version").
                version = ip_version(props)
                prefix = self.run.subnet_prefix(subnet_id, version)
                if prefix is None:
                    family = "an IPv6 prefix" if version == 6 else "an IPv4 prefix"
                    self.note(f"{inst.describe()} ipConfiguration '{ipc.get('name')}': subnet "
                              f"{subnet_id} is not declared in the template with {family}, so "
                              "no private IP was assigned")
                    continue
                try:
                    got = self.run.allocator.allocate(prefix, address if static_pass else None,
                                                      key=subnet_id.lower())
                except InputError as exc:
                    raise exc.located(file=self.file, resource=inst.display_name(),
                                      property=f"properties.ipConfigurations[{n}]") from None
                if not static_pass:
                    inst.allocated[n] = got
                    self.note(f"{inst.describe()} ipConfiguration '{ipc.get('name')}': dynamic "
                              f"private IP {got} assumed (lowest free address of subnet "
                              f"{prefix} after Azure's 4 reserved, in deployment order"
                              + (", IPv6 pool" if version == 6 else "") + ")")
                    if version == 6:
                        self.note(IPV6_ALLOCATION_ASSUMPTION)
        return True

    # ------------------------------------------------------------ evaluation of JSON values

    def eval(self, value: Any, ctx: FunctionContext, path: str) -> Any:
        """Evaluate every expression inside a JSON value; errors get `path` as property."""
        if isinstance(value, str):
            if not is_expression(value):
                return literal_text(value)
            ctx.budget.charge(1)
            try:
                return ctx.plain(evaluate(parse(value), ctx))
            except InputError as exc:
                raise exc.located(property=path) from None
            except RecursionError:
                raise InputError("expression nested too deeply", property=path) from None
        if isinstance(value, list):
            return [self.eval(v, ctx, f"{path}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for key, item in value.items():
                if key.lower() == "copy" and isinstance(item, list):
                    for n, loop in enumerate(item):
                        if not isinstance(loop, Mapping) or "name" not in loop:
                            raise InputError("a property copy needs a name, count and input",
                                             property=f"{path}.copy[{n}]")
                        out[str(loop["name"])] = self._copy_array(loop, ctx, f"{path}.copy[{n}]")
                    continue
                name = self.eval(key, ctx, f"{path}.{key}") if is_expression(key) else literal_text(key)
                out[to_key(name, path)] = self.eval(item, ctx, _join(path, key))
            return out
        return value

    def _copy_array(self, loop: Mapping[str, Any], ctx: FunctionContext, path: str) -> list[Any]:
        count = self.eval(loop.get("count", 0), ctx, f"{path}.count")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise InputError(f"copy count must be a whole number >= 0, got {count!r}",
                             property=f"{path}.count")
        try:
            check_count(count, "the copy count")
        except InputError as exc:
            raise exc.located(property=f"{path}.count") from None
        name = str(loop.get("name"))
        prefix = path.rsplit(".copy[", 1)[0]
        return [self.eval(loop.get("input"), ctx.with_loop(name, i),
                          f"{_join(prefix, name)}[{i}]") for i in range(count)]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def to_key(name: Any, path: str) -> str:
    if not isinstance(name, str):
        raise InputError(f"an object key must be a string, got {type_name(name)}", property=path)
    return name


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InputError(f"a condition must be true or false, got {value!r}")


_TYPES = {"string": (str,), "securestring": (str,), "int": (int,), "bool": (bool,),
          "array": (list,), "object": (Mapping,), "secureobject": (Mapping,)}


def _check_type(name: str, kind: str, value: Any, file: str) -> None:
    wanted = _TYPES.get(kind)
    if wanted is None or value is None:
        return
    ok = isinstance(value, wanted) and not (kind == "int" and isinstance(value, bool))
    if kind == "bool" and isinstance(value, str) and value.lower() in ("true", "false"):
        ok = True
    if not ok:
        raise InputError(f"parameter '{name}' must be of type {kind}, got {type_name(value)} "
                         f"{value!r}", file=file, property=f"parameters.{name}")


class _UserFunction:
    """A call of a template's user-defined function: only its own parameters are visible."""

    def __init__(self, template: _Template, body: Mapping[str, Any], args: list[Any]) -> None:
        self.template, self.body, self.args = template, body, args
        self.subscription_id = template.subscription_id
        self.resource_group_name = template.resource_group_name
        declared = body.get("parameters") or []
        if len(declared) != len(args):
            raise InputError(f"user-defined function takes {len(declared)} argument(s), got "
                             f"{len(args)}")
        self.values = {str(p.get("name", "")).lower(): a for p, a in zip(declared, args,
                                                                           strict=True)}

    def result(self) -> Any:
        return self.template.eval((self.body.get("output") or {}).get("value"),
                                  FunctionContext(self), "functions.output.value")

    def parameter(self, name: str) -> Any:
        if name.lower() not in self.values:
            raise InputError(f"parameters('{name}'): not a parameter of this function")
        return self.values[name.lower()]

    def variable(self, name: str) -> Any:
        raise InputError("variables() cannot be used inside a user-defined function")

    def reference(self, target: str, full: bool) -> Any:
        raise InputError("reference() cannot be used inside a user-defined function")

    def __getattr__(self, name: str) -> Any:  # resourceGroup(), subscription(), note(), ...
        return getattr(self.template, name)


class _Instance:
    """One resource (one copy-loop iteration of one declaration) of a template."""

    def __init__(self, template: _Template, decl: Mapping[str, Any], loops: tuple[Any, ...],
                 parent: _Instance | None, path: str) -> None:
        self.template, self.decl, self.loops, self.parent, self.path = (
            template, decl, loops, parent, path)
        self.allocated: dict[int, str] = {}
        self.memo = _Memo()

    def ctx(self) -> FunctionContext:
        return FunctionContext(self.template, self.loops)

    def located(self, exc: InputError, prop: str | None = None) -> InputError:
        return exc.located(file=self.template.file, resource=self.display_name(), property=prop)

    def display_name(self) -> str:
        try:
            return self.full_name()
        except InputError:
            return str(self.decl.get("name"))

    def describe(self) -> str:
        return f"{self.own_type().split('/')[-1]} '{self.display_name()}'"

    def _relative(self) -> bool:
        first = str(self.decl.get("type", "")).split("/")[0]
        return self.parent is not None and "." not in first

    def full_type(self) -> str:
        kind = str(self.decl.get("type", ""))
        if not kind:
            raise InputError("a resource needs a 'type'", file=self.template.file,
                             resource=str(self.decl.get("name")), property="type")
        return f"{self.parent.full_type()}/{kind}" if self._relative() and self.parent else kind

    def kind(self) -> str:
        return self.own_type().lower()

    def full_name(self) -> str:
        def compute() -> str:
            try:
                name = self.template.eval(self.decl.get("name"), self.ctx(), "name")
            except InputError as exc:
                raise exc.located(file=self.template.file, resource=str(self.decl.get("name")),
                                  property="name") from None
            if not isinstance(name, str) or not name:
                raise InputError(f"a resource name must be a non-empty string, got {name!r}",
                                 file=self.template.file, resource=str(self.decl.get("name")),
                                 property="name")
            if self._relative() and self.parent:
                return f"{self.parent.full_name()}/{name}"
            return name
        return self.memo.get("name", f"the name of {self.decl.get('name')}", compute)

    def own_type(self) -> str:
        try:
            return ids.provider_path(self.full_type(), self.full_name())[1]
        except InputError:
            return self.full_type()

    def scope_ids(self) -> tuple[str, str | None]:
        sub, rg = self.template.subscription_id, self.template.resource_group_name
        if self.kind() == DEPLOYMENTS:
            body = self.body()
            sub = body.get("subscriptionId") or sub
            rg = body.get("resourceGroup") or rg
        return sub, rg

    def id(self) -> str:
        def compute() -> str:
            try:
                if "scope" in self.decl:
                    scope = self.template.eval(self.decl["scope"], self.ctx(), "scope")
                    base = scope.rstrip("/") if str(scope).startswith("/") else (
                        ids.scope_prefix(self.template.subscription_id,
                                         self.template.resource_group_name)
                        + "/providers/" + str(scope).strip("/"))
                    return base + ids.provider_path(self.full_type(), self.full_name())[0]
                sub, rg = self.template.subscription_id, self.template.resource_group_name
                return ids.resource_id(ids.scope_prefix(sub, rg), self.full_type(),
                                       self.full_name())
            except InputError as exc:
                raise self.located(exc, "name") from None
        return self.memo.get("id", f"the id of {self.display_name()}", compute)

    def deployed(self) -> bool:
        def compute() -> bool:
            if self.parent is not None and not self.parent.deployed():
                return False
            if "condition" not in self.decl:
                return True
            try:
                return _as_bool(self.template.eval(self.decl["condition"], self.ctx(),
                                                   "condition"))
            except InputError as exc:
                raise self.located(exc, "condition") from None
        return self.memo.get("condition", f"the condition of {self.display_name()}", compute)

    def depends_on(self) -> list[str]:
        out = []
        for n, dep in enumerate(self.decl.get("dependsOn") or []):
            try:
                value = self.template.eval(dep, self.ctx(), f"dependsOn[{n}]")
            except InputError:
                continue  # ARM ignores what it cannot resolve here; so do we
            if isinstance(value, str):
                out.append(value)
        return out

    def body(self) -> dict[str, Any]:
        """All evaluated top-level keys (a deployment's inner template stays unevaluated)."""
        def compute() -> dict[str, Any]:
            out: dict[str, Any] = {}
            for key, value in self.decl.items():
                if key.lower() in ("condition", "copy", "dependson", "resources", "comments",
                                   "name", "type"):
                    continue
                if self.kind() == DEPLOYMENTS and key == "properties" and isinstance(value, Mapping):
                    props = {k: v for k, v in value.items() if k != "template"}
                    out[key] = self.template.eval(props, self.ctx(), key)
                    continue
                out[key] = self.template.eval(value, self.ctx(), key)
            return out
        try:
            return self.memo.get("body", f"resource '{self.display_name()}'", compute)
        except InputError as exc:
            raise self.located(exc) from None

    def checked_body(self) -> dict[str, Any]:
        """body() whose properties have the kinds the evaluator reads (shapes.py)."""
        body = self.body()
        check_shape({"type": self.own_type(), "name": self.display_name().rsplit("/", 1)[-1],
                     "properties": body.get("properties"), "source": self.template.file},
                    self.template.file)
        return body

    def subnets(self) -> list[Any]:
        """A VNet's inline subnets, evaluating only them (the rest may wait on addresses)."""
        if "body" in self.memo.values and self.memo.values["body"] is not _BUSY:
            return list((self.checked_body().get("properties") or {}).get("subnets") or [])
        raw = self.decl.get("properties")
        if not isinstance(raw, Mapping):
            return []
        part = {k: v for k, v in raw.items() if k in ("subnets", "copy")}
        try:
            value = self.template.eval(part, self.ctx(), "properties").get("subnets")
        except InputError as exc:
            raise self.located(exc) from None
        return list(value) if isinstance(value, list) else []

    def output(self, for_reference: bool = False) -> dict[str, Any]:
        body = self.body()
        if not for_reference:
            self.template.allocate()
        properties = copylib.deepcopy(body.get("properties", {}))
        if isinstance(properties, dict):
            ipcs = properties.get("ipConfigurations")
            if not for_reference or self.allocated or self.kind() in ALLOCATING:
                if self.kind() in ALLOCATING:
                    self.template.allocate()
                for n, address in self.allocated.items():
                    if isinstance(ipcs, list) and n < len(ipcs) and isinstance(ipcs[n], dict):
                        ipcs[n].setdefault("properties", {})["privateIPAddress"] = address
            _add_child_ids(properties, self.id())
        sub, rg = self.scope_ids()
        out: dict[str, Any] = {
            "type": self.own_type(),
            "name": self.full_name().split("/")[-1],
            "id": self.id(),
        }
        if rg is not None:
            out["resourceGroup"] = rg
        for key, value in body.items():
            if key.lower() not in NOT_OUTPUT and key != "properties":
                out[key] = copylib.deepcopy(value)
        out["properties"] = properties
        out["source"] = f"{self.template.file}#{self.path}"
        return out

    def skipped(self, reason: str) -> dict[str, Any]:
        return {"type": self.own_type(), "name": self.display_name(), "reason": reason,
                "source": f"{self.template.file}#{self.path}"}

    def child(self) -> _Template:
        return self.memo.get("child", f"deployment '{self.display_name()}'", self._child)

    def _child(self) -> _Template:
        body = self.checked_body()
        props = body.get("properties") or {}
        parent = self.template
        name = self.full_name()
        raw_props = self.decl.get("properties") or {}
        if isinstance(raw_props.get("template"), Mapping):
            raw, file, where = raw_props["template"], parent.file, f"{self.path}.properties.template."
        elif isinstance(props.get("templateLink"), Mapping):
            file = self._local_link(props["templateLink"], "templateLink")
            self._refuse_cycle(file)
            raw, where = read_json(file, max_bytes=MAX_TEMPLATE_BYTES), ""
            if not isinstance(raw, Mapping):
                raise InputError("not an ARM deployment template", file=file)
        else:
            raise InputError("a deployment needs properties.template or properties.templateLink",
                             file=parent.file, resource=name, property="properties")
        scope = str(((props.get("expressionEvaluationOptions") or {}).get("scope")) or "outer")
        inner = scope.lower() == "inner" or file != parent.file
        supplied: dict[str, Any] = {}
        if isinstance(props.get("parametersLink"), Mapping):
            supplied.update(supplied_parameters(
                self._local_link(props["parametersLink"], "parametersLink")))
        for key, entry in (props.get("parameters") or {}).items():
            supplied[key] = _parameter_entry(entry, parent.file, key)
        sub = body.get("subscriptionId") or parent.subscription_id
        rg = body.get("resourceGroup")
        if rg is None:
            rg = parent.resource_group_name
        try:
            child = _Template(
                parent.run, raw, file=file, where=where, subscription_id=sub,
                resource_group_name=rg, location=parent.location, deployment_name=name,
                supplied=supplied if inner else {},
                default_resource_group=parent.default_resource_group,
                outer=None if inner else parent, deployment_properties=props,
                links=parent.links if file == parent.file else (*parent.links, file),
                depth=parent.depth + 1,
            )
            child.check_parameters()
            return child
        except InputError as exc:
            raise exc.located(file=parent.file, resource=name,
                              property="properties.parameters") from None

    def _refuse_cycle(self, file: str) -> None:
        """A template that links itself, or templates that link each other, never end."""
        parent = self.template
        if file not in parent.links:
            return
        prop = "properties.templateLink"
        if file == parent.links[-1]:
            raise InputError(f"the template links itself ('{Path(file).name}'): the deployment "
                             "would never end", file=parent.file, resource=self.full_name(),
                             property=prop)
        cycle = " -> ".join(Path(f).name for f in (*parent.links[parent.links.index(file):],
                                                    file))
        raise InputError(f"linked templates link each other in a cycle ({cycle}): the "
                         "deployment would never end", file=parent.file,
                         resource=self.full_name(), property=prop)

    def _local_link(self, link: Mapping[str, Any], what: str) -> str:
        """The confined local file a templateLink / parametersLink names."""
        parent = self.template
        base = Path(parent.file).parent
        relative = link.get("relativePath")
        uri = link.get("uri")
        if isinstance(relative, str):
            prop, named = f"properties.{what}.relativePath", relative
        elif isinstance(uri, str):
            if uri in parent.run.linked:  # mapped by the caller: not confined
                return str(parent.run.linked[uri])
            prop, named = f"properties.{what}.uri", uri
            if uri.lower().startswith("file://"):
                named = uri[len("file://"):]
            elif "://" in uri:
                raise InputError(
                    f"unsupported feature 'linked template URL': {uri} cannot be fetched "
                    "offline; save it beside the template and link it by "
                    "templateLink.relativePath (or, from Python, evaluate_template("
                    "linked_templates={uri: local path}))",
                    file=parent.file, resource=self.full_name(), property=prop)
        else:
            raise InputError(f"a {what} needs a 'uri' or 'relativePath' (template specs are "
                             "not supported)", file=parent.file, resource=self.full_name(),
                             property=f"properties.{what}")
        if "\0" in named:
            raise InputError(f"path {named!r} holds a NUL character", file=parent.file,
                             resource=self.full_name(), property=prop)
        candidate = parent.run.confinement.check(
            base / named, file=parent.file, resource=self.full_name(), property=prop)
        if not candidate.is_file():
            raise InputError(f"linked file '{named}' not found next to the template",
                             file=parent.file, resource=self.full_name(), property=prop)
        return str(candidate)


def _add_child_ids(properties: dict[str, Any], parent_id: str) -> None:
    """Give inline child resources (subnets, rules, ipConfigurations, ...) their ARM ids."""
    for key, value in properties.items():
        if isinstance(value, list):
            for item in value:
                if (isinstance(item, dict) and isinstance(item.get("name"), str)
                        and isinstance(item.get("properties"), Mapping) and "id" not in item):
                    item["id"] = f"{parent_id}/{key}/{item['name']}"


def _dedupe(resources: list[dict[str, Any]], run: _Run) -> tuple[dict[str, Any], ...]:
    """One entry per id: the definition deployed last wins (incremental deployment)."""
    last: dict[str, int] = {}
    for n, res in enumerate(resources):
        key = res["id"].lower()
        if key in last:
            run.note(f"{res['type']} '{res['name']}' is declared twice ({resources[last[key]]['source']} "
                     f"and {res['source']}); the definition deployed last is kept")
        last[key] = n
    return tuple(res for n, res in enumerate(resources) if last[res["id"].lower()] == n)
