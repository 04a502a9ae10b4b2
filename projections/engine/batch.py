"""Classify a batch of stream messages: fresh valid events, duplicates, rejections (pure)."""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from operator import attrgetter
from types import MappingProxyType
from typing import Any, NamedTuple

from schemas.authority import check_time
from schemas.codec import MAX_EVENT_BYTES, Event, InvalidEvent, Problem, decode_obj, decode_one_pass
from schemas.fastjson import loads

MAX_TEXT = 500
"""Longest path or message kept in a rejection's problems (characters)."""
_ID_IN_TEXT = re.compile(rb'"id"\s*:\s*"([A-Za-z0-9._:-]{1,128})"')


class StreamMessage(NamedTuple):
    """A message as read from a stream. (The values of a batch are tuples: a projection makes
    several of them per event, and a tuple is built in half the time of a frozen dataclass.)"""

    seq: int
    subject: str
    data: bytes
    recorded_at: datetime
    headers: Mapping[str, str] = MappingProxyType({})


class Stored(NamedTuple):
    """A valid event, first of its (source, id), with its place in the stream."""

    seq: int
    recorded_at: datetime
    nats_subject: str
    event: Event
    raw: bytes = b""
    """The message payload as stored (valid UTF-8 JSON: it decoded)."""
    sealed: bool = False
    """`event` has the personal values `raw` holds in clear sealed (`projections.models.personal`):
    what the read models show is `event`, never `raw`."""


Key = tuple[str, str]
"""The idempotency key of an event: (source, id). Another source's equal id is another event."""


class Duplicate(NamedTuple):
    """A valid event whose (source, id) was stored before, at `original_seq`."""

    seq: int
    source: str
    id: str
    original_seq: int
    recorded_at: datetime


@dataclass(frozen=True)
class Rejection:
    seq: int
    nats_subject: str
    raw: bytes
    error: InvalidEvent
    recorded_at: datetime
    event_id: str | None

    @property
    def publisher(self) -> str:
        parts = self.nats_subject.split(".")
        return ".".join(parts[2:4]) if len(parts) >= 4 else self.nats_subject


@dataclass
class Batch:
    fresh: list[Stored] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    last_seq: int = 0
    messages: list[StreamMessage] = field(default_factory=list)
    """Every message of the batch, as read (the audit trail chains them all)."""
    parsed: dict[int, Any] = field(default_factory=dict)
    """The JSON of each message that parsed (strictly), by sequence: parsed once, read by all."""
    sealed: dict[tuple[int, str, str], str] = field(default_factory=dict)
    """(sequence, value, person) -> the token a personal value a fresh event held in clear was sealed as
    (`projections.models.personal.seal_batch`)."""
    _named: dict[str, list[Stored]] = field(default_factory=dict, repr=False)
    """The fresh events by name, in stream order (filled by `add`)."""

    def add(self, stored: Stored) -> None:
        self.fresh.append(stored)
        self._named.setdefault(stored.event.name, []).append(stored)

    def replace(self, by_seq: Mapping[int, Stored]) -> None:
        """Put other forms of some fresh events in their places (by sequence)."""
        kept = [by_seq.get(s.seq, s) for s in self.fresh]
        self.fresh, self._named = [], {}
        for s in kept:
            self.add(s)

    def refuse(self, refused: Sequence[tuple[Stored, InvalidEvent]]) -> None:
        """Take fresh events out of the batch as rejections, with their reasons."""
        if not refused:
            return
        gone = {s.seq for s, _ in refused}
        kept = [s for s in self.fresh if s.seq not in gone]
        self.fresh, self._named = [], {}
        for s in kept:
            self.add(s)
        self.rejections.extend(
            Rejection(s.seq, s.nats_subject, s.raw, safe_error(e), s.recorded_at, s.event.id) for s, e in refused
        )
        self.rejections.sort(key=attrgetter("seq"))

    def named(self, names: Collection[str]) -> list[Stored]:
        """The fresh events whose name is one of `names`, in stream order."""
        found = [self._named[name] for name in names if name in self._named]
        if len(found) <= 1:
            return list(found[0]) if found else []
        return sorted(chain.from_iterable(found), key=attrgetter("seq"))


_ROUTES: dict[tuple[str, str], str] = {}
"""(source, type) -> the NATS subject of an event of that type from that source, as found."""


