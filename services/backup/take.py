"""`doingoai backup --out DIR` while the system runs: the PostgreSQL schema first, then a snapshot of
every stream kept on disk, then the secrets under the data directory, and the manifest.

    DIR/manifest.json                    versions, streams (config, state), files (bytes, sha256)
    DIR/postgres/doingoai.dump           pg_dump, custom format, of the `doingoai` schema
    DIR/streams/<STREAM>.snapshot        the JetStream snapshot of each stream, as the server sends it
    DIR/secrets/service.json             the services' NATS user
    DIR/secrets/postgres.json            the embedded PostgreSQL superuser's password
    DIR/secrets/audit-ed25519.pem        the key signing audit heads (and its .pub.pem)

The NATS users are not files of their own: the embedded server's authorization is rendered from
the credentials table (in the dump) and the services' user, on every start.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from services.audit_keys import key_path, public_key_path
from services.backup import BackupError, database, manifest, streams
from services.embedded.postgres import bin_dir
from services.runtime import Runtime


def _prepare(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BackupError(f"{out} exists and is not an empty directory")
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    out.chmod(0o700)
    for part in ("postgres", "streams", "secrets"):
        (out / part).mkdir(mode=0o700)


def secret_files(rt: Runtime) -> dict[str, Path]:
    """The secrets a backup keeps: name in the backup -> file, for those that exist."""
    secrets = rt.settings.data_dir / "secrets"
    key = key_path(rt.settings)
    found = {
        "secrets/service.json": secrets / "service.json",
        "secrets/postgres.json": secrets / "postgres.json",
        "secrets/audit-ed25519.pem": key,
        "secrets/audit-ed25519.pub.pem": public_key_path(key),
    }
    return {name: path for name, path in found.items() if path.is_file()}


def _keep_secrets(rt: Runtime, out: Path) -> None:
    """Copy the secrets in, and make every file of the backup its owner's alone."""
    for name, path in secret_files(rt).items():
        shutil.copyfile(path, out / name)
    for file in out.rglob("*"):
        file.chmod(0o700 if file.is_dir() else 0o600)


def _pg_dump_version() -> str:
    done = subprocess.run([str(bin_dir() / "pg_dump"), "--version"], capture_output=True, text=True)
    return done.stdout.strip()


async def take(rt: Runtime, out: Path) -> dict[str, Any]:
    """Back up the running system `rt` into the new directory `out`; the manifest written."""
    started = time.monotonic()
    _prepare(out)
    db = await database.versions(rt.database_url)
    await database.dump(rt.database_url, out / "postgres" / "doingoai.dump")
    dumped = time.monotonic()
    nc = await rt.connect_nats("doingoai-backup")
    try:
        server = nc.connected_server_version
        kept: dict[str, Any] = {}
        for described in await streams.file_streams(nc):
            name = described["config"]["name"]
            file = f"streams/{name}.snapshot"
            kept[name] = {"file": file, **await streams.snapshot(nc, name, out / file)}
    finally:
        await nc.close()
    _keep_secrets(rt, out)
    content = {
        "created_at": datetime.now(UTC).isoformat(),
        "versions": {"doingoai": version("doingoai"), "python": platform.python_version(),
                     "nats_server": f"{server.major}.{server.minor}.{server.patch}",
                     "pg_dump": _pg_dump_version(), **db},
        "database": {"file": "postgres/doingoai.dump", "schema": "doingoai", "format": "pg_dump custom"},
        "streams": kept,
    }
    written = manifest.write(out, content)
    return {"out": str(out), "seconds": round(time.monotonic() - started, 2),
            "database_s": round(dumped - started, 2), "streams_s": round(time.monotonic() - dumped, 2),
            "bytes": sum(f["bytes"] for f in written["files"].values()),
            "streams": {name: {"messages": s["state"]["messages"], "last_seq": s["state"]["last_seq"]}
                        for name, s in kept.items()},
            "alembic_revision": db["alembic_revision"]}
