"""Files a template names are read only inside the input's folder tree (issue 10, point 1):
relativePath / uri (plain path, file://) / parametersLink with `../`, absolute paths, /proc and
symlinks are refused with one line naming the template, the resource, the property and the
path, unless widened with allow_paths; self- and mutually-linked templates are named as such."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dataplane.errors import InputError
from dataplane.load import load
from dataplane.load.arm.template import evaluate_template

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
CHILD = {"$schema": SCHEMA, "contentVersion": "1.0.0.0",
         "parameters": {"prefix": {"type": "string"}},
         "resources": [{"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-09-01",
                        "name": "v", "location": "westeurope",
                        "properties": {"addressSpace": {
                            "addressPrefixes": ["[parameters('prefix')]"]}}}]}
OUTSIDE_PARAMETERS = {"parameters": {"prefix": {"value": "10.9.0.0/16"}}}


def deploying(link: dict, parameters_link: dict | None = None) -> dict:
    props: dict = {"mode": "Incremental", "templateLink": link}
    if parameters_link is not None:
        props["parametersLink"] = parameters_link
    else:
        props["parameters"] = {"prefix": {"value": "10.1.0.0/16"}}
    return {"$schema": SCHEMA, "contentVersion": "1.0.0.0", "resources": [
        {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01",
         "name": "inner", "properties": props}]}


def linking(link: dict) -> dict:
    """A template whose only resource deploys the template `link` names (no parameters)."""
    doc = deploying(link)
    del doc["resources"][0]["properties"]["parameters"]
    return doc


def write(path: Path, doc: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def test_parameters_link_outside_the_folder_is_refused(tmp_path: Path) -> None:
    """The issue's smallest reproducer: sub/t.json -> child.json with ../outside.parameters.json."""
    write(tmp_path / "outside.parameters.json", OUTSIDE_PARAMETERS)
    write(tmp_path / "sub" / "child.json", CHILD)
    top = write(tmp_path / "sub" / "t.json", deploying(
        {"relativePath": "child.json"}, {"relativePath": "../outside.parameters.json"}))
    with pytest.raises(InputError) as err:
        load(top)
    e = err.value
    assert (e.file, e.resource, e.property) == (str(top), "inner",
                                                "properties.parametersLink.relativePath")
    assert "../outside.parameters.json" in e.message and "outside" in e.message
    assert "10.9.0.0" not in e.one_line() and "\n" not in e.one_line()


def test_allow_paths_widens_the_tree(tmp_path: Path) -> None:
    write(tmp_path / "outside.parameters.json", OUTSIDE_PARAMETERS)
    write(tmp_path / "sub" / "child.json", CHILD)
    top = write(tmp_path / "sub" / "t.json", deploying(
        {"relativePath": "child.json"}, {"relativePath": "../outside.parameters.json"}))
    topology = load(top, allow_paths=[tmp_path])
    assert [str(p) for p in topology.virtual_networks[0].address_space] == ["10.9.0.0/16"]
    result = evaluate_template(top, allow_paths=[tmp_path])
    assert result.resources[0]["properties"]["addressSpace"]["addressPrefixes"] == ["10.9.0.0/16"]


@pytest.mark.parametrize("form", ["relative", "absolute", "file-uri", "plain-uri"])
def test_template_link_outside_is_refused_in_every_spelling(tmp_path: Path, form: str) -> None:
    outside = write(tmp_path / "elsewhere" / "child.json", CHILD)
    link = {"relative": {"relativePath": "../elsewhere/child.json"},
            "absolute": {"relativePath": str(outside)},
            "file-uri": {"uri": f"file://{outside}"},
            "plain-uri": {"uri": str(outside)}}[form]
    top = write(tmp_path / "in" / "t.json", deploying(link))
    with pytest.raises(InputError) as err:
        evaluate_template(top)
    prop = "relativePath" if "relativePath" in link else "uri"
    assert err.value.property == f"properties.templateLink.{prop}"
    assert err.value.resource == "inner" and "outside the input's folder tree" in err.value.message


def test_proc_is_refused(tmp_path: Path) -> None:
    top = write(tmp_path / "t.json", deploying({"uri": "file:///proc/self/environ"}))
    with pytest.raises(InputError, match="outside the input's folder tree"):
        evaluate_template(top)


def test_symlink_pointing_outside_is_refused(tmp_path: Path) -> None:
    outside = write(tmp_path / "elsewhere" / "child.json", CHILD)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "child.json").symlink_to(outside)
    top = write(tmp_path / "in" / "t.json", deploying({"relativePath": "child.json"}))
    with pytest.raises(InputError) as err:
        evaluate_template(top)
    assert str(outside) in err.value.message


def test_links_inside_the_tree_still_work(tmp_path: Path) -> None:
    write(tmp_path / "deep" / "child.json", CHILD)
    top = write(tmp_path / "t.json", deploying({"uri": "deep/child.json"}))
    assert evaluate_template(top).resources[0]["name"] == "v"


def test_folder_input_confines_to_the_folder(tmp_path: Path) -> None:
    """A folder given as input is the tree; a file in it may link a sibling subfolder."""
    write(tmp_path / "topo" / "lib" / "child.json", CHILD)
    write(tmp_path / "topo" / "t.json", deploying({"relativePath": "lib/child.json"}))
    assert load(tmp_path / "topo").virtual_networks[0].name == "v"


def test_self_linked_template_is_named(tmp_path: Path) -> None:
    top = write(tmp_path / "t.json", linking({"relativePath": "t.json"}))
    with pytest.raises(InputError) as err:
        evaluate_template(top)
    assert "links itself" in err.value.message and err.value.resource == "inner"
    assert err.value.property == "properties.templateLink"


def test_mutually_linked_templates_are_named(tmp_path: Path) -> None:
    write(tmp_path / "b.json", linking({"relativePath": "a.json"}))
    top = write(tmp_path / "a.json", linking({"relativePath": "b.json"}))
    with pytest.raises(InputError) as err:
        evaluate_template(top)
    assert "cycle (a.json -> b.json -> a.json)" in err.value.message


def test_allowed_path_must_be_a_directory(tmp_path: Path) -> None:
    top = write(tmp_path / "t.json", CHILD)
    with pytest.raises(InputError, match="not a directory"):
        load(top, parameters={"prefix": "10.0.0.0/16"}, allow_paths=[tmp_path / "missing"])


def test_folder_entry_symlinked_outside_is_refused(tmp_path: Path) -> None:
    outside = write(tmp_path / "elsewhere" / "secret.json", CHILD)
    (tmp_path / "topo").mkdir()
    (tmp_path / "topo" / "t.json").symlink_to(outside)
    with pytest.raises(InputError) as err:
        load(tmp_path / "topo")
    assert "outside the input's folder tree" in err.value.message
    assert err.value.file == str(tmp_path / "topo" / "t.json")
