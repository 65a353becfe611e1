"""Lenient JSON reading: comments, trailing commas, control characters, precise errors."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataplane.errors import InputError
from dataplane.load.jsonfile import read_json, read_json_text


def test_comments_trailing_commas_and_raw_newlines() -> None:
    text = '{\n  // line comment\n  "a": [1, 2, ],  /* block\n comment */\n  "s": "two\nlines\tand tab",\n}\n'
    assert read_json_text(text, "t.json") == {"a": [1, 2], "s": "two\nlines\tand tab"}


def test_comment_markers_inside_strings_are_text() -> None:
    assert read_json_text('{"u": "https://x//y /* z */", "c": ",]"}', "t") == {
        "u": "https://x//y /* z */", "c": ",]"}


def test_byte_order_mark(tmp_path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes("\ufeff{\"a\": 1}".encode())
    assert read_json(path) == {"a": 1}


def test_malformed_names_file_line_and_column(tmp_path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "a": 1,\n  "b" 2\n}\n')
    with pytest.raises(InputError) as err:
        read_json(path)
    assert err.value.file == str(path)
    assert "line 3:7" in str(err.value)


def test_error_position_survives_removed_comments() -> None:
    with pytest.raises(InputError, match="line 2:"):
        read_json_text('{/* c */ "a": 1,\n "b": }', "x.json")


def test_missing_file_and_unterminated_comment(tmp_path) -> None:
    with pytest.raises(InputError, match="file not found"):
        read_json(tmp_path / "nope.json")
    with pytest.raises(InputError, match="unterminated comment"):
        read_json_text('{"a": 1 /* never closed', "x.json")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_strict_json_reads_back_unchanged(value: object) -> None:
    assert read_json_text(json.dumps(value), "h") == value
    assert read_json_text(json.dumps(value, indent=2), "h") == value


@pytest.mark.parametrize("literal", ["9" * 5000, str(2**63), str(-(2**63) - 1)])
def test_integers_beyond_64_bits_are_an_input_error(literal: str) -> None:
    """A 5,000-digit integer (issue 10) used to escape as Python's ValueError."""
    with pytest.raises(InputError, match="outside the 64-bit range") as err:
        read_json_text(f'{{"priority": {literal}}}', "big.json")
    assert err.value.file == "big.json" and len(err.value.one_line()) < 200


def test_64_bit_extremes_still_read() -> None:
    assert read_json_text(f"[{2**63 - 1}, {-(2**63)}]", "x") == [2**63 - 1, -(2**63)]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_are_an_input_error(literal: str) -> None:
    with pytest.raises(InputError, match="not a JSON number"):
        read_json_text(f'{{"priority": {literal}}}', "f.json")
