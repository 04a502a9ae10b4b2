"""Backbone figures on this machine: publish rate, projection rate, publish->visible latency.

    .venv/bin/python -m bench.backbone [--events 100000] [--rate 1000] [--seconds 10]

Runs the embedded stack (real nats-server with fsync on every ack, real PostgreSQL) in a
temporary data directory and prints its figures.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.ours import Projector, embedded_stack, steady
from bench.run import WARM_UP_S, percentile, settle
from schemas.codec import encode
from services import event_loop
from services.http.lookup import CoalescingLookup
from services.store import EVENTS_STREAM
from services.store.publisher import Publisher
from tests.support import sample

BATCH = 1000
"""Events per projection transaction."""


async def main(events: int, rate: int, seconds: int) -> None:
    async with embedded_stack("doingoai-bench-", "bench", pool_size=4) as (rt, nc, engine):
        js = nc.jetstream()
        kinds = ("activity_held", "delegation_received", "report_submitted", "difficulty_raised")
        payloads = [encode(sample(kinds[i % 4], aggregate_id=f"b{i}")) for i in range(events)]
        publisher = Publisher(nc, lookup=CoalescingLookup(engine))
        t0 = time.perf_counter()
        await publisher.publish_many(payloads, window=512)
        publish_s = time.perf_counter() - t0

        # the projection in a process of its own, as the worker runs it (sharing this one's event loop,
        # it would wait on the publishing below)
        last = (await js.stream_info(EVENTS_STREAM)).state.last_seq
        projector, project_rate = await Projector.start(rt, last, BATCH)
        try:
            items = [("", encode(sample(kinds[i % 4], aggregate_id=f"l{i}")), "")
                     for i in range(rate * (WARM_UP_S + seconds))]
            await settle(engine)  # as `bench.run` measures it: after VACUUM (ANALYZE), a checkpoint and a warm-up
            await steady(publisher, projector, items[:rate * WARM_UP_S], rate)
            acks, latencies = await steady(publisher, projector, items[rate * WARM_UP_S:], rate)
        finally:
            await projector.stop()
    print(f"events published (validated, id checked against the index, fsync per ack, pipelined): {events}")
    print(f"publish rate:        {events / publish_s:10.0f} events/s")
    print(f"projection rate:     {project_rate:10.0f} events/s (all projections, {BATCH} per transaction, "
          "a process of its own)")
    print(f"publish->visible at {rate}/s for {seconds}s: p50 {statistics.median(latencies):.1f} ms, "
          f"p99 {percentile(latencies, 99):.1f} ms, max {max(latencies):.1f} ms; publish->acknowledged p99 "
          f"{percentile(acks, 99):.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    event_loop.run(main(args.events, args.rate, args.seconds))
