"""Lenient JSON reading, as Azure Resource Manager accepts it.

Expects: a path (or text plus the name of its source). Accepts what ARM's parser accepts beyond
strict JSON: raw control characters (newlines, tabs) inside strings, `//` and `/* */` comments,
trailing commas before `]` or `}`, and a UTF-8 byte-order mark. Comments: "Understand the
structure and syntax of ARM templates", https://learn.microsoft.com/azure/azure-resource-manager/
templates/syntax, "Comments". Assumption json-trailing-commas: that page is silent on trailing
commas; they are accepted (a comma followed only by whitespace and comments before `]`/`}`).
Emits: the plain Python value (dict, list, str, int, float, bool, None).
Integers are 64-bit signed, as ARM's evaluator holds them (the bound is the project's choice,
dataplane/load/arm/limits.py): a longer integer literal (say 5,000 digits) is an InputError,
never Python's own "exceeds the limit" ValueError.
Raises: InputError naming the file and `line:column` for malformed text or an unreadable file,
or a file larger than `max_bytes`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from dataplane.errors import InputError

INT64_DIGITS = 19


def parse_json_int(text: str) -> int:
    """json's parse_int hook: a 64-bit integer, or InputError (never a 5,000-digit int)."""
    digits = text.lstrip("-")
    value = int(text) if len(digits) <= INT64_DIGITS else None
    if value is None or not -(2**63) <= value < 2**63:
        shown = text if len(text) <= 24 else f"{text[:12]}...({len(digits)} digits)"
        raise _IntegerOutOfRange(shown)
    return value


class _IntegerOutOfRange(ValueError):
    pass


class _NotFinite(ValueError):
    pass


def _finite_float(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise _NotFinite(text[:24])
    return value


def _no_constant(text: str) -> float:
    raise _NotFinite(text)


def read_json(path: str | Path, max_bytes: int | None = None) -> object:
    """Read and parse one JSON file leniently; InputError when it cannot be read or parsed.

    `max_bytes`: refuse a larger file (InputError naming the size) before reading it."""
    try:
        if max_bytes is not None and Path(path).stat().st_size > max_bytes:
            raise InputError(f"file is larger than {max_bytes:,} bytes (template limit)",
                             file=str(path))
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError("file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read file: {exc}", file=str(path)) from None
    return read_json_text(text, str(path))


def read_json_text(text: str, source: str) -> object:
    """Parse JSON text leniently; `source` names it in errors (a file name or '<stdin>')."""
    if text.startswith("\ufeff"):
        text = text[1:]
    cleaned = _blank_comments_and_trailing_commas(text, source)
    try:
        # strict=False lets raw control characters through inside strings, as ARM does.
        return json.loads(cleaned, strict=False, parse_int=parse_json_int,
                          parse_float=_finite_float, parse_constant=_no_constant)
    except _IntegerOutOfRange as exc:
        raise InputError(f"integer {exc} is outside the 64-bit range", file=source) from None
    except _NotFinite as exc:
        raise InputError(f"{exc} is not a JSON number (NaN and infinities are not allowed)",
                         file=source) from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"malformed JSON at line {exc.lineno}:{exc.colno}: {exc.msg}", file=source
        ) from None
    except RecursionError:
        raise InputError("malformed JSON: nested too deeply", file=source) from None


def _position(text: str, index: int) -> str:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"{line}:{column}"


# One scan, left to right; everything but comments and trailing commas is skipped in long runs.
# A string runs to its closing quote (any character may be escaped, raw control characters
# included) or to the end of the text; `//` and `/*` inside it are text. A comma is trailing
# when only whitespace and comments stand between it and `]` or `}` (possessive and atomic:
# a comment, once read, is never re-read shorter, so a `]` inside it is not taken).
_STRING = r'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)'
_TRAILING = r"(?=(?:\s|//[^\n]*+|(?>/\*.*?\*/))*+[\]}])"
_TOKENS = re.compile(rf"""
    (?P<skip>(?:[^"/,]++|{_STRING}|,(?!{_TRAILING})|/(?![/*]))++)
  | (?P<line>//[^\n]*+)
  | (?P<block>/\*.*?\*/)
  | (?P<open>/\*)
  | (?P<comma>,)
""", re.VERBOSE | re.DOTALL)
_MAYBE_TRAILING = re.compile(r",\s*[\]}]")
_NOT_NEWLINE = re.compile(r"[^\n]")


def _blank_comments_and_trailing_commas(text: str, source: str) -> str:
    """The same text with comments and trailing commas replaced by spaces (newlines inside a
    block comment are kept), or InputError naming `line:column` of an unterminated `/*`.

    Replacing (not deleting) keeps every other character at its line and column, so the
    strict parser's error positions still point into the user's file. Linear in the text:
    one regular-expression scan; Python work only per comment and trailing comma.
    What ARM accepts: "Understand the structure and syntax of ARM templates",
    https://learn.microsoft.com/azure/azure-resource-manager/templates/syntax, "Comments":
    `//` and `/* */` comments. Trailing commas are not mentioned there; they are accepted
    (assumption json-trailing-commas in the module docstring).
    """
    if "/" not in text and _MAYBE_TRAILING.search(text) is None:
        return text  # no comment and no trailing comma can be present
    parts: list[str] = []
    done = 0
    for m in _TOKENS.finditer(text):
        kind = m.lastgroup
        if kind == "skip":
            continue
        if kind == "open":
            raise InputError(
                f"malformed JSON at line {_position(text, m.start())}: unterminated comment",
                file=source,
            )
        start, end = m.span()
        parts.append(text[done:start])
        parts.append(_NOT_NEWLINE.sub(" ", m.group()) if kind == "block" and "\n" in m.group()
                     else " " * (end - start))
        done = end
    parts.append(text[done:])
    return "".join(parts)
