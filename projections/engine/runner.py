"""The projection runner: durable pull consumer -> one PostgreSQL transaction per batch.

Per batch: skip what the checkpoint already covers, apply the rest and store the last stream
sequence in the same transaction, commit, then ack (AckPolicy.ALL: one ack covers the batch).
On start the consumer is recreated from the stored checkpoint, so a worker killed mid-batch
resumes at checkpoint + 1 at once and nothing is applied twice. The next batch is read while one
is written (`max_ack_pending` is three batches: with the pipelining below, one is planned as
well); batches are applied in the order read, and nothing is ever nak'd: a failed commit is
retried in place (transient errors, e.g. PostgreSQL down) or, for an error of one event, that
event is parked as rejected, so no batch is overtaken by a later one (a redelivery after
`ack_wait` arrives behind what was already applied, and is skipped).

A handler that can plan a batch apart from storing it (`Planner`) has each batch planned (read
and computed) on a connection of its own while the batch before it is being written, as if that
one had committed; the batch is written once it has, in stream order. If the batch before does
not commit as planned, the plan is dropped and the batch applied as above.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import structlog
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from prometheus_client import Counter, Gauge
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from projections.engine.batch import StreamMessage
from projections.engine.bulk import driver
from projections.engine.checkpoints import ADVANCE_CHECKPOINT, RELAXED_COMMIT, read_checkpoint
from projections.engine.pull import Puller, stream_message
from projections.engine.tables import checkpoints

log = structlog.get_logger(__name__)
Handler = Callable[[AsyncConnection, Sequence[StreamMessage]], Awaitable[None]]
"""Applies messages in the caller's transaction. A handler with a `prepare(messages)` method gets
each batch there first, as soon as it is read (while the batch before it is being written)."""
Fetched = tuple[list[Any], list[StreamMessage]]
TOP_UP_S = 0.003
"""How long a batch read ahead waits for more when nothing more is there (it takes what is)."""
ABANDONED_AFTER_S = 600.0
"""The server removes a consumer nobody pulled from for this long (one left by a killed worker)."""
APPLIED = Counter("doingoai_projection_messages_total", "Stream messages applied", ["consumer"])
CHECKPOINT = Gauge("doingoai_projection_checkpoint", "Last applied stream sequence", ["consumer"])
RETRIES = Counter("doingoai_projection_retries_total", "Batch commits retried", ["consumer"])


@runtime_checkable
class Planner(Protocol):
    """A handler that can plan a batch (read and compute, nothing written) given the plan of the
    batch before it, not committed yet, and store a plan (e.g. `projections.models.handlers.EventsHandler`)."""

    async def plan(self, conn: AsyncConnection, messages: Sequence[StreamMessage], before: Any = None) -> Any: ...

    async def store(self, conn: AsyncConnection, planned: Any) -> None: ...


@dataclass(frozen=True)
class Writing:
    task: asyncio.Task[bool]
    planned: Any
    last: int
    """Its last sequence."""


class Fenced(Exception):
    """Another runner committed this consumer's checkpoint: this one lost its partition and stops."""


TRANSIENT_SQLSTATES = ("08", "53", "57P", "58", "40001", "40P01")
"""PostgreSQL's error codes of a server that cannot do the work now, whatever the data: connection
exceptions, insufficient resources (a full disk, memory, connections), operator intervention (a
shutdown, a start), system errors (I/O), a serialization failure or a deadlock."""


