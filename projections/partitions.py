"""Several projection workers sharing the stream: partitions by province, claimed with leases.

An aggregate's events all come from one province (its `source`), so partitioning by the province
token of the NATS subject keeps per-aggregate order. Each partition has its own durable consumer
and checkpoint; its runner reads every message (cheap) and applies only its own provinces (the
costly part). Projections that need the whole stream in order (the audit hash chain) form one
more unit, `global`.

Units are claimed with leases in a JetStream key-value bucket whose entries expire: a worker
renews its leases every `renew_s`; when it dies they expire after `ttl_s` and another worker
claims them and resumes from the unit's checkpoint. A worker holds at most its fair share of the
units (units / live workers, rounded up), so a restarted worker gets work back.
"""

from __future__ import annotations

import asyncio
import math
import uuid
import zlib
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field

import structlog
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.batch import StreamMessage
from projections.runner import Handler

log = structlog.get_logger(__name__)
LEASES_BUCKET = "DOINGOAI_LEASES"
GLOBAL = "global"


def partition_of(nats_subject: str, partitions: int) -> int:
    """The partition of a message: a stable hash of the province token of its subject."""
    parts = nats_subject.split(".")
    province = parts[2] if len(parts) > 2 else ""
    return zlib.crc32(province.encode()) % partitions


def only_partition(handler: Handler, part: int, partitions: int) -> Handler:
    async def handle(conn: AsyncConnection, messages: Sequence[StreamMessage]) -> None:
        mine = [m for m in messages if partition_of(m.subject, partitions) == part]
        if mine:
            await handler(conn, mine)

    return handle


def unit_names(partitions: int) -> list[str]:
    return [GLOBAL, *(f"p{i}" for i in range(partitions))]


async def leases(js: JetStreamContext, ttl_s: float) -> KeyValue:
    try:
        return await js.key_value(LEASES_BUCKET)
    except (BucketNotFoundError, NotFoundError):
        return await js.create_key_value(KeyValueConfig(
            bucket=LEASES_BUCKET, history=1, ttl=ttl_s, storage=StorageType.MEMORY,
            description="Which projection worker owns which partition"))


@dataclass
class Coordinator:
    """Claims units, runs `start(unit)` for each one held, cancels it when the lease is lost."""

    kv: KeyValue
    units: list[str]
    start: Callable[[str], Coroutine[None, None, None]]
    renew_s: float = 2.0
    worker_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    held: dict[str, tuple[int, asyncio.Task[None]]] = field(default_factory=dict)

    async def _live_workers(self) -> int:
        try:
            keys = await self.kv.keys()
        except (NotFoundError, KeyNotFoundError):
            return 1
        return max(1, len([k for k in keys if k.startswith("member.")]))

    async def step(self) -> None:
        """Renew, release over fair share, claim free units (one pass)."""
        member = f"member.{self.worker_id}"
        try:
            await self.kv.put(member, b"alive")
        except Exception as exc:  # the next pass tries again
            log.warning("partitions.heartbeat_failed", error=repr(exc))
            return
        for unit, (revision, task) in list(self.held.items()):
            try:
                self.held[unit] = (await self.kv.update(f"unit.{unit}", self.worker_id.encode(), last=revision), task)
            except KeyWrongLastSequenceError:
                log.warning("partitions.lease_lost", unit=unit, worker=self.worker_id)
                await self._stop(unit)
            if task.done():  # the runner failed: give the unit back so it restarts cleanly
                await self.release(unit)
        fair = math.ceil(len(self.units) / await self._live_workers())
        for unit in list(self.held)[fair:]:
            await self.release(unit)
        for unit in self.units:
            if len(self.held) >= fair or unit in self.held:
                continue
            try:
                revision = await self.kv.create(f"unit.{unit}", self.worker_id.encode())
            except KeyWrongLastSequenceError:
                continue  # someone else holds it
            log.info("partitions.claimed", unit=unit, worker=self.worker_id)
            self.held[unit] = (revision, asyncio.create_task(self.start(unit)))

    async def _stop(self, unit: str) -> None:
        _, task = self.held.pop(unit)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def release(self, unit: str) -> None:
        revision, _ = self.held[unit]
        await self._stop(unit)
        try:
            await self.kv.delete(f"unit.{unit}", last=revision)
        except Exception as exc:  # it expires by itself
            log.warning("partitions.release_failed", unit=unit, error=repr(exc))
        log.info("partitions.released", unit=unit, worker=self.worker_id)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                await self.step()
                try:
                    await asyncio.wait_for(stop.wait(), self.renew_s)
                except TimeoutError:
                    pass
        finally:
            for unit in list(self.held):
                await self.release(unit)
            try:
                await self.kv.delete(f"member.{self.worker_id}")
            except Exception as exc:  # expires by itself
                log.warning("partitions.leave_failed", error=repr(exc))
