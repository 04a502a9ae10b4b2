"""The event index: every stored event by id, plus the duplicates and rejections found."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.batch import Batch, Stored
from projections.bulk import copy_records, driver, insert_rows
from projections.tables import event_duplicates, events, rejected
from schemas.codec import to_obj
from schemas.fastjson import dumps

KNOWN_IDS = "SELECT id, seq FROM events WHERE id = ANY($1::text[])"
"""Which of the ids ($1) the index holds, with their sequences (asyncpg)."""


async def known_ids(conn: AsyncConnection, ids: list[str]) -> dict[str, int]:
    """Which of `ids` the index holds, with their sequences."""
    if not ids:
        return {}
    adb = await driver(conn)
    return {r["id"]: r["seq"] for r in await adb.fetch(KNOWN_IDS, ids)}


def index_record(s: Stored) -> tuple[Any, ...]:
    """The event-index row of a stored event as a COPY record: the values of `events`' columns, in
    their order (no dict built and taken apart again)."""
    event = s.event
    env = event.envelope
    return (
        s.seq, env.id, env.type, event.event_type.name, event.original_version, env.source, env.province,
        env.agency, env.subject, env.time, s.recorded_at, env.correlationid, env.causationid, env.actor,
        s.nats_subject,
        s.raw or dumps(to_obj(env)),  # the stored bytes: valid UTF-8 JSON (it decoded)
    )


@dataclass(frozen=True)
class IndexChanges:
    indexed: list[tuple[Any, ...]]
    """`index_record`s."""
    duplicates: list[dict[str, Any]]
    rejected: list[dict[str, Any]]


class EventIndex:
    name = "event_index"

    async def read(self, conn: AsyncConnection, batch: Batch) -> None:
        """Nothing: the handler asked the index for the batch's ids before it classified the batch."""

    def after(self, found: None, before: IndexChanges) -> None:
        """Nothing: the ids `before` indexes are laid over the index's answer by the handler."""

    def changes(self, batch: Batch, found: None) -> IndexChanges:
        return IndexChanges(
            [index_record(s) for s in batch.fresh],
            [
                {"seq": d.seq, "id": d.id, "original_seq": d.original_seq, "recorded_at": d.recorded_at}
                for d in batch.duplicates
            ],
            [
                {
                    "key": f"events:{r.seq}",
                    "stream_seq": r.seq,
                    "path": "nats",
                    "kind": r.error.kind,
                    "problems": [p.as_dict() for p in r.error.problems],
                    "publisher": r.publisher,
                    "nats_subject": r.nats_subject,
                    "event_id": r.event_id,
                    "raw": r.raw,
                    "recorded_at": r.recorded_at,
                }
                for r in batch.rejections
            ],
        )

    async def write(self, conn: AsyncConnection, changes: IndexChanges) -> None:
        # the first of their ids (the index was asked in this transaction), sequences after the checkpoint
        await copy_records(conn, events, changes.indexed)
        await insert_rows(conn, event_duplicates, changes.duplicates)
        if changes.rejected:
            await conn.execute(insert(rejected).on_conflict_do_nothing(), changes.rejected)
