"""Row projections: load the current rows of the aggregates in a batch, fold the events into
them with pure reducers, write the changed rows back, all in the batch's transaction.

A reducer is `(row | None, stored event) -> row`: it never touches the database, so the rules
are unit-tested without one. A reducer raising `Refused` rejects that one event (kept in the
rejected table with the reason) and the events behind it go on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.engine.batch import Batch, Stored
from projections.engine.bulk import copy_rows, insert_rows, select_rows
from projections.models.tables import rejected

Row = dict[str, Any]
Reducer = Callable[[Row | None, Stored], Row]


class Refused(Exception):
    """The event contradicts the aggregate's state (e.g. an impossible lifecycle transition)."""

    def __init__(self, kind: str, path: str, message: str):
        self.kind, self.path = kind, path
        super().__init__(message)


def aggregate_id(stored: Stored) -> str:
    return stored.event.envelope.aggregate_id


Key = tuple[str, str]
"""A row's key: (province, id). Another province's event names another row, whatever its id."""


@dataclass(frozen=True)
class Found:
    todo: list[Stored]
    """The fresh events of the batch with a reducer here, in stream order."""
    rows: dict[Key, Row]
    """The current rows of their aggregates, by key (those the table has)."""


@dataclass
class RowChanges:
    new: list[Row] = field(default_factory=list)
    updated: list[Row] = field(default_factory=list)
    refusals: list[tuple[Stored, Refused]] = field(default_factory=list)


class RowProjection:
    """One table keyed by (province, aggregate id); `reducers` maps event names to pure reducers."""

    name: str
    table: Table
    key: str
    """The id column; the table's key is (province, id)."""
    reducers: ClassVar[Mapping[str, Reducer]]

    def id_of(self, stored: Stored) -> str:
        return aggregate_id(stored)

    def key_of(self, stored: Stored) -> Key:
        return stored.event.envelope.province, self.id_of(stored)

    async def read(self, conn: AsyncConnection, batch: Batch) -> Found:
        """The events of `batch` this projection folds, and the current rows of their aggregates."""
        todo = batch.named(self.reducers)
        if not todo:
            return Found(todo, {})
        keys = {self.key_of(s) for s in todo}
        return Found(todo, await select_rows(conn, self.table, ("province", self.key), keys))

    def after(self, found: Found, before: RowChanges) -> Found:
        """The rows as they will be once `before` is written: its rows of the same aggregates, with
        every column (as a read returns them), over those read."""
        keys = {self.key_of(s) for s in found.todo}
        rows = dict(found.rows)
        for row in (*before.new, *before.updated):
            key = (row["province"], row[self.key])
            if key in keys:
                rows[key] = {name: row.get(name) for name in self.table.columns.keys()}
        return Found(found.todo, rows)

    def changes(self, batch: Batch, found: Found) -> RowChanges:
        current = dict(found.rows)
        changed: dict[Key, Row] = {}
        out = RowChanges()
        for stored in found.todo:
            key = self.key_of(stored)
            try:
                row = self.reducers[stored.event.name](current.get(key), stored)
            except Refused as refusal:
                out.refusals.append((stored, refusal))
                continue
            current[key] = changed[key] = {**row, "province": key[0], self.key: key[1], "last_seq": stored.seq}
        for key, row in changed.items():  # rows new to the table are appended: the batch's transaction found none
            (out.updated if key in found.rows else out.new).append(row)
        return out

    async def write(self, conn: AsyncConnection, changes: RowChanges) -> None:
        await copy_rows(conn, self.table, changes.new)
        await upsert(conn, self.table, ("province", self.key), changes.updated)
        if changes.refusals:
            await record_refusals(conn, self.name, changes.refusals)


async def upsert(conn: AsyncConnection, table: Table, key: str | tuple[str, ...], rows: list[Row]) -> None:
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
                "raw": s.raw or encode(s.event.envelope),
                "recorded_at": s.recorded_at or datetime.now(UTC),
            }
            for s, r in refusals
        ],
    )


def base_row(stored: Stored) -> Row:
    env = stored.event.envelope
    return {"province": env.province, "agency": env.agency}