def check_route(nats_subject: str, event: Event) -> None:
    """The NATS subject must name the event's own province, agency and event name."""
    env = event.envelope
    if _ROUTES.get((env.source, env.type)) == nats_subject:
        return
    parts = nats_subject.split(".")
    if len(parts) != 5 or parts[:2] != ["doingoai", "events"]:
        expected = "doingoai.events.<province>.<agency>.<event>"
        raise InvalidEvent("bad_subject", [Problem("", f"{nats_subject} is not {expected}")])
    if (parts[2], parts[3]) != (env.province, env.agency):
        raise InvalidEvent(
            "source_mismatch",
            [Problem("source", f"published by {parts[2]}/{parts[3]} but source is {env.source}")],
        )
    if parts[4] != env.event_name:
        raise InvalidEvent(
            "subject_mismatch",
            [Problem("type", f"published on {parts[4]} but type is {env.type}")],
        )
    if len(_ROUTES) < 10_000:  # sources and types of one deployment: a few thousand at most
        _ROUTES[env.source, env.type] = nats_subject


def clean_text(value: str, limit: int = MAX_TEXT) -> str:
    """`value` as PostgreSQL text can hold it: no NUL, no lone surrogate, at most `limit` characters."""
    value = value.replace("\x00", "\\u0000").encode("utf-8", errors="backslashreplace").decode("utf-8")
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _unstorable(obj: Any) -> Iterator[Problem]:
    """Strings PostgreSQL and UTF-8 cannot store (NUL, lone surrogates) and non-finite numbers."""
    stack: list[tuple[str, Any]] = [("", obj)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                yield Problem(path, "U+0000 (NUL) is not allowed in a string")
            elif not _is_utf8(value):
                yield Problem(path, "a lone UTF-16 surrogate is not allowed in a string")
        elif isinstance(value, float) and not math.isfinite(value):
            yield Problem(path, "numbers must be finite")
        elif isinstance(value, dict):
            for key, item in value.items():
                sub = f"{path}.{clean_text(key, 100)}" if path else clean_text(key, 100)
                stack.extend(((sub, key), (sub, item)))
        elif isinstance(value, list):
            stack.extend((f"{path}.{i}" if path else str(i), item) for i, item in enumerate(value))


def _is_utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_RISKY_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def check_storable(obj: Any) -> None:
    """InvalidEvent if `obj` holds a string or number that cannot be stored as it was sent."""
    problems = list(_unstorable(obj))
    if problems:
        kind = "schema_violation" if all(p.path.startswith("data.") for p in problems) else "bad_envelope"
        raise InvalidEvent(kind, problems[:20])


class _Floats(threading.local):
    overflow = False


_FLOATS = _Floats()


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        _FLOATS.overflow = True
    return value


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_parse_float)


def _parse_standard(raw: bytes) -> Any:
    try:
        return _DECODER.decode(raw.decode("utf-8"))
    except RecursionError:
        raise InvalidEvent("bad_json", [Problem("", "not JSON: nested too deeply")]) from None
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise InvalidEvent("bad_json", [Problem("", clean_text(f"not JSON: {exc}"))]) from None


def parse_strict(raw: bytes, limit: int = MAX_EVENT_BYTES, *, storable: bool = True) -> Any:
    """JSON bytes -> object, refusing (InvalidEvent) what must not reach a stream or a table: more
    than `limit` bytes, invalid JSON or UTF-8 (raw surrogates included), NaN/Infinity, nesting too
    deep to parse, numbers too long and, unless `storable` is False, NUL characters and lone
    surrogates in strings."""
    if len(raw) > limit:
        raise InvalidEvent("too_large", [Problem("", f"event is {len(raw)} bytes, limit {limit}")])
    _FLOATS.overflow = False
    obj = loads(raw, _parse_standard)
    # Raw NUL bytes fail strict JSON, raw surrogates strict UTF-8 decoding: a string that cannot
    # be stored can only come from a \u0000 or \uD800-\uDFFF escape, a non-finite number only
    # from an overflowing literal. Walk the object only then (the common case skips it).
    if storable and (_FLOATS.overflow or (b"\\u" in raw and _RISKY_ESCAPE.search(raw))):
        check_storable(obj)
    return obj


def decode_strict(raw: bytes) -> Event:
    """`schemas.codec.decode`, with the stricter parsing of `parse_strict`."""
    return decode_obj(parse_strict(raw))


def is_copy_of(key: Key, nats_subject: str, data: bytes) -> bool:
    """Whether a stored message (its subject and bytes) is a valid event of (source, id) `key`,
    published on its own source's subject: what a "duplicate" acknowledgement of the stream must
    point at to be a copy of that event (a message id is only a header: anyone can send any)."""
    try:
        event = decode_strict(data)
        check_route(nats_subject, event)
    except InvalidEvent:
        return False
    return (event.envelope.source, event.id) == key


