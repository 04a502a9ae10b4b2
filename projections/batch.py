"""Classify a batch of stream messages: fresh valid events, duplicates, rejections (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from schemas.codec import Event, InvalidEvent, Problem, decode


@dataclass(frozen=True)
class StreamMessage:
    """A message as read from a stream."""

    seq: int
    subject: str
    data: bytes
    recorded_at: datetime
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Stored:
    """A valid event, first of its id, with its place in the stream."""

    seq: int
    recorded_at: datetime
    nats_subject: str
    event: Event


@dataclass(frozen=True)
class Duplicate:
    seq: int
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


def check_route(nats_subject: str, event: Event) -> None:
    """The NATS subject must name the event's own province, agency and event name."""
    parts = nats_subject.split(".")
    env = event.envelope
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


def guess_id(raw: bytes) -> str | None:
    import json

    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    value = obj.get("id") if isinstance(obj, dict) else None
    return value if isinstance(value, str) else None


def classify(messages: Sequence[StreamMessage], known: Mapping[str, int]) -> Batch:
    """Split messages into fresh events, duplicates of `known` (id -> seq) or earlier ones, and rejections."""
    batch = Batch()
    seen: dict[str, int] = dict(known)
    for msg in messages:
        batch.last_seq = max(batch.last_seq, msg.seq)
        try:
            event = decode(msg.data)
            check_route(msg.subject, event)
        except InvalidEvent as error:
            batch.rejections.append(
                Rejection(msg.seq, msg.subject, msg.data, error, msg.recorded_at, guess_id(msg.data))
            )
            continue
        if event.id in seen:
            batch.duplicates.append(Duplicate(msg.seq, event.id, seen[event.id], msg.recorded_at))
            continue
        seen[event.id] = msg.seq
        batch.fresh.append(Stored(msg.seq, msg.recorded_at, msg.subject, event))
    return batch


def candidate_ids(messages: Sequence[StreamMessage]) -> list[str]:
    return [i for i in (guess_id(m.data) for m in messages) if i]
