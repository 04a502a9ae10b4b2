"""The event index: every stored event by (source, id), plus the duplicates and rejections found."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.engine.batch import Batch, Key, Stored
from projections.engine.bulk import copy_records, fetch, insert_rows
from projections.models.tables import event_duplicates, events, rejected
from schemas.codec import to_obj
from schemas.fastjson import dumps

KNOWN_IDS = "SELECT source, id, seq FROM events WHERE id = ANY($1::text[])"
"""The index rows of the ids ($1), whatever their source, with their sequences (asyncpg): the unique
key is (id, source), id first, so this is one index scan, as by id alone; `stored_of` keeps the
pairs that were asked. (An id several sources used is rare: a handful of rows more.)"""


def stored_of(rows: Iterable[Sequence[Any]], keys: Iterable[Key]) -> dict[Key, int]:
    """(source, id) -> seq of the `KNOWN_IDS` rows (source, id, seq) that are among `keys`."""
    found = {(r[0], r[1]): r[2] for r in rows}
    return {k: found[k] for k in keys if k in found}


async def known_keys(conn: AsyncConnection, keys: list[Key]) -> dict[Key, int]:
    """Which of `keys` ((source, id)) the index holds, with their sequences."""
    if not keys:
        return {}
    return stored_of(await fetch(conn, KNOWN_IDS, list({i for _, i in keys})), keys)


def index_record(s: Stored) -> tuple[Any, ...]:
    """The event-index row of a stored event as a COPY record: the values of `events`' columns, in
    their order (no dict built and taken apart again)."""
    event = s.event
    env = event.envelope
    return (
        s.seq, env.id, env.type, event.event_type.name, event.original_version, env.source, env.province,
        env.agency, env.subject, env.time, s.recorded_at, env.correlationid, env.causationid, env.actor,
        s.nats_subject,
        # the stored bytes (valid UTF-8 JSON: it decoded), or the event with its personal values sealed
        dumps(to_obj(env)) if s.sealed or not s.raw else s.raw,
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
        """Nothing: the handler asked the index for the batch's keys before it classified the batch."""

    def after(self, found: None, before: IndexChanges) -> None:
        """Nothing: the keys `before` indexes are laid over the index's answer by the handler."""

    def changes(self, batch: Batch, found: None) -> IndexChanges:
        return IndexChanges(
            [index_record(s) for s in batch.fresh],
            [
                {"seq": d.seq, "source": d.source, "id": d.id, "original_seq": d.original_seq,
                 "recorded_at": d.recorded_at}
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
        # the first of their (source, id) (the index was asked in this transaction), sequences after the checkpoint
        await copy_records(conn, events, changes.indexed)
        await insert_rows(conn, event_duplicates, changes.duplicates)
        if changes.rejected:
            await conn.execute(insert(rejected).on_conflict_do_nothing(), changes.rejected)
