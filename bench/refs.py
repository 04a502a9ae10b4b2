"""The references: what the same bytes cost on the same servers without our code in between.

Raw nats-py JetStream publishes (no validation, no id lookup; the same subjects, payloads and
`Nats-Msg-Id`/`Content-Type` headers the publisher library sends), raw consumption of the same
messages, and PostgreSQL COPY of the same rows: every row a projection wrote (the event index,
the audit trail and the read models), copied into empty tables of the same shape; also COPY of
the event-index rows alone. `Corpus` makes the
events every measurement uses: one encoded template per event type, a fresh id and aggregate each.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from projections.models.tables import READ_MODEL_TABLES
from schemas.codec import encode
from schemas.envelope import CloudEvent, source_for
from services.store import EVENTS_STREAM, EVENTS_SUBJECTS, msg_id
from services.store.publisher import CONTENT_TYPE

KINDS = ("activity_held", "delegation_received", "report_submitted", "difficulty_raised")
_ID, _AGG = "ID-PLACEHOLDER-0000000000000000000000", "AGG-PLACEHOLDER"
Item = tuple[str, bytes, str]
"""(NATS subject, encoded CloudEvent, event id)"""
SOURCE = source_for("ha-tinh", "so-ngoai-vu")
"""The source of every event of the corpus (`tests.support.sample`'s default)."""


class Corpus:
    """Event i of this run: same bytes as a real event of its type, id and aggregate of its own."""

    def __init__(self) -> None:
        from tests.support import sample

        self.salt = uuid.uuid4().int & ~((1 << 48) - 1)
        self.next = 0
        self.shapes: list[tuple[str, bytes, CloudEvent]] = []
        for kind in KINDS:
            event = sample(kind, aggregate_id=_AGG).model_copy(update={"id": _ID})
            assert event.source == SOURCE, event.source
            raw = encode(event)
            self.shapes.append((f"doingoai.events.{event.province}.{event.agency}.{kind}", raw, event))
        self.province = self.shapes[0][2].province
        """The province of every event (one province, as a provincial system's stream holds)."""

    def event_id(self, i: int) -> str:
        return str(uuid.UUID(int=self.salt | i))

    def item(self, i: int) -> Item:
        subject, raw, _ = self.shapes[i % len(self.shapes)]
        eid = self.event_id(i)
        return subject, raw.replace(_ID.encode(), eid.encode(), 1).replace(_AGG.encode(), f"b{i}".encode(), 1), eid

    def take(self, n: int) -> list[Item]:
        first, self.next = self.next, self.next + n
        return [self.item(i) for i in range(first, first + n)]

    def rows(self, first: int, n: int, seq0: int) -> list[tuple[object, ...]]:
        """The event-index rows of events first..first+n (as `events` stores them), seq from seq0."""
        now = datetime.now(UTC)
        out = []
        for k in range(n):
            i = first + k
            subject, _, env = self.shapes[i % len(self.shapes)]
            _, data, eid = self.item(i)
            out.append((seq0 + k, eid, env.type, KINDS[i % len(KINDS)], 1, env.source, env.province, env.agency,
                        env.subject.replace(_AGG, f"b{i}"), env.time, now, None, None, None, subject,
                        data.decode()))
        return out


def headers(event_id: str) -> dict[str, str]:
    """The headers the publisher library sends with the corpus event `event_id`."""
    return {"Nats-Msg-Id": msg_id(SOURCE, event_id), "Content-Type": CONTENT_TYPE}


async def raw_sequential(nc: Client, items: Sequence[Item]) -> float:
    """One publish at a time, each awaited; events/s."""
    js = nc.jetstream(timeout=30)
    t0 = time.perf_counter()
    for subject, raw, eid in items:
        await js.publish(subject, raw, headers=headers(eid), stream=EVENTS_STREAM)
    return len(items) / (time.perf_counter() - t0)


async def raw_connections(conns: Sequence[Client], items: Sequence[Item]) -> float:
    """One task per connection, each publishing its share one at a time; events/s."""
    t0 = time.perf_counter()
    await asyncio.gather(*(raw_sequential(nc, items[k::len(conns)]) for k, nc in enumerate(conns)))
    return len(items) / (time.perf_counter() - t0)


async def raw_pipelined(nc: Client, items: Sequence[Item], window: int) -> float:
    """`window` publishes in flight (asyncio.gather), window after window; events/s."""
    js = nc.jetstream(timeout=60)
    t0 = time.perf_counter()
    for start in range(0, len(items), window):
        await asyncio.gather(*(js.publish(s, r, headers=headers(e), stream=EVENTS_STREAM)
                               for s, r, e in items[start:start + window]))
    return len(items) / (time.perf_counter() - t0)


async def atomic_batch(nc: Client, items: Sequence[Item]) -> int:
    """One JetStream atomic batch (ADR-50, stream `allow_atomic`): stored all or nothing; last seq.
    nats-py 2.16 has the header names and PubAck fields but no batch API, so the protocol is here:
    the first message is a request (empty reply), the middle ones plain publishes, the last commits."""
    assert 0 < len(items) <= 1000
    bid = uuid.uuid4().hex
    last = len(items)
    for n, (subject, raw, eid) in enumerate(items, 1):
        hdr = {**headers(eid), "Nats-Batch-Id": bid, "Nats-Batch-Sequence": str(n)}
        if n == last:
            hdr["Nats-Batch-Commit"] = "1"
        if n == 1 or n == last:
            reply = await nc.request(subject, raw, headers=hdr, timeout=30)
            if n == last or reply.data:
                ack = json.loads(reply.data)
                if "error" in ack:
                    raise RuntimeError(f"atomic batch refused: {ack['error']}")
                if n == last:
                    return int(ack["seq"])
        else:
            await nc.publish(subject, raw, headers=hdr)
    raise AssertionError("unreachable")


async def raw_atomic(nc: Client, items: Sequence[Item], size: int = 1000, in_flight: int = 2) -> float:
    """Atomic batches of `size`, `in_flight` at a time; events/s."""
    t0 = time.perf_counter()
    chunks = [items[k:k + size] for k in range(0, len(items), size)]
    for k in range(0, len(chunks), in_flight):
        await asyncio.gather(*(atomic_batch(nc, c) for c in chunks[k:k + in_flight]))
    return len(items) / (time.perf_counter() - t0)


async def raw_pull(nc: Client, first_seq: int, last_seq: int, batch: int) -> float:
    """Durable pull consumer configured like the projection runner's (AckPolicy.ALL,
    max_ack_pending = batch), fetch + ack of each batch, no decoding and no database; events/s."""
    js = nc.jetstream()
    durable = f"bench_raw_{uuid.uuid4().hex[:8]}"
    await js.add_consumer(EVENTS_STREAM, ConsumerConfig(
        durable_name=durable, deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=first_seq,
        ack_policy=AckPolicy.ALL, max_ack_pending=batch, ack_wait=30))
    sub = await js.pull_subscribe_bind(durable=durable, stream=EVENTS_STREAM)
    t0 = time.perf_counter()
    count, seq = 0, 0
    while seq < last_seq:
        msgs = await sub.fetch(batch, timeout=5)
        count += len(msgs)
        seq = msgs[-1].metadata.sequence.stream
        await msgs[-1].ack()
    seconds = time.perf_counter() - t0
    await sub.unsubscribe()
    await js.delete_consumer(EVENTS_STREAM, durable)
    return count / seconds


async def raw_ordered(nc: Client, last_seq: int) -> float:
    """Ordered push consumer (what a replay reads with) over the whole stream; events/s."""
    js = nc.jetstream()
    done = asyncio.Event()
    count = 0

    async def on_msg(msg: object) -> None:
        nonlocal count
        count += 1
        if msg.metadata.sequence.stream >= last_seq:  # type: ignore[attr-defined]
            done.set()

    t0 = time.perf_counter()
    sub = await js.subscribe(EVENTS_SUBJECTS, stream=EVENTS_STREAM, ordered_consumer=True, cb=on_msg,
                             config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL))
    await done.wait()
    seconds = time.perf_counter() - t0
    await sub.unsubscribe()
    return count / seconds


