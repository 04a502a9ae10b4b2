"""Numbers and dates read from query parameters and headers, within the ranges the system can hold:
anything else is a 400 `bad_request` naming the parameter, never an overflow further in."""

from __future__ import annotations

from fastapi.exceptions import RequestValidationError

MAX_SEQUENCE = 2**63 - 1
"""Largest stream sequence a query can name (PostgreSQL `bigint`, where sequences are kept)."""
MAX_NATS_SEQUENCE = 2**64 - 1
"""Largest JetStream sequence (`uint64`)."""
HUGE = 10**19
"""Stands for any declared length of more than 19 digits (over every limit of ours)."""


def bad_query(field: str, message: str, where: str | None = "query") -> RequestValidationError:
    """A 400 `{"error": "bad_request", "problems": [{"path": "<where>.<field>", "message": ...}]}`
    (the path is the field alone without `where`, as for a header)."""
    loc = (where, field) if where else (field,)
    return RequestValidationError([{"loc": loc, "msg": message, "type": "value_error"}])


def declared_length(value: str | None) -> int | None:
    """A `Content-Length` as a number (HUGE for one too long to be real), or None if it is not one."""
    if not value or not value.isascii() or not value.isdigit():
        return None
    return HUGE if len(value) > 19 else int(value)


def sequence_header(name: str, value: str | None) -> int | None:
    """A header holding a JetStream sequence (0 … 2^64 − 1; 0: nothing stored yet), or None if absent;
    a 400 naming the header otherwise."""
    if value is None:
        return None
    text = value.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 20 and int(text) <= MAX_NATS_SEQUENCE):
        raise bad_query(name, f"must be a stream sequence, 0 to {MAX_NATS_SEQUENCE}", where=None)
    return int(text)
