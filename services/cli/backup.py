"""`doingoai backup --out DIR` (while the system runs) and `doingoai restore --from DIR` (into an
empty data directory, before `up`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer


def backup_cmd(
    out: Path = typer.Option(..., "--out", help="A new (or empty) directory to write the backup into"),
) -> None:
    """Back up everything while the system runs: the streams with their sequences and times, the
    PostgreSQL schema (credentials, users, keys' heads, read models), the secrets, and a manifest
    with the SHA-256 of every file. The directory holds secrets: keep it like the data directory."""
    from services.backup import BackupError
    from services.backup.take import take
    from services.cli.main import run, runtime

    target = out.expanduser().resolve()

    async def main() -> dict[str, Any]:
        async with runtime() as rt:
            return await take(rt, target)

    try:
        print(json.dumps(run(main), indent=2))
    except BackupError as exc:
        typer.echo(f"doingoai: backup: {exc}", err=True)
        raise typer.Exit(1) from None


def restore_cmd(
    source: Path = typer.Option(..., "--from", help="A directory `doingoai backup` wrote"),
) -> None:
    """Restore a backup into an empty data directory (DOINGOAI_DATA_DIR), before `up`: every file's
    SHA-256 is checked first; the restored system keeps its sequences, credentials and keys."""
    from services.backup import BackupError
    from services.backup.restore import restore
    from services.cli.main import run
    from services.settings import load
    from services.up import lock_data_dir

    settings = load()
    lock = lock_data_dir(settings)  # noqa: F841  (no `up` on it meanwhile)
    try:
        print(json.dumps(run(lambda: restore(settings, source.expanduser().resolve())), indent=2))
    except BackupError as exc:
        typer.echo(f"doingoai: restore: {exc}", err=True)
        raise typer.Exit(1) from None
