"""JSON parsing of event payloads: orjson where it gives exactly what the standard library gives,
the standard parser otherwise.

orjson parses an event about five times faster than `json`. Where it accepts a document its result
equals `json.loads`'s, except integers beyond 64 bits, which it turns into floats: a document with
a run of 19 digits goes to the standard parser at once. Whatever orjson refuses (NaN, Infinity,
numbers that overflow, lone surrogates, a byte-order mark, invalid UTF-8, nesting deeper than
1,024) goes to the standard parser the caller names, which accepts or refuses it, with its own
message, as it always did.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

_LONG_DIGITS = re.compile(rb"\d{19}")


def loads(raw: bytes, standard: Callable[[bytes], Any]) -> Any:
    """`standard(raw)`'s result, parsed by orjson where that is the same."""
    if not _LONG_DIGITS.search(raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return standard(raw)
