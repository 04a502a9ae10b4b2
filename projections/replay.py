"""Rebuild the read models from the stream into a fresh schema, leaving the live ones alone.

An ordered consumer (ack none, in memory) reads from `from_seq` up to the stream's last
sequence at the start; `as_of` keeps only events recorded up to that moment. The same handler as
the live worker applies them, so a replay and the live run produce the same tables.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime

from nats.aio.client import Client
from nats.js.api import DeliverPolicy
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from projections.batch import StreamMessage
from projections.catalogue import all_projections
from projections.handlers import events_handler, rejected_handler
from projections.runner import Handler, to_stream_message, write_checkpoint
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
    for table in READ_MODEL_TABLES:  # ordered by the whole row: no key column needed
        digest = await conn.scalar(
            text(f"SELECT coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '') FROM {table} t")
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
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=batch_size * 4)

    async def on_msg(msg: object) -> None:
        await queue.put(msg)

    sub = await js.subscribe(
        subjects, stream=stream, ordered_consumer=True, config=_start_config(from_seq), cb=on_msg,  # type: ignore[arg-type]
    )
    count = 0
    try:
        done = False
        while not done:
            batch: list[StreamMessage] = [to_stream_message(await queue.get())]
            while len(batch) < batch_size and not queue.empty():
                batch.append(to_stream_message(queue.get_nowait()))
            done = batch[-1].seq >= last_seq
            batch = [m for m in batch if m.seq <= last_seq and (as_of is None or m.recorded_at <= as_of)]
            if not batch:
                continue
            async with engine.begin() as conn:
                await handle(conn, batch)
                await write_checkpoint(conn, consumer, batch[-1].seq)
            count += len(batch)
    finally:
        await sub.unsubscribe()
    return count, last_seq


def _start_config(from_seq: int):  # type: ignore[no-untyped-def]
    from nats.js.api import ConsumerConfig

    return ConsumerConfig(opt_start_seq=from_seq, deliver_policy=DeliverPolicy.BY_START_SEQUENCE)