def cpu_ticks() -> list[int]:
    """The machine's CPU time so far, all CPUs, in clock ticks, as /proc/stat's first line gives it
    (user, nice, system, idle, iowait, irq, softirq, steal, ...); [] where there is no /proc/stat."""
    try:
        return [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return []


def stolen_share(before: list[int], after: list[int]) -> float | None:
    """The share of the machine's time between two `cpu_ticks` that the hypervisor gave to others
    (steal): while it is high, every figure is low, the more so the more CPU the path needs."""
    if len(before) < 8 or len(after) < 8:
        return None
    spent = [b - a for a, b in zip(before[:8], after[:8], strict=True)]
    return spent[7] / sum(spent) if sum(spent) else None


def _dsn(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://")


async def copy_rows(database_url: str, chunks: Iterator[list[tuple[object, ...]]], schema: str) -> float:
    """COPY event-index rows into a fresh table shaped like `events` (its indexes included);
    rows are built outside the timed part, chunk by chunk; rows/s of the COPYs."""
    conn = await asyncpg.connect(_dsn(database_url))
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};"
                           f"CREATE TABLE {schema}.events (LIKE doingoai.events INCLUDING ALL)")
        rows, seconds = 0, 0.0
        for chunk in chunks:
            t0 = time.perf_counter()
            await conn.copy_records_to_table("events", schema_name=schema, records=chunk)
            seconds += time.perf_counter() - t0
            rows += len(chunk)
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        return rows / seconds
    finally:
        await conn.close()


def row_chunks(corpus: Corpus, first: int, n: int, size: int = 20_000) -> Iterator[list[tuple[object, ...]]]:
    for start in range(first, first + n, size):
        yield corpus.rows(start, min(size, first + n - start), seq0=start + 1)


async def copy_same_rows(database_url: str, source: str, events: int, scratch: Path) -> tuple[float, int]:
    """Every row of `source`'s read-model tables (what projecting `events` stream events wrote
    there), dumped to files in `scratch`, then COPYed (binary) table by table into empty tables of
    the same shape, indexes included; (events/s of the COPYs alone, rows copied)."""
    target = "bench_copy_all"
    conn = await asyncpg.connect(_dsn(database_url))
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {target} CASCADE; CREATE SCHEMA {target}")
        seconds, rows = 0.0, 0
        for name in READ_MODEL_TABLES:
            dump = scratch / f"copy-{name}.bin"
            await conn.copy_from_table(name, schema_name=source, output=str(dump), format="binary")
            await conn.execute(f"CREATE TABLE {target}.{name} (LIKE {source}.{name} INCLUDING ALL)")
            t0 = time.perf_counter()
            status = await conn.copy_to_table(name, schema_name=target, source=str(dump), format="binary")
            seconds += time.perf_counter() - t0
            rows += int(status.split()[-1])
            dump.unlink()
        await conn.execute(f"DROP SCHEMA {target} CASCADE")
        return events / seconds, rows
    finally:
        await conn.close()
