"""The NATS responder behind the publisher library's permanent idempotency check."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.errors import NotFoundError
from sqlalchemy.ext.asyncio import AsyncEngine

from projections.event_index import known_ids
from services.store import EVENTS_STREAM, LOOKUP_SUBJECT

MAX_IDS = 10_000


async def serve_lookup(nc: Client, engine: AsyncEngine) -> Subscription:
    js = nc.jetstream()

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
        async with engine.connect() as conn:
            found = await known_ids(conn, ids)
        await msg.respond(json.dumps({"found": found}).encode())

    return await nc.subscribe(LOOKUP_SUBJECT, queue="lookup", cb=answer)


async def lookup_db(engine: AsyncEngine, ids: list[str]) -> dict[str, int]:
    async with engine.connect() as conn:
        return await known_ids(conn, list(ids))


class CoalescingLookup:
    """Concurrent lookups share one query: callers arriving while a query runs join the next."""

    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        self.waiting: list[tuple[list[str], asyncio.Future[dict[str, int]]]] = []
        self.running = False
        self.task: asyncio.Task[None] | None = None

    async def __call__(self, ids: Sequence[str]) -> dict[str, int]:
        future: asyncio.Future[dict[str, int]] = asyncio.get_running_loop().create_future()
        self.waiting.append((list(ids), future))
        if not self.running:
            self.running = True
            self.task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting, []
                try:
                    found = await lookup_db(self.engine, [i for ids, _ in batch for i in ids])
                except Exception as exc:  # handed to every caller of this round
                    for _, future in batch:
                        future.set_exception(exc)
                    continue
                for ids, future in batch:
                    future.set_result({i: found[i] for i in ids if i in found})
        finally:
            self.running = False
