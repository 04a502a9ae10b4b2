"""What is wrong with the servers under the data directory, as `up` sees it: too little free space
(`storage_full`), a nats-server whose stream met a write error (`nats_write_error`), a server that
is not running (`nats_down`, `database_down`).

The HTTP service reads it: ingest is refused at once while it would fail (507 `storage_full`, 503
`unavailable`), and `/healthz` says what is wrong. `services.embedded.keeper` keeps it current."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

MIB = 1024 * 1024


class StorageFull(Exception):
    """Less than the reserve is free on the data directory's disk: nothing is stored until space is
    freed (answered 507 `storage_full`)."""


class StoreFault(Exception):
    """The embedded event store cannot store now (its server is down or restarting after a write
    error): answered 503 `unavailable`; retry with the same event id."""


@dataclass
class Health:
    """`path`: the data directory; `reserve_bytes`: the free space below which ingest is refused."""

    path: Path
    reserve_bytes: int
    problems: dict[str, str] = field(default_factory=dict)

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.path).free

    def storage_message(self, free: int) -> str | None:
        if free >= self.reserve_bytes:
            return None
        return (f"{free / MIB:.1f} MiB free under {self.path}, less than the reserve of "
                f"{self.reserve_bytes / MIB:.0f} MiB: events are refused until space is freed")

    def check_ingest(self) -> None:
        """Raise StorageFull or StoreFault if an event would not be stored now (free space is read
        on every call: it changes between the keeper's rounds)."""
        full = self.storage_message(self.free_bytes()) if self.reserve_bytes else None
        if full:
            raise StorageFull(full)
        fault = self.problems.get("nats_write_error") or self.problems.get("nats_down")
        if fault:
            raise StoreFault(fault)

    def report(self) -> dict[str, object]:
        """For /healthz: the problems by kind with their messages, and the free space."""
        return {"problems": dict(self.problems), "storage": {
            "free_bytes": self.free_bytes(), "reserve_bytes": self.reserve_bytes}}
