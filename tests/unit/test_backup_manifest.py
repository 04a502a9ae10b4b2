"""The backup manifest: every file's size and SHA-256, checked before anything is restored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.backup import BackupError
from services.backup.manifest import FORMAT, verify, write

pytestmark = pytest.mark.unit


def backup_dir(tmp_path: Path) -> Path:
    root = tmp_path / "backup"
    (root / "streams").mkdir(parents=True)
    (root / "streams" / "S.snapshot").write_bytes(b"\x00snapshot" * 1000)
    (root / "postgres.dump").write_bytes(b"dump")
    write(root, {"versions": {"doingoai": "0.1.0"}})
    return root


def test_a_written_manifest_verifies_and_lists_every_file(tmp_path: Path):
    root = backup_dir(tmp_path)
    found = verify(root)
    assert found["format"] == FORMAT and set(found["files"]) == {"streams/S.snapshot", "postgres.dump"}
    assert (root / "manifest.json").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(("change", "named"), [
    (lambda root: (root / "postgres.dump").write_bytes(b"dumq"), "postgres.dump does not match"),
    (lambda root: (root / "streams" / "S.snapshot").unlink(), "streams/S.snapshot is missing"),
    (lambda root: (root / "extra").write_text("?"), "extra is not listed"),
])
def test_a_changed_missing_or_unlisted_file_is_named(tmp_path: Path, change, named: str):
    root = backup_dir(tmp_path)
    change(root)
    with pytest.raises(BackupError, match=named):
        verify(root)


def test_a_directory_without_a_manifest_or_of_another_format_is_not_a_backup(tmp_path: Path):
    with pytest.raises(BackupError, match="not a backup"):
        verify(tmp_path)
    root = backup_dir(tmp_path)
    manifest = json.loads((root / "manifest.json").read_text())
    (root / "manifest.json").write_text(json.dumps({**manifest, "format": "doingoai-backup/99"}))
    with pytest.raises(BackupError, match="format"):
        verify(root)
