"""The expression parser: grammar, escaping, syntax errors, and render/parse round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataplane.errors import InputError
from dataplane.load.arm.expressions import (
    Call,
    Index,
    Literal,
    Member,
    is_expression,
    literal_text,
    parse,
    render,
)


def test_calls_members_and_indexes() -> None:
    node = parse("[reference(variables('fw')).ipConfigurations[0].properties['privateIPAddress']]")
    assert isinstance(node, Index)
    assert node.index == Literal("privateIPAddress")
    assert isinstance(node.base, Member) and node.base.name == "properties"
    inner = node.base.base
    assert isinstance(inner, Index) and inner.index == Literal(0)
    call = inner.base.base
    assert call == Call("reference", (Call("variables", (Literal("fw"),)),))


def test_literals() -> None:
    assert parse("[concat('it''s', -3, 42)]") == Call(
        "concat", (Literal("it's"), Literal(-3), Literal(42)))
    assert parse("[ first( split( 'a,b' , ',' ) ) ]") == Call(
        "first", (Call("split", (Literal("a,b"), Literal(","))),))
    assert parse("[ns.fn()]") == Call("ns.fn", ())


def test_expression_detection_and_escape() -> None:
    assert is_expression("[x()]")
    assert not is_expression("[[x()]")
    assert not is_expression("plain")
    assert literal_text("[[not an expression]") == "[not an expression]"
    assert literal_text("plain [text]") == "plain [text]"


@pytest.mark.parametrize("text", ["[concat('a']", "[concat('a',)]", "[]", "[a b]", "['x' 'y']",
                                  "[foo(]", "[concat(#)]", "['unterminated)]", "[x().]"])
def test_syntax_errors_are_input_errors(text: str) -> None:
    with pytest.raises(InputError, match="invalid template expression"):
        parse(text)


names = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,6}", fullmatch=True)
leaves = st.builds(Literal, st.text(max_size=10)) | st.builds(Literal, st.integers(-999, 999))


def _trees(children: st.SearchStrategy) -> st.SearchStrategy:
    return (st.builds(Call, names, st.lists(children, max_size=3).map(tuple))
            | st.builds(Member, st.builds(Call, names, st.just(())), names)
            | st.builds(Index, st.builds(Call, names, st.just(())), children))


trees = st.recursive(st.builds(Call, names, st.lists(leaves, max_size=3).map(tuple)),
                     lambda c: _trees(c | leaves), max_leaves=12)


@given(trees)
def test_render_then_parse_is_identity(node) -> None:
    assert parse(f"[{render(node)}]") == node


@given(st.text(max_size=30))
def test_any_string_literal_round_trips(text: str) -> None:
    quoted = "'" + text.replace("'", "''") + "'"
    assert parse(f"[{quoted}]") == Literal(text)
