"""The projection worker process: runs the units of work until stopped.

With one partition (the default) a worker runs every unit itself. With `DOINGOAI_PARTITIONS` > 1,
several workers share the units — the province partitions, the whole-stream audit chain, the
rejected stream, escalation delivery and the escalation service — through leases
(`projections.partitions`): a worker that dies hands its units over when its leases expire.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any

import structlog
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from projections.catalogue import all_projections, partitioned_projections
from projections.handlers import audit_only, events_handler, park_poison, record_poison, rejected_handler
from projections.partitions import GLOBAL, Coordinator, leases, only_partition
from projections.runner import Runner
from services.db import make_engine
from services.escalations.clock import SystemClock
from services.escalations.delivery import DELIVERED, delivery_handler
from services.escalations.service import EscalationService
from services.runtime import Runtime
from services.store import EVENTS_STREAM, REJECTED_STREAM

log = structlog.get_logger(__name__)
PROJECTION_VERSION = "v1"
SINGLE_UNITS = ("rejected", "delivery", "escalations")


class Units:
    """Builds the coroutine that runs one named unit of work."""

    def __init__(self, rt: Runtime, engine: AsyncEngine, js: Any, nc: Any, stop: asyncio.Event):
        self.rt, self.engine, self.js, self.nc, self.stop = rt, engine, js, nc, stop
        self.partitions = rt.settings.partitions

    def names(self) -> list[str]:
        """Units in claim order, heavy and light interleaved: a worker that gives back the tail of
        its claims beyond its fair share then keeps a balanced mix."""
        if self.partitions <= 1:
            return ["all", *SINGLE_UNITS]
        parts = [f"p{i}" for i in range(self.partitions)]
        light = [GLOBAL, *SINGLE_UNITS]
        out: list[str] = []
        while parts or light:
            out += [parts.pop(0)] if parts else []
            out += [light.pop(0)] if light else []
        return out

    def runner(self, durable: str, handler: Any, **kw: Any) -> Runner:
        s = self.rt.settings
        return Runner(self.js, self.engine, stream=kw.pop("stream", EVENTS_STREAM), durable=durable,
                      handler=handler, batch_size=s.projection_batch, ack_wait=s.ack_wait_s, **kw)

    def run(self, unit: str) -> Coroutine[None, None, None]:
        v = PROJECTION_VERSION
        if unit == "all":
            return self.runner(f"projector_{v}", events_handler(all_projections()), isolate=park_poison).run(self.stop)
        if unit.startswith("p"):
            part, n = int(unit[1:]), self.partitions
            handler = only_partition(events_handler(partitioned_projections()), part, n)
            return self.runner(f"projector_{v}_{unit}", handler,
                               isolate=only_partition(record_poison, part, n)).run(self.stop)
        if unit == GLOBAL:
            return self.runner(f"audit_{v}", audit_only).run(self.stop)
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
    engine = make_engine(rt.database_url, pool_size=3 + rt.settings.partitions)
    js: JetStreamContext = nc.jetstream()
    units = Units(rt, engine, js, nc, stop)
    try:
        if rt.settings.partitions <= 1:
            tasks = [asyncio.create_task(units.run(u)) for u in units.names()]
        else:
            kv = await leases(js, rt.settings.lease_ttl_s)
            tasks = [asyncio.create_task(Coordinator(kv, units.names(), units.run).run(stop))]
        log.info("worker.started", units=units.names(), partitions=rt.settings.partitions)
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
