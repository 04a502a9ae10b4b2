"""Rebuild the read models from the stream into a fresh schema, leaving the live ones alone.

The schema is created and migrated, then both streams are replayed into it
(`projections.engine.replay.replay_stream`) with the handlers of the live worker, so a replay and the
live run produce the same tables.

A replay of many messages, by a caller that can start a process attached to the same servers
(`child_env`), rebuilds the audit chain in a process of its own (`services.replay_audit`, the
whole-stream unit of partitioned workers) while this one applies every other projection: two
cores instead of one, and the same tables.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from nats.aio.client import Client
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from projections.engine.replay import replay_stream
from projections.models.audit import AuditTrail
from projections.models.catalogue import all_projections, partitioned_projections
from projections.models.handlers import events_handler
from projections.models.personal import copy_personal
from projections.models.rejected import rejected_handler
from projections.models.signatures import copy_keys
from projections.models.tables import READ_MODEL_TABLES
from services.audit_keys import audit_trail
from services.db import DEFAULT_SCHEMA, make_engine
from services.db.migrate import autovacuum_paused, migrate
from services.settings import load
from services.store import EVENTS_STREAM, EVENTS_SUBJECTS, REJECTED_STREAM, REJECTED_SUBJECTS

PARALLEL_FROM = 20_000
"""Messages to replay from which the audit chain is rebuilt apart: below, the process start costs
about what it saves."""
AUDIT_NICE = 19
"""How much lower the audit process's CPU priority is than the replaying process's. The audit chain
costs about a third of what the other projections cost per message, so the audit process ends well
before the replaying one, which sets the pace: where the two (with PostgreSQL and nats-server)
want more CPU than the machine has, the replaying one goes first, and the audit process takes
what is left; it still ends first. Measured on two cores, 1,000,000 events, runs in turns: at 19,
12.4 and 12.6k events/s against 11.6 and 10.9k/s at equal priority; at 10, 9.9 and 11.1k/s
against 9.6 and 11.1k/s."""


@dataclass(frozen=True)
class ReplayResult:
    schema: str
    events: int
    last_seq: int
    seconds: float
    audit_apart: dict[str, int] | None = None
    """What the audit process reported ({"events", "peak_rss_mb", "nice"}), if the chain was rebuilt apart."""

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


async def copy_live_keys(live_url: str, engine: AsyncEngine) -> None:
    """The agencies' registered keys and the keys of people (the erased ones too), copied from the
    live schema of `live_url` into `engine`'s fresh schema: what is not derived from events."""
    live = make_engine(live_url, pool_size=1)
    try:
        async with live.connect() as source, engine.begin() as target:
            await copy_keys(source, target)
            await copy_personal(source, target)
    finally:
        await live.dispose()


async def replay(
    nc: Client,
    database_url: str,
    schema: str,
    *,
    from_seq: int = 1,
    as_of: datetime | None = None,
    batch_size: int = 2000,
    child_env: Mapping[str, str] | None = None,
    parallel_from: int = PARALLEL_FROM,
    trail: AuditTrail | None = None,
    keys_from: str | None = None,
) -> ReplayResult:
    """Rebuild every read model into `schema` (created and migrated here). With `child_env` (the
    environment of a process attached to the same servers, e.g. `Runtime.child_env()`) and at
    least `parallel_from` messages to replay, the audit chain is rebuilt in a process of its own.
    The audit chain is `trail`, by default signed as the settings of this process say. The agencies'
    registered keys are copied first from the live schema of `keys_from` (default: `database_url`),
    so that signatures are checked as the live projection checked them, and the keys of people,
    the erased ones too, so that what was erased stays erased."""
    trail = trail or audit_trail(load())
    await migrate(database_url, schema)
    engine = make_engine(database_url, schema, pool_size=2, pre_ping=False)
    if (keys_from or database_url, DEFAULT_SCHEMA) != (database_url, schema):
        await copy_live_keys(keys_from or database_url, engine)
    started = time.perf_counter()
    try:
        async with autovacuum_paused(engine, schema):
            count, last_seq, figures = await _replay_all(
                nc, engine, database_url, schema, trail,
                from_seq=from_seq, as_of=as_of, batch_size=batch_size, child_env=child_env, parallel_from=parallel_from,
            )
    finally:
        await engine.dispose()
    return ReplayResult(schema, count, last_seq, time.perf_counter() - started, figures)


async def _replay_all(
    nc: Client, engine: AsyncEngine, database_url: str, schema: str, trail: AuditTrail, *,
    from_seq: int, as_of: datetime | None, batch_size: int, child_env: Mapping[str, str] | None, parallel_from: int,
) -> tuple[int, int, dict[str, int] | None]:
    """Both streams into `schema`: (events applied, the events stream's last sequence, the audit
    process's figures if it ran)."""
    last_seq = (await nc.jetstream().stream_info(EVENTS_STREAM)).state.last_seq
    audit = None
    if child_env is not None and last_seq - from_seq + 1 >= max(parallel_from, 1):
        audit = await AuditProcess.start(
            child_env, database_url, schema,
            from_seq=from_seq, last_seq=last_seq, as_of=as_of, batch_size=batch_size,
        )
    try:
        projections = partitioned_projections() if audit else all_projections(trail)
        count, _ = await replay_stream(
            nc, engine, EVENTS_STREAM, EVENTS_SUBJECTS, events_handler(projections), "projector_v1",
            from_seq=from_seq, as_of=as_of, batch_size=batch_size, last_seq=last_seq,
        )
        figures = await audit.result() if audit else None
    finally:
        if audit:
            await audit.stop()
    await replay_stream(
        nc, engine, REJECTED_STREAM, REJECTED_SUBJECTS, rejected_handler, "rejected_v1",
        from_seq=1, as_of=as_of, batch_size=batch_size,
    )
    return count, last_seq, figures


class AuditProcess:
    """The `services.replay_audit` process of a replay."""

    def __init__(self, process: asyncio.subprocess.Process):
        self.process = process
        self.output = asyncio.ensure_future(process.communicate())  # read as it comes: a full pipe would stall it

    @classmethod
    async def start(
        cls, env: Mapping[str, str], database_url: str, schema: str, *,
        from_seq: int, last_seq: int, as_of: datetime | None, batch_size: int,
    ) -> AuditProcess:
        args = [schema, "--from-seq", str(from_seq), "--last-seq", str(last_seq), "--batch", str(batch_size),
                "--nice", str(AUDIT_NICE)]
        if as_of is not None:
            args += ["--as-of", as_of.isoformat()]
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.replay_audit", *args,
            env={**env, "DOINGOAI_DATABASE_URL": database_url}, stdout=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def result(self) -> dict[str, int]:
        """Its figures once it has chained every message; RuntimeError if it failed."""
        out, _ = await self.output
        if self.process.returncode != 0:
            raise RuntimeError(f"the audit chain's replay process failed (exit {self.process.returncode})")
        figures: dict[str, int] = json.loads(out.decode().strip().splitlines()[-1])
        return figures

    async def stop(self) -> None:
        """End it if it still runs (this replay failed)."""
        if self.process.returncode is None:
            self.process.kill()
        await asyncio.gather(self.output, return_exceptions=True)
