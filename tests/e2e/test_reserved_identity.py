"""The system identity `doingoai` (the agency the escalation service records as) is reserved: the
command line refuses to issue credentials for it with one line and exit code 2, `issue()` raises
`ReservedIdentity`, and credentials for it stored by an older version open neither door."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from schemas.codec import encode
from services.credentials import ReservedIdentity, issue, nats_users, password_hash
from services.db import make_engine
from services.db.tables import credentials
from tests.support import System, sample

pytestmark = pytest.mark.e2e


def test_credentials_issue_for_doingoai_exits_2_with_one_line_and_starts_nothing(tmp_path: Path):
    env = {"PATH": "/usr/bin:/bin", "DOINGOAI_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-m", "services.cli.main", "credentials", "issue", "--province", "ha-tinh",
                           "--agency", "doingoai"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == ["error: 'doingoai' is the system's own identity (escalations): no credentials speak as it; "
                     "issue them for the agency's own slug, e.g. so-ngoai-vu"]
    assert not (tmp_path / "data" / "runtime.json").exists()


async def test_on_a_running_system_the_identity_is_refused_and_a_stored_one_is_ignored(system: System):
    done = system.cli("credentials", "issue", "--province", "kon-tum", "--agency", "doingoai", "--role", "auditor")
    assert done.returncode == 2 and "system's own identity" in done.stderr and "Traceback" not in done.stderr

    engine = make_engine(system.runtime()["database_url"], pool_size=1)
    try:
        with pytest.raises(ReservedIdentity):
            await issue(engine, "ha-tinh", "doingoai")
        token = "dgo_planted-by-an-older-version"
        async with engine.begin() as conn:
            await conn.execute(credentials.insert().values(
                nats_user="ha-tinh.doingoai.old", province="ha-tinh", agency="doingoai", role="agency",
                token_hash=hashlib.sha256(token.encode()).hexdigest(), nats_password_hash=password_hash("x"),
                revoked=False, created_at=datetime.now(UTC)))
        assert "ha-tinh.doingoai.old" not in {u.user for u in await nats_users(engine)}
        event = sample("escalation_closed", agency="doingoai")
        r = httpx.post(f"{system.http}/events", content=encode(event), headers={
            "content-type": "application/cloudevents+json", "authorization": f"Bearer {token}"})
        assert r.status_code == 401, r.text
    finally:
        async with engine.begin() as conn:
            await conn.execute(credentials.delete().where(credentials.c.nats_user == "ha-tinh.doingoai.old"))
        await engine.dispose()
