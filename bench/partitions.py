"""Partitioned projection: one worker process vs two on the same 100k-event backlog.

    .venv/bin/python -m bench.partitions [--events 100000] [--partitions 4]

Events are task sequences (assigned, progress ×3, completed) over 34 provinces, interleaved; the
read models are rebuilt from scratch for each run, and per-aggregate order is checked after each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

from schemas.codec import encode
from services.db.migrate import migrate
from services.store.publisher import Publisher
from tests.support import System, new_system, sample

PROVINCES = [f"tinh-{n:02d}" for n in range(34)]


def backlog(events: int) -> list[bytes]:
    aggregates = events // 5
    per = []
    for n in range(aggregates):
        province, agg = PROVINCES[n % len(PROVINCES)], f"t{n}"
        seq = [sample("task_assigned", province=province, aggregate_id=agg,
                      data={"recurrence": "once", "due_date": "2021-06-30", "task_number": str(n)})]
        seq += [sample("task_progress_reported", province=province, aggregate_id=agg,
                       data={"progress_percent": p, "status": "on_track"}) for p in (10, 20, 30)]
        seq.append(sample("task_completed", province=province, aggregate_id=agg))
        per.append([encode(e) for e in seq])
    return [per[a][k] for k in range(5) for a in range(aggregates)]


def worker_env(system: System, partitions: int) -> dict[str, str]:
    rt = system.runtime()
    secret = json.loads((system.data_dir / "secrets" / "service.json").read_text())
    return {**system.env(), "DOINGOAI_NATS_URL": rt["nats_url"], "DOINGOAI_DATABASE_URL": rt["database_url"],
            "DOINGOAI_NATS_USER": secret["user"], "DOINGOAI_NATS_PASSWORD": secret["password"],
            "DOINGOAI_PARTITIONS": str(partitions), "DOINGOAI_ESCALATIONS": "false",
            "DOINGOAI_LEASE_TTL_S": "3", "DOINGOAI_PROJECTION_BATCH": "1000"}


def done(system: System, last: int, partitions: int) -> bool:
    progress = httpx.get(f"{system.http}/healthz", timeout=5).json()["projections"]
    units = [f"projector_v1_p{i}" for i in range(partitions)] + ["audit_v1"]
    return all(int(progress.get(u, 0)) >= last for u in units)


async def run(system: System, workers: int, partitions: int, last: int) -> float:
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
    procs = [subprocess.Popen([sys.executable, "-m", "services.cli.main", "worker"], env=worker_env(system, partitions),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
    start = time.perf_counter()
    try:
        while not done(system, last, partitions):
            time.sleep(0.2)
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


async def main(events: int, partitions: int) -> None:
    with tempfile.TemporaryDirectory(prefix="doingoai-partitions-") as tmp:
        system = new_system(Path(tmp), DOINGOAI_WORKERS="0", DOINGOAI_ESCALATIONS="false").start()
        try:
            nc = await system.service_nats()
            await Publisher(nc, lookup=False).publish_many(backlog(events), window=512)
            last = (await nc.jetstream().stream_info("DOINGOAI_EVENTS")).state.last_seq
            await nc.close()
            one = await run(system, 1, partitions, last)
            two = await run(system, 2, partitions, last)
        finally:
            system.stop()
    print("| workers | partitions | events | seconds | events/s |\n|---|---|---|---|---|")
    print(f"| 1 | {partitions} | {last} | {one:.1f} | {last / one:,.0f} |")
    print(f"| 2 | {partitions} | {last} | {two:.1f} | {last / two:,.0f} |")
    print(f"speed-up with two workers: {one / two:.2f}x; per-aggregate order checked after each run")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--partitions", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.partitions))
