"""The runner plans a batch while the batch before it is still being written: the tables it builds
are those of a runner applying one batch after the other, also when the batch before fails."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.engine.batch import StreamMessage
from projections.engine.checkpoints import read_checkpoint, write_checkpoint
from projections.engine.runner import Runner
from projections.models.catalogue import all_projections
from projections.models.handlers import EventsHandler, Planned, park_poison
from schemas.codec import encode
from services.db import make_engine
from services.db.migrate import migrate
from services.replay import copy_live_keys
from services.store import EVENTS_STREAM
from tests.integration.test_audit_replay import checksums
from tests.support import System, new_system, sample

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """A stack of its own: each test projects the whole stream into fresh schemas, in batches of 7,
    so that the events other test modules publish would make it long and not its own."""
    own = new_system(tmp_path_factory.mktemp("pipelined"), DOINGOAI_ESCALATIONS="false").start()
    yield own
    own.stop()


class OneAtATime:
    """The same projections, without `plan`: each batch read, computed and written in its turn."""

    rebuildable = True

    def __init__(self) -> None:
        self.inner = EventsHandler(all_projections())

    def prepare(self, messages: Sequence[StreamMessage]) -> None:
        self.inner.prepare(messages)

    async def __call__(self, conn: AsyncConnection, messages: Sequence[StreamMessage]) -> None:
        await self.inner(conn, messages)


class SlowWrites(EventsHandler):
    """Writes only after a pause, so that the next batch is planned before this one commits; the
    store of the batches starting at `fail_at` raises once (a connection lost mid-write)."""

    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__(all_projections())
        self.fail_at = fail_at
        self.planned_over: list[int] = []
        self.in_turn = 0
        """Batches applied the plain way (read, computed, written in one go): a plan that failed."""

    async def plan(self, conn: AsyncConnection, messages: Sequence[StreamMessage],
                   before: Planned | None = None) -> Planned:
        if before is not None:
            self.planned_over.append(messages[0].seq)
        return await super().plan(conn, messages, before)

    async def __call__(self, conn: AsyncConnection, messages: Sequence[StreamMessage]) -> None:
        self.in_turn += 1
        await super().__call__(conn, messages)

    async def store(self, conn: AsyncConnection, planned: Planned) -> None:
        await asyncio.sleep(0.03)
        if planned.batch.messages[0].seq == self.fail_at:
            self.fail_at = None
            raise ConnectionError("lost mid-write")
        await super().store(conn, planned)


async def publish_lifecycles(system: System, label: str) -> int:
    """Aggregates whose events are spread over many batches of 7, a repeat, and a message that is
    not an event; the last sequence."""
    nc = await system.service_nats()
    js = nc.jetstream()
    events = []
    for n in range(6):
        plan_id = f"pl-{label}-{n}"
        events.append([
            sample("plan_issued", aggregate_id=plan_id),
            sample("task_assigned", aggregate_id=f"{plan_id}-t",
                   data={"plan_id": plan_id, "recurrence": "once", "due_date": "2021-06-30"}),
            *[sample("task_progress_reported", aggregate_id=f"{plan_id}-t",
                     data={"progress_percent": p, "status": "on_track"}) for p in (10, 40, 70)],
            sample("task_completed", aggregate_id=f"{plan_id}-t"),
        ])
        events.append([sample("difficulty_raised", aggregate_id=f"d-{label}-{n}"),
                       sample("activity_held", aggregate_id=f"a-{label}-{n}")])
    last = 0
    try:
        for k in range(max(len(e) for e in events)):  # interleaved: each aggregate's next event comes later
            for chain in events:
                if k < len(chain):
                    ack = await js.publish(f"doingoai.events.ha-tinh.so-ngoai-vu.{chain[k].event_name}",
                                           encode(chain[k]))
                    last = ack.seq
        repeat = events[0][0]
        await js.publish(f"doingoai.events.ha-tinh.so-ngoai-vu.{repeat.event_name}", encode(repeat))
        last = (await js.publish("doingoai.events.ha-tinh.so-ngoai-vu.activity_held", b'{"not": 1}')).seq
    finally:
        await nc.close()
    return last


async def run_until(system: System, handler: object, last: int, batch_size: int = 7) -> str:
    """Run `handler` over the stream into a fresh schema until it has applied `last`; the schema."""
    url, schema = system.runtime()["database_url"], f"t_pipe_{uuid.uuid4().hex[:8]}"
    await migrate(url, schema)
    engine = make_engine(url, schema, pool_size=3)
    await copy_live_keys(url, engine)  # what a replay copies: signing keys, keys of people
    nc = await system.service_nats()
    stop = asyncio.Event()
    runner = Runner(nc, engine, stream=EVENTS_STREAM, durable=f"pipe_{schema}",
                    handler=handler, isolate=park_poison, batch_size=batch_size)  # type: ignore[arg-type]
    task = asyncio.create_task(runner.run(stop))
    try:
        deadline = time.monotonic() + 60
        while runner.checkpoint < last:
            assert time.monotonic() < deadline and not task.done()
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await nc.close()
        await engine.dispose()
    return schema


async def project(system: System, handler: object, last: int) -> tuple[str, dict[str, str]]:
    schema = await run_until(system, handler, last)
    return schema, await checksums(system.runtime()["database_url"], schema)


async def test_batches_planned_over_uncommitted_ones_build_the_same_tables(system: System):
    last = await publish_lifecycles(system, uuid.uuid4().hex[:6])
    _, expected = await project(system, OneAtATime(), last)
    pipelined = SlowWrites()
    _, found = await project(system, pipelined, last)
    assert len(pipelined.planned_over) >= 3  # the overlay was used, batch after batch
    assert pipelined.in_turn == 0  # and every plan held
    assert found == expected
    assert expected["tasks"] and expected["plans"] and expected["event_duplicates"] and expected["rejected"]


async def test_a_batch_planned_over_one_that_failed_is_planned_again(system: System):
    last = await publish_lifecycles(system, uuid.uuid4().hex[:6])
    _, expected = await project(system, OneAtATime(), last)
    nc = await system.service_nats()
    first = (await nc.jetstream().stream_info(EVENTS_STREAM)).state.first_seq
    await nc.close()
    failing = SlowWrites(fail_at=first + 14)  # the third batch fails once, after the fourth was planned over it
    _, found = await project(system, failing, last)
    assert failing.fail_at is None  # it did fail
    assert failing.in_turn >= 2  # it and the batch planned over it were applied again
    assert found == expected


class SeesDurability:
    """A handler that notes, for every batch, the synchronous_commit its transaction commits with."""

    def __init__(self, rebuildable: bool) -> None:
        self.rebuildable = rebuildable
        self.seen: set[str] = set()

    async def __call__(self, conn: AsyncConnection, messages: Sequence[StreamMessage]) -> None:
        self.seen.add(str(await conn.scalar(text("SELECT current_setting('synchronous_commit')"))))


@pytest.mark.parametrize("rebuildable", [True, False])
async def test_only_handlers_derived_from_the_stream_commit_without_waiting_for_the_wal(
    system: System, rebuildable: bool
):
    last = await publish_lifecycles(system, uuid.uuid4().hex[:6])
    handler = SeesDurability(rebuildable)
    schema = await run_until(system, handler, last, batch_size=500)
    assert handler.seen == ({"off"} if rebuildable else {"on"})  # the server's setting is "on"
    url = system.runtime()["database_url"]
    engine = make_engine(url, schema, pool_size=1)
    try:
        async with engine.connect() as conn:  # the checkpoint moved with the batches
            assert await conn.scalar(text("SELECT last_seq FROM checkpoints")) == last
    finally:
        await engine.dispose()


async def test_the_replays_checkpoint_write_moves_it_and_relaxes_only_its_own_transaction(system: System):
    url = system.runtime()["database_url"]
    schema = f"cp_{uuid.uuid4().hex[:8]}"
    await migrate(url, schema)
    engine = make_engine(url, schema, pool_size=1)
    setting = text("SELECT current_setting('synchronous_commit')")
    try:
        for seq in (5, 9):  # the row is made, then moved
            async with engine.begin() as conn:
                assert await conn.scalar(setting) == "on"
                await write_checkpoint(conn, "replayed_v1", seq)
                assert await conn.scalar(setting) == "off"  # read when this transaction commits
            async with engine.connect() as conn:
                assert await read_checkpoint(conn, "replayed_v1") == seq
                assert await conn.scalar(setting) == "on"
    finally:
        await engine.dispose()
