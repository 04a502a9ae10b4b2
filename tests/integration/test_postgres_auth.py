"""The embedded PostgreSQL asks every connection for its password: a local user who is not the
system cannot read or write its data, and a cluster made before passwords is upgraded in place."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from services.embedded.postgres import EmbeddedPostgres, bin_dir, postgres_secret
from tests.support import System

pytestmark = pytest.mark.integration


async def refused(**connect: object) -> str:
    """Why a connection was refused (the test fails if it was not)."""
    try:
        conn = await asyncpg.connect(**connect, timeout=10)  # type: ignore[arg-type]
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
        return str(exc)
    await conn.close()
    raise AssertionError(f"connected without the password: {connect}")


async def test_a_connection_without_the_password_is_refused_and_the_system_still_works(system: System):
    """asyncpg to 127.0.0.1 as `postgres` with no password, or a wrong one, is refused, and psql on the
    server's own socket without a password too; the system itself reads and writes through its URL."""
    url = urlsplit(system.runtime()["database_url"])
    assert url.password, "the system's database URL carries the password"
    port = url.port
    assert "password authentication failed" in await refused(host="127.0.0.1", port=port, user="postgres",
                                                             database="postgres")
    await refused(host="127.0.0.1", port=port, user="postgres", password="postgres", database="postgres")
    socket_dir = system.data_dir / "postgres"
    done = await asyncio.to_thread(
        subprocess.run, [str(bin_dir() / "psql"), "-w", "-h", str(socket_dir), "-p", str(port), "-U",
                         "postgres", "-c", "SELECT 1"], capture_output=True, text=True, timeout=30,
        env={k: v for k, v in os.environ.items() if not k.startswith("PG")})
    assert done.returncode != 0 and "password" in done.stderr, done.stderr
    conn = await asyncpg.connect(system.runtime()["database_url"], timeout=10)
    assert await conn.fetchval("SELECT current_user") == "postgres"
    await conn.close()
    assert httpx.get(f"{system.http}/healthz", headers=system.reader()).json()["database"] is True


def test_the_password_and_the_runtime_file_holding_it_are_the_owners_alone(system: System):
    """secrets/postgres.json and runtime.json (which holds the database URL) are mode 0600; the
    server listens on the loopback interface only."""
    secret = system.data_dir / "secrets" / "postgres.json"
    for path in (secret, system.data_dir / "runtime.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700
    hba = (system.data_dir / "postgres" / "pg_hba.conf").read_text()
    rules = [line.split() for line in hba.splitlines() if line.strip() and not line.startswith("#")]
    assert rules and all(rule[-1] == "scram-sha-256" for rule in rules), hba


async def test_a_cluster_made_without_passwords_gets_one_on_its_next_start_and_keeps_its_data(tmp_path: Path):
    """A data directory of before (initdb --auth=trust, no secret) started again: the superuser gets a
    generated password, pg_hba.conf asks for it, and the data is all there."""
    pg = EmbeddedPostgres(tmp_path)
    pg.pgdata.mkdir(parents=True)
    await asyncio.to_thread(pg._prepare_root)
    await asyncio.to_thread(pg._run, "initdb", "-D", str(pg.pgdata), "--auth=trust", "--encoding=UTF8",
                            "--locale=C.UTF-8", "-U", "postgres")
    await asyncio.to_thread(pg._run, "pg_ctl", "-D", str(pg.pgdata), "-w", "-o",
                            f"-h 127.0.0.1 -p {pg.port} -k {pg.pgdata}", "-l", str(pg.pgdata / "server.log"),
                            "start")
    bare = {"host": "127.0.0.1", "port": pg.port, "user": "postgres", "database": "postgres"}
    conn = await asyncpg.connect(**bare, timeout=10)  # trust: no password asked
    await conn.execute("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')")
    await conn.close()
    await asyncio.to_thread(pg._run, "pg_ctl", "-D", str(pg.pgdata), "-w", "-m", "fast", "stop")
    try:
        url = await asyncio.to_thread(EmbeddedPostgres(tmp_path).start)
        assert postgres_secret(tmp_path)["password"] in url
        await refused(**bare)
        conn = await asyncpg.connect(url, timeout=10)
        assert await conn.fetchval("SELECT v FROM kept") == "still here"
        await conn.close()
    finally:
        pg.started_here = True
        await asyncio.to_thread(pg.stop)


async def test_a_cluster_of_before_found_running_is_given_a_password_and_reloaded(tmp_path: Path):
    """`up` attaching to a trust cluster that is still running sets the password, rewrites
    pg_hba.conf and reloads the server: from then on a connection without it is refused."""
    pg = EmbeddedPostgres(tmp_path)
    url = await asyncio.to_thread(pg.start)
    try:
        (pg.pgdata / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")
        (tmp_path / "secrets" / "postgres.json").unlink()
        await asyncio.to_thread(pg._run, "pg_ctl", "-D", str(pg.pgdata), "reload")
        bare = {"host": "127.0.0.1", "port": pg.port, "user": "postgres", "database": "postgres"}
        for _ in range(50):  # the reload is asynchronous
            try:
                await (await asyncpg.connect(**bare, timeout=10)).close()
                break
            except asyncpg.InvalidPasswordError:
                await asyncio.sleep(0.1)
        new_url = await asyncio.to_thread(EmbeddedPostgres(tmp_path).start)
        assert new_url != url
        for _ in range(50):
            try:
                await refused(**bare)
                break
            except AssertionError:
                await asyncio.sleep(0.1)
        await refused(**bare)
        await (await asyncpg.connect(new_url, timeout=10)).close()
    finally:
        await asyncio.to_thread(pg.stop)
