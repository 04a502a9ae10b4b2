"""What the publisher library sends and answers: events checked by `decode` (their id, subject
and bytes), the result of a publish, and the bookkeeping of events sent together."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import NamedTuple

from projections.engine.batch import Key
from schemas.codec import decode, encode
from schemas.envelope import CloudEvent, nats_subject
from services.store import msg_id
from services.store.wire import SentBatch

CONTENT_TYPE = "application/cloudevents+json"


class PublishResult(NamedTuple):
    id: str
    sequence: int
    duplicate: bool


class Valid(NamedTuple):
    """An event that passed `decode`: its id, its NATS subject, the exact bytes to store (its
    encoded envelope) and its source. Only strings: many of them held at once cost the garbage
    collector nothing."""

    id: str
    subject: str
    raw: bytes
    source: str

    @classmethod
    def of(cls, envelope: CloudEvent, raw: bytes) -> Valid:
        """`raw` must be `envelope` encoded, and `envelope` validated by `decode`."""
        _, _, province, _, agency = envelope.source.split("/")
        return cls(envelope.id, nats_subject(province, agency, envelope.type.rsplit(".", 2)[1]), raw, envelope.source)

    @property
    def key(self) -> Key:
        """The idempotency key: (source, id)."""
        return self.source, self.id

    @property
    def msg_id(self) -> str:
        """Its `Nats-Msg-Id`."""
        return msg_id(self.source, self.id)


def validate(event: CloudEvent | bytes | Valid) -> Valid:
    """`event` checked by `decode` (InvalidEvent if it fails), with the bytes to store."""
    if isinstance(event, Valid):
        return event
    raw = event if isinstance(event, bytes) else encode(event)
    return Valid.of(decode(raw).envelope, raw)


class StoreUnavailable(Exception):
    """The event stream did not acknowledge in time (no leader, server down): retry later, same id."""


Outcome = PublishResult | BaseException


async def validate_all(events: Sequence[CloudEvent | bytes | Valid]) -> list[Valid]:
    """`validate` each event, letting other tasks (and the connection's writes) run now and then."""
    valids = []
    for k, event in enumerate(events, 1):
        valids.append(validate(event))
        if k % 100 == 0:
            await asyncio.sleep(0)
    return valids


class Chunk:
    """Events sent together: the keys ((source, id)) the index holds, repeats of a key, and the
    fresh ones."""

    def __init__(self, valids: Sequence[Valid], earlier: dict[Key, int]):
        self.valids = valids
        self.earlier = earlier
        self.first: dict[Key, int] = {}
        self.fresh: list[Valid] = []
        for k, v in enumerate(valids):
            key = v.source, v.id
            if key not in earlier and key not in self.first:
                self.first[key] = k
                self.fresh.append(v)
        self.stored: dict[Key, Outcome] = {}
        self.failed: list[BaseException] = []
        self.sent: SentBatch | None = None

    async def settle(self, outcomes: Awaitable[list[Outcome]]) -> None:
        try:
            done = await outcomes
        except Exception as exc:
            self.failed.append(exc)
            return
        self.stored = {(v.source, v.id): o for v, o in zip(self.fresh, done, strict=True)}
        self.failed += [o for o in done if isinstance(o, BaseException)]

    def outcomes(self) -> list[Outcome]:
        """One per event, in order: the index's sequence, the stored one, or a duplicate of it."""
        out: list[Outcome] = []
        for k, v in enumerate(self.valids):
            key = v.source, v.id
            if key in self.earlier:
                out.append(PublishResult(v.id, self.earlier[key], True))
                continue
            stored = self.stored.get(key) or (self.failed[0] if self.failed else StoreUnavailable(v.id))
            if isinstance(stored, PublishResult) and self.first[key] != k:
                stored = PublishResult(stored.id, stored.sequence, True)
            out.append(stored)
        return out

    def results(self) -> list[PublishResult]:
        return [o for o in self.outcomes() if isinstance(o, PublishResult)]
