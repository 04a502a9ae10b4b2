"""Several projection workers sharing the stream: one unit per province, claimed with leases.

An aggregate's events all come from one province (its `source`), so a unit per province — the
province token of the NATS subject — keeps per-aggregate order. A province's unit has its own
durable consumer, filtered by the server to `doingoai.events.<province>.>`, and its own
checkpoint: a message is fetched and applied by its own province's unit only, once, in stream
order. Projections that need the whole stream in order (the audit hash chain) form one more
unit, `global`.

The provinces are not fixed: any province may start publishing. The `global` unit, which reads
every message in order anyway, records each province it has not seen before in the table
`stream_provinces`, in the same transaction as its checkpoint; the coordinators read that table
on each pass and the new province's unit starts from the province's first message. A message
whose subject names no valid province (no unit could filter it) is applied by `global` itself.

Units are claimed with leases in a JetStream key-value bucket whose entries expire: a worker
renews its leases every `renew_s`; when it dies they expire after `ttl_s` and another worker
claims them and resumes from the unit's checkpoint. The single units (`global`, the rejected
stream, escalation delivery and the escalation service) go to whichever worker finds them free.
`global` reads every message, as all the province units together do, and weighs about half as
much as they do together: its holder takes fewer provinces (none from three workers on) and the
other workers share the rest out evenly; a worker alone holds everything, and a worker that joins
or comes back gets its share of provinces.
"""

from __future__ import annotations

import asyncio
import math
import re
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import (
    BucketNotFoundError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NoKeysError,
    NotFoundError,
)
from nats.js.kv import KeyValue
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.engine.batch import StreamMessage
from projections.engine.runner import Handler
from projections.engine.tables import stream_provinces

log = structlog.get_logger(__name__)
LEASES_BUCKET = "DOINGOAI_LEASES"
GLOBAL = "global"
PROVINCE_UNIT = "province."
"""Prefix of a province's unit name (`province.ha-tinh`): no province can take a single unit's name."""
PROJECTION_VERSION = "v1"
AUDIT_CONSUMER = f"audit_{PROJECTION_VERSION}"
"""Checkpoint (and durable consumer) of the `global` unit, and of a replay's audit chain rebuilt apart."""
PROVINCE_CONSUMER = f"projector_{PROJECTION_VERSION}_"
"""Prefix of a province unit's checkpoint (and durable consumer): `projector_v1_ha-tinh`."""
GLOBAL_WEIGHT = 0.5
"""The `global` unit's work against all the province units' together: it reads every message, as
they do together, but only chains it (one hash, one row) where they decode it and update every read
model; measured at about half (`bench.partitions`)."""
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
MAX_PROVINCE = 64


def is_province(token: str) -> bool:
    """A province token that can name a unit and a durable consumer: a slug, as in `source`."""
    return len(token) <= MAX_PROVINCE and _SLUG.fullmatch(token) is not None


def province_of(nats_subject: str) -> str | None:
    """The province whose unit applies a message (`doingoai.events.<province>.<agency>.<event>`);
    None if the subject names no valid province (the `global` unit applies such a message)."""
    parts = nats_subject.split(".", 3)
    return parts[2] if len(parts) == 4 and is_province(parts[2]) else None


def province_filter(province: str) -> str:
    """The server-side filter of a province's consumer: exactly the subjects `province_of` maps to it."""
    return f"doingoai.events.{province}.>"


def province_unit(province: str) -> str:
    return PROVINCE_UNIT + province


def unit_province(unit: str) -> str | None:
    return unit.removeprefix(PROVINCE_UNIT) if unit.startswith(PROVINCE_UNIT) else None


async def seen_provinces(conn: AsyncConnection) -> list[str]:
    """The provinces recorded by the `global` unit, in name order."""
    found = await conn.scalars(select(stream_provinces.c.province).order_by(stream_provinces.c.province))
    return list(found)


