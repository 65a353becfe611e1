"""The regex blanking of comments and trailing commas (load/jsonfile.py) equals the per-character
scanner it replaced (kept below as the oracle) on random JSON-with-comments text, including
escapes, comment markers inside strings, unterminated strings and comments, and exact error
positions."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataplane.errors import InputError
from dataplane.load.jsonfile import _blank_comments_and_trailing_commas, _position, read_json_text


def _old_blanking(text: str, source: str) -> str:
    """The per-character scanner load/jsonfile.py used before (the oracle)."""
    out = list(text)
    i, n = 0, len(text)
    last_comma = -1
    while i < n:
        ch = text[i]
        if ch == '"':
            last_comma = -1
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
            continue
        if ch == "/" and i + 1 < n and text[i + 1] == "/":
            while i < n and text[i] != "\n":
                out[i] = " "
                i += 1
            continue
        if ch == "/" and i + 1 < n and text[i + 1] == "*":
            end = text.find("*/", i + 2)
            if end < 0:
                raise InputError(
                    f"malformed JSON at line {_position(text, i)}: unterminated comment",
                    file=source)
            for j in range(i, end + 2):
                if out[j] != "\n":
                    out[j] = " "
            i = end + 2
            continue
        if ch == ",":
            last_comma = i
        elif ch in "]}":
            if last_comma >= 0:
                out[last_comma] = " "
            last_comma = -1
        elif not ch.isspace():
            last_comma = -1
        i += 1
    return "".join(out)


def _outcome(fn, text: str) -> tuple[str, str]:
    try:
        return "ok", fn(text, "t.json")
    except InputError as exc:
        return "error", str(exc)


# Pieces that matter to the scanner, glued at random: quotes, escapes, comment markers, commas,
# closers, whitespace of every kind (Unicode spaces included), newlines, plain text.
PIECES = ['"', "\\", '\\"', "\\\\", "/", "//", "/*", "*/", "*", ",", "]", "}", "[", "{", " ",
          "\t", "\n", "\r\n", "\u00a0", "\u2028", "\x1c", "\x0b", "a", "1", ":", "https://x",
          '"s"', "é"]
texts = st.lists(st.sampled_from(PIECES) | st.text(max_size=3), max_size=60).map("".join)


@settings(max_examples=400)
@given(texts)
def test_regex_blanking_equals_the_old_scanner_on_random_text(text: str) -> None:
    assert _outcome(_blank_comments_and_trailing_commas, text) == _outcome(_old_blanking, text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-99, 99)
    | st.text(alphabet=st.sampled_from(['"', "\\", "/", "*", ",", "]", "a", "\n", " ", "}"]),
              max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                                  max_size=4),
    max_leaves=15)
comments = st.sampled_from(["", " ", "// c, ]\n", "/* a,\n } */", "/**/", "\n//\n"])


def _with_comments(value: object, draw) -> str:
    """`value` as JSON with comments and trailing commas between tokens."""
    if isinstance(value, list):
        items = [draw(comments) + _with_comments(v, draw) + draw(comments) for v in value]
        tail = "," + draw(comments) if value and draw(st.booleans()) else ""
        return "[" + ",".join(items) + tail + "]"
    if isinstance(value, dict):
        items = [draw(comments) + json.dumps(k) + draw(comments) + ":" + draw(comments)
                 + _with_comments(v, draw) for k, v in value.items()]
        tail = "," + draw(comments) if value and draw(st.booleans()) else ""
        return "{" + ",".join(items) + tail + "}"
    return json.dumps(value)


@settings(max_examples=200)
@given(json_values, st.data())
def test_json_with_comments_reads_back_and_blanks_as_before(value: object, data) -> None:
    text = _with_comments(value, data.draw)
    assert _blank_comments_and_trailing_commas(text, "t") == _old_blanking(text, "t")
    assert read_json_text(text, "t") == value


@pytest.mark.parametrize("text, where", [
    ('{"a": 1 /* never closed', "line 1:9"),
    ('{"a": "x/*y",\n  /* open', "line 2:3"),
    ('{\n  "b": [1, 2,],\n  "c" 3\n}', "line 3:7"),      # after a blanked trailing comma
    ('{/* c\n */ "a": 1,\n "b": }', "line 3:7"),          # after a blanked two-line comment
])
def test_error_positions_point_into_the_users_file(text: str, where: str) -> None:
    with pytest.raises(InputError, match=where):
        read_json_text(text, "x.json")
