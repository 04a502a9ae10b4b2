"""The handlers the runner calls: the events stream through every projection, and the
rejected stream (events refused at the HTTP boundary) into the rejected table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.base import Projection
from projections.batch import StreamMessage, candidate_ids, classify
from projections.event_index import known_ids
from projections.tables import rejected


def events_handler(projections: Sequence[Projection]):  # type: ignore[no-untyped-def]
    async def handle(conn: AsyncConnection, messages: Sequence[StreamMessage]) -> None:
        batch = classify(messages, await known_ids(conn, candidate_ids(messages)))
        for projection in projections:
            await projection.apply(conn, batch)

    return handle


async def park_poison(conn: AsyncConnection, messages: Sequence[StreamMessage]) -> None:
    """A valid-looking event that a projection cannot apply: kept as rejected, with the error."""
    await conn.execute(
        insert(rejected).on_conflict_do_nothing(),
        [
            {
                "key": f"events:{m.seq}",
                "stream_seq": m.seq,
                "path": "nats",
                "kind": "projection_failed",
                "problems": [{"path": "", "message": m.headers.get("x-error", "projection failed")}],
                "publisher": ".".join(m.subject.split(".")[2:4]),
                "nats_subject": m.subject,
                "event_id": None,
                "raw": m.data,
                "recorded_at": m.recorded_at,
            }
            for m in messages
        ],
    )


async def rejected_handler(conn: AsyncConnection, messages: Sequence[StreamMessage]) -> None:
    """Messages of DOINGOAI_REJECTED: JSON {raw, kind, problems, publisher, event_id, received_at}."""
    rows = []
    for m in messages:
        record = json.loads(m.data)
        rows.append(
            {
                "key": f"rejected:{m.seq}",
                "stream_seq": m.seq,
                "path": record.get("path", "http"),
                "kind": record["kind"],
                "problems": record["problems"],
                "publisher": record.get("publisher"),
                "nats_subject": None,
                "event_id": record.get("event_id"),
                "raw": record["raw"].encode("utf-8", errors="surrogateescape"),
                "recorded_at": datetime.fromisoformat(record["received_at"]),
            }
        )
    await conn.execute(insert(rejected).on_conflict_do_nothing(), rows)
