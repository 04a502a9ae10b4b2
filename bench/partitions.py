"""Partitioned projection: one worker process vs two on the same 100k-event backlog.

    .venv/bin/python -m bench.partitions [--events 100000] [--logs DIR]

Events are task sequences (assigned, progress ×3, completed) over 34 provinces, interleaved; the
workers run with `DOINGOAI_PARTITIONS` > 1 (a unit per province, plus the whole-stream audit
unit). The read models are rebuilt from scratch for each run, the time runs until the audit unit
has reached the last sequence and each province's unit its province's last message, and
per-aggregate order is checked after each run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from schemas.codec import encode
from services import event_loop
from services.db.migrate import migrate
from services.store.publisher import Publisher
from tests.support import System, new_system, province_ends, sample

PROVINCES = [f"tinh-{n:02d}" for n in range(34)]
TIMEOUT_S = 900


def backlog(events: int) -> list[bytes]:
    aggregates = events // 5
    per = []
    for n in range(aggregates):
        province, agg = PROVINCES[n % len(PROVINCES)], f"t{n}"
        seq = [sample("task_assigned", province=province, aggregate_id=agg,  # SNgV leads it, and reports on it
                      data={"recurrence": "once", "due_date": "2021-06-30", "task_number": str(n),
                            "lead_agencies": ["so-ngoai-vu"], "coordinating_agencies": []})]
        seq += [sample("task_progress_reported", province=province, aggregate_id=agg,
                       data={"progress_percent": p, "status": "on_track", "agency": "so-ngoai-vu"})
                for p in (10, 20, 30)]
        seq.append(sample("task_completed", province=province, aggregate_id=agg, data={"agency": "so-ngoai-vu"}))
        per.append([encode(e) for e in seq])
    return [per[a][k] for k in range(5) for a in range(aggregates)]


def worker_env(system: System) -> dict[str, str]:
    rt = system.runtime()
    secret = json.loads((system.data_dir / "secrets" / "service.json").read_text())
    return {**system.env(), "DOINGOAI_NATS_URL": rt["nats_url"], "DOINGOAI_DATABASE_URL": rt["database_url"],
            "DOINGOAI_NATS_USER": secret["user"], "DOINGOAI_NATS_PASSWORD": secret["password"],
            "DOINGOAI_PARTITIONS": "2", "DOINGOAI_ESCALATIONS": "false",
            "DOINGOAI_PROJECTION_BATCH": "1000"}


async def run(system: System, workers: int, last: int, ends: dict[str, int], logs: Path | None) -> float:
    url = system.runtime()["database_url"]
    conn = await asyncpg.connect(url)
    await conn.execute("DROP SCHEMA IF EXISTS doingoai CASCADE")
    await conn.close()
    await migrate(url)
    nc = await system.service_nats()
    try:
        await nc.jetstream().delete_key_value("DOINGOAI_LEASES")
    except Exception:
        pass
    await nc.close()
    with contextlib.ExitStack() as stack:
        outputs = [stack.enter_context((logs / f"workers{workers}-{n}.log").open("wb")) if logs else None
                   for n in range(workers)]
        procs = [subprocess.Popen([sys.executable, "-m", "services.cli.main", "worker"], env=worker_env(system),
                                  stdout=out or subprocess.DEVNULL, stderr=subprocess.STDOUT) for out in outputs]
        start = time.perf_counter()
        try:
            while not system.partitions_caught_up(last, ends):
                assert time.perf_counter() - start < TIMEOUT_S, f"not caught up: {system.progress()}"
                await asyncio.sleep(0.2)
            elapsed = time.perf_counter() - start
        finally:
            for p in procs:
                p.terminate()
                p.wait(30)
    conn = await asyncpg.connect(url)
    wrong = await conn.fetchval(
        "SELECT count(*) FROM doingoai.tasks WHERE status <> 'completed' OR progress_percent <> 100"
    )
    total = await conn.fetchval("SELECT count(*) FROM doingoai.tasks")
    await conn.close()
    assert wrong == 0 and total == last // 5, f"per-aggregate order broken: {wrong} of {total} tasks"
    return elapsed


async def main(events: int, logs: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="doingoai-partitions-") as tmp:
        system = new_system(Path(tmp), DOINGOAI_WORKERS="0", DOINGOAI_ESCALATIONS="false").start()
        try:
            nc = await system.service_nats()
            await Publisher(nc, lookup=False).publish_many(backlog(events), window=512)
            last = (await nc.jetstream().stream_info("DOINGOAI_EVENTS")).state.last_seq
            ends = await province_ends(nc)
            await nc.close()
            assert sorted(ends) == sorted(PROVINCES), "every province has messages"
            one = await run(system, 1, last, ends, logs)
            two = await run(system, 2, last, ends, logs)
        finally:
            system.stop()
    print("| workers | units | events | seconds | events/s |\n|---|---|---|---|---|")
    print(f"| 1 | {len(ends)} provinces + audit | {last} | {one:.1f} | {last / one:,.0f} |")
    print(f"| 2 | {len(ends)} provinces + audit | {last} | {two:.1f} | {last / two:,.0f} |")
    print(f"speed-up with two workers: {one / two:.2f}x; per-aggregate order checked after each run")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--logs", type=Path, help="write each worker's log to this directory")
    args = parser.parse_args()
    event_loop.run(main(args.events, args.logs))
