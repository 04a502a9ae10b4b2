"""Backup while running, restore into an empty data directory: the restored system verifies its
audit trail, answers the same read models, keeps its streams' sequences and times, and accepts the
agencies' old HTTP token and NATS credentials; a damaged backup or a used data directory is refused."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from schemas.codec import encode
from services.attachments import BUCKET
from services.db import make_engine
from services.embedded.ports import free_port
from services.replay import table_checksums
from services.store import EVENTS_STREAM
from tests.integration.test_forms_attachments import PDF
from tests.support import System, nats_options, new_system, sample

pytestmark = pytest.mark.integration
PASSWORD = "một mật khẩu đủ dài"
READS = [("/api/activities", {"limit": 1000}), ("/api/tasks", {}), ("/api/partners", {}),
         ("/api/dashboard", {"period": "2021"}), ("/api/reports/compliance", {"period": "2021"}),
         ("/api/escalations", {}), ("/api/audit", {"limit": 1000}), ("/api/rejected", {})]


def cli(system: System, *args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.cli.main", *args], env={**system.env(), **env},
                          input=stdin, capture_output=True, text=True, timeout=600)


async def checksums(system: System) -> dict[str, str]:
    engine = make_engine(system.runtime()["database_url"], pool_size=1)
    try:
        async with engine.connect() as conn:
            return await table_checksums(conn)
    finally:
        await engine.dispose()


async def stream_state(system: System) -> dict[str, Any]:
    nc = await system.service_nats()
    try:
        state = (await nc.jetstream().stream_info(EVENTS_STREAM)).state
        last = await nc.jetstream().get_msg(EVENTS_STREAM, state.last_seq)
        return {"messages": state.messages, "last_seq": state.last_seq, "first_seq": state.first_seq,
                "last_subject": last.subject, "last_data": last.data}
    finally:
        await nc.close()


def reads(system: System) -> dict[str, Any]:
    found = {}
    for province in ("ha-tinh", "gia-lai"):
        for path, params in READS:
            answer = system.get(path, province=province, **params)
            assert answer.status_code == 200, (path, answer.text)
            found[f"{province} {path}"] = answer.json()
    return found


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[System, dict[str, Any]]]:
    """The demo published with DOINGOAI_HTTP in its host:port form, an agency's credentials and an
    official's account, all projected."""
    system = new_system(tmp_path_factory.mktemp("original"), DOINGOAI_ESCALATIONS="false").start()
    try:
        done = cli(system, "demo", DOINGOAI_HTTP=f"127.0.0.1:{system.http_port}")
        assert done.returncode == 0, done.stderr
        system.wait_projected(json.loads(done.stdout)["events"])
        creds = system.credentials("ha-tinh", "so-ngoai-vu")
        added = cli(system, "users", "add", "--province", "ha-tinh", "--agency", "so-ngoai-vu", "--username",
                    "tran.thi.binh", "--name", "Trần Thị Bình", "--title", "Phó Giám đốc", "--role", "leader",
                    "--password-stdin", stdin=PASSWORD + "\n")
        assert added.returncode == 0, added.stderr
        yield system, creds
    finally:
        system.stop()


