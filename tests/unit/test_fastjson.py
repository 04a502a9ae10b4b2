"""The fast JSON path gives exactly what the standard parser gives, or leaves the document to it."""

from __future__ import annotations

import datetime
import enum
import json
import math
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.engine.batch import parse_strict
from schemas.codec import InvalidEvent
from schemas.fastjson import compact, dumps, has_long_digits, loads

EDGES = [
    b'"\\ud800"', b'"\\udc00x"', b'"\\ud83d\\ude00"', b"1e400", b"-1e400", b"1e-400",
    str(2**70).encode(), str(-(2**64)).encode(), str(2**64 - 1).encode(), b"[9223372036854775808]",
    b'"a\tb"', b'{"a":1,"a":2}', b"\xef\xbb\xbf{}", b"NaN", b"Infinity", b"[1,]", b'{"a":1} x',
    b'"\\u0000"', b"1.0000000000000002", b"123456789012345678901234567890.5", b'"\xff"',
    b'"\xed\xa0\x80"', b"-0", b"-0.0", b"[" * 1100 + b"]" * 1100, b"4.9e-324", b'{"id":"1234567890123456789"}',
]


def outcome(parse: Any, raw: bytes) -> tuple[str, Any]:
    try:
        value = parse(raw)
    except (ValueError, RecursionError) as exc:
        return "refused", type(exc).__name__
    return "parsed", json.dumps(value, allow_nan=True)  # keeps int vs float, -0.0, and NaN apart


@pytest.mark.parametrize("raw", EDGES, ids=[ascii(r[:24]) for r in EDGES])
def test_edge_documents_parse_as_the_standard_parser_parses_them(raw: bytes) -> None:
    assert outcome(lambda b: loads(b, json.loads), raw) == outcome(json.loads, raw)


def test_integers_beyond_64_bits_stay_integers() -> None:
    assert loads(b'{"n": 123456789012345678901234567890}', json.loads) == {"n": 123456789012345678901234567890}


@given(st.binary(max_size=80) | st.text(alphabet="0123456789a.-٣", max_size=80).map(str.encode))
def test_long_digit_runs_are_found_as_a_regular_expression_finds_them(raw: bytes) -> None:
    assert has_long_digits(raw) == (re.search(rb"[0-9]{19}", raw) is not None)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


@given(json_values, st.booleans())
def test_any_document_parses_as_the_standard_parser_parses_it(value: Any, ascii_only: bool) -> None:
    raw = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    assert outcome(lambda b: loads(b, json.loads), raw) == outcome(json.loads, raw)


def test_the_strict_parse_still_refuses_what_cannot_be_stored() -> None:
    """The cases orjson refuses or cannot tell (overflow, NaN, NUL, lone surrogates) keep their reasons."""
    cases = (
        (b'{"a": 1e400}', "bad_envelope", "numbers must be finite"),
        (b'{"a": NaN}', "bad_json", "NaN is not a JSON number"),
        (b'{"data": {"a": "\\u0000"}}', "schema_violation", "U+0000 (NUL) is not allowed in a string"),
        (b'{"a": "\\ud800"}', "bad_envelope", "a lone UTF-16 surrogate is not allowed in a string"),
    )
    for raw, kind, message in cases:
        with pytest.raises(InvalidEvent) as caught:
            parse_strict(raw)
        assert caught.value.kind == kind
        assert message in caught.value.problems[0].message
    assert math.isclose(parse_strict(b'{"a": 1.5}')["a"], 1.5)


@given(json_values)
def test_documents_are_written_as_the_standard_library_writes_them(value: Any) -> None:
    assert json.loads(dumps(value)) == json.loads(json.dumps(value))


class Colour(enum.StrEnum):
    RED = "red"


@pytest.mark.parametrize("value", [{"n": 2**70}, {1: "a", None: "b"}, {"x": [1, {"y": 2**65}]}])
def test_what_orjson_refuses_is_written_by_the_standard_library(value: Any) -> None:
    assert dumps(value) == json.dumps(value)


def test_string_enums_are_written_as_their_values() -> None:
    assert json.loads(dumps({"c": Colour.RED, "l": [Colour.RED]})) == {"c": "red", "l": ["red"]}


def test_what_the_standard_library_refuses_is_still_refused() -> None:
    with pytest.raises(TypeError):
        dumps({"d": datetime.date(2021, 6, 30)})


def standard_compact(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


every_text = st.text(st.characters(codec="utf-8") | st.sampled_from("\x00\x1f\x7f\u2028\u2029\ufeff\"\\/é😀"))
events_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False) | every_text,
    lambda inner: st.lists(inner, max_size=5) | st.tuples(inner) | st.dictionaries(every_text, inner, max_size=5),
    max_leaves=30,
)


@given(events_values)
def test_compact_writes_the_bytes_of_the_standard_library(value: Any) -> None:
    assert compact(value) == standard_compact(value)


@pytest.mark.parametrize("value", [
    {"a": 1e-05}, {"a": [2.5e-7, {"b": -1e-10}]}, {"a": 1e16}, {"a": 0.1}, {"a": math.nan}, {"a": math.inf},
    {"n": 2**70}, {1: "a", None: "b", 2.5: "c"}, {"c": Colour.RED}, {"t": ("x", 1)}, {"s": "\x00\x01\x7f\u2028"},
])
def test_compact_edges_are_written_as_the_standard_library_writes_them(value: Any) -> None:
    assert compact(value) == standard_compact(value)


def test_compact_refuses_what_the_standard_library_refuses() -> None:
    with pytest.raises(UnicodeEncodeError):
        compact({"a": "\ud800"})
    with pytest.raises(TypeError):
        compact({"d": datetime.date(2021, 6, 30)})
