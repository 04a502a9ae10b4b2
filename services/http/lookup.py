"""The permanent idempotency check: which (source, id) pairs the event index holds, and their
sequences. Another source's equal id is another event.

`CoalescingLookup` asks PostgreSQL with a `SharedQuery`: on one connection of its own, with a
prepared statement; callers arriving while a query runs share the next one. `serve_lookup` answers
the publisher library's NATS requests with it.

Given the stream's duplicate window, the lookup also keeps `SeenIds`, a Bloom filter of every
(source, id) in the index, read in sequence order by a task of its own every `window / 8` seconds
(1 s at most): a pair the filter has never seen is answered at once, without a query. That is sound
for a pair stored at least a window ago, the only ones the index must catch (JetStream itself drops
a repeat inside the window), as long as the projection indexes an event within 3/4 of the window:
the filter is used only while its last refresh began less than `window / 4` ago, and one runner
fills the index in sequence order, so the filter holds every pair indexed by then. Partitioned
workers' units commit in their own orders: the filter is then not used. Any pair the filter may
hold is asked of PostgreSQL, as is every pair while the filter is loading or stale.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator, Sequence
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.errors import NotFoundError
from sqlalchemy.ext.asyncio import AsyncEngine

from projections.engine.batch import Key, is_copy_of
from projections.engine.bulk import driver
from projections.engine.partitions import AUDIT_CONSUMER, PROVINCE_CONSUMER
from projections.models.event_index import KNOWN_IDS, stored_of
from schemas.envelope import source_for
from services.http.shared_query import SharedQuery
from services.store import EVENTS_STREAM, LOOKUP_SUBJECT, msg_id

MAX_IDS = 10_000


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
    """A Bloom filter of events' (source, id) keys: `may_hold` is False only for a key never added.
    About 1% false positives up to `capacity` keys (10 bits and 7 probes a key), more beyond."""

    PROBES = 7

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.size = 1 << max(16, (10 * capacity - 1).bit_length())
        self.bits = bytearray(self.size // 8)
        self.count = 0

    def _positions(self, key: Key) -> Iterator[int]:
        """The bits of `key`, by double hashing of its 64-bit hash (one process's hashes: the
        filter never leaves it)."""
        h = hash(key) & 0xFFFF_FFFF_FFFF_FFFF
        position, step, mask = h & 0xFFFF_FFFF, (h >> 32) | 1, self.size - 1
        for _ in range(self.PROBES):
            yield position & mask
            position += step

    def add(self, key: Key) -> None:
        for p in self._positions(key):
            self.bits[p >> 3] |= 1 << (p & 7)
        self.count += 1

    def may_hold(self, key: Key) -> bool:
        """Whether `key` may have been added (`_positions` inlined: this is on every publish)."""
        h = hash(key) & 0xFFFF_FFFF_FFFF_FFFF
        position, step, mask, bits = h & 0xFFFF_FFFF, (h >> 32) | 1, self.size - 1, self.bits
        for _ in range(self.PROBES):
            p = position & mask
            if not bits[p >> 3] & (1 << (p & 7)):
                return False  # most unseen keys end at the first or second bit
            position += step
        return True


REFRESH_ROWS = 50_000
"""Index rows read per query of a filter refresh."""
REFRESH = "SELECT seq, source, id FROM events WHERE seq > $1 ORDER BY seq LIMIT $2"
PARTITIONED = "SELECT EXISTS (SELECT 1 FROM checkpoints WHERE consumer = $1 OR starts_with(consumer, $2))"
"""Whether partitioned workers project the stream: each unit commits its rows in its own order, so
the index is not filled in sequence order and the filter is not used."""


class CoalescingLookup(SharedQuery[Key, int]):
    """Concurrent lookups share one query on a connection of their own (`SharedQuery`). With
    `window_s`, the stream's duplicate window, (source, id) pairs the `SeenIds` filter has never
    seen are answered without one."""

    statement_sql = KNOWN_IDS

    def __init__(self, engine: AsyncEngine, *, window_s: float | None = None):
        super().__init__(engine)
        self.window_s = window_s
        self.seen: SeenIds | None = None
        self.seen_through = 0
        """The filter holds the keys of the index rows up to this sequence."""
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
        """Add the keys of the index rows after `seen_through`; a new filter, twice as large, once
        this one holds more keys than its capacity."""
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
                rows = await adb.fetch(REFRESH, through, REFRESH_ROWS)
                for row in rows:
                    seen.add((row[1], row[2]))
                if rows:
                    through = rows[-1]["seq"]
                if len(rows) < REFRESH_ROWS:
                    break
        self.seen, self.seen_through, self.refresh_began = seen, through, began

    async def __call__(self, keys: Sequence[Key]) -> dict[Key, int]:
        """Which of `keys` ((source, id)) the index holds, with their sequences."""
        seen = self._filter()
        if seen is not None:
            keys = [k for k in keys if seen.may_hold(k)]
            if not keys:
                return {}
        return await self.ask(keys)

    def askable(self, keys: Sequence[Key]) -> list[Key]:
        return list({k for k in keys if storable_id(k[1])})

    def arguments(self, keys: list[Key]) -> tuple[Any, ...]:
        return (list({i for _, i in keys}),)

    def found(self, rows: list[Any], keys: list[Key]) -> dict[Key, int]:
        return stored_of(rows, keys)

    async def close(self) -> None:
        self.closed = True
        if self.refresher is not None:
            self.refresher.cancel()
            await asyncio.gather(self.refresher, return_exceptions=True)
            self.refresher = None
        await self.close_connection()


def _source_of(subject: str) -> str | None:
    """The source whose agency publishes on an events subject `doingoai.events.<province>.<agency>.<name>`."""
    parts = subject.split(".")
    return source_for(parts[2], parts[3]) if len(parts) == 5 and parts[:2] == ["doingoai", "events"] else None


async def serve_lookup(nc: Client, engine: AsyncEngine, lookup: CoalescingLookup | None = None) -> Subscription:
    """Answer, on LOOKUP_SUBJECT (JSON; each request in a task of its own, so that concurrent
    requests share a query):

    - `{"source": S, "ids": [...]}` with `{"found": {id: seq}}`: which of the ids source S stored
      (at most MAX_IDS a request; one request per source). A request without `source` (an id alone
      is no key) is answered `{"error": ...}`, which an older client takes as "none found": the
      duplicate window and the event index still keep one copy of each (source, id).
    - `{"probe": {"subject", "after", "id", "msg_id"?}}` with `{"landed": seq | null}`: is the next
      message on the events subject after `after` the one with message id `msg_id` (default: the
      subject's source and `id`, as `services.store.msg_id` makes it; or a bare `id`)?
    - `{"copy": {"seq", "source", "id"}}` with `{"copy": true | false}`: is the message at `seq` the
      valid event (source, id), on its source's subject? (A "duplicate" acknowledgement names a
      message by its `Nats-Msg-Id`, a header any publisher may set.)
    """
    js = nc.jetstream()
    ask = lookup or CoalescingLookup(engine)
    answering: set[asyncio.Task[None]] = set()

    async def probe(request: dict[str, object]) -> int | None:
        """Is the next message on `subject` after `after` the one with our message id? (its sequence)"""
        subject, after, event_id = str(request["subject"]), int(str(request["after"])), str(request["id"])
        source = _source_of(subject)
        if source is None:
            return None
        wanted = {str(request["msg_id"])} if "msg_id" in request else {msg_id(source, event_id), event_id}
        try:
            found = await js.get_msg(EVENTS_STREAM, seq=after + 1, subject=subject, next=True)
        except NotFoundError:
            return None
        return found.seq if found.headers and found.headers.get("Nats-Msg-Id") in wanted else None

    async def copy(request: dict[str, object]) -> bool:
        seq, key = int(str(request["seq"])), (str(request["source"]), str(request["id"]))
        try:
            found = await js.get_msg(EVENTS_STREAM, seq=seq)
        except NotFoundError:
            return False
        return is_copy_of(key, found.subject or "", found.data or b"")

    async def answer(msg: Msg) -> None:
        try:
            request = json.loads(msg.data)
            if "probe" in request:
                await msg.respond(json.dumps({"landed": await probe(request["probe"])}).encode())
                return
            if "copy" in request:
                await msg.respond(json.dumps({"copy": await copy(request["copy"])}).encode())
                return
            source = request["source"]
            if not isinstance(source, str):
                raise TypeError("source")
            ids = [str(i) for i in request.get("ids", [])][:MAX_IDS]
        except (ValueError, AttributeError, KeyError, TypeError):
            expected = 'expected {"source": ..., "ids": [...]}, {"probe": {...}} or {"copy": {...}}'
            await msg.respond(json.dumps({"error": expected}).encode())
            return
        try:
            found = await ask([(source, i) for i in ids])
        except Exception as exc:  # the asker goes on without the index (the duplicate window still dedups)
            await msg.respond(json.dumps({"error": f"event index unavailable: {type(exc).__name__}"}).encode())
            return
        await msg.respond(json.dumps({"found": {i: seq for (_, i), seq in found.items()}}).encode())

    async def receive(msg: Msg) -> None:
        task = asyncio.create_task(answer(msg))
        answering.add(task)
        task.add_done_callback(answering.discard)

    return await nc.subscribe(LOOKUP_SUBJECT, queue="lookup", cb=receive)
