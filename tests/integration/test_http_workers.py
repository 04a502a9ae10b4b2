"""Several HTTP workers (`DOINGOAI_HTTP_WORKERS`): `up` serves one address with all of them, starts and
stops them with itself, and a client meets the same limits and sign-outs whichever worker takes its
connection (the workers tell each other over NATS)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from schemas.codec import encode
from services.embedded.ports import free_port
from services.http.limits import BAD_TOKENS
from services.http.peers import PEERS_SUBJECT
from services.http.serve import HEALTH_FILE
from tests.support import System, new_system, sample

pytestmark = pytest.mark.integration
CE = {"content-type": "application/cloudevents+json"}
PASSWORD = "mật khẩu thử 2021"


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    system = new_system(tmp_path_factory.mktemp("workers"), DOINGOAI_HTTP_WORKERS="2",
                        DOINGOAI_ESCALATIONS="false").start()
    try:
        yield system
    finally:
        system.stop()


def test_two_workers_serve_one_address_and_stop_with_up(tmp_path: Path):
    system = new_system(tmp_path, DOINGOAI_HTTP_WORKERS="2", DOINGOAI_ESCALATIONS="false").start()
    try:
        up = psutil.Process(system.proc.pid)  # type: ignore[union-attr]
        worker = psutil.Process(system.runtime()["http_worker_pid_1"])
        assert worker.ppid() == up.pid and "services.http.serve" in " ".join(worker.cmdline())
        token = system.credentials("ha-tinh", "so-ngoai-vu")["token"]
        answers = []
        for _ in range(24):  # a connection each: both workers take some
            r = httpx.post(f"{system.http}/events", content=encode(sample("activity_held")), timeout=30,
                           headers={**CE, "authorization": f"Bearer {token}"})
            assert r.status_code == 202, r.text
            assert r.headers["x-frame-options"] == "DENY"
            answers.append(r.json())
        assert sorted(a["sequence"] for a in answers) == sorted({a["sequence"] for a in answers})
        health = httpx.get(f"{system.http}/healthz", headers={"authorization": f"Bearer {token}"}, timeout=30)
        assert health.status_code == 200 and health.json()["status"] == "ok", health.text
        assert json.loads((system.data_dir / HEALTH_FILE).read_text()) == {}  # what the workers read
    finally:
        system.stop()
    assert not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE
    assert not (system.data_dir / HEALTH_FILE).exists() and not (system.data_dir / "runtime.json").exists()


def test_a_port_another_program_holds_is_one_line_and_leaves_nothing_running(tmp_path: Path):
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        system = System(tmp_path / "data", port, env_extra={"DOINGOAI_HTTP_WORKERS": "2"})
        done = subprocess.run([sys.executable, "-m", "services.cli.main", "up"], env=system.env(),
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"doingoai: DOINGOAI_HTTP: cannot listen on 127.0.0.1:{port}: Address already in use")
    assert not (system.data_dir / "postgres" / "postmaster.pid").exists()
    assert not (system.data_dir / "nats" / "nats.pid").exists()


@pytest.mark.parametrize("value", ["0", "33", "two"])
def test_a_number_of_http_workers_that_cannot_be_used_is_one_line_and_exit_code_2(tmp_path: Path, value: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOINGOAI_")}
    env.update(DOINGOAI_DATA_DIR=str(tmp_path), DOINGOAI_HTTP_WORKERS=value)
    done = subprocess.run([sys.executable, "-m", "services.cli.main", "credentials", "list"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("doingoai: DOINGOAI_HTTP_WORKERS: ") and len(done.stderr.strip().splitlines()) == 1


async def test_bad_tokens_are_counted_over_every_worker(two: System):
    nc = await two.service_nats()
    told: list[dict[str, object]] = []

    async def heard(msg) -> None:  # type: ignore[no-untyped-def]
        body = json.loads(msg.data)
        if "limit" in body:  # (not the counts of connections)
            told.append(body)

    await nc.subscribe(PEERS_SUBJECT, cb=heard)
    await nc.flush()
    try:
        clients: dict[str, httpx.AsyncClient] = {}  # the worker's id -> a connection it serves
        failures = 0
        while len(clients) < 2 and failures < BAD_TOKENS - 2:  # a new connection each, until both workers seen
            client = httpx.AsyncClient(base_url=two.http, timeout=30, headers={"authorization": "Bearer dgo_wrong"})
            seen = len(told)
            assert (await client.get("/api/me")).status_code == 401
            failures += 1
            for _ in range(100):
                if len(told) > seen:
                    break
                await asyncio.sleep(0.02)
            sender = str(told[-1]["from"])
            if sender in clients:
                await client.aclose()
            else:
                clients[sender] = client
        assert len(clients) == 2, "every new connection went to one worker"
        first, second = clients.values()
        while failures < BAD_TOKENS:  # the rest, alternately on each worker's connection
            assert (await (first if failures % 2 else second).get("/api/me")).status_code == 401
            failures += 1
        for _ in range(250):  # every failure told to the peers (a loaded machine may take a while)
            if len(told) >= failures:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # and heard by the other worker as by this subscriber
        for client in (first, second):  # each worker counted them all
            r = await client.get("/api/me")
            assert r.status_code == 429 and r.json()["error"] == "too_many_requests", r.text
            await client.aclose()
        await asyncio.sleep(0.2)  # each worker heard the other's 429
        auditor = {"authorization": f"Bearer {two.credentials('ha-tinh', 'kiem-toan-doc', 'auditor')['token']}"}
        counted = set()
        for _ in range(8):  # /metrics of whichever worker each new connection from another address reaches
            transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
            async with httpx.AsyncClient(base_url=two.http, transport=transport, headers=auditor) as scraper:
                text = (await scraper.get("/metrics")).text
            counted |= set(re.findall(r"^doingoai_http_bad_token_throttled_total (\S+)$", text, re.M))
        assert counted == {"2.0"}, "each worker's /metrics counts the 429s of both"
    finally:
        await nc.close()


def test_a_sign_out_ends_the_session_on_every_worker(two: System):
    username = f"specialist.{uuid.uuid4().hex[:8]}"
    done = two.cli("users", "add", "--province", "ha-tinh", "--agency", "so-tu-phap", "--username", username,
                   "--name", "Nguyễn Văn An", "--title", "Chuyên viên", "--role", "specialist", "--password-stdin",
                   input=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    r = httpx.post(f"{two.http}/login", data={"username": username, "password": PASSWORD}, timeout=30)
    assert r.status_code == 200, r.text
    cookies = {"doingoai_session": r.cookies["doingoai_session"]}
    for _ in range(12):  # a connection each: both workers read and keep the session
        assert httpx.get(f"{two.http}/api/me", cookies=cookies, timeout=30).status_code == 200
    assert httpx.post(f"{two.http}/logout", cookies=cookies, timeout=30).status_code == 204
    for _ in range(12):  # whichever worker answers, the session has ended
        assert httpx.get(f"{two.http}/api/me", cookies=cookies, timeout=30).status_code == 401


async def test_keep_alive_connections_end_up_spread_evenly_over_the_workers(two: System):
    """Eight agency systems, each on a keep-alive connection: however the kernel first hands the
    connections out, the workers end up holding four each (a worker over its share answers a request
    with `Connection: close`, and the client connects again), twice from fresh connections."""
    port = int(two.http.rsplit(":", 1)[1])
    workers = [psutil.Process(two.proc.pid), psutil.Process(two.runtime()["http_worker_pid_1"])]  # type: ignore[union-attr]

    def held() -> list[int]:
        return [sum(1 for c in w.net_connections("tcp") if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port)
                for w in workers]

    for _ in range(2):
        async with httpx.AsyncClient(base_url=two.http, timeout=30, limits=httpx.Limits(max_connections=8)) as client:

            async def agency_system() -> None:
                for _ in range(5):
                    assert (await client.get("/healthz")).status_code == 200

            splits = []
            for _ in range(30):
                await asyncio.gather(*(agency_system() for _ in range(8)))
                splits.append(held())
                if splits[-1] == [4, 4]:
                    break
            assert splits[-1] == [4, 4], splits