class WholeStream:
    """The `global` unit's handler: `audit` gets every message; each province seen for the first time
    is recorded in `stream_provinces` (same transaction); `strays` gets the messages with no province.
    The runner's hooks pass through: `prepare` (ahead of the batch's turn) and `rebuildable`."""

    def __init__(self, audit: Handler, strays: Handler):
        self.audit, self.strays = audit, strays
        self.rebuildable = all(getattr(h, "rebuildable", False) for h in (audit, strays))
        self.known: set[str] = set()  # only provinces read back from the table: a rolled-back insert is redone

    def prepare(self, messages: Sequence[StreamMessage]) -> None:
        if (prepare := getattr(self.audit, "prepare", None)) is not None:
            prepare(messages)
        if (prepare := getattr(self.strays, "prepare", None)) is not None:
            if strays := [m for m in messages if province_of(m.subject) is None]:
                prepare(strays)

    async def __call__(self, conn: AsyncConnection, messages: Sequence[StreamMessage]) -> None:
        new: dict[str, int] = {}
        stray: list[StreamMessage] = []
        for m in messages:
            parts = m.subject.split(".", 3)
            token = parts[2] if len(parts) == 4 else ""
            if token in self.known:
                continue
            if not is_province(token):
                stray.append(m)
            elif token not in new:
                new[token] = m.seq
        if new:
            self.known.update(await seen_provinces(conn))
            rows = [{"province": p, "first_seq": seq, "seen_at": datetime.now(UTC)}
                    for p, seq in new.items() if p not in self.known]
            if rows:
                await conn.execute(insert(stream_provinces).on_conflict_do_nothing(), rows)
                log.info("partitions.provinces_seen", provinces=[r["province"] for r in rows])
        await self.audit(conn, messages)
        if stray:
            await self.strays(conn, stray)


async def leases(js: JetStreamContext, ttl_s: float) -> KeyValue:
    try:
        return await js.key_value(LEASES_BUCKET)
    except (BucketNotFoundError, NotFoundError):
        return await js.create_key_value(KeyValueConfig(
            bucket=LEASES_BUCKET, history=1, ttl=ttl_s, storage=StorageType.MEMORY,
            description="Which projection worker owns which unit"))


