"""Template functions, one by one, through the expression evaluator."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataplane.errors import InputError
from dataplane.load.arm.expressions import evaluate, parse
from dataplane.load.arm.functions import FunctionContext, Runtime

SUB = "11111111-2222-3333-4444-555555555555"
RG_ID = f"/subscriptions/{SUB}/resourceGroups/rg1"


class FakeScope:
    subscription_id = SUB
    resource_group_name = "rg1"

    def __init__(self) -> None:
        self.notes: list[str] = []

    def parameter(self, name: str) -> Any:
        return {"p": "value", "n": 3, "obj": {"Key": "v"}}[name]

    def variable(self, name: str) -> Any:
        return {"list": [1, 2, 3], "cfg": {"subnetPrefix": "10.0.0.0/24"}}[name]

    def reference(self, target: str, full: bool) -> Any:
        data = {"properties": {"ipAddress": None, "dnsSettings": {"domainNameLabel": "x"}}}
        return Runtime(data if full else data["properties"], f"reference('{target}')")

    def resource_group(self) -> dict[str, Any]:
        return {"id": RG_ID, "name": "rg1", "location": "westeurope"}

    def subscription(self) -> dict[str, Any]:
        return {"id": f"/subscriptions/{SUB}", "subscriptionId": SUB, "tenantId": "t"}

    def deployment(self) -> dict[str, Any]:
        return {"name": "dep", "properties": {}}

    def user_function(self, name: str, args: list[Any]) -> Any:
        raise InputError(f"unsupported template function '{name}'")

    def note(self, text: str) -> None:
        self.notes.append(text)


def ev(text: str, scope: FakeScope | None = None, loops: dict[str, int] | None = None) -> Any:
    ctx = FunctionContext(scope or FakeScope())
    for name, index in (loops or {}).items():
        ctx = ctx.with_loop(name, index, resource=name == "res")
    return ctx.plain(evaluate(parse(text), ctx))


@pytest.mark.parametrize(("expr", "expected"), [
    ("[parameters('p')]", "value"),
    ("[variables('cfg').subnetPrefix]", "10.0.0.0/24"),
    ("[variables('cfg').SUBNETPREFIX]", "10.0.0.0/24"),  # property names are case-insensitive
    ("[parameters('obj')['key']]", "v"),
    ("[concat('a', 1, 'b')]", "a1b"),
    ("[concat(createArray(1), createArray(2, 3))]", [1, 2, 3]),
    ("[format('{0}-{1}', 'a', 2)]", "a-2"),
    ("[format('{0:N0} {0:N2} {1:D3} {{x}}', 1234, 7)]", "1,234 1,234.00 007 {x}"),
    ("[equals('a', 'a')]", True),
    ("[equals(1, 2)]", False),
    ("[if(equals(1, 1), 'yes', 'no')]", "yes"),
    ("[not(true())]", False),
    ("[and(true(), false())]", False),
    ("[or(false(), true(), false())]", True),
    ("[greater(3, 2)]", True),
    ("[less('a', 'b')]", True),
    ("[greaterOrEquals(2, 2)]", True),
    ("[lessOrEquals(3, 2)]", False),
    ("[add(1, 2)]", 3),
    ("[sub(1, 2)]", -1),
    ("[mul(3, 4)]", 12),
    ("[div(-7, 2)]", -3),
    ("[mod(7, 3)]", 1),
    ("[min(3, 1, 2)]", 1),
    ("[max(createArray(3, 9, 2))]", 9),
    ("[length('abc')]", 3),
    ("[length(variables('list'))]", 3),
    ("[length(parameters('obj'))]", 1),
    ("[toLower('AbC')]", "abc"),
    ("[toUpper('AbC')]", "ABC"),
    ("[trim('  x ')]", "x"),
    ("[split('a,b;c', createArray(',', ';'))]", ["a", "b", "c"]),
    ("[first(split('10.0.0.1,10.0.0.2', ','))]", "10.0.0.1"),
    ("[last(variables('list'))]", 3),
    ("[first('xyz')]", "x"),
    ("[take(variables('list'), 2)]", [1, 2]),
    ("[skip('abcdef', 4)]", "ef"),
    ("[createObject('a', 1, 'b', createArray())]", {"a": 1, "b": []}),
    ("[json('{\"id\": \"x\"}').id]", "x"),
    ("[json('null')]", None),
    ("[string(3)]", "3"),
    ("[string(true())]", "True"),
    ("[string(createObject('a', 1))]", '{"a":1}'),
    ("[int('42')]", 42),
    ("[bool('true')]", True),
    ("[bool(0)]", False),
    ("[union(createObject('a', 1), createObject('b', 2))]", {"a": 1, "b": 2}),
    ("[union(createArray(1, 2), createArray(2, 3))]", [1, 2, 3]),
    ("[intersection(createArray(1, 2, 3), createArray(2, 3, 4))]", [2, 3]),
    ("[contains('abc', 'b')]", True),
    ("[contains(variables('list'), 4)]", False),
    ("[contains(parameters('obj'), 'KEY')]", True),
    ("[empty('')]", True),
    ("[empty(createArray(1))]", False),
    ("[empty(null())]", True),
    ("[replace('a-b-c', '-', '.')]", "a.b.c"),
    ("[substring('abcdef', 1, 3)]", "bcd"),
    ("[indexOf('abcABC', 'C')]", 2),
    ("[lastIndexOf('abcabc', 'b')]", 4),
    ("[startsWith('Microsoft.Network', 'microsoft')]", True),
    ("[endsWith('abc', 'BC')]", True),
    ("[padLeft(7, 3, '0')]", "007"),
    ("[range(2, 3)]", [2, 3, 4]),
    ("[array('x')]", ["x"]),
    ("[coalesce(null(), null(), 'c')]", "c"),
    ("[resourceGroup().location]", "westeurope"),
    ("[subscription().subscriptionId]", SUB),
    ("[deployment().name]", "dep"),
    ("[environment().suffixes.storage]", "core.windows.net"),
    ("[uri('https://a.b/c/', 'd.json')]", "https://a.b/c/d.json"),
    ("[utcNow()]", "20240101T000000Z"),
    ("[CONCAT('function names', ' are case-insensitive')]", "function names are case-insensitive"),
])
def test_function(expr: str, expected: Any) -> None:
    assert ev(expr) == expected


def test_resource_ids() -> None:
    net = "providers/Microsoft.Network"
    assert ev("[resourceId('Microsoft.Network/virtualNetworks', 'v1')]") == f"{RG_ID}/{net}/virtualNetworks/v1"
    assert ev("[resourceId('Microsoft.Network/virtualNetworks/subnets', 'v1', 's1')]") == (
        f"{RG_ID}/{net}/virtualNetworks/v1/subnets/s1")
    assert ev("[resourceId('Microsoft.Network/virtualNetworks/', 'v1')]").endswith("/virtualNetworks/v1")
    assert ev("[resourceId('other', 'Microsoft.Network/virtualNetworks', 'v1')]") == (
        f"/subscriptions/{SUB}/resourceGroups/other/{net}/virtualNetworks/v1")
    assert ev("[resourceId('s2', 'other', 'Microsoft.Network/virtualNetworks', 'v1')]") == (
        f"/subscriptions/s2/resourceGroups/other/{net}/virtualNetworks/v1")
    assert ev("[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'r')]") == (
        f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/r")
    assert ev("[tenantResourceId('Microsoft.Management/managementGroups', 'mg')]") == (
        "/providers/Microsoft.Management/managementGroups/mg")
    assert ev("[extensionResourceId('/x/y', 'Microsoft.Authorization/locks', 'l')]") == (
        "/x/y/providers/Microsoft.Authorization/locks/l")
    with pytest.raises(InputError, match="segment"):
        ev("[resourceId('Microsoft.Network/virtualNetworks/subnets', 'v1')]")


def test_copy_index() -> None:
    assert ev("[copyIndex()]", loops={"res": 2}) == 2
    assert ev("[copyIndex(1)]", loops={"res": 2}) == 3
    assert ev("[copyIndex('subnets', 10)]", loops={"res": 0, "subnets": 1}) == 11
    assert ev("[copyIndex()]", loops={"res": 4, "subnets": 1}) == 4  # the resource loop
    with pytest.raises(InputError, match="outside"):
        ev("[copyIndex()]")
    with pytest.raises(InputError, match="outside the copy loop 'x'"):
        ev("[copyIndex('x')]", loops={"res": 0})


def test_if_evaluates_only_the_chosen_branch() -> None:
    assert ev("[if(true(), 'ok', parameters('missing'))]") == "ok"


def test_unique_string_and_guid_are_deterministic() -> None:
    a = ev("[uniqueString(resourceGroup().id)]")
    assert a == ev("[uniqueString(resourceGroup().id)]")
    assert re.fullmatch(r"[a-z2-7]{13}", a)
    assert a != ev("[uniqueString(resourceGroup().id, 'x')]")
    g = ev("[guid(subscription().id, 'contributor')]")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", g)


def test_reference_runtime_values_become_placeholders() -> None:
    scope = FakeScope()
    assert ev("[reference('pip').dnsSettings.domainNameLabel]", scope) == "x"
    value = ev("[first(split(reference('pip').dnsSettings.fqdn, ','))]", scope)
    assert value == "<runtime: reference('pip').dnsSettings.fqdn>"
    assert scope.notes and "assigned by Azure" in scope.notes[0]


def test_unsupported_functions_are_named() -> None:
    with pytest.raises(InputError, match="unsupported template function 'listKeys'"):
        ev("[listKeys('x', '2020-01-01').primaryKey]")
    with pytest.raises(InputError, match="unsupported template function 'pickZones'"):
        ev("[pickZones('Microsoft.Compute', 'virtualMachines', 'westeurope')]")


@pytest.mark.parametrize("expr", ["[length(1)]", "[add('a', 1)]", "[not('maybe')]",
                                  "[substring('abc', 2, 5)]", "[int('x')]", "[format('{1}', 'a')]",
                                  "[concat('a', createArray())]", "[toLower()]",
                                  "[variables('cfg').missing]", "[div(1, 0)]"])
def test_bad_arguments_are_input_errors(expr: str) -> None:
    with pytest.raises(InputError):
        ev(expr)


@given(st.text(max_size=20), st.text(max_size=20))
def test_concat_of_escaped_literals(a: str, b: str) -> None:
    quote = lambda s: "'" + s.replace("'", "''") + "'"  # noqa: E731
    assert ev(f"[concat({quote(a)}, {quote(b)})]") == a + b


@given(st.lists(st.integers(-50, 50), min_size=1, max_size=6))
def test_min_max_match_python(values: list[int]) -> None:
    args = ", ".join(map(str, values))
    assert ev(f"[min({args})]") == min(values)
    assert ev(f"[max({args})]") == max(values)
