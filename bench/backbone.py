"""Backbone figures on this machine: publish rate, projection rate, publish->visible latency.

    .venv/bin/python -m bench.backbone [--events 100000] [--rate 1000] [--seconds 10]

Runs the embedded stack (real nats-server with fsync on every ack, real PostgreSQL) in a
temporary data directory and prints its figures.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from bench.ours import TimedRunner, embedded_stack
from projections.models.catalogue import all_projections
from projections.models.handlers import events_handler
from schemas.codec import encode
from services import event_loop
from services.http.lookup import CoalescingLookup
from services.store import EVENTS_STREAM
from services.store.publisher import Publisher
from tests.support import sample


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def main(events: int, rate: int, seconds: int) -> None:
    async with embedded_stack("doingoai-bench-", "bench", pool_size=4) as (_, nc, engine):
        js = nc.jetstream()
        kinds = ("activity_held", "delegation_received", "report_submitted", "difficulty_raised")
        payloads = [encode(sample(kinds[i % 4], aggregate_id=f"b{i}")) for i in range(events)]
        publisher = Publisher(nc, lookup=CoalescingLookup(engine))
        t0 = time.perf_counter()
        await publisher.publish_many(payloads, window=512)
        publish_s = time.perf_counter() - t0

        stop = asyncio.Event()
        runner = TimedRunner(nc, engine, stream=EVENTS_STREAM, durable="bench_v1",
                             handler=events_handler(all_projections()), batch_size=1000)
        runner.visible = {}
        last = (await js.stream_info(EVENTS_STREAM)).state.last_seq
        t1 = time.perf_counter()
        task = asyncio.create_task(runner.run(stop))
        while runner.checkpoint < last:
            await asyncio.sleep(0.01)
        project_s = time.perf_counter() - t1

        latencies: list[float] = []
        sent: dict[int, float] = {}
        interval = 1.0 / rate
        start = time.perf_counter()
        pending = []
        steady = [encode(sample(kinds[i % 4], aggregate_id=f"l{i}")) for i in range(rate * seconds)]
        for i, payload in enumerate(steady):
            target = start + i * interval
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            t = time.perf_counter()
            pending.append((t, asyncio.create_task(publisher.publish(payload))))
        for t, fut in pending:
            sent[(await fut).sequence] = t
        while runner.checkpoint < max(sent):
            await asyncio.sleep(0.01)
        latencies = [(runner.visible[s] - t) * 1000 for s, t in sent.items()]
        stop.set()
        await task
    print(f"events published (validated, id checked against the index, fsync per ack, pipelined): {events}")
    print(f"publish rate:        {events / publish_s:10.0f} events/s")
    print(f"projection rate:     {events / project_s:10.0f} events/s (all projections, 1000 per transaction)")
    print(f"publish->visible at {rate}/s for {seconds}s: p50 {statistics.median(latencies):.1f} ms, "
          f"p99 {percentile(latencies, 99):.1f} ms, max {max(latencies):.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    event_loop.run(main(args.events, args.rate, args.seconds))