async def test_a_restored_system_is_the_same_system(original: tuple[System, dict[str, Any]], tmp_path: Path):
    system, creds = original
    uploaded = httpx.post(f"{system.http}/api/attachments", files={"file": ("báo cáo.pdf", PDF, "application/pdf")},
                          headers={"authorization": f"Bearer {creds['token']}"}, timeout=30)
    assert uploaded.status_code == 201, uploaded.text
    backup = tmp_path / "backup"
    taken = cli(system, "backup", "--out", str(backup))
    assert taken.returncode == 0, taken.stderr
    summary = json.loads(taken.stdout)
    assert {"DOINGOAI_EVENTS", "DOINGOAI_REJECTED", "DOINGOAI_ESCALATIONS", f"OBJ_{BUCKET}"} <= set(summary["streams"])
    manifest = json.loads((backup / "manifest.json").read_text())
    assert set(manifest["files"]) >= {"postgres/doingoai.dump", "secrets/service.json", "secrets/postgres.json",
                                      "secrets/audit-ed25519.pem", "streams/DOINGOAI_EVENTS.snapshot"}
    assert manifest["versions"]["nats_server"] and manifest["versions"]["alembic_revision"]
    before = reads(system), await checksums(system), await stream_state(system)
    users = json.loads(system.cli("users", "list", "--json").stdout)

    restored = System(tmp_path / "restored", free_port(), env_extra={"DOINGOAI_ESCALATIONS": "false"})
    put_back = cli(restored, "restore", "--from", str(backup))
    assert put_back.returncode == 0, put_back.stderr
    assert json.loads(put_back.stdout)["streams"][EVENTS_STREAM]["last_seq"] == before[2]["last_seq"]
    restored.start()
    try:
        restored.wait_projected(before[2]["last_seq"])
        verified = restored.cli("audit", "verify")
        assert verified.returncode == 0, verified.stderr
        assert (reads(restored), await checksums(restored), await stream_state(restored)) == before
        assert json.loads(restored.cli("users", "list", "--json").stdout) == users
        nc = await restored.service_nats()
        try:  # the uploaded file, in the restored object store
            stored = await (await nc.jetstream().object_store(BUCKET)).get(uploaded.json()["object"])
            assert stored.data == PDF
        finally:
            await nc.close()

        # the agency's old HTTP token and NATS user, on the restored system (its servers' new ports)
        answer = httpx.post(f"{restored.http}/events", content=encode(sample("activity_held")), timeout=30,
                            headers={"content-type": "application/cloudevents+json",
                                     "authorization": f"Bearer {creds['token']}"})
        assert answer.status_code == 202, answer.text
        assert answer.json()["sequence"] == before[2]["last_seq"] + 1
        nc = await nats.connect(restored.runtime()["nats_url"], **nats_options(creds))
        try:
            ack = await nc.jetstream().publish("doingoai.events.ha-tinh.so-ngoai-vu.activity_held",
                                               encode(sample("activity_held")))
            assert ack.seq == before[2]["last_seq"] + 2
        finally:
            await nc.close()
        signed_in = httpx.post(f"{restored.http}/login", data={"username": "tran.thi.binh", "password": PASSWORD},
                               follow_redirects=False, timeout=30)
        assert signed_in.status_code in (200, 303) and "doingoai_session" in signed_in.cookies
    finally:
        restored.stop()


def test_a_damaged_backup_or_a_used_data_directory_is_refused(original: tuple[System, dict[str, Any]],
                                                               tmp_path: Path):
    system, _ = original
    backup = tmp_path / "backup"
    assert cli(system, "backup", "--out", str(backup)).returncode == 0
    again = cli(system, "backup", "--out", str(backup))
    assert again.returncode == 1 and "not an empty directory" in again.stderr

    running = cli(system, "restore", "--from", str(backup))  # onto the running original
    assert running.returncode == 1 and "already running" in running.stderr, running.stderr
    used = System(tmp_path / "used", free_port())
    (used.data_dir / "nats").mkdir(parents=True)
    refused = cli(used, "restore", "--from", str(backup))
    assert refused.returncode == 1 and "is not empty (nats)" in refused.stderr, refused.stderr

    damaged = tmp_path / "damaged"
    shutil.copytree(backup, damaged)
    snapshot = damaged / "streams" / "DOINGOAI_EVENTS.snapshot"
    data = bytearray(snapshot.read_bytes())
    data[len(data) // 2] ^= 0xFF
    snapshot.write_bytes(bytes(data))
    target = System(tmp_path / "target", free_port())
    refused = cli(target, "restore", "--from", str(damaged))
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr.count("\n") == 1 and "streams/DOINGOAI_EVENTS.snapshot does not match" in refused.stderr
    assert not (target.data_dir / "postgres").exists()  # nothing was touched
