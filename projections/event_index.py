"""The event index: every stored event by id, plus the duplicates and rejections found."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.batch import Batch
from projections.tables import event_duplicates, events, rejected
from schemas.codec import to_obj


async def known_ids(conn: AsyncConnection, ids: list[str]) -> dict[str, int]:
    if not ids:
        return {}
    rows = await conn.execute(select(events.c.id, events.c.seq).where(events.c.id.in_(ids)))
    return {row.id: row.seq for row in rows}


class EventIndex:
    name = "event_index"

    async def apply(self, conn: AsyncConnection, batch: Batch) -> None:
        if batch.fresh:
            await conn.execute(
                insert(events).on_conflict_do_nothing(),
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
                        "envelope": to_obj(s.event.envelope),
                    }
                    for s in batch.fresh
                ],
            )
        if batch.duplicates:
            await conn.execute(
                insert(event_duplicates).on_conflict_do_nothing(),
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