def is_transient(exc: BaseException) -> bool:
    """Failures of the servers, not of the data, are retried forever (a full disk too: the event is
    not refused for it); anything else is a problem of the data."""
    if isinstance(exc, OperationalError | InterfaceError | ConnectionError | OSError | asyncio.TimeoutError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    sqlstate = getattr(getattr(exc, "orig", None) or exc, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(TRANSIENT_SQLSTATES):
        return True
    name = type(getattr(exc, "orig", None) or exc).__name__
    return name in {"ConnectionDoesNotExistError", "CannotConnectNowError", "ConnectionFailureError"}


class Runner:
    """Applies `stream`'s messages with `handler`, read through the connection `nc` (with its
    default `jetstream()` context)."""

    def __init__(
        self,
        nc: Client,
        engine: AsyncEngine,
        *,
        stream: str,
        durable: str,
        handler: Handler,
        isolate: Handler | None = None,
        batch_size: int = 500,
        ack_wait: float = 30.0,
        filter_subject: str | None = None,
        filter_subjects: list[str] | None = None,
        fetch_timeout: float = 0.02,
    ):
        self.nc, self.js = nc, nc.jetstream()
        self.engine, self.stream, self.durable = engine, stream, durable
        self.handler, self.isolate = handler, isolate
        self.batch_size, self.ack_wait, self.filter_subject = batch_size, ack_wait, filter_subject
        self.filter_subjects = filter_subjects
        self.fetch_timeout = fetch_timeout
        self.checkpoint = 0
        self.consumer = durable
        """The name of this run's NATS consumer (the checkpoint is kept under `durable`)."""
        self.caught_up = asyncio.Event()
        self.writing: Writing | None = None
        """The batch being written in the background, if any (a `Planner` handler's)."""

    async def _subscribe(self) -> Puller:
        """A consumer of this run's own, from the checkpoint on. Its name is new on every run
        (`<durable>--<random>`): a runner that lost its unit and has not stopped yet keeps pulling
        from its old consumer and cannot take messages from this one (it could otherwise apply a
        later batch than this run and leave a gap behind the checkpoint); its commits are fenced."""
        async with self.engine.begin() as conn:  # the row the fencing locks exists from the start
            first = insert(checkpoints).values(consumer=self.durable, last_seq=0, updated_at=datetime.now(UTC))
            await conn.execute(first.on_conflict_do_nothing())
            self.checkpoint = await read_checkpoint(conn, self.durable)
        for name in await self._earlier_consumers():
            try:
                await self.js.delete_consumer(self.stream, name)
            except NotFoundError:
                pass
        self.consumer = f"{self.durable}--{uuid.uuid4().hex[:10]}"
        config = ConsumerConfig(
            durable_name=self.consumer,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE if self.checkpoint else DeliverPolicy.ALL,
            opt_start_seq=self.checkpoint + 1 if self.checkpoint else None,
            ack_policy=AckPolicy.ALL,
            ack_wait=self.ack_wait,
            max_ack_pending=3 * self.batch_size,  # the batch written, the one planned, the one read ahead
            filter_subject=self.filter_subject,
            filter_subjects=self.filter_subjects,
            inactive_threshold=ABANDONED_AFTER_S,
        )
        await self.js.add_consumer(self.stream, config)
        CHECKPOINT.labels(self.durable).set(self.checkpoint)
        log.info("projection.resume", consumer=self.consumer, from_seq=self.checkpoint + 1)
        return await Puller(self.nc, self.stream, self.consumer).start()

    async def _earlier_consumers(self) -> list[str]:
        """Consumers left by earlier runs of this durable (a killed worker leaves its own behind)."""
        try:
            infos = await self.js.consumers_info(self.stream)
        except NotFoundError:
            return []
        return [i.name for i in infos if i.name == self.durable or i.name.startswith(f"{self.durable}--")]

    async def run(self, stop: asyncio.Event) -> None:
        sub = await self._subscribe()
        ahead: asyncio.Task[Fetched] | None = None
        try:
            while not stop.is_set():
                msgs, batch = await (ahead or self._fetch(sub))
                ahead = None
                if 0 < len(msgs) < self.batch_size:
                    # the read ahead returns at its first message: add what arrived since, so that
                    # batches grow with the load instead of one commit per message
                    more, more_batch = await self._fetch(sub, self.batch_size - len(msgs), TOP_UP_S)
                    msgs, batch = msgs + more, batch + more_batch
                if msgs:
                    # the next batch is read (and prepared) while this one is written
                    ahead = asyncio.create_task(self._fetch(sub))
                    await self._process(msgs, batch, stop)
            await self._settle()
        finally:
            if self.writing is not None and not self.writing.task.done():
                self.writing.task.cancel()
                await asyncio.gather(self.writing.task, return_exceptions=True)
            if ahead is not None:
                ahead.cancel()
                await asyncio.gather(ahead, return_exceptions=True)
            await sub.stop()
            with contextlib.suppress(NatsError, NotFoundError, asyncio.TimeoutError):
                await self.js.delete_consumer(self.stream, self.consumer)

    async def _fetch(self, sub: Puller, size: int = 0, wait_s: float = 0.0) -> Fetched:
        """The next batch (`size` at most, the batch size by default), as read and as stream
        messages (both empty when there is none within `wait_s`), with the handler's
        preparation done."""
        try:
            msgs = await sub.fetch(size or self.batch_size, wait_s or self.fetch_timeout)
        except NatsError as exc:  # e.g. a cluster node failing over
            log.warning("projection.fetch_unavailable", consumer=self.durable, error=repr(exc))
            await asyncio.sleep(0.5)
            return [], []
        if not msgs:
            if not size:
                self.caught_up.set()
            return [], []
        batch = [stream_message(m) for m in msgs]
        prepare = getattr(self.handler, "prepare", None)
        if prepare is not None:
            prepare(batch)
        return list(msgs), batch

    async def _process(self, msgs: list[Any], batch: list[StreamMessage], stop: asyncio.Event) -> None:
        floor = self.writing.last if self.writing is not None else self.checkpoint
        todo = [m for m in batch if m.seq > floor]
        if todo and isinstance(self.handler, Planner):
            await self._pipelined(self.handler, todo, msgs, stop)
            return
        await self._settle()
        await self._in_turn(todo, msgs, stop)

    async def _in_turn(self, todo: list[StreamMessage], msgs: list[Any], stop: asyncio.Event) -> None:
        """Apply `todo` in one go (read, computed, written), retried as it must be, then ack."""
        if todo:
            await self._commit_with_retry(todo, msgs, stop)
        await msgs[-1].ack()

    async def _settle(self) -> bool:
        """Wait for the batch being written, if any: whether it committed as planned."""
        writing, self.writing = self.writing, None
        return await writing.task if writing is not None else True

    async def _pipelined(
        self, handler: Planner, todo: list[StreamMessage], msgs: list[Any], stop: asyncio.Event
    ) -> None:
        """Plan `todo` on a connection of its own while the batch before it is written, as if that
        one had committed; once it has, write `todo` in the background (the next batch is planned
        meanwhile). If the batch before did not commit as planned, `todo` is planned again."""
        before = self.writing
        conn = await self.engine.connect()
        try:
            await conn.begin()
            planned = await handler.plan(conn, todo, before.planned if before is not None else None)
        except Exception:
            await conn.close()  # rolls back; the batch goes the way every batch went before
            await self._settle()
            await self._in_turn(todo, msgs, stop)
            return
        try:
            as_planned = await self._settle()
        except BaseException:
            await conn.close()
            raise
        if not as_planned:  # the plan assumed what the batch before was to write
            await conn.close()
            await self._in_turn(todo, msgs, stop)
            return
        task = asyncio.create_task(self._write_planned(handler, conn, planned, todo, msgs, stop))
        self.writing = Writing(task, planned, todo[-1].seq)

    async def _write_planned(
        self, handler: Planner, conn: AsyncConnection, planned: Any, todo: list[StreamMessage], msgs: list[Any],
        stop: asyncio.Event,
    ) -> bool:
        """(background) Write a planned batch with its checkpoint and commit, then ack; whether it
        committed as planned (else it was applied again from scratch, one way or another)."""
        try:
            try:
                await self._checkpointed(conn, handler, todo, lambda: handler.store(conn, planned))
                await conn.commit()
            finally:
                await conn.close()  # rolls back what did not commit
            as_planned = True
            self._committed(todo)
        except Fenced:
            raise
        except Exception as exc:
            log.warning("projection.planned_batch_failed", consumer=self.durable, error=repr(exc), first=todo[0].seq)
            await self._commit_with_retry(todo, msgs, stop)
            as_planned = False
        else:
            self._applied(todo)
        await msgs[-1].ack()
        return as_planned

    async def _checkpointed(
        self, conn: AsyncConnection, handler: object, todo: Sequence[StreamMessage],
        write: Callable[[], Awaitable[None]],
    ) -> None:
        """In `conn`'s transaction: move this consumer's checkpoint to the end of `todo` if it is
        where this run left it (Fenced if it moved under us), then `write` the batch. The row
        stays locked until the transaction ends, so a runner that lost its unit waits there,
        before writing anything, and is fenced once this one commits."""
        adb = await driver(conn)
        relaxed = RELAXED_COMMIT if getattr(handler, "rebuildable", False) else None  # same round trip
        if await adb.fetchrow(ADVANCE_CHECKPOINT, self.durable, todo[-1].seq, self.checkpoint, relaxed) is None:
            stored = await read_checkpoint(conn, self.durable)
            raise Fenced(f"{self.durable}: checkpoint moved to {stored} under us (at {self.checkpoint})")
        await write()

    def _committed(self, todo: Sequence[StreamMessage]) -> None:
        """`todo` is committed (a hook: the benchmarks note when each sequence became visible)."""
        self.checkpoint = todo[-1].seq

    def _applied(self, todo: Sequence[StreamMessage]) -> None:
        APPLIED.labels(self.durable).inc(len(todo))
        CHECKPOINT.labels(self.durable).set(self.checkpoint)

    async def _commit(self, todo: Sequence[StreamMessage], handler: Handler) -> None:
        async with self.engine.begin() as conn:
            await self._checkpointed(conn, handler, todo, lambda: handler(conn, todo))
        self._committed(todo)

    async def _commit_with_retry(self, todo: list[StreamMessage], msgs: list, stop: asyncio.Event) -> None:
        delay = 0.2
        while True:
            try:
                await self._commit(todo, self.handler)
                break
            except Fenced:
                raise
            except Exception as exc:
                RETRIES.labels(self.durable).inc()
                if is_transient(exc):
                    log.warning("projection.transient_failure", consumer=self.durable, error=str(exc), retry_in=delay)
                    for m in msgs:
                        await m.in_progress()
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10.0)
                    if stop.is_set():
                        raise
                    continue
                log.error("projection.batch_failed", consumer=self.durable, error=repr(exc), first=todo[0].seq)
                await self._one_by_one(todo)
                break
        self.checkpoint = todo[-1].seq
        self._applied(todo)

    async def _one_by_one(self, todo: list[StreamMessage]) -> None:
        """Isolate the message that fails: apply the others, park it with its reason."""
        for message in todo:
            try:
                await self._commit([message], self.handler)
            except Fenced:
                raise
            except Exception as exc:
                if is_transient(exc) or self.isolate is None:
                    raise
                log.error("projection.poison", consumer=self.durable, seq=message.seq, error=repr(exc))
                await self._commit([message], self._park(exc))

    def _park(self, exc: Exception) -> Handler:
        assert self.isolate is not None
        isolate = self.isolate
        # a refusal of the event itself (e.g. projections.models.rows.Refused) keeps its kind, path and message
        kind, path = getattr(exc, "kind", None), getattr(exc, "path", None)
        error = {"x-error": str(exc) if isinstance(kind, str) else repr(exc)}
        if isinstance(kind, str):
            error.update({"x-error-kind": kind, "x-error-path": path if isinstance(path, str) else ""})

        async def park(conn: AsyncConnection, messages: Sequence[StreamMessage]) -> None:
            await isolate(conn, [
                StreamMessage(m.seq, m.subject, m.data, m.recorded_at, {**m.headers, **error})
                for m in messages
            ])

        return park
