"""A log line that cannot be written (stderr redirected to a full disk) is dropped, never raised into
the code that logs it."""

from __future__ import annotations

import io

import structlog

from services import logs


class FullDisk(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(28, "No space left on device")

    def flush(self) -> None:
        raise OSError(28, "No space left on device")


def test_a_line_the_disk_cannot_take_is_dropped_and_the_next_one_written(monkeypatch):
    full = FullDisk()
    monkeypatch.setattr(logs.sys, "stderr", full)
    logs.configure("INFO")
    try:
        structlog.get_logger("t").warning("child.exited", name="projector-0")  # would raise OSError
        kept = io.StringIO()
        monkeypatch.setattr(logs.sys, "stderr", kept)
        logs.configure("INFO")
        structlog.get_logger("t").warning("child.started", name="projector-0")
        assert '"event": "child.started"' in kept.getvalue()
    finally:
        structlog.reset_defaults()
