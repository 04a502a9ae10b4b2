"""The handlers the runner calls for the events stream: every projection, the audit chain alone
(the whole-stream unit of partitioned workers), and poison messages parked (the rejected stream's
handler is `projections.models.rejected`)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from projections.engine.batch import (
    Batch,
    Decoded,
    StreamMessage,
    candidate_keys,
    classify,
    decode_message,
    decode_messages,
    key_of,
)
from projections.engine.bulk import combined_writes
from projections.models.audit import AuditTrail, described_members
from projections.models.authority import Authority, AuthorityChanges
from projections.models.base import Projection
from projections.models.event_index import known_keys
from projections.models.personal import seal_batch, write_refs
from projections.models.rejected import record_poison
from schemas.codec import InvalidEvent, Problem

T = TypeVar("T")


class ReadAhead(Generic[T]):
    """What a handler's `prepare` made of the last batches read, by message. The runner reads one
    batch ahead (and may top it up), so the batch applied may be one of the older ones; a message
    read again (a redelivery) is another object and is not served from here."""

    def __init__(self) -> None:
        self.found: dict[int, tuple[StreamMessage, T]] = {}
        self.batches: deque[Sequence[StreamMessage]] = deque()

    def add(self, messages: Sequence[StreamMessage], made: Sequence[T]) -> None:
        for message, value in zip(messages, made, strict=True):
            self.found[message.seq] = (message, value)
        self.batches.append(messages)
        while len(self.batches) > 3:
            for old in self.batches.popleft():
                hit = self.found.get(old.seq)
                if hit is not None and hit[0] is old:
                    del self.found[old.seq]

    def get(self, message: StreamMessage) -> T | None:
        hit = self.found.get(message.seq)
        return hit[1] if hit is not None and hit[0] is message else None


@dataclass(frozen=True)
class Planned:
    """A batch classified and decided by the authority rules, with every projection's changes of
    it, ready to be written."""

    batch: Batch
    changes: list[Any]
    authority: AuthorityChanges
    personal_refs: list[dict[str, Any]]


class EventsHandler:
    """The events stream through every projection. `prepare` decodes a batch ahead of its turn;
    `plan` computes its changes, given the changes of the batch before it if that one is not
    committed yet, and `store` writes them. Everything it writes is derived from the stream (see
    `projections.engine.checkpoints.RELAXED_COMMIT`)."""

    rebuildable = True

    def __init__(self, projections: Sequence[Projection]):
        self.projections = projections
        self.authority = Authority()
        self.prepared: ReadAhead[Decoded] = ReadAhead()

    def prepare(self, messages: Sequence[StreamMessage]) -> None:
        self.prepared.add(messages, decode_messages(messages))

    def decoded(self, messages: Sequence[StreamMessage]) -> list[Decoded]:
        return [self.prepared.get(m) or decode_message(m) for m in messages]

    async def plan(
        self, conn: AsyncConnection, messages: Sequence[StreamMessage], before: Planned | None = None
    ) -> Planned:
        """Read and compute (nothing is written) what `messages` change, as if `before` were
        committed already."""
        decoded = self.decoded(messages)
        known = await known_keys(conn, candidate_keys(decoded))
        if before is not None:  # the (source, id) pairs it indexes are known once it commits
            known = {**{key_of(s.event): s.seq for s in before.batch.fresh}, **known}
        batch = classify(messages, known, decoded)
        held = await self.authority.read(conn, batch)
        if before is not None:
            held = self.authority.after(held, before.authority)
        authority = self.authority.changes(batch, held)
        batch.refuse([(s, InvalidEvent(r.kind, [Problem(r.path, r.message)])) for s, r in authority.refused])
        refs = await seal_batch(conn, batch)
        befores = before.changes if before is not None else [None] * len(self.projections)
        found = [await self._read(p, conn, batch, b) for p, b in zip(self.projections, befores, strict=True)]
        changes = []
        for p, f in zip(self.projections, found, strict=True):
            changes.append(p.changes(batch, f))
            await asyncio.sleep(0)  # the batch before, being written, goes on between projections
        return Planned(batch, changes, authority, refs)

    @staticmethod
    async def _read(projection: Projection, conn: AsyncConnection, batch: Batch, before: Any) -> Any:
        """What `projection` reads of `batch`, as it will be once `before` (its changes of the batch
        before, if that is not committed yet) is. The audit chain's head is then the last row of
        `before`, if it has one: nothing to read."""
        if before and isinstance(projection, AuditTrail):
            return projection.after((0, ""), before)
        found = await projection.read(conn, batch)
        return found if before is None else projection.after(found, before)

    async def store(self, conn: AsyncConnection, planned: Planned) -> None:
        """Write a plan; each table's rows are written once, none reads what another wrote, so the
        writes go to PostgreSQL as one statement."""
        async with combined_writes(conn):
            await self.authority.write(conn, planned.authority)
            await write_refs(conn, planned.personal_refs)
            for projection, changes in zip(self.projections, planned.changes, strict=True):
                await projection.write(conn, changes)

    async def __call__(self, conn: AsyncConnection, messages: Sequence[StreamMessage]) -> None:
        await self.store(conn, await self.plan(conn, messages))


def events_handler(projections: Sequence[Projection]) -> EventsHandler:
    return EventsHandler(projections)


class ParkPoison:
    """A valid-looking event that a projection cannot apply: kept as rejected, with the error, and
    chained into `trail` (parked, yet stored: chained like any other message)."""

    def __init__(self, trail: AuditTrail):
        self.trail = trail

    async def __call__(self, conn: AsyncConnection, messages: Sequence[StreamMessage]) -> None:
        await record_poison(conn, messages)
        await self.trail.append(conn, messages)


park_poison = ParkPoison(AuditTrail())
"""Parks without signing the chain (tests, benchmarks); the worker parks into its own trail."""


class AuditOnly:
    """The whole-stream unit of partitioned workers: the audit chain needs every message in order.
    `prepare` reads what the chain describes of a batch's payloads ahead of its turn; the chain is
    derived from the stream."""

    rebuildable = True

    def __init__(self, trail: AuditTrail):
        self.trail = trail
        self.prepared: ReadAhead[Any] = ReadAhead()

    def prepare(self, messages: Sequence[StreamMessage]) -> None:
        self.prepared.add(messages, [described_members(m.data) for m in messages])

    async def __call__(self, conn: AsyncConnection, messages: Sequence[StreamMessage]) -> None:
        parsed = {m.seq: obj for m in messages if (obj := self.prepared.get(m)) is not None}
        await self.trail.append(conn, messages, parsed)
