"""ARM template expressions: a sandboxed parser and evaluator (never Python eval).

Expects: a JSON string value. `"[...]"` is an expression; `"[[..."` is the literal text
`"[..."`; anything else is a literal string.
Grammar (ARM's): expr := primary ( '.' name | '[' expr ']' )*;
primary := 'string' (with '' for a quote) | integer | name '(' args ')' | ns '.' name '(' args ')'.
Emits: an AST (Literal, Call, Member, Index) and its value against an `EvalContext`, which
supplies the functions (see functions.py) and the template state they read.
Raises: InputError for syntax errors (with the column) and evaluation errors; the template
evaluator adds the file, resource and property. Bounds (limits.py): an expression longer than
Azure's 24,576 characters, an integer literal outside 64 bits, or calls nested deeper than
MAX_EXPRESSION_DEPTH are InputErrors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from dataplane.errors import InputError
from dataplane.load.arm.limits import (
    INT_MAX,
    INT_MIN,
    MAX_EXPRESSION_CHARS,
    MAX_EXPRESSION_DEPTH,
    azure_limit,
    budget_exceeded,
)


@dataclass(frozen=True)
class Literal:
    value: str | int


@dataclass(frozen=True)
class Call:
    name: str  # as written; "ns.fn" for a user-defined function
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Member:
    base: Node
    name: str


@dataclass(frozen=True)
class Index:
    base: Node
    index: Node


Node = Literal | Call | Member | Index


class EvalContext(Protocol):
    """What evaluation needs: function lookup and the hook that turns results into data."""

    def call(self, name: str, args: tuple[Node, ...]) -> Any: ...

    def member(self, base: Any, name: str | int) -> Any: ...


def is_expression(text: str) -> bool:
    return len(text) >= 2 and text[0] == "[" and text[-1] == "]" and text[1] != "["


def literal_text(text: str) -> str:
    """A non-expression JSON string's value: a leading '[[' stands for '['."""
    return text[1:] if text.startswith("[[") else text


_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+)|(?P<name>[A-Za-z_$][\w$]*)"
    r"|(?P<punct>[().,\[\]]))"
)


@lru_cache(maxsize=4096)
def parse(text: str) -> Node:
    """Parse an expression string including its outer brackets, e.g. "[concat('a', 'b')]"."""
    if not is_expression(text):
        raise InputError(f"not a template expression: {text!r}")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise azure_limit(f"an expression of {len(text):,} characters (at most "
                          f"{MAX_EXPRESSION_CHARS:,})")
    return _Parser(text[1:-1]).parse_all()


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(source):
            if source[pos:].strip() == "":
                break
            match = _TOKEN.match(source, pos)
            if not match or match.end() == pos:
                raise self.error("unexpected character", pos)
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind), match.start(kind)))
            pos = match.end()
        self.i = 0
        self.depth = 0

    def error(self, message: str, pos: int | None = None) -> InputError:
        if pos is None:
            pos = self.tokens[self.i][2] if self.i < len(self.tokens) else len(self.source)
        return InputError(
            f"invalid template expression '[{self.source}]': {message} at column {pos + 2}"
        )

    def peek(self, value: str | None = None, kind: str | None = None) -> bool:
        if self.i >= len(self.tokens):
            return False
        k, v, _ = self.tokens[self.i]
        return (value is None or v == value) and (kind is None or k == kind)

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        if not self.peek(value, kind):
            raise self.error(f"expected {value or kind}")
        self.i += 1
        return self.tokens[self.i - 1][1]

    def parse_all(self) -> Node:
        if not self.tokens:
            raise self.error("empty expression")
        node = self.expression()
        if self.i != len(self.tokens):
            raise self.error("unexpected text")
        return node

    def expression(self) -> Node:
        node = self.primary()
        while True:
            if self.peek("."):
                self.i += 1
                node = Member(node, self.take(kind="name"))
            elif self.peek("["):
                self.i += 1
                node = Index(node, self.expression())
                self.take("]")
            else:
                return node

    def primary(self) -> Node:
        if self.peek(kind="string"):
            return Literal(self.take()[1:-1].replace("''", "'"))
        if self.peek(kind="number"):
            digits = self.take()
            value = int(digits) if len(digits.lstrip("-")) <= 19 else None
            if value is None or not INT_MIN <= value <= INT_MAX:
                raise self.error("integer literal outside the 64-bit range", self.tokens[
                    self.i - 1][2])
            return Literal(value)
        name = self.take(kind="name")
        if self.peek("."):  # user-defined function: namespace.function(...)
            self.i += 1
            name = f"{name}.{self.take(kind='name')}"
        self.take("(")
        self.depth += 1
        if self.depth > MAX_EXPRESSION_DEPTH:
            raise budget_exceeded(f"function calls nested more than {MAX_EXPRESSION_DEPTH} "
                                  "deep")
        args: list[Node] = []
        if not self.peek(")"):
            args.append(self.expression())
            while self.peek(","):
                self.i += 1
                args.append(self.expression())
        self.take(")")
        self.depth -= 1
        return Call(name, tuple(args))


def evaluate(node: Node, ctx: EvalContext) -> Any:
    """The value of `node`; function calls and member access go through `ctx`."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Call):
        return ctx.call(node.name, node.args)
    if isinstance(node, Member):
        return ctx.member(evaluate(node.base, ctx), node.name)
    index = evaluate(node.index, ctx)
    return ctx.member(evaluate(node.base, ctx), index)


def lookup(base: Any, key: str | int) -> Any:
    """ARM member access on plain data: object keys match case-insensitively, arrays by int."""
    if isinstance(base, Mapping):
        if not isinstance(key, str):
            raise InputError(f"cannot index an object with {key!r}")
        if key in base:
            return base[key]
        folded = key.lower()
        for k, v in base.items():
            if k.lower() == folded:
                return v
        raise InputError(
            f"the object has no property '{key}' (it has: {', '.join(base) or 'none'})"
        )
    if isinstance(base, list | str):
        if isinstance(key, bool) or not isinstance(key, int):
            raise InputError(f"cannot index an array with {key!r}")
        if not 0 <= key < len(base):
            raise InputError(f"index {key} is out of range (length {len(base)})")
        return base[key]
    raise InputError(f"cannot read '{key}' of {type_name(base)} value {base!r}")


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def render(node: Node) -> str:
    """The expression text of `node` (without outer brackets); parse(f'[{render(n)}]') == n."""
    if isinstance(node, Literal):
        if isinstance(node.value, int):
            return str(node.value)
        return "'" + node.value.replace("'", "''") + "'"
    if isinstance(node, Call):
        return f"{node.name}({', '.join(render(a) for a in node.args)})"
    if isinstance(node, Member):
        return f"{render(node.base)}.{node.name}"
    return f"{render(node.base)}[{render(node.index)}]"

