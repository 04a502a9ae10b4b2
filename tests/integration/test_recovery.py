"""Crash and restart: a projection worker killed with SIGKILL mid-batch, and `up` restarted."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import httpx
import pytest

from schemas.codec import encode
from services.replay import copy_live_keys
from services.store.publisher import Publisher
from tests.support import System, new_system, sample

pytestmark = pytest.mark.integration


def live_checksums(system: System) -> dict[str, str]:
    done = system.cli("replay", "--schema", f"check_{int(time.time() * 1000)}")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def checksums_of(system: System, schema: str) -> dict[str, str]:
    from services.db import make_engine
    from services.replay import table_checksums

    engine = make_engine(system.runtime()["database_url"], schema, pool_size=1)
    try:
        async with engine.connect() as conn:
            return await table_checksums(conn)
    finally:
        await engine.dispose()


async def test_worker_killed_mid_batch_resumes_to_the_same_tables_as_a_clean_replay(system: System):
    """SIGKILL of the projection worker while it applies a backlog: after the restart the read
    models equal a clean replay of the stream, table by table (no loss, no double count)."""
    nc = await system.service_nats()
    events = [sample("activity_held" if i % 3 else "delegation_received") for i in range(12_000)]
    start_seq = system.checkpoint()
    publisher = Publisher(nc, lookup=False)
    publishing = asyncio.create_task(publisher.publish_many(events))
    killed = 0
    deadline = time.monotonic() + 90
    while killed < 2 and time.monotonic() < deadline and not (publishing.done() and killed):
        if system.checkpoint() > start_seq + 1500 * (killed + 1):
            os.kill(system.runtime()["worker_pid"], signal.SIGKILL)
            killed += 1
            await asyncio.sleep(2.5)  # the supervisor restarts the worker
        await asyncio.sleep(0.02)
    results = await publishing
    # repeats of already-stored ids go through raw publishing too: they must not double count
    await asyncio.gather(*(
        nc.jetstream().publish(f"doingoai.events.ha-tinh.so-ngoai-vu.{e.type.split('.')[3]}", encode(e),
                               headers={"Nats-Msg-Id": e.id})
        for e in events[:50]
    ))
    assert len({r.sequence for r in results}) == len(events)
    assert killed >= 1, "the worker was never seen mid-backlog"
    last_seq = (await nc.jetstream().stream_info("DOINGOAI_EVENTS")).state.last_seq
    await nc.close()
    system.wait_projected(last_seq, timeout=120)

    replayed = live_checksums(system)
    live = await checksums_of(system, "doingoai")
    assert replayed["checksums"] == live
    assert replayed["last_seq"] == last_seq
    count = system.get("/api/activities", limit=100_000).json()["count"]
    assert count >= len(events)


async def test_restart_of_up_keeps_all_data(tmp_path):
    """Stop `up` and start it again on the same data directory: events, read models and
    credentials are all still there, and new events continue the same stream."""
    first = new_system(tmp_path).start()
    try:
        creds = first.credentials("gia-lai", "so-ngoai-vu")
        event = sample("activity_held", province="gia-lai")
        r = httpx.post(f"{first.http}/events", content=encode(event),
                       headers={"content-type": "application/cloudevents+json",
                                "authorization": f"Bearer {creds['token']}"})
        assert r.status_code == 202
        seq = r.json()["sequence"]
        first.wait_projected(seq)
    finally:
        first.stop()
    again = type(first)(first.data_dir, first.http_port).start()
    try:
        got = again.get(f"/api/events/{event.id}", province="gia-lai").json()
        assert got["sequence"] == seq
        second = sample("activity_held", province="gia-lai")
        r2 = httpx.post(f"{again.http}/events", content=encode(second),
                        headers={"content-type": "application/cloudevents+json",
                                 "authorization": f"Bearer {creds['token']}"})
        assert r2.status_code == 202 and r2.json()["sequence"] == seq + 1
    finally:
        again.stop()


async def test_a_runner_that_lost_its_unit_but_still_runs_cannot_leave_a_gap(system: System):
    """Two runners of one durable at once (a worker that lost its lease and has not stopped yet, and
    its successor): each reads a consumer of its own and the fencing lets one commit at a time, so
    the tables still equal a clean replay of the stream, in order and complete."""
    from projections.engine.replay import replay_stream
    from projections.engine.runner import Fenced, Runner
    from projections.models.catalogue import all_projections
    from projections.models.handlers import events_handler, park_poison
    from projections.models.rejected import rejected_handler
    from services.db import make_engine
    from services.db.migrate import migrate
    from services.store import EVENTS_STREAM, REJECTED_STREAM, REJECTED_SUBJECTS

    nc = await system.service_nats()
    tasks = [[sample("task_assigned", aggregate_id=f"z{n}", data={"task_number": str(n)}),
              *(sample("task_progress_reported", aggregate_id=f"z{n}", data={"progress_percent": p})
                for p in (20, 40, 60)),
              sample("task_completed", aggregate_id=f"z{n}")] for n in range(800)]
    await Publisher(nc, lookup=False).publish_many([t[k] for k in range(5) for t in tasks])
    last = (await nc.jetstream().stream_info(EVENTS_STREAM)).state.last_seq
    url, schema = system.runtime()["database_url"], f"zombie_{int(time.time() * 1000)}"
    await migrate(url, schema)
    engine = make_engine(url, schema, pool_size=6)
    await copy_live_keys(url, engine)

    def runner() -> Runner:
        return Runner(nc, engine, stream=EVENTS_STREAM, durable="projector_zombie", batch_size=100,
                      handler=events_handler(all_projections()), isolate=park_poison)

    stop = asyncio.Event()
    running: list[tuple[Runner, asyncio.Task[None]]] = []
    started: list[asyncio.Task[None]] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for pair in list(running):
                if pair[1].done():
                    running.remove(pair)
            if max((r.checkpoint for r, _ in running), default=0) >= last:
                break
            while len(running) < 2:  # the successor starts while the other still runs
                r = runner()
                running.append((r, asyncio.create_task(r.run(stop))))
                started.append(running[-1][1])
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the runners did not reach the end of the stream")
    finally:
        stop.set()
        outcomes = await asyncio.gather(*started, return_exceptions=True)
        # the rejected stream (refusals at the HTTP boundary) as a replay applies it, to compare
        await replay_stream(nc, engine, REJECTED_STREAM, REJECTED_SUBJECTS, rejected_handler, "rejected_v1",
                            from_seq=1, as_of=None, batch_size=500)
        await engine.dispose()
    await nc.close()
    # a runner whose consumer its successor removed finds nothing more to read; one that commits
    # after its successor did is fenced; none may fail otherwise
    assert len(started) >= 2 and all(o is None or isinstance(o, Fenced) for o in outcomes), outcomes
    replayed = live_checksums(system)
    assert replayed["last_seq"] == last
    assert await checksums_of(system, schema) == replayed["checksums"]
