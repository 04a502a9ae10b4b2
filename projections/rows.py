"""Row projections: load the current rows of the aggregates in a batch, fold the events into
them with pure reducers, write the changed rows back, all in the batch's transaction.

A reducer is `(row | None, stored event) -> row`: it never touches the database, so the rules
are unit-tested without one. A reducer raising `Refused` rejects that one event (kept in the
rejected table with the reason) and the events behind it go on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.batch import Batch, Stored
from projections.bulk import copy_rows, insert_rows, select_rows
from projections.tables import rejected

Row = dict[str, Any]
Reducer = Callable[[Row | None, Stored], Row]


class Refused(Exception):
    """The event contradicts the aggregate's state (e.g. an impossible lifecycle transition)."""

    def __init__(self, kind: str, path: str, message: str):
        self.kind, self.path = kind, path
        super().__init__(message)


def aggregate_id(stored: Stored) -> str:
    return stored.event.envelope.aggregate_id


class RowProjection:
    """One table keyed by aggregate id; `reducers` maps event names to pure reducers."""

    name: str
    table: Table
    key: str
    reducers: ClassVar[Mapping[str, Reducer]]

    def key_of(self, stored: Stored) -> str:
        return aggregate_id(stored)

    async def apply(self, conn: AsyncConnection, batch: Batch) -> None:
        todo = [s for s in batch.fresh if s.event.name in self.reducers]
        if not todo:
            return
        current: dict[str, Row] = await select_rows(conn, self.table, self.key, {self.key_of(s) for s in todo})
        existing = set(current)
        changed: dict[str, Row] = {}
        refusals: list[tuple[Stored, Refused]] = []
        for stored in todo:
            key = self.key_of(stored)
            try:
                row = self.reducers[stored.event.name](current.get(key), stored)
            except Refused as refusal:
                refusals.append((stored, refusal))
                continue
            current[key] = changed[key] = {**row, self.key: key, "last_seq": stored.seq}
        if changed:  # rows new to the table are appended: this transaction just found none with their keys
            await copy_rows(conn, self.table, [row for key, row in changed.items() if key not in existing])
            await upsert(conn, self.table, self.key, [row for key, row in changed.items() if key in existing])
        if refusals:
            await record_refusals(conn, self.name, refusals)


async def upsert(conn: AsyncConnection, table: Table, key: str, rows: list[Row]) -> None:
    """Write `rows` (distinct keys) whole: columns a row leaves out become NULL."""
    await insert_rows(conn, table, rows, conflict=key, update=True)


async def record_refusals(conn: AsyncConnection, projection: str, refusals: list[tuple[Stored, Refused]]) -> None:
    from schemas.codec import encode

    await conn.execute(
        insert(rejected).on_conflict_do_nothing(),
        [
            {
                "key": f"events:{s.seq}:{projection}",
                "stream_seq": s.seq,
                "path": "nats",
                "kind": r.kind,
                "problems": [{"path": r.path, "message": str(r)}],
                "publisher": f"{s.event.envelope.province}.{s.event.envelope.agency}",
                "nats_subject": s.nats_subject,
                "event_id": s.event.id,
                "raw": encode(s.event.envelope),
                "recorded_at": s.recorded_at or datetime.now(UTC),
            }
            for s, r in refusals
        ],
    )


def base_row(stored: Stored) -> Row:
    env = stored.event.envelope
    return {"province": env.province, "agency": env.agency}
