"""What `up` does about a full disk, decided on fakes of the servers: ingest refused below the
reserve, a nats-server with a write error restarted only once there is space, a stopped PostgreSQL
started again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.embedded.health import Health, StorageFull, StoreFault
from services.embedded.keeper import Keeper, write_errors

pytestmark = pytest.mark.unit
WRITE_ERROR = {"status": "error", "errors": [{"type": "STREAM", "stream": "DOINGOAI_EVENTS", "error":
               "JetStream stream '$G > DOINGOAI_EVENTS' write error: write .../1.blk: no space left on device"}]}


class FakeNats:
    def __init__(self, report: dict[str, Any] | None):
        self.report, self.restarts = report, 0

    async def health(self) -> dict[str, Any] | None:
        return self.report

    def running_pid(self) -> int | None:
        return None if self.report is None else 1

    def restart(self) -> None:
        self.restarts += 1
        self.report = {"status": "ok"}


class FakePostgres:
    def __init__(self, running: bool):
        self.running, self.starts = running, 0

    def running_pid(self) -> int | None:
        return 2 if self.running else None

    def start(self) -> str:
        self.starts += 1
        self.running = True
        return "postgresql://"


def health_with(free: int, reserve: int) -> Health:
    health = Health(Path("/"), reserve)
    health.free_bytes = lambda: free  # type: ignore[method-assign]
    return health


def test_write_errors_are_read_from_the_servers_health_report():
    assert write_errors(WRITE_ERROR) == [WRITE_ERROR["errors"][0]["error"]]
    assert write_errors({"status": "ok"}) == []
    assert write_errors({"status": "unavailable", "error": "JetStream is not current with the meta leader"}) == []


def test_ingest_is_refused_below_the_reserve_and_while_the_store_restarts():
    with pytest.raises(StorageFull, match="less than the reserve"):
        health_with(free=1, reserve=10).check_ingest()
    health_with(free=1, reserve=0).check_ingest()  # no reserve: never refused for space
    faulty = health_with(free=100, reserve=10)
    faulty.problems["nats_write_error"] = "nats-server: write error"
    with pytest.raises(StoreFault):
        faulty.check_ingest()


async def test_a_write_error_is_reported_at_once_and_repaired_only_once_there_is_space():
    health = health_with(free=1, reserve=10)
    nats = FakeNats(WRITE_ERROR)
    keeper = Keeper(health, nats, None)  # type: ignore[arg-type]
    await keeper.round()
    assert set(health.problems) == {"storage_full", "nats_write_error"} and nats.restarts == 0
    health.free_bytes = lambda: 100  # type: ignore[method-assign]
    await keeper.round()
    assert nats.restarts == 1 and health.problems == {}
    await keeper.round()
    assert nats.restarts == 1


async def test_a_stopped_postgresql_is_started_again_when_there_is_space():
    health = health_with(free=1, reserve=10)
    postgres = FakePostgres(running=False)
    keeper = Keeper(health, None, postgres)  # type: ignore[arg-type]
    await keeper.round()
    assert "database_down" in health.problems and postgres.starts == 0
    health.free_bytes = lambda: 100  # type: ignore[method-assign]
    await keeper.round()
    assert postgres.starts == 1 and "database_down" not in health.problems
