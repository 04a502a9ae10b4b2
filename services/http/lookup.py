"""The permanent idempotency check: which event ids the event index holds, and their sequences.

`CoalescingLookup` asks PostgreSQL on one connection of its own (asyncpg, outside the engine's
pool, with the engine's address and search_path) with a prepared statement; callers arriving while
a query runs share the next one. `serve_lookup` answers the publisher library's NATS requests with it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import asyncpg
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.errors import NotFoundError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from projections.event_index import KNOWN_IDS
from services.store import EVENTS_STREAM, LOOKUP_SUBJECT

MAX_IDS = 10_000
QUERY_TIMEOUT_S = 10.0
LOST = (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError)
"""What a lost or broken connection raises (asyncpg's protocol errors included, e.g. when the server
ended the session between two queries)."""


def storable_id(event_id: str) -> bool:
    """Whether PostgreSQL text can hold the id (no NUL, valid UTF-8): other ids are in no index."""
    if "\x00" in event_id:
        return False
    try:
        event_id.encode()
    except UnicodeEncodeError:
        return False
    return True


class CoalescingLookup:
    """Concurrent lookups share one query on a connection of their own; a lost connection is
    opened again (once per query) before the error reaches the callers."""

    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        self.conn: asyncpg.Connection | None = None
        self.statement: Any = None
        self.waiting: list[tuple[list[str], asyncio.Future[dict[str, int]]]] = []
        self.running = False
        self.task: asyncio.Task[None] | None = None

    async def __call__(self, ids: Sequence[str]) -> dict[str, int]:
        if self.running:  # join the next query
            future: asyncio.Future[dict[str, int]] = asyncio.get_running_loop().create_future()
            self.waiting.append((list(ids), future))
            return await future
        self.running = True  # no query running: ask at once, in this task
        try:
            found = await self.query(list({i for i in ids if storable_id(i)}))
        finally:
            if self.waiting:
                self.task = asyncio.create_task(self._drain())
            else:
                self.running = False
        return {i: found[i] for i in ids if i in found}

    async def _drain(self) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting, []
                try:
                    found = await self.query(list({i for ids, _ in batch for i in ids if storable_id(i)}))
                except Exception as exc:  # handed to every caller of this round
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for ids, future in batch:
                    if not future.done():
                        future.set_result({i: found[i] for i in ids if i in found})
        finally:
            self.running = False

    async def query(self, ids: list[str]) -> dict[str, int]:
        if not ids:
            return {}
        for attempt in (1, 2):
            try:
                if self.statement is None:
                    await self._connect()
                rows = await self.statement.fetch(ids, timeout=QUERY_TIMEOUT_S)
                return {row[0]: row[1] for row in rows}
            except LOST:
                await self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _connect(self) -> None:
        async with self.engine.connect() as conn:  # the engine's search_path (the read-model schema)
            search_path = str(await conn.scalar(text("SHOW search_path")))
        _, params = self.engine.dialect.create_connect_args(self.engine.url)
        self.conn = await asyncpg.connect(
            **params, server_settings={"search_path": search_path, "application_name": "doingoai-lookup"})
        self.statement = await self.conn.prepare(KNOWN_IDS)

    async def close(self) -> None:
        conn, self.conn, self.statement = self.conn, None, None
        if conn is not None and not conn.is_closed():
            try:
                await asyncio.wait_for(conn.close(), 2)
            except LOST:
                conn.terminate()


async def serve_lookup(nc: Client, engine: AsyncEngine, lookup: CoalescingLookup | None = None) -> Subscription:
    """Answer `{"ids": [...]}` with `{"found": {id: seq}}` and `{"probe": {subject, after, id}}`
    with `{"landed": seq | null}` on LOOKUP_SUBJECT; each request in a task of its own, so that
    concurrent requests share a query."""
    js = nc.jetstream()
    ask = lookup or CoalescingLookup(engine)
    answering: set[asyncio.Task[None]] = set()

    async def probe(request: dict[str, object]) -> int | None:
        """Is the next message on `subject` after `after` the one with id `id`? (its sequence)"""
        subject, after, event_id = str(request["subject"]), int(str(request["after"])), str(request["id"])
        if not subject.startswith("doingoai.events."):
            return None
        try:
            found = await js.get_msg(EVENTS_STREAM, seq=after + 1, subject=subject, next=True)
        except NotFoundError:
            return None
        return found.seq if found.headers and found.headers.get("Nats-Msg-Id") == event_id else None

    async def answer(msg: Msg) -> None:
        try:
            request = json.loads(msg.data)
            if "probe" in request:
                await msg.respond(json.dumps({"landed": await probe(request["probe"])}).encode())
                return
            ids = [str(i) for i in request.get("ids", [])][:MAX_IDS]
        except (ValueError, AttributeError, KeyError, TypeError):
            await msg.respond(json.dumps({"error": "expected {\"ids\": [...]} or {\"probe\": {...}}"}).encode())
            return
        try:
            found = await ask(ids)
        except Exception as exc:  # the asker goes on without the index (the duplicate window still dedups)
            await msg.respond(json.dumps({"error": f"event index unavailable: {type(exc).__name__}"}).encode())
            return
        await msg.respond(json.dumps({"found": found}).encode())

    async def receive(msg: Msg) -> None:
        task = asyncio.create_task(answer(msg))
        answering.add(task)
        task.add_done_callback(answering.discard)

    return await nc.subscribe(LOOKUP_SUBJECT, queue="lookup", cb=receive)
