"""A full disk: the data directory on a small tmpfs filled to the brim. Ingest answers 507
`storage_full` at once, `/healthz` says what is wrong, nothing acknowledged is lost, and once space
is freed ingest and projections recover by themselves (the nats-server whose stream met a write
error is restarted by `up`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from schemas.codec import encode
from services.embedded.ports import free_port
from services.embedded.postgres import EmbeddedPostgres
from services.store import EVENTS_STREAM
from tests.support import System, sample

pytestmark = pytest.mark.integration
MIB = 1024 * 1024
RESERVE_MB = 16
PROMPT_S = 3.0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 128 MiB tmpfs of its own (needs CAP_SYS_ADMIN, as root in CI); unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128m,mode=0755", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"no small filesystem to fill here (mount -t tmpfs: {done.stderr.strip()})")
    try:
        yield mount
    finally:
        for log in mount.glob("*/up.log"):  # kept for a look after a failure: the filesystem goes
            shutil.copy(log, tmp_path / f"{log.parent.name}-up.log")
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(path: Path, leave: int) -> None:
    """Grow the file at `path` until `leave` bytes are left free on its filesystem (0: to the brim)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        while (free := shutil.disk_usage(path).free) > leave:
            try:
                os.write(fd, b"\0" * max(512, min(MIB, free - leave)))
            except OSError:
                break
        if leave == 0:  # the last pages, a little at a time
            with contextlib.suppress(OSError):
                for _ in range(8192):
                    os.write(fd, b"\0" * 512)
    finally:
        os.close(fd)


async def post_batch(client: httpx.AsyncClient, token: str, count: int) -> tuple[httpx.Response, float]:
    """POST `count` new events as one batch; the answer and how long it took."""
    body = json.dumps([json.loads(encode(sample("activity_held"))) for _ in range(count)])
    started = time.monotonic()
    answer = await client.post("/events", content=body, headers={
        "content-type": "application/cloudevents-batch+json", "authorization": f"Bearer {token}"})
    return answer, time.monotonic() - started


async def nats_until_refused(system: System, acked: dict[str, int]) -> int:
    """Publish over NATS straight to the stream until it stops acknowledging (the disk is full); the
    acknowledged ones join `acked`. How many were not acknowledged."""
    nc = await system.service_nats()
    refused = 0
    try:
        for _ in range(200):
            event = sample("activity_held")
            try:
                ack = await nc.jetstream().publish("doingoai.events.ha-tinh.so-ngoai-vu.activity_held", encode(event),
                                                   headers={"Nats-Msg-Id": f"{event.source} {event.id}"}, timeout=1)
                acked[event.id] = ack.seq
            except Exception:
                refused += 1
                if refused >= 3:
                    break
    finally:
        await nc.close()
    return refused


