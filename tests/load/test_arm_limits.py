"""The evaluator's bounds (issue 10, point 3): Azure's documented template limits and the
project's budgets, each violation one line naming the file, the resource and the property."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dataplane.errors import InputError
from dataplane.load.arm import limits
from dataplane.load.arm.limits import MAX_EXPRESSION_CHARS, MAX_VALUE_UNITS
from dataplane.load.arm.template import evaluate_template

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"


def template(tmp_path: Path, resources: list[Any] | None = None, **sections: Any) -> Path:
    doc = {"$schema": SCHEMA, "contentVersion": "1.0.0.0", "resources": resources or [],
           **sections}
    path = tmp_path / "t.json"
    path.write_text(json.dumps(doc))
    return path


def nsg(name: str = "n", **extra: Any) -> dict[str, Any]:
    return {"type": "Microsoft.Network/networkSecurityGroups", "apiVersion": "2023-09-01",
            "name": name, "location": "westeurope", "properties": {}, **extra}


def error_of(path: Path) -> InputError:
    with pytest.raises(InputError) as err:
        evaluate_template(path)
    line = err.value.one_line()
    assert "\n" not in line and len(line) < 400, line
    return err.value


def test_copy_count_of_a_billion_names_azures_800(tmp_path: Path) -> None:
    e = error_of(template(tmp_path, [nsg("[concat('n', copyIndex())]",
                                         copy={"name": "c", "count": 10**9})]))
    assert (e.resource, e.property) == ("[concat('n', copyIndex())]", "copy.count")
    assert "can't exceed 800" in e.message and "template limit" in e.message


def test_copy_count_of_800_is_allowed(tmp_path: Path) -> None:
    result = evaluate_template(template(tmp_path, [nsg("[concat('n', copyIndex())]",
                                                       copy={"name": "c", "count": 800})]))
    assert len(result.resources) == 800


def test_801_resources_across_loops_exceed_the_limit(tmp_path: Path) -> None:
    e = error_of(template(tmp_path, [
        nsg("[concat('a', copyIndex())]", copy={"name": "a", "count": 800}), nsg("b")]))
    assert e.resource == "b" and "800 resources including copy count" in e.message


def test_property_copy_count_is_bounded(tmp_path: Path) -> None:
    e = error_of(template(tmp_path, [nsg(properties={"copy": [
        {"name": "securityRules", "count": 5000, "input": {"name": "r"}}]})]))
    assert e.resource == "n" and e.property == "properties.copy[0].count"


def test_variable_copy_count_is_bounded(tmp_path: Path) -> None:
    e = error_of(template(tmp_path, [nsg(properties={"x": "[variables('many')]"})],
                          variables={"copy": [{"name": "many", "count": 801, "input": 1}]}))
    assert e.property == "variables.copy[0].count" and "800" in e.message


@pytest.mark.parametrize(("expression", "what"), [
    ("[range(0, 100000000)]", "range()"),
    ("[padLeft('x', 1000000000, '0')]", "padLeft()"),
    ("[format('{0:D1000000000}', 1)]", "format specifier"),
    ("[replace(padLeft('', 4000000, 'a'), 'a', 'bbbbbbbb')]", "replace()"),
])
def test_size_chosen_by_an_argument_is_refused_before_building(tmp_path: Path, expression: str,
                                                               what: str) -> None:
    e = error_of(template(tmp_path, [nsg(properties={"p": expression})]))
    assert (e.resource, e.property) == ("n", "properties.p")
    assert "evaluation budget exceeded" in e.message and what in e.message


def test_doubling_concat_chain_stops(tmp_path: Path) -> None:
    """v0 = 'xx', v(n) = concat(v(n-1), v(n-1)): 2**40 characters if nothing stops it."""
    variables = {"v0": "xxxxxxxxxxxxxxxx"}
    for n in range(1, 41):
        variables[f"v{n}"] = f"[concat(variables('v{n - 1}'), variables('v{n - 1}'))]"
    e = error_of(template(tmp_path, [nsg(properties={"p": "[variables('v40')]"})],
                          variables=variables))
    assert "concat()" in e.message and e.resource == "n"


def test_doubling_array_chain_stops(tmp_path: Path) -> None:
    """Arrays sharing their halves stay small in memory but not when written out."""
    variables: dict[str, Any] = {"a0": [1, 2, 3, 4]}
    for n in range(1, 61):
        variables[f"a{n}"] = f"[createArray(variables('a{n - 1}'), variables('a{n - 1}'))]"
    e = error_of(template(tmp_path, [nsg(properties={"p": "[variables('a60')]"})],
                          variables=variables))
    assert "createArray()" in e.message


def test_exponential_user_functions_exhaust_the_work_budget(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    """2**40 calls; the budget is lowered so the test stays quick (the mechanism is the same)."""
    monkeypatch.setattr(limits, "MAX_WORK", 50_000)
    members = {"f0": {"parameters": [{"name": "x", "type": "int"}],
                      "output": {"type": "int", "value": "[parameters('x')]"}}}
    for n in range(1, 40):
        members[f"f{n}"] = {"parameters": [{"name": "x", "type": "int"}], "output": {
            "type": "int", "value": f"[add(u.f{n - 1}(parameters('x')), "
                                    f"u.f{n - 1}(parameters('x')))]"}}
    e = error_of(template(tmp_path, [nsg(properties={"p": "[u.f39(1)]"})],
                          functions=[{"namespace": "u", "members": members}]))
    assert "more than 50,000 evaluation steps" in e.message and e.resource == "n"


def test_set_operations_on_large_arrays(tmp_path: Path) -> None:
    big = "range(0, 20000)"
    path = template(tmp_path, [nsg(properties={
        "u": f"[length(union({big}, range(10000, 20000)))]",
        "i": f"[length(intersection({big}, range(19990, 100)))]",
        "same": "[union(createArray(1, true(), '1'), createArray(true(), 1))]",
        "both": "[intersection(createArray(1, true(), 'x'), createArray('x', true()))]"})])
    props = evaluate_template(path).resources[0]["properties"]
    assert props["u"] == 30000 and props["i"] == 10
    assert props["same"] == [1, True, "1"] and props["both"] == [True, "x"]


@pytest.mark.parametrize(("expression", "value"), [
    ("[div(9007199254740993, 1)]", 9007199254740993),      # 2**53 + 1: exact, no float
    ("[div(-7, 2)]", -3), ("[div(7, -2)]", -3), ("[mod(-7, 2)]", -1),
    ("[div(9223372036854775807, 3)]", 3074457345618258602),
])
def test_integer_div_is_exact(tmp_path: Path, expression: str, value: int) -> None:
    path = template(tmp_path, [nsg(properties={"p": expression})])
    assert evaluate_template(path).resources[0]["properties"]["p"] == value


@pytest.mark.parametrize(("expression", "message"), [
    ("[div(1, 0)]", "div() by zero"),
    ("[div(-9223372036854775808, -1)]", "64-bit range"),
    ("[mul(9223372036854775807, 2)]", "64-bit range"),
    ("[add(9223372036854775807, 1)]", "64-bit range"),
    ("[add(1, 99999999999999999999999)]", "integer literal outside the 64-bit range"),
    ("[base64ToString('not base64!')]", "base64ToString() cannot decode"),
    ("[base64ToString('//79')]", "base64ToString() cannot decode"),
    ("[json('[99999999999999999999999]')]", "64-bit range"),
    ("[int('99999999999999999999999')]", "int() cannot convert"),
])
def test_numeric_and_decoding_failures_are_one_line(tmp_path: Path, expression: str,
                                                    message: str) -> None:
    e = error_of(template(tmp_path, [nsg(properties={"p": expression})]))
    assert message in e.message and (e.resource, e.property) == ("n", "properties.p")


def test_json_integer_of_5000_digits_in_the_template(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"$schema": SCHEMA, "resources": [], "variables": {"x": 0}})
                    .replace('"x": 0', '"x": ' + "7" * 5000))
    e = error_of(path)
    assert e.file == str(path) and "outside the 64-bit range" in e.message


@pytest.mark.parametrize(("section", "count", "limit"), [
    ("parameters", 257, 256), ("variables", 257, 256), ("outputs", 65, 64)])
def test_section_counts(tmp_path: Path, section: str, count: int, limit: int) -> None:
    entry = {"parameters": {"type": "int", "defaultValue": 1}, "variables": 1,
             "outputs": {"type": "int", "value": 1}}[section]
    ok = template(tmp_path, **{section: {f"x{i}": entry for i in range(limit)}})
    evaluate_template(ok)
    e = error_of(template(tmp_path, **{section: {f"x{i}": entry for i in range(count)}}))
    assert e.property == section and f"{count} {section} (at most {limit})" in e.message


def test_expression_length_limit(tmp_path: Path) -> None:
    text = "[concat('" + "a" * MAX_EXPRESSION_CHARS + "')]"
    e = error_of(template(tmp_path, [nsg(properties={"p": text})]))
    assert "24,576" in e.message and e.property == "properties.p"


def test_expression_nesting_is_bounded(tmp_path: Path) -> None:
    text = "[" + "concat(" * 200 + "'a'" + ")" * 200 + "]"
    e = error_of(template(tmp_path, [nsg(properties={"p": text})]))
    assert "nested more than" in e.message and e.property == "properties.p"


def test_resource_definition_over_1_mb(tmp_path: Path) -> None:
    e = error_of(template(tmp_path, [nsg(properties={
        "p": "[padLeft('', 1100000, 'x')]"})]))
    assert "1,048,576" in e.message and e.resource == "n"


def test_template_file_over_4_mb(tmp_path: Path) -> None:
    path = template(tmp_path, [nsg(properties={"p": "x" * (4 * 1024 * 1024)})])
    e = error_of(path)
    assert e.file == str(path) and "larger than 4,194,304 bytes" in e.message


def test_values_up_to_the_budget_still_work(tmp_path: Path) -> None:
    path = template(tmp_path, [nsg(properties={
        "p": f"[length(padLeft('', {MAX_VALUE_UNITS // 8}, 'x'))]"})])
    assert evaluate_template(path).resources[0]["properties"]["p"] == MAX_VALUE_UNITS // 8


def test_deployments_nested_too_deep(tmp_path: Path) -> None:
    inner: dict[str, Any] = {"$schema": SCHEMA, "resources": []}
    for n in range(20):
        inner = {"$schema": SCHEMA, "resources": [
            {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01",
             "name": f"d{n}", "properties": {"mode": "Incremental", "template": inner}}]}
    path = tmp_path / "deep.json"
    path.write_text(json.dumps(inner))
    e = error_of(path)
    assert "nested more than 16 deep" in e.message and e.resource is not None


def test_public_templates_need_under_one_percent_of_the_work_budget(
        real_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The budget is generous: every public template evaluates within 1% of it."""
    monkeypatch.setattr(limits, "MAX_WORK", limits.MAX_WORK // 100)
    for path in sorted((real_dir / "arm").glob("*.json")):
        if path.name.endswith(".parameters.json") or path.name.startswith("restapispec"):
            continue
        try:
            evaluate_template(path, unsupported="skip", stand_in_parameters=True)
        except InputError as error:
            assert "budget" not in error.message and "limit" not in error.message, path.name
