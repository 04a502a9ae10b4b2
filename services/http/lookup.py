"""The permanent idempotency check: which event ids the event index holds, and their sequences.

`CoalescingLookup` asks PostgreSQL on one connection of its own (asyncpg, outside the engine's
pool, with the engine's address and search_path) with a prepared statement; callers arriving while
a query runs share the next one. `serve_lookup` answers the publisher library's NATS requests with it.

Given the stream's duplicate window, the lookup also keeps `SeenIds`, a Bloom filter of every id
in the index, read in sequence order by a task of its own every `window / 8` seconds (1 s at
most): an id the filter has never seen is answered at once, without a query. That is sound for an
id stored at least a window ago, the only ones the index must catch (JetStream itself drops a
repeat inside the window), as long as the projection indexes an event within 3/4 of the window:
the filter is used only while its last refresh began less than `window / 4` ago, and one runner
fills the index in sequence order, so the filter holds every id indexed by then. Partitioned
workers' units commit in their own orders: the filter is then not used. Any id the filter may
hold is asked of PostgreSQL, as is every id while the filter is loading or stale.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator, Sequence
from typing import Any

import asyncpg
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.errors import NotFoundError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from projections.bulk import driver
from projections.event_index import KNOWN_IDS
from projections.partitions import AUDIT_CONSUMER, PROVINCE_CONSUMER
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


class SeenIds:
    """A Bloom filter of event ids: `may_hold` is False only for an id never added. About 1% false
    positives up to `capacity` ids (10 bits and 7 probes an id), more beyond."""

    PROBES = 7

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.size = 1 << max(16, (10 * capacity - 1).bit_length())
        self.bits = bytearray(self.size // 8)
        self.count = 0

    def _positions(self, event_id: str) -> Iterator[int]:
        """The bits of `event_id`, by double hashing of its 64-bit hash (one process's hashes: the
        filter never leaves it)."""
        h = hash(event_id) & 0xFFFF_FFFF_FFFF_FFFF
        position, step, mask = h & 0xFFFF_FFFF, (h >> 32) | 1, self.size - 1
        for _ in range(self.PROBES):
            yield position & mask
            position += step

    def add(self, event_id: str) -> None:
        for p in self._positions(event_id):
            self.bits[p >> 3] |= 1 << (p & 7)
        self.count += 1

    def may_hold(self, event_id: str) -> bool:
        """Whether `event_id` may have been added (`_positions` inlined: this is on every publish)."""
        h = hash(event_id) & 0xFFFF_FFFF_FFFF_FFFF
        position, step, mask, bits = h & 0xFFFF_FFFF, (h >> 32) | 1, self.size - 1, self.bits
        for _ in range(self.PROBES):
            p = position & mask
            if not bits[p >> 3] & (1 << (p & 7)):
                return False  # most unseen ids end at the first or second bit
            position += step
        return True


REFRESH_ROWS = 50_000
"""Index rows read per query of a filter refresh."""
PARTITIONED = "SELECT EXISTS (SELECT 1 FROM checkpoints WHERE consumer = $1 OR starts_with(consumer, $2))"
"""Whether partitioned workers project the stream: each unit commits its rows in its own order, so
the index is not filled in sequence order and the filter is not used."""


class CoalescingLookup:
    """Concurrent lookups share one query on a connection of their own; a lost connection is
    opened again (once per query) before the error reaches the callers. With `window_s`, the
    stream's duplicate window, ids the `SeenIds` filter has never seen are answered without one."""

    def __init__(self, engine: AsyncEngine, *, window_s: float | None = None):
        self.engine = engine
        self.conn: asyncpg.Connection | None = None
        self.statement: Any = None
        self.waiting: list[tuple[list[str], asyncio.Future[dict[str, int]]]] = []
        self.running = False
        self.task: asyncio.Task[None] | None = None
        self.window_s = window_s
        self.seen: SeenIds | None = None
        self.seen_through = 0
        """The filter holds the ids of the index rows up to this sequence."""
        self.refresh_began = float("-inf")
        """time.monotonic() when the last complete refresh began (it saw every row committed by then)."""
        self.refresher: asyncio.Task[None] | None = None
        self.closed = False

    def _filter(self) -> SeenIds | None:
        """The filter if it may answer now (started on first use, not after `close`)."""
        if self.window_s is None or self.window_s <= 0 or self.closed:
            return None
        if self.refresher is None:
            self.refresher = asyncio.create_task(self._refresh_forever())
        if self.seen is None or time.monotonic() - self.refresh_began > self.window_s / 4:
            return None
        return self.seen

    async def _refresh_forever(self) -> None:
        assert self.window_s is not None
        pause = min(1.0, self.window_s / 8)
        while True:
            try:
                await self.refresh()
            except Exception:  # e.g. the database restarting: the filter goes stale, queries answer
                await asyncio.sleep(pause)
            await asyncio.sleep(pause)

    async def refresh(self) -> None:
        """Add the ids of the index rows after `seen_through`; a new filter, twice as large, once
        this one holds more ids than its capacity."""
        began = time.monotonic()
        async with self.engine.connect() as conn:
            adb = await driver(conn)
            if await adb.fetchval(PARTITIONED, AUDIT_CONSUMER, PROVINCE_CONSUMER):
                self.seen = None  # units commit out of sequence order: a row read late could be missed
                return
            seen, through = self.seen, self.seen_through
            if seen is None or seen.count > seen.capacity:
                total = int(await adb.fetchval("SELECT count(*) FROM events"))
                seen, through = SeenIds(max(1 << 20, 2 * total)), 0
            while True:
                rows = await adb.fetch(
                    "SELECT seq, id FROM events WHERE seq > $1 ORDER BY seq LIMIT $2", through, REFRESH_ROWS)
                for row in rows:
                    seen.add(row["id"])
                if rows:
                    through = rows[-1]["seq"]
                if len(rows) < REFRESH_ROWS:
                    break
        self.seen, self.seen_through, self.refresh_began = seen, through, began

    async def __call__(self, ids: Sequence[str]) -> dict[str, int]:
        seen = self._filter()
        if seen is not None:
            ids = [i for i in ids if seen.may_hold(i)]
            if not ids:
                return {}
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
        self.closed = True
        if self.refresher is not None:
            self.refresher.cancel()
            await asyncio.gather(self.refresher, return_exceptions=True)
            self.refresher = None
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
