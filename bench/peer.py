"""The Python peer: the `eventsourcing` library with its PostgreSQL recorder (psycopg), on the
same PostgreSQL server, storing the same events (one aggregate per CloudEvent, the envelope as its
created event's state) one save per event and in saves of 1,000, then reading them back in order
through its application sequence (the notification log its projections follow)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from bench.refs import Item


def peer_env(database_url: str) -> dict[str, str]:
    """The library's POSTGRES_* settings for the embedded PostgreSQL."""
    url = urlsplit(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": url.path.lstrip("/") or "postgres",
        "POSTGRES_HOST": url.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": url.username or "postgres",
        "POSTGRES_PASSWORD": url.password or "",
        "POSTGRES_POOL_SIZE": "2",
    }


class Received(Aggregate):
    """One CloudEvent, stored as the created event of an aggregate of its own (id = event id)."""

    @staticmethod
    def create_id(envelope: dict[str, Any]) -> uuid.UUID:
        return uuid.UUID(envelope["id"])

    @event("Received")
    def __init__(self, envelope: dict[str, Any]):
        self.envelope = envelope


class BenchPeer(Application[uuid.UUID]):
    pass


def _run(database_url: str, single: Sequence[Item], batched: Sequence[Item], batch: int) -> dict[str, float]:
    app = BenchPeer(env=peer_env(database_url))
    envelopes = [json.loads(raw) for _, raw, _ in single]
    t0 = time.perf_counter()
    for envelope in envelopes:
        app.save(Received(envelope))
    single_rate = len(envelopes) / (time.perf_counter() - t0)

    envelopes = [json.loads(raw) for _, raw, _ in batched]
    t0 = time.perf_counter()
    for start in range(0, len(envelopes), batch):
        app.save(*(Received(e) for e in envelopes[start:start + batch]))
    batched_rate = len(envelopes) / (time.perf_counter() - t0)

    t0 = time.perf_counter()
    count, start_id = 0, 1
    while True:
        notifications = app.recorder.select_notifications(start_id, 1000)
        if not notifications:
            break
        for n in notifications:
            app.mapper.to_domain_event(n)
        count += len(notifications)
        start_id = notifications[-1].id + 1
    read_rate = count / (time.perf_counter() - t0)
    app.close()
    return {"single": single_rate, "batched": batched_rate, "read": read_rate, "read_count": count}


async def peer(
    database_url: str, single: Sequence[Item], batched: Sequence[Item], batch: int = 1000
) -> dict[str, float]:
    """events/s of one save per event, of saves of `batch`, and of reading everything back."""
    return await asyncio.to_thread(_run, database_url, single, batched, batch)
