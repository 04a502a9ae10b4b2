"""Someone else's server on our port: `up` never uses a server it did not start. A recorded port
held by another program is left to it; the system takes another free port and records it. A
command pointed at a server that is not the system's own exits with one line within seconds."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import nats
import pytest

from schemas.codec import encode
from services.embedded.nats import nats_server_binary
from services.embedded.ports import free_port, is_listening, stop_process
from tests.support import System, nats_options, new_system, sample

pytestmark = pytest.mark.integration


@contextmanager
def foreign_nats(base: Path, port: int, *, auth: bool = False) -> Iterator[str]:
    """A nats-server of someone else's on `port` (JetStream on; with `auth`, a user of its own)."""
    base.mkdir(parents=True, exist_ok=True)
    users = 'authorization { users = [ {user: "stranger", password: "not-yours"} ] }\n' if auth else ""
    (base / "nats.conf").write_text(f'listen: 127.0.0.1:{port}\nserver_name: stranger\n'
                                    f'jetstream {{ store_dir: "{base / "js"}" }}\n{users}')
    proc = subprocess.Popen([nats_server_binary(), "-c", str(base / "nats.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not is_listening(port):
            assert proc.poll() is None and time.monotonic() < deadline, "the foreign nats-server did not start"
            time.sleep(0.05)
        yield f"nats://127.0.0.1:{port}"
    finally:
        stop_process(proc)


@contextmanager
def silent_listener(port: int) -> Iterator[None]:
    """A plain TCP listener that accepts connections and never says a word."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(16)
        yield
    finally:
        sock.close()


def post(system: System, token: str, event_name: str = "activity_held") -> httpx.Response:
    return httpx.post(f"{system.http}/events", content=encode(sample(event_name)), timeout=30,
                      headers={"content-type": "application/cloudevents+json", "authorization": f"Bearer {token}"})


async def test_up_leaves_foreign_servers_on_its_ports_alone_and_takes_others(tmp_path: Path):
    """A foreign nats-server on the recorded NATS port, a silent TCP listener on the recorded
    PostgreSQL port and another on the monitoring port: `up` starts on other ports, records them,
    keeps its data, and the credentials it prints lead to its own server (not the stranger's)."""
    first = new_system(tmp_path).start()
    try:
        creds = first.credentials("ha-tinh", "so-ngoai-vu")
        stored = post(first, creds["token"])
        assert stored.status_code == 202, stored.text
    finally:
        first.stop()
    recorded = json.loads((first.data_dir / "ports.json").read_text())
    again = System(first.data_dir, first.http_port)
    with foreign_nats(tmp_path / "stranger", recorded["nats"]) as stranger_url, \
            silent_listener(recorded["postgres"]), silent_listener(recorded["nats_monitor"]):
        try:
            again.start()
            now = json.loads((first.data_dir / "ports.json").read_text())
            assert now["nats"] != recorded["nats"] and now["postgres"] != recorded["postgres"]
            assert now["nats_monitor"] != recorded["nats_monitor"]
            assert again.runtime()["nats_url"] == f"nats://127.0.0.1:{now['nats']}"
            assert f":{now['postgres']}/" in again.runtime()["database_url"]

            issued = again.credentials("ha-tinh", "so-tu-phap")
            assert issued["nats_url"] == f"nats://127.0.0.1:{now['nats']}"
            nc = await nats.connect(issued["nats_url"], **nats_options(issued))
            try:
                ack = await nc.jetstream().publish("doingoai.events.ha-tinh.so-tu-phap.activity_held",
                                                   encode(sample("activity_held", agency="so-tu-phap")))
                assert ack.stream == "DOINGOAI_EVENTS" and ack.seq == stored.json()["sequence"] + 1
            finally:
                await nc.close()
            assert post(again, creds["token"]).status_code == 202  # the old token, on the restarted system

            stranger = await nats.connect(stranger_url)
            try:
                assert await stranger.jetstream().streams_info() == []  # nothing of ours went there
            finally:
                await stranger.close()
        finally:
            again.stop()


def test_a_command_against_a_server_that_is_not_ours_fails_in_one_line_within_seconds(tmp_path: Path):
    """DOINGOAI_NATS_URL naming a NATS server that refuses the system's user, or
    DOINGOAI_DATABASE_URL naming a port where nothing speaks PostgreSQL: one line, exit 1, no
    endless retry."""
    nats_port, pg_port = free_port(), free_port()
    env = {"DOINGOAI_NATS_USER": "doingoai-service", "DOINGOAI_NATS_PASSWORD": "wrong"}
    system = System(tmp_path / "data", free_port(), env_extra=env)
    with foreign_nats(tmp_path / "stranger", nats_port, auth=True) as url, silent_listener(pg_port):
        silent_db = f"postgresql://postgres:secret@127.0.0.1:{pg_port}/postgres"
        for extra, names in (({"DOINGOAI_DATABASE_URL": silent_db}, "PostgreSQL"),
                             ({"DOINGOAI_NATS_URL": url}, "NATS")):
            system.env_extra = {**env, **extra}
            started = time.monotonic()
            try:
                done = system.cli("credentials", "issue", "--province", "ha-tinh", "--agency", "so-ngoai-vu")
            finally:
                system.stop()  # whatever the command left running (it should have started nothing)
            took = time.monotonic() - started
            assert done.returncode == 1, done.stderr
            assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"doingoai: {names} at"), done.stderr
            assert took < 20, took  # before anything is started
            # the server's -ERR, or the reset that overtook it (both: it refused the system's user)
            refused = "Authorization Violation" in done.stderr or "refused credentials" in done.stderr
            assert refused or names == "PostgreSQL"
            assert not (system.data_dir / "postgres").exists()  # nothing was started for it
