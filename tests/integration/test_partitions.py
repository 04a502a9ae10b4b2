"""Two projection workers sharing one unit per province: per-aggregate order is kept, each province's
consumer is filtered by the server, a province first seen mid-run gets its unit, a message naming no
valid province is still projected, a worker killed mid-run hands its units over, and the result
equals a sequential replay."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import pytest

from schemas.codec import encode
from services.store import EVENTS_STREAM
from services.store.publisher import Publisher
from tests.support import System, new_system, province_ends, sample

pytestmark = pytest.mark.integration
PROVINCES = [f"tinh-{n}" for n in range(8)]
LATE = "tinh-late"
TASKS_PER_PROVINCE = 40


def task_events(province: str, n: int) -> list:
    """assigned, progress 10/20/30, completed: applied out of order, progress would outlive 100."""
    agg = f"{province}-t{n}"
    out = [sample("task_assigned", province=province, aggregate_id=agg,  # SNgV leads it, and reports on it
                  data={"recurrence": "once", "due_date": "2021-06-30", "task_number": str(n),
                        "lead_agencies": ["so-ngoai-vu"], "coordinating_agencies": []})]
    out += [sample("task_progress_reported", province=province, aggregate_id=agg,
                   data={"progress_percent": p, "status": "on_track", "agency": "so-ngoai-vu"}) for p in (10, 20, 30)]
    out.append(sample("task_completed", province=province, aggregate_id=agg, data={"agency": "so-ngoai-vu"}))
    return out


def wait_caught_up(system: System, last_seq: int, ends: dict[str, int]) -> None:
    deadline = time.monotonic() + 120
    while not system.partitions_caught_up(last_seq, ends):
        assert time.monotonic() < deadline, f"units did not complete: {system.progress()} vs {ends}"
        time.sleep(0.5)


async def test_two_workers_on_province_units_keep_order_survive_a_kill_and_equal_a_replay(tmp_path):
    system = new_system(tmp_path, DOINGOAI_PARTITIONS="4", DOINGOAI_WORKERS="2", DOINGOAI_LEASE_TTL_S="3",
                        DOINGOAI_ESCALATIONS="false", DOINGOAI_PROJECTION_BATCH="200").start()
    try:
        nc = await system.service_nats()
        js = nc.jetstream()
        publisher = Publisher(nc, lookup=False)
        per_aggregate = [task_events(p, n) for p in PROVINCES for n in range(TASKS_PER_PROVINCE)]
        rounds = [[events[k] for events in per_aggregate] for k in range(5)]  # interleave aggregates
        for k, batch in enumerate(rounds):
            await publisher.publish_many([encode(e) for e in batch])
            if k == 2:  # mid-run: one worker dies (the supervisor restarts it under a new identity)
                os.kill(system.runtime()["worker_pid"], signal.SIGKILL)
        ends = await province_ends(nc)
        wait_caught_up(system, (await js.stream_info(EVENTS_STREAM)).state.last_seq, ends)

        # a province first seen now, and a message whose subject names no valid province
        late = [task_events(LATE, n) for n in range(3)]
        await publisher.publish_many([encode(events[k]) for k in range(5) for events in late])
        stray = await js.publish("doingoai.events.Tinh_X.so-ngoai-vu.activity_held", encode(sample("activity_held")))
        ends = await province_ends(nc)
        assert sorted(ends) == sorted([*PROVINCES, LATE])
        wait_caught_up(system, stray.seq, ends)

        # caught up may come before a handover the restarted worker asked for has ended: between the
        # release of a unit and its claim by the other worker, the unit has no consumer
        for _ in range(100):
            consumers = {c.name.split("--")[0]: c.name for c in await js.consumers_info(EVENTS_STREAM)}
            if all(f"projector_v1_{province}" in consumers for province in ends):
                break
            await asyncio.sleep(0.2)
        for province in ends:  # the server filters: a unit is sent its own province's messages only
            info = await js.consumer_info(EVENTS_STREAM, consumers[f"projector_v1_{province}"])
            assert info.config.filter_subject == f"doingoai.events.{province}.>"
            assert info.num_pending == 0
        await nc.close()

        tasks = [t for p in ends for t in system.get("/api/tasks", province=p, format="json").json()["items"]]
        assert len(tasks) == (len(PROVINCES) * TASKS_PER_PROVINCE) + len(late)
        assert {(t["status"], t["progress_percent"]) for t in tasks} == {("completed", 100)}
        listed = system.cli("rejected", "--json")  # the operator's view: no province reads a stray message
        assert listed.returncode == 0, listed.stderr
        rejected = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
        assert stray.seq in {r["stream_seq"] for r in rejected}, "the message with no province was projected"

        done = system.cli("replay", "--schema", "sequential")
        assert done.returncode == 0, done.stderr
        replayed = json.loads(done.stdout)["checksums"]
        from tests.integration.test_recovery import checksums_of

        assert replayed == await checksums_of(system, "doingoai")
    finally:
        system.stop()