@dataclass
class Coordinator:
    """Claims units, runs `start(unit)` for each one held, stops it when the lease is lost.

    Leases are renewed on their own schedule, apart from the slower balancing (listing the bucket's
    keys, asking `units()`, which reports new provinces; if it fails, the last answer stands)."""

    kv: KeyValue
    units: Callable[[], Awaitable[list[str]]]
    start: Callable[[str], Coroutine[None, None, None]]
    renew_s: float = 2.0
    worker_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    held: dict[str, tuple[int, asyncio.Task[None]]] = field(default_factory=dict)
    known: list[str] = field(default_factory=list)

    async def renew(self) -> None:
        """Say this worker is alive and renew every lease at once; stop the units whose lease was lost,
        give back those whose runner ended (so they restart cleanly)."""
        try:
            await self.kv.put(f"member.{self.worker_id}", b"alive")
        except Exception as exc:  # the next round tries again; the leases are renewed all the same
            log.warning("partitions.heartbeat_failed", error=repr(exc))
        held = list(self.held.items())
        renewed = await asyncio.gather(
            *(self.kv.update(f"unit.{unit}", self.worker_id.encode(), last=revision) for unit, (revision, _) in held),
            return_exceptions=True)
        lost, ended = [], []
        for (unit, (_, task)), result in zip(held, renewed, strict=True):
            if unit not in self.held or self.held[unit][1] is not task:
                continue  # given back meanwhile
            if isinstance(result, KeyWrongLastSequenceError):
                log.warning("partitions.lease_lost", unit=unit, worker=self.worker_id)
                lost.append(unit)
                continue
            if isinstance(result, BaseException):  # e.g. a timeout: the next round tries again
                log.warning("partitions.renew_failed", unit=unit, error=repr(result))
            else:
                self.held[unit] = (result, task)
            if task.done():
                failure = None if task.cancelled() else task.exception()
                log.error("partitions.unit_failed", unit=unit, worker=self.worker_id, error=repr(failure))
                ended.append(unit)
        await asyncio.gather(*(self._stop(unit) for unit in lost), *(self.release(unit) for unit in ended))

    def allowance(self, provinces: int, workers: int) -> int:
        """How many province units this worker may hold. `global` weighs `GLOBAL_WEIGHT` of all the
        province units together: its holder takes what is left of its share of the total weight,
        the other workers share the remaining provinces out evenly; a worker alone holds everything."""
        if workers <= 1:
            return provinces
        weight = GLOBAL_WEIGHT * provinces
        beside_global = max(0, math.floor((provinces + weight) / workers - weight))
        if GLOBAL in self.held:
            return beside_global
        return math.ceil((provinces - beside_global) / (workers - 1))

    async def _keys(self) -> list[str] | None:
        try:
            return await self.kv.keys()
        except (NotFoundError, KeyNotFoundError, NoKeysError):
            return []
        except Exception as exc:  # e.g. a busy server: no claims this time, the next pass tries again
            log.warning("partitions.keys_unavailable", error=repr(exc))
            return None

    async def _units(self) -> list[str]:
        try:
            self.known = await asyncio.wait_for(self.units(), max(self.renew_s, 5.0))
        except Exception as exc:  # e.g. PostgreSQL down: keep the units known so far
            log.warning("partitions.units_unavailable", error=repr(exc))
        return self.known

    async def _claim(self, units: list[str]) -> None:
        claimed = await asyncio.gather(*(self.kv.create(f"unit.{unit}", self.worker_id.encode()) for unit in units),
                                       return_exceptions=True)
        for unit, revision in zip(units, claimed, strict=True):
            if isinstance(revision, BaseException):  # someone else was quicker, or a timeout
                continue
            log.info("partitions.claimed", unit=unit, worker=self.worker_id)
            self.held[unit] = (revision, asyncio.create_task(self.start(unit)))

    async def balance(self) -> None:
        """Claim the free single units; give back or claim province units to this worker's allowance."""
        units = await self._units()
        keys = await self._keys()
        if not units or keys is None:
            return
        workers = max(1, sum(k.startswith("member.") for k in keys))
        taken = {k.removeprefix("unit.") for k in keys if k.startswith("unit.")}
        free = [unit for unit in units if unit not in taken and unit not in self.held]
        await self._claim([unit for unit in free if unit_province(unit) is None])
        allowed = self.allowance(sum(unit_province(unit) is not None for unit in units), workers)
        mine = [unit for unit in self.held if unit_province(unit) is not None]
        await asyncio.gather(*(self.release(unit) for unit in mine[allowed:]))
        room = max(0, allowed - len(mine))
        await self._claim([unit for unit in free if unit_province(unit) is not None and unit not in self.held][:room])

    async def step(self) -> None:
        """One renewal and one balancing, in turn."""
        await self.renew()
        await self.balance()

    async def _stop(self, unit: str) -> None:
        if (entry := self.held.pop(unit, None)) is None:
            return
        task = entry[1]
        while not task.done():  # cancel until it ends: asyncio.wait_for of Python 3.11 can swallow a cancel
            task.cancel()
            await asyncio.wait({task}, timeout=0.5)

    async def release(self, unit: str) -> None:
        if unit not in self.held:
            return
        revision, _ = self.held[unit]
        await self._stop(unit)
        try:
            await self.kv.delete(f"unit.{unit}", last=revision)
        except Exception as exc:  # it expires by itself
            log.warning("partitions.release_failed", unit=unit, error=repr(exc))
        log.info("partitions.released", unit=unit, worker=self.worker_id)

    async def _every(self, stop: asyncio.Event, action: Callable[[], Awaitable[None]], what: str) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            started = loop.time()
            await action()
            if (took := loop.time() - started) > self.renew_s:
                log.warning("partitions.slow", what=what, seconds=round(took, 2), worker=self.worker_id)
            try:
                await asyncio.wait_for(stop.wait(), self.renew_s)
            except TimeoutError:
                pass

    async def run(self, stop: asyncio.Event) -> None:
        await self.renew()
        loops = {asyncio.create_task(self._every(stop, self.renew, "renewal")),
                 asyncio.create_task(self._every(stop, self.balance, "balancing"))}
        try:
            done, _ = await asyncio.wait(loops, return_when=asyncio.FIRST_COMPLETED)
            for ended in done:
                ended.result()  # a failure ends the worker (and `up` restarts it)
        finally:
            for each in loops:
                each.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            await asyncio.gather(*(self.release(unit) for unit in list(self.held)))
            try:
                await self.kv.delete(f"member.{self.worker_id}")
            except Exception as exc:  # expires by itself
                log.warning("partitions.leave_failed", error=repr(exc))