async def test_a_full_disk_refuses_promptly_loses_nothing_and_recovers_by_itself(small_disk: Path):
    system = System(small_disk / "data", free_port(), env_extra={
        "DOINGOAI_DISK_RESERVE_MB": str(RESERVE_MB), "DOINGOAI_ESCALATIONS": "false",
        "DOINGOAI_REJECTED_MAX_BYTES": str(4 * MIB)}).start()  # what the rejected stream reserves must fit
    try:
        token = system.credentials("ha-tinh", "so-ngoai-vu")["token"]
        reader = system.reader()  # issued while there is room for it
        filler = small_disk / "filler"
        fill(filler, (RESERVE_MB + 6) * MIB)
        acked: dict[str, int] = {}
        async with httpx.AsyncClient(base_url=system.http, timeout=60) as client:
            for _ in range(400):  # until the reserve is reached
                answer, took = await post_batch(client, token, 50)
                if answer.status_code == 507:
                    break
                assert answer.status_code == 202, answer.text
                acked.update((r["id"], r["sequence"]) for r in answer.json()["results"])
            assert answer.status_code == 507 and answer.json()["error"] == "storage_full", answer.text
            assert took < PROMPT_S and acked

            fill(filler, 0)  # to the brim
            answer, took = await post_batch(client, token, 1)
            assert answer.status_code == 507 and took < PROMPT_S, (answer.status_code, took)
            assert int(answer.headers["retry-after"]) > 0
            refused = await nats_until_refused(system, acked)  # the stream itself meets the full disk
            assert refused, "the full disk took every message"
            deadline = time.monotonic() + 30
            while True:
                health = await client.get("/healthz", headers=reader)
                problems = health.json().get("problems", [])
                if "nats_write_error" in problems or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            assert health.status_code == 503 and "storage_full" in problems and "nats_write_error" in problems
            assert "MiB free" in health.json()["details"]["storage_full"]

            filler.unlink()  # space returns: nobody touches the system
            freed = time.monotonic()
            while (answer := (await post_batch(client, token, 10))[0]).status_code != 202:
                assert answer.status_code in (503, 507), answer.text
                assert time.monotonic() - freed < 90, "ingest did not resume"
                await asyncio.sleep(0.5)
            acked.update((r["id"], r["sequence"]) for r in answer.json()["results"])
            assert (await client.get("/healthz")).json()["status"] == "ok"

        nc = await system.service_nats()
        try:
            js = nc.jetstream()
            last = (await js.stream_info(EVENTS_STREAM)).state.last_seq
            for event_id, seq in acked.items():  # every acknowledged event, at its sequence
                assert json.loads((await js.get_msg(EVENTS_STREAM, seq)).data)["id"] == event_id
        finally:
            await nc.close()
        system.wait_projected(last, timeout=120)
        for event_id, seq in list(acked.items())[:: max(1, len(acked) // 50)]:
            assert system.get(f"/api/events/{event_id}").json()["sequence"] == seq
    finally:
        await asyncio.to_thread(system.stop)


def wait_gone(pid: int | None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while pid is not None and time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    assert pid is None or time.monotonic() < deadline, f"PostgreSQL {pid} did not stop"


async def test_a_postgresql_that_stopped_is_started_again_by_up(tmp_path: Path):
    """PostgreSQL stops (as it does when it cannot write its WAL): ingest answers 503 `unavailable`
    (never a 500), `/healthz` names database_down, `up` starts it again, and the events stored over
    NATS meanwhile are projected."""
    system = System(tmp_path / "data", free_port(), env_extra={"DOINGOAI_ESCALATIONS": "false"}).start()
    try:
        token = system.credentials("ha-tinh", "so-ngoai-vu")["token"]
        postgres = EmbeddedPostgres(system.data_dir)
        stopped = postgres.running_pid()
        # without waiting: `up` may start a new server before pg_ctl would see the old one gone
        await asyncio.to_thread(postgres._run, "pg_ctl", "-D", str(postgres.pgdata), "-m", "immediate", "-W", "stop")
        await asyncio.to_thread(wait_gone, stopped)
        acked: dict[str, int] = {}
        nc = await system.service_nats()
        try:
            for _ in range(5):
                event = sample("activity_held")
                ack = await nc.jetstream().publish("doingoai.events.ha-tinh.so-ngoai-vu.activity_held", encode(event))
                acked[event.id] = ack.seq
        finally:
            await nc.close()
        async with httpx.AsyncClient(base_url=system.http, timeout=60) as client:
            deadline = time.monotonic() + 60
            while (answer := (await post_batch(client, token, 5))[0]).status_code != 202:
                assert answer.status_code == 503 and answer.json()["error"] == "unavailable", answer.text
                assert time.monotonic() < deadline, "PostgreSQL was not started again"
                await asyncio.sleep(0.3)
        assert postgres.running_pid() not in (None, stopped)  # started again, by `up`
        acked.update((r["id"], r["sequence"]) for r in answer.json()["results"])
        system.wait_projected(max(acked.values()), timeout=60)
        for event_id, seq in acked.items():
            assert system.get(f"/api/events/{event_id}").json()["sequence"] == seq
    finally:
        await asyncio.to_thread(system.stop)
