"""Where a member's value lies in a JSON text: its exact bytes, as a signature covers them (pure).

A signed CloudEvent's `data` is hashed as the bytes it is carried as (`schemas.signatures`): in JSON
structured mode, the text of the `data` member from its first character to its last. These functions
find that text in an event, or in each event of a batch (a JSON array), with the standard library's
own parser (`json.JSONDecoder.raw_decode`), so they read a document exactly as `json.loads` does
(the last of repeated members wins). Malformed JSON gives None, never an exception.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

WHITESPACE = " \t\n\r"
_DECODER = json.JSONDecoder()


def _skip(text: str, at: int) -> int:
    while at < len(text) and text[at] in WHITESPACE:
        at += 1
    return at


def _values(text: str, at: int, close: str, keyed: bool) -> Iterator[tuple[str | None, int, int]]:
    """(key or None, start, end) of each value of the object or array whose opening bracket is at `at`."""
    at = _skip(text, at + 1)
    if at < len(text) and text[at] == close:
        return
    while True:
        key = None
        if keyed:
            key, at = _DECODER.raw_decode(text, at)
            at = _skip(text, at)
            if not isinstance(key, str) or text[at:at + 1] != ":":
                raise ValueError("not an object member")
            at = _skip(text, at + 1)
        _, end = _DECODER.raw_decode(text, at)
        yield key, at, end
        at = _skip(text, end)
        if text[at:at + 1] == close:
            return
        if text[at:at + 1] != ",":
            raise ValueError("expected , or a closing bracket")
        at = _skip(text, at + 1)


def _member(text: str, at: int, name: str) -> tuple[int, int] | None:
    """The span of the last member `name` of the object at `at` (None if it has none)."""
    found = None
    for key, start, end in _values(text, at, "}", keyed=True):
        if key == name:
            found = (start, end)
    return found


def member_text(raw: bytes, name: str) -> bytes | None:
    """The exact bytes of the value of the top-level object's member `name`, or None (absent, or not
    a JSON object)."""
    try:
        text = raw.decode("utf-8")
        at = _skip(text, 0)
        if text[at:at + 1] != "{":
            return None
        span = _member(text, at, name)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return None if span is None else text[span[0]:span[1]].encode("utf-8")


def element_member_texts(raw: bytes, name: str) -> list[bytes | None] | None:
    """For a JSON array of objects (a batch of events), the exact bytes of each element's member
    `name` (None for an element without it); None if `raw` is not such an array."""
    try:
        text = raw.decode("utf-8")
        at = _skip(text, 0)
        if text[at:at + 1] != "[":
            return None
        out = []
        for _, start, _end in _values(text, at, "]", keyed=False):
            span = _member(text, start, name) if text[start] == "{" else None
            out.append(None if span is None else text[span[0]:span[1]].encode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return out


def strip(raw: bytes) -> bytes:
    """`raw` without JSON whitespace around it (a JSON value's own text)."""
    return raw.strip(WHITESPACE.encode())
