"""Rebuild the read models from the stream into a fresh schema, leaving the live ones alone.

An ephemeral pull consumer (ack none, in memory) reads from `from_seq` up to the stream's last
sequence at the start; `as_of` keeps only events recorded up to that moment. The same handler as
the live worker applies them, so a replay and the live run produce the same tables.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime

from nats.aio.client import Client
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from projections.batch import StreamMessage
from projections.catalogue import all_projections
from projections.handlers import events_handler, rejected_handler
from projections.runner import RELAXED_COMMIT, Handler, write_checkpoint
from projections.stream_reader import read_batches
from projections.tables import READ_MODEL_TABLES
from services.db import make_engine
from services.db.migrate import migrate
from services.store import EVENTS_STREAM, EVENTS_SUBJECTS, REJECTED_STREAM, REJECTED_SUBJECTS


@dataclass(frozen=True)
class ReplayResult:
    schema: str
    events: int
    last_seq: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


async def table_checksums(conn: AsyncConnection) -> dict[str, str]:
    """md5 of every read-model table's rows in key order: equal tables, equal checksums."""
    out = {}
    for table in READ_MODEL_TABLES:  # md5 of the sorted row digests: no key column, 32 bytes per row
        digest = await conn.scalar(
            text(f"SELECT coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '') FROM {table} t")
        )
        out[table] = str(digest)
    return out


async def replay(
    nc: Client,
    database_url: str,
    schema: str,
    *,
    from_seq: int = 1,
    as_of: datetime | None = None,
    batch_size: int = 1000,
) -> ReplayResult:
    """Rebuild every read model into `schema` (created and migrated here)."""
    await migrate(database_url, schema)
    engine = make_engine(database_url, schema, pool_size=2)
    started = time.perf_counter()
    try:
        count, last_seq = await replay_stream(
            nc, engine, EVENTS_STREAM, EVENTS_SUBJECTS, events_handler(all_projections()), "projector_v1",
            from_seq=from_seq, as_of=as_of, batch_size=batch_size,
        )
        await replay_stream(
            nc, engine, REJECTED_STREAM, REJECTED_SUBJECTS, rejected_handler, "rejected_v1",
            from_seq=1, as_of=as_of, batch_size=batch_size,
        )
    finally:
        await engine.dispose()
    return ReplayResult(schema, count, last_seq, time.perf_counter() - started)


async def replay_stream(
    nc: Client,
    engine: AsyncEngine,
    stream: str,
    subjects: str,
    handle: Handler,
    consumer: str,
    *,
    from_seq: int,
    as_of: datetime | None,
    batch_size: int,
) -> tuple[int, int]:
    """Apply one stream's messages from `from_seq` to its last sequence now; (count, last_seq)."""
    js = nc.jetstream()
    last_seq = (await js.stream_info(stream)).state.last_seq
    if last_seq < from_seq:
        return 0, last_seq
    count = 0
    prepare = getattr(handle, "prepare", None)
    ahead: asyncio.Queue[list[StreamMessage] | None] = asyncio.Queue(maxsize=1)

    async def read() -> None:
        """Read (and prepare) the next batch while the one before it is written."""
        batches = read_batches(js, stream, subjects, from_seq=from_seq, last_seq=last_seq, batch=batch_size)
        try:
            async with aclosing(batches):
                async for got in batches:
                    batch = [m for m in got if as_of is None or m.recorded_at <= as_of]
                    if batch:
                        if prepare is not None:
                            prepare(batch)
                        await ahead.put(batch)
        finally:
            await ahead.put(None)  # the end, or a failure that `await reader` raises

    reader = asyncio.create_task(read())
    try:
        while (batch := await ahead.get()) is not None:
            async with engine.begin() as conn:
                await conn.exec_driver_sql(RELAXED_COMMIT)  # a replay that dies is run again
                await handle(conn, batch)
                await write_checkpoint(conn, consumer, batch[-1].seq)
            count += len(batch)
        await reader  # its errors surface here
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    return count, last_seq
