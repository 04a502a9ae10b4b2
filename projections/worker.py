"""The projection worker process: runs the runners until stopped."""

from __future__ import annotations

import asyncio
import signal

import structlog

from projections.catalogue import all_projections
from projections.handlers import events_handler, park_poison, rejected_handler
from projections.runner import Runner
from services.db import make_engine
from services.runtime import Runtime
from services.store import EVENTS_STREAM, REJECTED_STREAM

log = structlog.get_logger(__name__)
PROJECTION_VERSION = "v1"


def runners(rt: Runtime, engine, js, *, batch_size: int, ack_wait: float) -> list[Runner]:  # type: ignore[no-untyped-def]
    return [
        Runner(
            js, engine, stream=EVENTS_STREAM, durable=f"projector_{PROJECTION_VERSION}",
            handler=events_handler(all_projections()), isolate=park_poison,
            batch_size=batch_size, ack_wait=ack_wait,
        ),
        Runner(
            js, engine, stream=REJECTED_STREAM, durable=f"rejected_{PROJECTION_VERSION}",
            handler=rejected_handler, batch_size=batch_size, ack_wait=ack_wait,
        ),
    ]


async def run_worker(rt: Runtime) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    nc = await rt.connect_nats("projector")
    engine = make_engine(rt.database_url, pool_size=3)
    try:
        tasks = [
            asyncio.create_task(r.run(stop))
            for r in runners(rt, engine, nc.jetstream(), batch_size=rt.settings.projection_batch,
                             ack_wait=rt.settings.ack_wait_s)
        ]
        log.info("worker.started", runners=len(tasks))
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
