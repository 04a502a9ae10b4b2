"""Replay a stream's messages through a handler into a database, leaving the live read models alone
(the replay of them all, into a fresh schema, is `services.replay`).

An ephemeral pull consumer (ack none, in memory) reads from `from_seq` up to the stream's last
sequence at the start; `as_of` keeps only events recorded up to that moment. The same handler as
the live worker applies them, so a replay and the live run produce the same tables. The next
batch is read (and prepared) while one is written.
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from datetime import datetime
from typing import Any

from nats.aio.client import Client
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from projections.engine.batch import StreamMessage
from projections.engine.checkpoints import write_checkpoint
from projections.engine.runner import Handler, Planner
from projections.engine.stream_reader import read_batches

Batches = asyncio.Queue[list[StreamMessage] | None]
"""Batches read ahead, in stream order; None after the last."""


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
    last_seq: int | None = None,
) -> tuple[int, int]:
    """Apply one stream's messages from `from_seq` to `last_seq` (default: its last sequence now);
    (count, last_seq)."""
    js = nc.jetstream()
    if last_seq is None:
        last_seq = (await js.stream_info(stream)).state.last_seq
    if last_seq < from_seq:
        return 0, last_seq
    prepare = getattr(handle, "prepare", None)
    ahead: Batches = asyncio.Queue(maxsize=1)

    async def read() -> None:
        """Read (and prepare) the next batch while the one before it is written."""
        batches = read_batches(nc, stream, subjects, from_seq=from_seq, last_seq=last_seq, batch=batch_size)
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
    apply = _pipelined if isinstance(handle, Planner) else _in_turn
    try:
        count = await apply(engine, handle, consumer, ahead)
        await reader  # its errors surface here
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    return count, last_seq


async def _in_turn(engine: AsyncEngine, handle: Handler, consumer: str, ahead: Batches) -> int:
    """Apply each batch in a transaction of its own, one after the other."""
    count = 0
    while (batch := await ahead.get()) is not None:
        async with engine.begin() as conn:
            await handle(conn, batch)
            await write_checkpoint(conn, consumer, batch[-1].seq)
        count += len(batch)
    return count


async def _pipelined(engine: AsyncEngine, handle: Planner, consumer: str, ahead: Batches) -> int:
    """Plan each batch on a connection of its own while the batch before it is written, as if that
    one had committed (as the live runner does); write it once that one has. Nothing else writes
    the fresh schema, so a plan holds unless its batch before fails, and then the replay fails."""
    count = 0
    writing: asyncio.Task[None] | None = None
    before: Any = None
    try:
        while (batch := await ahead.get()) is not None:
            conn = await engine.connect()
            try:
                await conn.begin()
                planned = await handle.plan(conn, batch, before)
                if writing is not None:
                    await writing
            except BaseException:
                await conn.close()
                raise
            writing = asyncio.create_task(_write_planned(conn, handle, planned, consumer, batch[-1].seq))
            before = planned
            count += len(batch)
        if writing is not None:
            await writing
    finally:
        if writing is not None and not writing.done():
            writing.cancel()
            await asyncio.gather(writing, return_exceptions=True)
    return count


async def _write_planned(conn: AsyncConnection, handle: Planner, planned: Any, consumer: str, last: int) -> None:
    """(background) Store a plan and the checkpoint, commit, and give the connection back."""
    try:
        await handle.store(conn, planned)
        await write_checkpoint(conn, consumer, last)
        await conn.commit()
    finally:
        await conn.close()
