"""The rejected table from the rejected stream (events refused at the HTTP boundary, and links
from a rejection to the event that corrected it), and the rejected rows of poison messages parked
by the runner."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.engine.batch import StreamMessage, clean_text, guess_id
from projections.models.tables import rejected


async def record_poison(conn: AsyncConnection, messages: Sequence[StreamMessage]) -> None:
    """The rejected rows of parked messages (a partition's part of `park_poison`)."""
    await conn.execute(
        insert(rejected).on_conflict_do_nothing(),
        [
            {
                "key": f"events:{m.seq}",
                "stream_seq": m.seq,
                "path": "nats",
                "kind": clean_text(m.headers.get("x-error-kind", "projection_failed"), 100),
                "problems": [{"path": clean_text(m.headers.get("x-error-path", "")),
                              "message": clean_text(m.headers.get("x-error", "projection failed"))}],
                "publisher": ".".join(m.subject.split(".")[2:4]),
                "nats_subject": m.subject,
                "event_id": guess_id(m.data),
                "raw": m.data,
                "recorded_at": m.recorded_at,
            }
            for m in messages
        ],
    )


def _raw_of(record: dict[str, Any]) -> bytes:
    if "raw_b64" in record:
        return base64.b64decode(record["raw_b64"], validate=True)
    return str(record["raw"]).encode("utf-8", errors="surrogateescape")


def _rejection_row(m: StreamMessage) -> dict[str, Any]:
    """A DOINGOAI_REJECTED record -> a rejected row; an unreadable record is kept as one too."""
    try:
        record = json.loads(m.data)
        event_id = record.get("event_id")
        return {
            "key": f"rejected:{m.seq}",
            "stream_seq": m.seq,
            "path": clean_text(str(record.get("path", "http")), 20),
            "kind": clean_text(str(record["kind"]), 100),
            "problems": [
                {"path": clean_text(str(p.get("path", ""))), "message": clean_text(str(p.get("message", "")))}
                for p in record["problems"]
            ],
            "publisher": clean_text(str(record["publisher"]), 200) if record.get("publisher") else None,
            "nats_subject": None,
            "event_id": clean_text(event_id, 128) if isinstance(event_id, str) else None,
            "raw": _raw_of(record),
            "recorded_at": datetime.fromisoformat(record["received_at"]),
        }
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error, RecursionError) as exc:
        return {
            "key": f"rejected:{m.seq}", "stream_seq": m.seq, "path": "nats", "kind": "unreadable_record",
            "problems": [{"path": "", "message": clean_text(f"not a rejection record: {exc!r}")}],
            "publisher": None, "nats_subject": m.subject, "event_id": None, "raw": m.data,
            "recorded_at": m.recorded_at,
        }


def _link(m: StreamMessage) -> tuple[str, str] | None:
    """(rejection key, id of the corrected event) if the record links a resubmission."""
    try:
        link = json.loads(m.data).get("resubmission")
        return (str(link["key"]), clean_text(str(link["event_id"]), 128)) if isinstance(link, dict) else None
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None


async def rejected_handler(conn: AsyncConnection, messages: Sequence[StreamMessage]) -> None:
    """Messages of DOINGOAI_REJECTED: rejections, JSON {raw_b64, kind, problems, publisher, event_id,
    received_at}, and resubmission links, JSON {resubmission: {key, event_id}}: the rejection `key`
    was corrected by the event `event_id` (recorded after the rejection, so it always finds its row)."""
    links = [(m, link) for m in messages if (link := _link(m)) is not None]
    linked = {m.seq for m, _ in links}
    rows = [_rejection_row(m) for m in messages if m.seq not in linked]
    if rows:
        await conn.execute(insert(rejected).on_conflict_do_nothing(), rows)
    for _, (key, event_id) in links:
        await conn.execute(update(rejected).where(rejected.c.key == key).values(resubmitted_as=event_id))
