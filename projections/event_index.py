"""The event index: every stored event by id, plus the duplicates and rejections found."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.batch import Batch
from projections.bulk import JsonText, copy_rows, driver, insert_rows
from projections.tables import event_duplicates, events, rejected
from schemas.codec import to_obj

KNOWN_IDS = "SELECT id, seq FROM events WHERE id = ANY($1::text[])"
"""Which of the ids ($1) the index holds, with their sequences (asyncpg)."""


async def known_ids(conn: AsyncConnection, ids: list[str]) -> dict[str, int]:
    """Which of `ids` the index holds, with their sequences."""
    if not ids:
        return {}
    adb = await driver(conn)
    return {r["id"]: r["seq"] for r in await adb.fetch(KNOWN_IDS, ids)}


class EventIndex:
    name = "event_index"

    async def apply(self, conn: AsyncConnection, batch: Batch) -> None:
        if batch.fresh:  # first of their ids (the index was asked in this transaction), sequences after the checkpoint
            await copy_rows(
                conn,
                events,
                [
                    {
                        "seq": s.seq,
                        "id": s.event.id,
                        "type": s.event.envelope.type,
                        "name": s.event.name,
                        "version": s.event.original_version,
                        "source": s.event.envelope.source,
                        "province": s.event.envelope.province,
                        "agency": s.event.envelope.agency,
                        "subject": s.event.envelope.subject,
                        "time": s.event.envelope.time,
                        "recorded_at": s.recorded_at,
                        "correlationid": s.event.envelope.correlationid,
                        "causationid": s.event.envelope.causationid,
                        "actor": s.event.envelope.actor,
                        "nats_subject": s.nats_subject,
                        "envelope": JsonText(s.raw.decode()) if s.raw else to_obj(s.event.envelope),
                    }
                    for s in batch.fresh
                ],
            )
        if batch.duplicates:
            await insert_rows(
                conn,
                event_duplicates,
                [
                    {"seq": d.seq, "id": d.id, "original_seq": d.original_seq, "recorded_at": d.recorded_at}
                    for d in batch.duplicates
                ],
            )
        if batch.rejections:
            await conn.execute(
                insert(rejected).on_conflict_do_nothing(),
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
