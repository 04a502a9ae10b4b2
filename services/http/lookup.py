"""The NATS responder behind the publisher library's permanent idempotency check."""

from __future__ import annotations

import json

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from sqlalchemy.ext.asyncio import AsyncEngine

from projections.event_index import known_ids
from services.store import LOOKUP_SUBJECT

MAX_IDS = 10_000


async def serve_lookup(nc: Client, engine: AsyncEngine) -> Subscription:
    async def answer(msg: Msg) -> None:
        try:
            ids = [str(i) for i in json.loads(msg.data).get("ids", [])][:MAX_IDS]
        except (ValueError, AttributeError):
            await msg.respond(json.dumps({"error": "expected {\"ids\": [...]}"}).encode())
            return
        async with engine.connect() as conn:
            found = await known_ids(conn, ids)
        await msg.respond(json.dumps({"found": found}).encode())

    return await nc.subscribe(LOOKUP_SUBJECT, queue="lookup", cb=answer)


async def lookup_db(engine: AsyncEngine, ids: list[str]) -> dict[str, int]:
    async with engine.connect() as conn:
        return await known_ids(conn, list(ids))
