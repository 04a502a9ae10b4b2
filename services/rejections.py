"""Rejected events as operators and publishers see them: the reason, the raw bytes, and whether a
correction was stored since.

A rejection is resolved when the same publisher stored an event after it with the rejected event's
`id` (the usual correction: fix the event, publish it again with the same id, over HTTP or NATS) or
with the id it was re-submitted as (`POST /api/rejected/{key}/resubmit`, for a rejection whose id
was unreadable, or already taken by the refused event itself). Resolution is computed when read,
from the event index, so it holds whatever the order in which the two streams were projected.
"""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import Select, and_, func, literal, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.models.tables import events, rejected

RAW_PREVIEW = 4096
"""Bytes of the raw event shown in a listing; the whole of it is at /api/rejected/{key}."""
STATUSES = ("open", "resolved")


def _resolved_by() -> Any:
    e = events.alias("correction")
    from_events_stream = rejected.c.key.like("events:%")
    after = or_(
        and_(from_events_stream, e.c.seq > rejected.c.stream_seq),
        and_(not_(from_events_stream), e.c.recorded_at >= rejected.c.recorded_at),
    )
    return (
        select(func.min(e.c.seq))
        .where(
            e.c.id == func.coalesce(rejected.c.resubmitted_as, rejected.c.event_id),
            e.c.province + literal(".") + e.c.agency == rejected.c.publisher,
            after,
        )
        .scalar_subquery()
    )


def _query(preview: bool) -> Select[Any]:
    raw = func.substring(rejected.c.raw, 1, RAW_PREVIEW) if preview else rejected.c.raw
    return select(
        rejected.c.key, rejected.c.recorded_at, rejected.c.path, rejected.c.kind, rejected.c.problems,
        rejected.c.publisher, rejected.c.nats_subject, rejected.c.stream_seq, rejected.c.event_id,
        rejected.c.resubmitted_as, _resolved_by().label("resolved_by"),
        func.octet_length(rejected.c.raw).label("raw_size"), raw.label("raw"),
    )


def _row(r: Any, *, full: bool) -> dict[str, Any]:
    raw = bytes(r.raw)
    out = {
        "key": r.key, "recorded_at": r.recorded_at.isoformat(), "path": r.path, "kind": r.kind,
        "problems": r.problems, "publisher": r.publisher, "nats_subject": r.nats_subject,
        "stream_seq": r.stream_seq, "event_id": r.event_id, "resubmitted_as": r.resubmitted_as,
        "resolved_by": r.resolved_by, "status": "open" if r.resolved_by is None else "resolved",
        "raw": raw.decode("utf-8", errors="replace"), "raw_size": r.raw_size,
        "raw_truncated": len(raw) < r.raw_size,
    }
    if full:
        out["raw_base64"] = base64.b64encode(raw).decode()
    return out


async def list_rejections(
    conn: AsyncConnection,
    *,
    province: str | None = None,
    agency: str | None = None,
    kind: str | None = None,
    event_id: str | None = None,
    status: str | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Rejections, newest first, with the first RAW_PREVIEW bytes of each."""
    inner = _query(preview=True)
    if province:
        inner = inner.where(func.split_part(rejected.c.publisher, ".", 1) == province)
    if agency:
        inner = inner.where(func.split_part(rejected.c.publisher, ".", 2) == agency)
    if kind:
        inner = inner.where(rejected.c.kind == kind)
    if event_id:
        inner = inner.where(or_(rejected.c.event_id == event_id, rejected.c.resubmitted_as == event_id))
    sub = inner.subquery()
    q = select(sub).order_by(sub.c.recorded_at.desc(), sub.c.key).limit(limit).offset(offset)
    if status == "open":
        q = q.where(sub.c.resolved_by.is_(None))
    elif status == "resolved":
        q = q.where(sub.c.resolved_by.is_not(None))
    return [_row(r, full=False) for r in await conn.execute(q)]


async def get_rejection(conn: AsyncConnection, key: str) -> dict[str, Any] | None:
    """One rejection with all its raw bytes (as text, and base64 for bytes that are not UTF-8)."""
    found = (await conn.execute(_query(preview=False).where(rejected.c.key == key))).first()
    return None if found is None else _row(found, full=True)
