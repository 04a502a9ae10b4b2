"""The CLI as an operator meets it: settings checked once (one line and exit code 2 for a value that
cannot be used), no library warnings or JSON log lines on a one-off command, `replay` leaving no
schema behind unless asked."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import text

from services.db import make_engine
from tests.support import System

pytestmark = pytest.mark.integration


def cli_with(system: System, http: str, *args: str) -> subprocess.CompletedProcess[str]:
    """A CLI command of `system` with DOINGOAI_HTTP set to `http`."""
    return subprocess.run([sys.executable, "-m", "services.cli.main", *args],
                          env={**system.env(), "DOINGOAI_HTTP": http}, capture_output=True, text=True, timeout=180)


def test_a_one_off_command_prints_its_answer_and_nothing_else(system: System):
    done = system.cli("credentials", "list", "--json")
    assert done.returncode == 0, done.stderr
    json.loads(done.stdout)
    assert "Warning" not in done.stderr and "XDG_RUNTIME_DIR" not in done.stderr
    assert not [line for line in done.stderr.splitlines() if line.lstrip().startswith("{")], done.stderr


@pytest.mark.parametrize("value", ["127.0.0.1:{port}", "http://127.0.0.1:{port}", "http://127.0.0.1:{port}/"])
def test_the_http_address_is_taken_in_either_form(system: System, value: str):
    done = cli_with(system, value.format(port=system.http_port),
                    "credentials", "issue", "--province", "ha-tinh", "--agency", "so-the-thao")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["http"] == f"http://127.0.0.1:{system.http_port}"


@pytest.mark.parametrize("value", ["localhost", "ftp://x:21", "127.0.0.1:99999", "http://:8080"])
def test_an_address_that_cannot_be_used_is_one_line_and_exit_code_2(system: System, value: str):
    done = cli_with(system, value, "credentials", "list")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("doingoai: DOINGOAI_HTTP"), done.stderr


async def test_replay_drops_its_schema_unless_asked_to_keep_it(system: System):
    dropped = json.loads(system.cli("replay").stdout)
    kept = json.loads(system.cli("replay", "--keep").stdout)
    assert (dropped["kept"], kept["kept"]) == (False, True)
    engine = make_engine(system.runtime()["database_url"], pool_size=1)
    try:
        async with engine.connect() as conn:
            found = set((await conn.execute(text(
                "SELECT nspname FROM pg_namespace WHERE nspname = ANY(:names)"),
                {"names": [dropped["schema"], kept["schema"]]})).scalars())
            assert found == {kept["schema"]}
            await conn.execute(text(f'DROP SCHEMA "{kept["schema"]}" CASCADE'))
            await conn.commit()
    finally:
        await engine.dispose()
