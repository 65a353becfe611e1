"""The loader front door: `load(path_or_paths, parameters=None, *, allow_paths=()) -> Topology`.

Recognises, by content rather than by name:
- scenario YAML (.yaml/.yml): dataplane/load/scenario.py;
- ARM deployment templates (a JSON object with `$schema` ...deploymentTemplate... or with
  `resources` beside `parameters`/`variables`): evaluated by dataplane/load/arm/, with an
  optional parameters file or dict;
- resource dumps as `az ... -o json` and Resource Graph print them: a list of resources,
  `{"value": [...]}`, `{"data": [...]}` or a single resource with `id` and `type`.
Several paths (or a folder) are read into one list of resources and converted once, so a
peering link in one file finds its counterpart in another. Every problem is an InputError
naming the file, the resource and the property.
Confinement (dataplane/load/confine.py): files a template names are read only from inside the
folder tree of the input the user gave (the folder itself when a folder is given), or from
`allow_paths`, the directories the user allows explicitly (`--allow-path DIR`).

`bgp_routes`: the BGP sidecar (a JSON path or its parsed content; load/bgp_sidecar.py,
docs/bgp-sidecar.md): routes NVAs, on-premises BGP peers and ExpressRoute circuits advertise;
a scenario YAML's `bgp_routes:` key adds to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from dataplane.errors import InputError
from dataplane.load.arm.placeholders import names_in, required_parameter
from dataplane.load.bgp_sidecar import Sidecar, read_bgp_sidecar, scenario_bgp_routes
from dataplane.load.confine import Confinement
from dataplane.load.jsonfile import read_json
from dataplane.load.resources import CHILDREN, TOP_LEVEL, resources_to_topology
from dataplane.model import Assumption, Topology

Parameters = dict[str, Any] | str | Path | None


def _is_modelled(resource_type: str) -> bool:
    kind = resource_type.lower()
    return kind in TOP_LEVEL or kind in CHILDREN


def _is_template(doc: Any) -> bool:
    if not isinstance(doc, dict):
        return False
    schema = str(doc.get("$schema", "")).lower()
    if "deploymenttemplate" in schema:
        return True
    return "resources" in doc and ("parameters" in doc or "variables" in doc
                                   or "contentVersion" in doc)


def _dump_resources(doc: Any, source: str) -> list[dict[str, Any]]:
    if isinstance(doc, dict):
        for key in ("value", "data"):
            if isinstance(doc.get(key), list):
                return _dump_resources(doc[key], source)
        if "id" in doc and "type" in doc:
            return [{**doc, "source": source}]
        raise InputError("not an ARM template, a scenario or a resource dump (expected a list of "
                         "resources, {\"value\": [...]}, or a template with $schema)", file=source)
    if isinstance(doc, list):
        out = []
        for index, item in enumerate(doc):
            if not isinstance(item, dict):
                raise InputError(f"item #{index} of the resource list is not an object",
                                 file=source)
            out.append({**item, "source": source})
        return out
    raise InputError("expected a JSON object or list", file=source)


def _files(path: Path) -> list[Path]:
    if not path.exists():
        raise InputError("file not found", file=str(path))
    if not path.is_dir():
        return [path]
    files = sorted([*path.glob("*.json"), *path.glob("*.yaml"), *path.glob("*.yml")])
    files = [f for f in files if not f.name.endswith(".parameters.json")]
    if not files:
        raise InputError("folder holds no .json or .yaml files", file=str(path))
    return files


def _is_scenario(path: Path) -> bool:
    return path.suffix.lower() in (".yaml", ".yml")


def read_resources(path: Path, parameters: Parameters = None, *,
                   allow_paths: Sequence[str | Path] = (),
                   confinement: Confinement | None = None,
                   others: Sequence[dict[str, Any]] = ()
                   ) -> tuple[list[dict[str, Any]], tuple[Assumption, ...]]:
    """One file -> the resolved resource dicts it holds, and the assumptions made reading it.

    `others`: resource dicts of the run's other inputs, where a scenario's VNET/SUBNET
    references may point (load/other_inputs.py).

    Files a template names are read from `path`'s folder tree or `allow_paths` (or
    `confinement`, which `load` passes for a folder input). Template parameters no analysis
    needs get placeholders (arm/placeholders.py); resources_to_topology refuses a model that
    reads one.
    """
    confinement = confinement or Confinement.for_input(path, allow_paths)
    if _is_scenario(path):
        from dataplane.load.other_inputs import OtherInputs
        from dataplane.load.scenario import scenario_assumptions, scenario_read

        if parameters is not None:
            raise InputError("parameters (--parameters FILE, -p NAME=VALUE) only apply to ARM "
                             "templates; give them after the template they belong to",
                             file=str(path))

        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise InputError(f"cannot read file: {error}", file=str(path)) from None
        found, notes = scenario_read(text, str(path), OtherInputs.of(others))
        return found, scenario_assumptions(str(path), notes)
    doc = read_json(path)
    if _is_template(doc):
        from dataplane.load.arm.template import evaluate_template

        # Resources needing functions we cannot evaluate offline (listKeys, ...) are skipped
        # when we do not model their type (a VM extension's key); a modelled one is an error.
        result = evaluate_template(path, parameters, unsupported="skip",
                                   confinement=confinement, stand_in_parameters=True)
        for skipped in result.skipped:
            reason = str(skipped.get("reason", ""))
            if "unsupported" in reason and _is_modelled(str(skipped.get("type", ""))):
                raise InputError(reason)
        return list(result.resources), tuple(
            Assumption(f"arm.{path.name}.{i}", text) for i, text in enumerate(result.assumptions))
    if parameters is not None:
        raise InputError("a parameters file only applies to ARM templates", file=str(path))
    return _dump_resources(doc, str(path)), ()


Input = str | Path | tuple[str | Path, Parameters]


def load(paths: Input | Sequence[Input], parameters: Parameters = None, *,
         bgp_routes: Sidecar = None, allow_paths: Sequence[str | Path] = ()) -> Topology:
    """Load a topology from a file, a folder, or several files merged (see module doc).

    An input is a path, or a (path, parameters) pair for a template that takes its own
    parameters (as `az deployment ... --parameters` per template); `parameters` applies to
    every input given as a bare path. `bgp_routes`: the BGP sidecar (path or parsed JSON).
    `allow_paths`: extra directories files named by templates may be read from.
    Raises InputError (one line: file, resource, property) for anything unreadable.
    """
    items = [paths] if isinstance(paths, (str, Path, tuple)) else list(paths)
    if not items:
        raise InputError("no input files given")
    pairs = [item if isinstance(item, tuple) else (item, parameters) for item in items]
    resources: list[dict[str, Any]] = []
    assumptions: list[Assumption] = []
    inputs = []
    for item, own in pairs:
        confinement = Confinement.for_input(item, allow_paths)
        for file in _files(Path(item)):
            if Path(item).is_dir():  # a folder's entries (symlinks too) stay in its tree
                confinement.check(file, file=str(file), resource="", property="")
            inputs.append((file, own, confinement))
    files = [f for f, _, _ in inputs]
    # Scenarios last, so a scenario's VNET/SUBNET reference finds a subnet another input of
    # this run defines (load/other_inputs.py): test VMs added to a VM-less template.
    for file, own, confinement in sorted(inputs, key=lambda i: _is_scenario(i[0])):
        found, noted = read_resources(file, own, confinement=confinement,
                                      others=resources if _is_scenario(file) else ())
        resources.extend(found)
        assumptions.extend(noted)
    advertisements = list(read_bgp_sidecar(bgp_routes))
    for file in files:
        if _is_scenario(file):
            advertisements += scenario_bgp_routes(file.read_text(encoding="utf-8"), str(file))
    source = ", ".join(str(f) for f in files)
    topology = _topology_without_placeholders(resources, source)
    return replace(topology, sources=tuple(str(f) for f in files),
                   assumptions=(*assumptions, *topology.assumptions),  # + the converter's
                   bgp_advertisements=tuple(advertisements))


def _topology_without_placeholders(resources: list[dict[str, Any]], source: str) -> Topology:
    """resources_to_topology, where a conversion error caused by a parameter placeholder
    (a prefix that is '<parameter ... not given>') reads as the missing required parameter."""
    try:
        return resources_to_topology(resources, source)
    except InputError as error:
        names = names_in(error.one_line())
        if not names:
            raise
        raise required_parameter(names[0], error.file or source,
                                 f"the model reads it ({error.one_line()})") from None


__all__ = ["load", "read_resources"]
