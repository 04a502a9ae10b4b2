"""`doingoai restore --from DIR` into an empty data directory, before `up`: every SHA-256 of the
manifest checked first, then the secrets put back, the embedded PostgreSQL made with the backed-up
superuser password and the schema restored (and migrated, if the backup is of an older version),
the embedded nats-server started with the restored users and each stream restored with its
sequences and times, checked against the manifest. The servers are stopped at the end: `up` starts
the restored system, whose projections go on from the dumped checkpoints.

Only the embedded servers are restored here; with DOINGOAI_NATS_URL or DOINGOAI_DATABASE_URL set,
see docs/backup-restore.md."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory

from services.audit_keys import key_path, public_key_path
from services.backup import BackupError, database, manifest, streams
from services.db.migrate import MIGRATIONS, migrate
from services.embedded.nats import EmbeddedNats
from services.embedded.postgres import EmbeddedPostgres
from services.runtime import Runtime, service_secret
from services.settings import Settings
from services.store.connect import connect
from services.store.streams import ensure_streams

ALLOWED = {"ports.json", "up.lock"}
"""What an 'empty' data directory may already hold."""
COMPARED = ("messages", "first_seq", "last_seq", "first_ts", "last_ts")


def check_empty(data_dir: Path) -> None:
    found = sorted(p.name for p in data_dir.iterdir() if p.name not in ALLOWED) if data_dir.exists() else []
    if found:
        raise BackupError(f"{data_dir} is not empty ({', '.join(found[:5])}): restore only into an empty data "
                          "directory (set DOINGOAI_DATA_DIR to a new one)")


def check_revision(revision: str) -> None:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        ScriptDirectory.from_config(cfg).get_revision(revision)
    except Exception:
        raise BackupError(f"the backup's schema is at revision {revision}, which this version does not know: "
                          "restore it with the version that made it (or a newer one)") from None


def _put(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if target.exists():
        if target.read_bytes() != source.read_bytes():
            raise BackupError(f"{target} exists and differs from the backup's: move it away first")
        return
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out, source.open("rb") as src:
        shutil.copyfileobj(src, out)


def put_secrets(settings: Settings, root: Path, files: dict[str, Any]) -> None:
    secrets = settings.data_dir / "secrets"
    secrets.mkdir(parents=True, exist_ok=True, mode=0o700)
    secrets.chmod(0o700)
    key = key_path(settings)
    places = {"secrets/service.json": secrets / "service.json", "secrets/postgres.json": secrets / "postgres.json",
              "secrets/audit-ed25519.pem": key, "secrets/audit-ed25519.pub.pem": public_key_path(key)}
    for name, target in places.items():
        if name in files:
            _put(root / name, target)


async def restore_streams(nc: Any, root: Path, kept: dict[str, Any]) -> dict[str, Any]:
    existing = {s["config"]["name"] for s in await streams.file_streams(nc)}
    if clash := sorted(existing & set(kept)):
        raise BackupError(f"the NATS server already has the stream(s) {', '.join(clash)}")
    restored = {}
    for name, item in kept.items():
        state = await streams.restore(nc, name, root / item["file"], item["config"], item["state"])
        compared = COMPARED if item["state"]["messages"] else ("messages", "last_seq")  # empty: no first/ts
        differs = [k for k in compared if state.get(k) != item["state"].get(k)]
        if differs:
            raise BackupError(f"stream {name} restored with another {', '.join(differs)} than the backup's")
        restored[name] = {"messages": state["messages"], "last_seq": state["last_seq"]}
    return restored


async def restore(settings: Settings, root: Path) -> dict[str, Any]:
    """Restore the backup in `root` into the empty data directory of `settings`."""
    started = time.monotonic()
    if not settings.embedded:
        raise BackupError("restore brings a backup into the embedded servers; with DOINGOAI_NATS_URL or "
                          "DOINGOAI_DATABASE_URL set, see docs/backup-restore.md")
    found = manifest.verify(root)
    check_revision(found["versions"]["alembic_revision"])
    check_empty(settings.data_dir)
    if "secrets/postgres.json" not in found["files"]:
        raise BackupError("the backup holds no secrets/postgres.json (it was not made on the embedded servers)")
    put_secrets(settings, root, found["files"])
    pg, nats_server = EmbeddedPostgres(settings.data_dir), EmbeddedNats(settings.data_dir)
    took: dict[str, float] = {}
    try:
        url = pg.start(bulk_load=True)  # then stopped, and the disks synced, before `up`
        mark = time.monotonic()
        await database.restore(url, root / found["database"]["file"])
        await migrate(url)
        took["database_s"] = round(time.monotonic() - mark, 2)
        rt = Runtime(settings, database_url=url)
        secret = service_secret(settings.data_dir)
        server = nats_server.start(await rt.auth_conf(), bulk_load=True)
        nc = await connect([server], user=secret["user"], password=secret["password"], name="doingoai-restore")
        try:
            mark = time.monotonic()
            restored = await restore_streams(nc, root, found["streams"])
            took["streams_s"] = round(time.monotonic() - mark, 2)
            await ensure_streams(nc.jetstream(), dedup_window_s=settings.dedup_window_s,
                                 replicas=settings.stream_replicas, rejected_max_bytes=settings.rejected_max_bytes,
                                 rejected_max_age_s=settings.rejected_max_age_days * 86400)
        finally:
            await nc.close()
    finally:
        nats_server.stop()
        pg.stop()
        os.sync()  # what the servers wrote without fsync is on the disk before anyone starts `up`
        # (every start writes nats.conf anew, syncing before each acknowledgement again)
    return {"data_dir": str(settings.data_dir), "from": str(root), "made": found["created_at"],
            "versions": found["versions"], "streams": restored, "seconds": round(time.monotonic() - started, 2),
            **took}