def safe_error(error: InvalidEvent) -> InvalidEvent:
    """The same error with paths and messages PostgreSQL can store."""
    return InvalidEvent(error.kind, [Problem(clean_text(p.path), clean_text(p.message)) for p in error.problems])


def guess_id(raw: bytes) -> str | None:
    """The `id` of a (possibly invalid) event, if one can be read; never raises."""
    try:
        obj = json.loads(raw[: MAX_EVENT_BYTES * 4])
    except (ValueError, UnicodeDecodeError, RecursionError):
        found = _ID_IN_TEXT.search(raw[:65536])
        return found.group(1).decode() if found else None
    return id_in(obj)


def id_in(obj: Any) -> str | None:
    """The `id` of a parsed (possibly invalid) event, if it is a storable one."""
    value = obj.get("id") if isinstance(obj, dict) else None
    if not isinstance(value, str) or not 0 < len(value) <= 128 or clean_text(value) != value:
        return None
    return value


class Decoded(NamedTuple):
    """One message parsed once: its JSON (None if it is not JSON), and its event or why not."""

    message: StreamMessage
    obj: Any
    event: Event | None
    error: InvalidEvent | None
    event_id: str | None
    """The event's id if it is valid; else the id read from the message, if any."""


def decode_message(msg: StreamMessage) -> Decoded:
    """Decoded in one pass where that gives what the two steps give (`decode_one_pass`; its JSON is
    then not kept: None), else parsed strictly, then decoded (or why not)."""
    if not (b"\\u" in msg.data and _RISKY_ESCAPE.search(msg.data)):  # refused by `parse_strict` only
        event = decode_one_pass(msg.data)
        if event is not None:
            try:
                check_route(msg.subject, event)
            except InvalidEvent:
                pass  # the two steps below refuse it alike, with its JSON kept
            else:
                return Decoded(msg, None, event, None, event.id)
    return decode_in_two_steps(msg)


def decode_in_two_steps(msg: StreamMessage) -> Decoded:
    """Parsed strictly, then decoded (or why not); its JSON kept."""
    try:
        obj = parse_strict(msg.data)
    except InvalidEvent as error:
        return Decoded(msg, None, None, error, guess_id(msg.data))
    try:
        event = decode_obj(obj)
        check_route(msg.subject, event)
    except InvalidEvent as error:
        return Decoded(msg, obj, None, error, id_in(obj))
    return Decoded(msg, obj, event, None, event.id)


def decode_messages(messages: Sequence[StreamMessage]) -> list[Decoded]:
    return [decode_message(m) for m in messages]


def classify(
    messages: Sequence[StreamMessage], known: Mapping[Key, int], decoded: Sequence[Decoded] | None = None
) -> Batch:
    """Split messages into fresh events, duplicates of `known` ((source, id) -> seq) or earlier ones,
    and rejections; `decoded` is `decode_messages(messages)` if the caller has it already."""
    batch = Batch(messages=list(messages))
    seen: dict[Key, int] = dict(known)
    for d in decoded if decoded is not None else decode_messages(messages):
        msg = d.message
        batch.last_seq = max(batch.last_seq, msg.seq)
        if d.obj is not None:
            batch.parsed[msg.seq] = d.obj
        if d.event is None:
            assert d.error is not None
            batch.rejections.append(
                Rejection(msg.seq, msg.subject, msg.data, safe_error(d.error), msg.recorded_at, d.event_id)
            )
            continue
        key = (d.event.envelope.source, d.event.id)
        late = check_time(d.event.envelope.time, msg.recorded_at)
        if late is not None:
            error = InvalidEvent("bad_envelope", [Problem("time", late)])
            batch.rejections.append(Rejection(msg.seq, msg.subject, msg.data, error, msg.recorded_at, key[1]))
            continue
        if key in seen:
            batch.duplicates.append(Duplicate(msg.seq, key[0], key[1], seen[key], msg.recorded_at))
            continue
        seen[key] = msg.seq
        batch.add(Stored(msg.seq, msg.recorded_at, msg.subject, d.event, msg.data))
    return batch


def key_of(event: Event) -> Key:
    """The idempotency key of a valid event."""
    return event.envelope.source, event.id


def candidate_keys(decoded: Sequence[Decoded]) -> list[Key]:
    """(source, id) of the valid events: the ones that may repeat an event stored earlier."""
    return [(d.event.envelope.source, d.event.id) for d in decoded if d.event is not None]
