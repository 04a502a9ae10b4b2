"""Replay speed on a large stream: events/s and peak memory of `doingoai replay`.

    .venv/bin/python -m bench.replay [--events 1000000] [--window 2000] [--verify]

Runs the embedded stack (nats-server with fsync on every ack, PostgreSQL) in a temporary data
directory. Events are generated from one encoded template per event type, with a fresh id and
aggregate each, and appended with pipelined raw JetStream publishes (the services' user); only
while the stream is filled, nats-server syncs lazily (`--fsync-each` keeps fsync before every ack),
which changes nothing for reading it back. Then
`services.replay.replay` rebuilds every read model, the audit trail included, into a fresh
schema in a child process (the audit chain in a process of its own, as `doingoai replay` runs
it), which reports its rate and the peak RSS of both processes; `--verify` also times the audit
verification of that schema against the stream.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.refs import cpu_ticks
from schemas.codec import encode
from services import event_loop
from services.runtime import Runtime
from services.settings import Settings
from services.store import EVENTS_STREAM
from tests.support import sample

KINDS = ("activity_held", "delegation_received", "report_submitted", "difficulty_raised")
ID, AGGREGATE = "ID-PLACEHOLDER-0000000000000000000000", "AGG-PLACEHOLDER"


def templates() -> list[tuple[str, bytes]]:
    out = []
    for kind in KINDS:
        event = sample(kind, aggregate_id=AGGREGATE).model_copy(update={"id": ID})
        out.append((f"doingoai.events.ha-tinh.so-ngoai-vu.{kind}", encode(event)))
    return out


def payload(i: int, template: bytes) -> bytes:
    return template.replace(ID.encode(), str(uuid.UUID(int=i + 1)).encode(), 1).replace(
        AGGREGATE.encode(), f"bench-{i}".encode(), 1
    )


async def publish(rt: Runtime, events: int, window: int) -> float:
    nc = await rt.connect_nats("bench-publish")
    js = nc.jetstream()
    shapes = templates()
    started = time.perf_counter()
    try:
        for first in range(0, events, window):
            batch = range(first, min(first + window, events))
            await asyncio.gather(*(
                js.publish(shapes[i % len(shapes)][0], payload(i, shapes[i % len(shapes)][1]), timeout=60)
                for i in batch
            ))
            if first // window % 50 == 0:
                rate = (first + len(batch)) / (time.perf_counter() - started)
                print(f"  published {first + len(batch):>9,} ({rate:,.0f}/s)", file=sys.stderr, flush=True)
        assert (await js.stream_info(EVENTS_STREAM)).state.last_seq == events
    finally:
        await nc.close()
    return time.perf_counter() - started


async def replay_child(schema: str, verify: bool) -> dict[str, object]:
    """In the child process: replay the stream into `schema` (and verify it); figures as a dict."""
    from projections.models.audit_verify import verify as verify_trail
    from services.db import make_engine
    from services.replay import replay

    settings = Settings()
    rt = Runtime(settings, nats_servers=settings.nats_servers, database_url=settings.database_url or "",
                 nats_user=settings.nats_user, nats_password=settings.nats_password)
    nc = await rt.connect_nats("bench-replay")
    try:
        result = await replay(nc, rt.database_url, schema, child_env=rt.child_env())
        usage = resource.getrusage(resource.RUSAGE_SELF)
        figures: dict[str, object] = {
            "events": result.events, "seconds": round(result.seconds, 1), "events_per_s": round(result.rate),
            "peak_rss_mb": round(usage.ru_maxrss / 1024),
            "audit_rss_mb": (result.audit_apart or {}).get("peak_rss_mb", 0),
            "cpu_us_per_event": round((usage.ru_utime + usage.ru_stime) / max(result.events, 1) * 1e6, 1),
        }
        if verify:
            engine = make_engine(rt.database_url, schema, pool_size=2)
            t0 = time.perf_counter()
            checked = await verify_trail(nc, engine, wait=0)
            seconds = time.perf_counter() - t0
            await engine.dispose()
            figures.update(verify_ok=checked.ok, verify_seconds=round(seconds, 1),
                           verify_events_per_s=round(checked.rows / seconds))
    finally:
        await nc.close()
    return figures


def busy_cpu_s() -> float:
    """CPU seconds the machine has spent busy (all CPUs, from /proc/stat; 0 where there is none)."""
    fields = cpu_ticks()
    if not fields:
        return 0.0
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def lazy_fsync() -> None:
    """The embedded nats-server without `sync_interval: always` (for filling the stream fast)."""
    import services.embedded.nats as embedded

    original = embedded.server_config

    def config(**kwargs: Any) -> str:
        return original(**kwargs).replace("  sync_interval: always\n", "")

    embedded.server_config = config


async def main(events: int, window: int, verify: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="doingoai-bench-replay-") as tmp:
        os.environ["DOINGOAI_DATA_DIR"] = tmp
        rt = await Runtime(Settings(data_dir=Path(tmp))).start()
        try:
            publish_s = await publish(rt, events, window)
            print(f"published {events:,} events in {publish_s:.0f} s ({events / publish_s:,.0f}/s)", flush=True)
            args = [sys.executable, "-m", "bench.replay", "--child", "bench_replay"] + (["--verify"] if verify else [])
            busy0 = busy_cpu_s()
            child = await asyncio.create_subprocess_exec(*args, env=rt.child_env(), stdout=subprocess.PIPE)
            out, _ = await child.communicate()
            busy = busy_cpu_s() - busy0
            if child.returncode != 0:
                raise SystemExit(f"the replay child failed ({child.returncode})")
            figures = json.loads(out.decode().strip().splitlines()[-1])
        finally:
            rt.stop()
    print(f"replay of {figures['events']:,} events into a fresh schema (every read model + audit trail):")
    print(f"  {figures['seconds']} s, {figures['events_per_s']:,} events/s, peak RSS {figures['peak_rss_mb']} MB "
          f"(its audit-chain process: {figures['audit_rss_mb']} MB), "
          f"CPU of the replay process {figures['cpu_us_per_event']} µs/event (start-up included)")
    if busy > 0:
        print(f"  CPU of the whole machine meanwhile (replay, PostgreSQL, nats-server): "
              f"{busy / figures['events'] * 1e6:.1f} µs/event")  # type: ignore[operator]
    if verify:
        print(f"audit verify (stream vs. table, every row): {figures['verify_seconds']} s, "
              f"{figures['verify_events_per_s']:,} events/s, ok={figures['verify_ok']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--window", type=int, default=2000, help="publishes in flight")
    parser.add_argument("--verify", action="store_true", help="also time the audit verification")
    parser.add_argument("--fsync-each", action="store_true", help="fill the stream with fsync before every ack")
    parser.add_argument("--child", metavar="SCHEMA", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        from services.gc_tuning import tune_gc

        tune_gc()  # as `doingoai replay` runs
        print(json.dumps(event_loop.run(replay_child(args.child, args.verify))))
    else:
        if not args.fsync_each:
            lazy_fsync()
        event_loop.run(main(args.events, args.window, args.verify))
