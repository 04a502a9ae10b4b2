"""Keeps the embedded servers of `up` serving after a full disk, without an operator.

Every second it reads the free space under the data directory, the nats-server's own health report
and whether PostgreSQL runs, and records what is wrong in `Health`. A nats-server whose stream met a
write error (the disk filled up under it) refuses that stream until it restarts: once the free
space is back above the reserve, the keeper restarts it (acknowledged messages were fsynced before
their acknowledgement and are all there; clients reconnect by themselves). A PostgreSQL that stopped
(it shuts down when it cannot write its WAL) is started again once there is space."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog

from services.embedded.health import Health
from services.embedded.nats import EmbeddedNats
from services.embedded.postgres import EmbeddedPostgres

log = structlog.get_logger(__name__)
ROUND_S = 1.0


def write_errors(report: dict[str, Any]) -> list[str]:
    """The stream and consumer write errors of a nats-server health report (`/healthz?details=true`)."""
    errors = [str(e.get("error", "")) for e in report.get("errors") or []]
    if report.get("error"):
        errors.append(str(report["error"]))
    return [e for e in errors if "write error" in e]


class Keeper:
    def __init__(self, health: Health, nats: EmbeddedNats | None, postgres: EmbeddedPostgres | None):
        self.health, self.nats, self.postgres = health, nats, postgres
        self.restarts = 0

    def _set(self, kind: str, message: str | None) -> None:
        before = self.health.problems.get(kind)
        if message is None:
            if self.health.problems.pop(kind, None) is not None:
                log.info("health.recovered", problem=kind)
        elif before != message:
            self.health.problems[kind] = message
            if before is None:
                log.warning("health.problem", problem=kind, message=message)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.round()
            except Exception as exc:  # a round that failed is tried again: the keeper never stops
                log.warning("keeper.round_failed", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), ROUND_S)

    async def round(self) -> None:
        health = self.health
        full = health.storage_message(await asyncio.to_thread(health.free_bytes)) if health.reserve_bytes else None
        self._set("storage_full", full)
        if self.postgres is not None:
            await self._postgres(space=full is None)
        if self.nats is not None:
            await self._nats(space=full is None)

    async def _nats(self, *, space: bool) -> None:
        assert self.nats is not None
        report = await self.nats.health()
        if report is None:
            if await asyncio.to_thread(self.nats.running_pid) is not None:
                return  # running but not answering its monitor: busy, asked again next round
            self._set("nats_down", "nats-server is not running; it is started again when there is space")
            if space:
                await self._restart_nats("not running")
            return
        self._set("nats_down", None)
        errors = write_errors(report)
        if not errors:
            self._set("nats_write_error", None)
            return
        self._set("nats_write_error", f"nats-server: {errors[0]}; it is restarted once space is free")
        if space:
            await self._restart_nats(errors[0])

    async def _restart_nats(self, why: str) -> None:
        assert self.nats is not None
        log.warning("nats.restarting", reason=why)
        try:
            await asyncio.to_thread(self.nats.restart)
        except Exception as exc:
            log.warning("nats.restart_failed", error=repr(exc))
            return
        self.restarts += 1
        self._set("nats_write_error", None)
        self._set("nats_down", None)

    async def _postgres(self, *, space: bool) -> None:
        assert self.postgres is not None
        if await asyncio.to_thread(self.postgres.running_pid) is not None:
            self._set("database_down", None)
            return
        self._set("database_down", "PostgreSQL is not running; it is started again when there is space")
        if not space:
            return
        try:
            await asyncio.to_thread(self.postgres.start)
        except Exception as exc:
            log.warning("postgres.start_failed", error=repr(exc))
            return
        self._set("database_down", None)
