"""Two projection workers sharing four province partitions: per-aggregate order is kept, a worker
killed mid-run hands its partitions over, and the result equals a sequential replay."""

from __future__ import annotations

import json
import os
import signal
import time

import httpx
import pytest

from schemas.codec import encode
from services.store.publisher import Publisher
from tests.support import System, new_system, sample

pytestmark = pytest.mark.integration
PROVINCES = [f"tinh-{n}" for n in range(8)]
TASKS_PER_PROVINCE = 40


def task_events(province: str, n: int) -> list:
    """assigned, progress 10/20/30, completed: applied out of order, progress would outlive 100."""
    agg = f"{province}-t{n}"
    out = [sample("task_assigned", province=province, aggregate_id=agg,
                  data={"recurrence": "once", "due_date": "2021-06-30", "task_number": str(n)})]
    out += [sample("task_progress_reported", province=province, aggregate_id=agg,
                   data={"progress_percent": p, "status": "on_track"}) for p in (10, 20, 30)]
    out.append(sample("task_completed", province=province, aggregate_id=agg))
    return out


def units_done(system: System, last_seq: int) -> bool:
    progress = httpx.get(f"{system.http}/healthz", timeout=5).json()["projections"]
    wanted = [f"projector_v1_p{i}" for i in range(4)] + ["audit_v1"]
    return all(int(progress.get(k, 0)) >= last_seq for k in wanted)


async def test_two_workers_on_partitions_keep_order_survive_a_kill_and_equal_a_replay(tmp_path):
    system = new_system(tmp_path, DOINGOAI_PARTITIONS="4", DOINGOAI_WORKERS="2", DOINGOAI_LEASE_TTL_S="3",
                        DOINGOAI_ESCALATIONS="false", DOINGOAI_PROJECTION_BATCH="200").start()
    try:
        nc = await system.service_nats()
        publisher = Publisher(nc, lookup=False)
        per_aggregate = [task_events(p, n) for p in PROVINCES for n in range(TASKS_PER_PROVINCE)]
        rounds = [[events[k] for events in per_aggregate] for k in range(5)]  # interleave aggregates
        for k, batch in enumerate(rounds):
            await publisher.publish_many([encode(e) for e in batch])
            if k == 2:  # mid-run: one worker dies (the supervisor restarts it under a new identity)
                os.kill(system.runtime()["worker_pid"], signal.SIGKILL)
        last_seq = (await nc.jetstream().stream_info("DOINGOAI_EVENTS")).state.last_seq
        await nc.close()
        deadline = time.monotonic() + 120
        while not units_done(system, last_seq):
            assert time.monotonic() < deadline, "partitions did not complete after the kill"
            time.sleep(0.5)

        tasks = httpx.get(f"{system.http}/api/tasks", params={"format": "json"}).json()["items"]
        assert len(tasks) == len(PROVINCES) * TASKS_PER_PROVINCE
        assert {(t["status"], t["progress_percent"]) for t in tasks} == {("completed", 100)}

        done = system.cli("replay", "--schema", "sequential")
        assert done.returncode == 0, done.stderr
        replayed = json.loads(done.stdout)["checksums"]
        from tests.integration.test_recovery import checksums_of

        assert replayed == await checksums_of(system, "doingoai")
    finally:
        system.stop()
