"""The manifest of a backup: what made it (versions), what it holds (each stream's configuration
and state), and the size and SHA-256 of every file; restore checks every sum before it touches
anything, and refuses a file the manifest does not list."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from services.backup import BackupError

MANIFEST = "manifest.json"
FORMAT = "doingoai-backup/1"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.relative_to(root).as_posix() != MANIFEST)


def write(root: Path, content: dict[str, Any]) -> dict[str, Any]:
    """Write manifest.json into `root` with `content` and the sums of every other file there."""
    files = {p.relative_to(root).as_posix(): {"bytes": p.stat().st_size, "sha256": sha256_of(p)} for p in _files(root)}
    manifest = {"format": FORMAT, **content, "files": files}
    path = root / MANIFEST
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(manifest, out, indent=2)
        out.flush()
        os.fsync(out.fileno())
    return manifest


def verify(root: Path) -> dict[str, Any]:
    """The manifest of the backup in `root`, after checking the size and SHA-256 of every file it
    lists and that it lists every file there; BackupError naming the first difference."""
    path = root / MANIFEST
    try:
        manifest: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise BackupError(f"{root} holds no {MANIFEST}: not a backup") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"{path}: cannot read it ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: format {manifest.get('format')!r}, this version reads {FORMAT!r}")
    listed: dict[str, dict[str, Any]] = manifest.get("files") or {}
    for name, expected in listed.items():
        file = root / name
        if not file.is_file():
            raise BackupError(f"{name} is missing from the backup")
        if file.stat().st_size != expected["bytes"] or sha256_of(file) != expected["sha256"]:
            raise BackupError(f"{name} does not match its SHA-256 in the manifest: the backup is damaged")
    for file in _files(root):
        if file.relative_to(root).as_posix() not in listed:
            raise BackupError(f"{file.relative_to(root)} is not listed in the manifest")
    return manifest
