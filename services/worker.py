"""The projection worker process: runs the units of work until stopped.

With one partition (the default) a worker runs every unit itself, the projection reading the
whole stream with one consumer. With `DOINGOAI_PARTITIONS` > 1 the projection is partitioned by
province and several workers share the units — one per province seen on the stream, the
whole-stream audit chain (`global`), the rejected stream, escalation delivery and the escalation
service — through leases (`projections.engine.partitions`): a worker that dies hands its units over when
its leases expire. The worker gives the projections what they need from outside: the database
engine, the NATS connection and the audit chain's signing key.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager
from functools import cached_property
from typing import Any, cast

import structlog
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from projections.engine.batch import StreamMessage
from projections.engine.partitions import (
    AUDIT_CONSUMER,
    GLOBAL,
    PROJECTION_VERSION,
    PROVINCE_CONSUMER,
    Coordinator,
    WholeStream,
    leases,
    province_filter,
    province_unit,
    seen_provinces,
    unit_province,
)
from projections.engine.runner import Handler, Runner
from projections.models.audit import AuditTrail
from projections.models.catalogue import all_projections, partitioned_projections
from projections.models.handlers import AuditOnly, ParkPoison, events_handler
from projections.models.rejected import record_poison, rejected_handler
from services.audit_keys import audit_trail
from services.db import make_engine
from services.escalations.clock import SystemClock
from services.escalations.delivery import DELIVERED, delivery_handler
from services.escalations.service import EscalationService
from services.gc_tuning import tune_gc
from services.runtime import Runtime
from services.store import EVENTS_STREAM, REJECTED_STREAM

log = structlog.get_logger(__name__)
SINGLE_UNITS = ("rejected", "delivery", "escalations")
UNIT_FETCH_TIMEOUT_S = 2.0
"""With partitions: a fetch returns as soon as its first message arrives, so the timeout only bounds
how often an idle unit asks the server (dozens of province units may be idle)."""
PROVINCE_TURNS = 3
PARTITIONED_POOL = 5
AHEAD_PROVINCES = 3
"""Province units of one process that read ahead and pipeline their batches (as the single unit
does): the first ones it runs, e.g. the one province of a provincial system's stream. The others
decode and apply each batch in its turn (`Unprepared`), so that the heap stays bounded however many
provinces a process holds."""


class TakingTurns:
    """The engine of the province units' runners: at most `turns` of them apply a batch at once.

    Dozens of units in one process would otherwise all apply their batches together, keeping the
    event loop busy for seconds at a time and as many transactions open; one core gains nothing
    from more than a few transactions in flight."""

    def __init__(self, engine: AsyncEngine, turns: int):
        self.engine, self.turns = engine, asyncio.Semaphore(turns)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        async with self.turns, self.engine.begin() as conn:
            yield conn

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)


class Unprepared:
    """A province unit's handler without `prepare`: its batch is decoded in its turn, not as soon as
    it is read. Dozens of units each holding two decoded batches would fill the heap (the garbage
    collector's full passes grow with it); in a turn, decoding overlaps the other turns' writes."""

    def __init__(self, handler: Handler):
        self.handler = handler
        self.rebuildable = getattr(handler, "rebuildable", False)

    async def __call__(self, conn: AsyncConnection, messages: Sequence[StreamMessage]) -> None:
        await self.handler(conn, messages)


class Units:
    """Builds the coroutine that runs one named unit of work."""

    def __init__(self, rt: Runtime, engine: AsyncEngine, js: Any, nc: Any, stop: asyncio.Event):
        self.rt, self.engine, self.js, self.nc, self.stop = rt, engine, js, nc, stop
        self.partitions = rt.settings.partitions
        self.province_engine = cast(AsyncEngine, TakingTurns(engine, PROVINCE_TURNS))
        self.ahead: set[str] = set()
        """The provinces whose units read ahead and pipeline here (`AHEAD_PROVINCES` at most)."""

    @cached_property
    def trail(self) -> AuditTrail:
        """The audit chain's projection, signing with the settings' key (read when first run)."""
        return audit_trail(self.rt.settings)

    async def names(self) -> list[str]:
        """The units; with partitions, one more per province the `global` unit has seen."""
        if self.partitions <= 1:
            return ["all", *SINGLE_UNITS]
        async with self.engine.connect() as conn:
            provinces = await seen_provinces(conn)
        return [GLOBAL, *SINGLE_UNITS, *(province_unit(p) for p in provinces)]

    def runner(self, durable: str, handler: Any, **kw: Any) -> Runner:
        s = self.rt.settings
        if self.partitions > 1:  # the coordinator cancels its runners: a long fetch never delays a stop
            kw.setdefault("fetch_timeout", UNIT_FETCH_TIMEOUT_S)
        return Runner(self.nc, kw.pop("engine", self.engine), stream=kw.pop("stream", EVENTS_STREAM),
                      durable=durable, handler=handler, batch_size=s.projection_batch, ack_wait=s.ack_wait_s, **kw)

    def province_handler(self, province: str) -> Handler:
        """The handler of `province`'s unit: read ahead and pipelined for the first
        `AHEAD_PROVINCES` provinces this process runs, each batch in its turn for the others."""
        handler = events_handler(partitioned_projections())
        if province in self.ahead or len(self.ahead) < AHEAD_PROVINCES:
            self.ahead.add(province)
            return handler
        return Unprepared(handler)

    def run(self, unit: str) -> Coroutine[None, None, None]:
        v = PROJECTION_VERSION
        if unit == "all":
            return self.runner(f"projector_{v}", events_handler(all_projections(self.trail)),
                               isolate=ParkPoison(self.trail)).run(self.stop)
        province = unit_province(unit)
        if province is not None:  # the server sends this unit its province's messages only
            return self.runner(PROVINCE_CONSUMER + province, self.province_handler(province),
                               isolate=record_poison, filter_subject=province_filter(province),
                               engine=self.province_engine).run(self.stop)
        if unit == GLOBAL:
            audit_only = AuditOnly(self.trail)
            return self.runner(AUDIT_CONSUMER, WholeStream(audit_only, events_handler(partitioned_projections())),
                               isolate=WholeStream(audit_only, record_poison)).run(self.stop)
        if unit == "rejected":
            return self.runner(f"rejected_{v}", rejected_handler, stream=REJECTED_STREAM).run(self.stop)
        if unit == "delivery":
            return self.runner(f"escalation_delivery_{v}", delivery_handler(self.js),
                               filter_subjects=[f"doingoai.events.*.doingoai.{name}" for name in DELIVERED]
                               ).run(self.stop)
        if unit == "escalations":
            return self.escalations()
        raise ValueError(f"unknown unit {unit}")

    async def escalations(self) -> None:
        if not self.rt.settings.escalations:
            await self.stop.wait()
            return
        await EscalationService(self.nc, self.engine, SystemClock()).run(self.stop, self.rt.settings.escalation_tick_s)


async def run_worker(rt: Runtime) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    nc = await rt.connect_nats("projector")
    partitioned = rt.settings.partitions > 1
    engine = make_engine(rt.database_url, pool_size=PARTITIONED_POOL if partitioned else 4, pre_ping=False)
    js: JetStreamContext = nc.jetstream()
    units = Units(rt, engine, js, nc, stop)
    try:
        if not partitioned:
            tasks = [asyncio.create_task(units.run(u)) for u in await units.names()]
        else:
            kv = await leases(js, rt.settings.lease_ttl_s)
            coordinator = Coordinator(kv, units.names, units.run, renew_s=min(2.0, rt.settings.lease_ttl_s / 3))
            tasks = [asyncio.create_task(coordinator.run(stop))]
        tune_gc()  # what start-up built stays out of collection
        log.info("worker.started", partitioned=partitioned)
        done, _ = await asyncio.wait([asyncio.create_task(stop.wait()), *tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task in tasks and task.exception():
                raise task.exception()  # type: ignore[misc]
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await nc.drain()
        await engine.dispose()
        log.info("worker.stopped")
