"""Verify the audit trail: the stream and the audit table, walked side by side in sequence order.

For every sequence, the table row must link to the row before it (`prev_hash`), its `hash` must
match its own content, and it must equal the stream's message (subject, bytes, timestamp, the
columns read from them, and the hash recomputed from the stream alone). Signed heads, stored or
held by an auditor, must carry a valid signature and the chain's hash at their sequence. The
first discrepancy is reported with its sequence.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from projections.engine.batch import StreamMessage
from projections.engine.checkpoints import read_checkpoint
from projections.engine.stream_reader import read_batches
from projections.models.audit import GENESIS, chain_hash, describe
from projections.models.audit_tables import audit_heads, audit_trail
from projections.models.personal import all_keys, opened
from schemas.personal import ERASED, is_sealed
from schemas.signed_heads import BadSignedHead, SignedHead, check_signed_head
from schemas.streams import EVENTS_STREAM, EVENTS_SUBJECTS

DESCRIBED = ("province", "agency", "actor", "event_id", "event_type", "aggregate", "occurred_at")


@dataclass(frozen=True)
class Finding:
    """The first place where the trail is not what the stream says."""

    seq: int
    problem: str

    def __str__(self) -> str:
        return f"sequence {self.seq}: {self.problem}"


@dataclass
class ChainCheck:
    """Compares stream messages and table rows, both in sequence order (pure, no I/O)."""

    heads: Mapping[int, str] = field(default_factory=dict)
    stream_prev: str = GENESIS
    table_prev: str = GENESIS
    table_prev_seq: int = 0
    count: int = 0
    last_seq: int = 0
    projected: int | None = None
    finding: Finding | None = None
    people: Mapping[str, tuple[str, bytes | None]] = field(default_factory=dict)
    """The keys of people, by id: the `actor` column holds what a message says in clear, sealed."""

    def fail(self, seq: int, problem: str) -> Finding:
        self.finding = Finding(seq, problem)
        return self.finding

    def sealed_as(self, column: str, stored: Any, written: Any) -> bool:
        """Whether the column holds, sealed, the personal value the message writes in clear (or
        `[đã xóa]`: its person was erased, and what it sealed cannot be compared any more)."""
        if column != "actor" or not isinstance(written, str) or not isinstance(stored, str):
            return False
        return stored == ERASED or (is_sealed(stored) and opened(stored, self.people) in (written, ERASED))

    def missing(self, message: StreamMessage) -> Finding:
        if self.projected is not None and message.seq > self.projected:
            return self.fail(message.seq, f"not in the audit table yet: projected up to {self.projected}")
        return self.fail(message.seq, "in the stream but missing from the audit table (deleted?)")

    def extra(self, row: Mapping[str, Any]) -> Finding:
        return self.fail(int(row["seq"]), "in the audit table but not in the stream (inserted?)")

    def step(self, message: StreamMessage, row: Mapping[str, Any]) -> Finding | None:
        """One sequence present in both; returns the finding, if any."""
        seq = message.seq
        data = bytes(row["data"])
        if row["prev_hash"] != self.table_prev:
            after = f"sequence {self.table_prev_seq}" if self.table_prev_seq else "the start of the chain"
            return self.fail(seq, f"the row does not follow {after} (rows removed, inserted or reordered)")
        if row["hash"] != chain_hash(row["prev_hash"], int(row["seq"]), row["nats_subject"], data):
            return self.fail(seq, "the row was altered: its hash does not match its content")
        expected = chain_hash(self.stream_prev, seq, message.subject, message.data)
        if row["nats_subject"] != message.subject or data != message.data:
            return self.fail(seq, "the row differs from the stream's message")
        if row["hash"] != expected:
            return self.fail(seq, "the row's hash differs from the hash recomputed from the stream")
        if row["recorded_at"] != message.recorded_at:
            return self.fail(seq, "recorded_at differs from the stream's timestamp")
        described = describe(message.subject, message.data)
        for column in DESCRIBED:
            if row[column] != described[column] and not self.sealed_as(column, row[column], described[column]):
                return self.fail(seq, f"column {column} differs from the stored message")
        if seq in self.heads and self.heads[seq] != expected:
            return self.fail(seq, "a signed head at this sequence does not match the chain")
        self.stream_prev = self.table_prev = expected
        self.table_prev_seq = self.last_seq = seq
        self.count += 1
        return None


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    stream_last_seq: int
    verified_through: int
    head_hash: str
    rows: int
    signed_heads: int
    finding: Finding | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ok": self.ok, "stream_last_seq": self.stream_last_seq, "verified_through": self.verified_through,
            "head_hash": self.head_hash, "rows": self.rows, "signed_heads_checked": self.signed_heads,
        }
        if self.finding is not None:
            out.update(first_bad_seq=self.finding.seq, problem=str(self.finding))
        return out


async def compare(
    messages: AsyncIterator[StreamMessage], rows: AsyncIterator[Mapping[str, Any]], check: ChainCheck
) -> Finding | None:
    """Walk both in sequence order; the first finding, or None."""
    message = await anext(messages, None)
    row = await anext(rows, None)
    while message is not None or row is not None:
        if row is None or (message is not None and message.seq < int(row["seq"])):
            assert message is not None
            return check.missing(message)
        if message is None or int(row["seq"]) < message.seq:
            return check.extra(row)
        if check.step(message, row):
            return check.finding
        message = await anext(messages, None)
        row = await anext(rows, None)
    return None


async def stream_messages(nc: Client, last_seq: int) -> AsyncGenerator[StreamMessage, None]:
    """DOINGOAI_EVENTS from sequence 1 to `last_seq`, in order."""
    batches = read_batches(nc, EVENTS_STREAM, EVENTS_SUBJECTS, from_seq=1, last_seq=last_seq)
    async with aclosing(batches):
        async for batch in batches:
            for message in batch:
                yield message


async def table_rows(
    engine: AsyncEngine, last_seq: int, page: int = 5000
) -> AsyncGenerator[Mapping[str, Any], None]:
    """Audit rows with sequence <= `last_seq`, in sequence order, a page at a time."""
    after: int | None = None
    while True:
        query = select(audit_trail).where(audit_trail.c.seq <= last_seq).order_by(audit_trail.c.seq).limit(page)
        if after is not None:
            query = query.where(audit_trail.c.seq > after)
        async with engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        for row in rows:
            yield dict(row)
        if len(rows) < page:
            return
        after = int(rows[-1]["seq"])


async def stored_heads(engine: AsyncEngine) -> list[SignedHead]:
    """Signed heads kept in the table; BadSignedHead names the first whose signature fails."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(audit_heads).order_by(audit_heads.c.seq))).mappings().all()
    return [check_signed_head(dict(row)) for row in rows]


async def wait_projected(engine: AsyncEngine, consumer: str, seq: int, seconds: float) -> int:
    """Wait until the projection `consumer` has applied `seq`; returns its checkpoint."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        async with engine.connect() as conn:
            done = await read_checkpoint(conn, consumer)
        if done >= seq or asyncio.get_running_loop().time() >= deadline:
            return done
        await asyncio.sleep(0.2)


async def verify(
    nc: Client, engine: AsyncEngine, *, held: Iterable[SignedHead] = (), wait: float = 30.0,
    consumer: str = "projector_v1",
) -> VerifyResult:
    """Verify the audit table against the stream; signed heads (stored and `held`) against the chain."""
    js = nc.jetstream()
    last_seq = (await js.stream_info(EVENTS_STREAM)).state.last_seq
    check = ChainCheck(projected=await wait_projected(engine, consumer, last_seq, wait))
    async with engine.connect() as conn:
        check.people = await all_keys(conn)

    def result(finding: Finding | None, heads: int = 0) -> VerifyResult:
        return VerifyResult(finding is None, last_seq, check.last_seq, check.stream_prev, check.count, heads, finding)

    try:
        kept = await stored_heads(engine)
    except BadSignedHead as exc:
        return result(Finding(0, str(exc)))
    later = [h.seq for h in kept if h.seq > last_seq]  # signed while we waited: checked next time
    heads = [*(h for h in kept if h.seq <= last_seq), *held]
    wanted: dict[int, str] = {}
    for head in heads:
        if head.seq > last_seq or head.seq < 1:
            return result(Finding(head.seq, "a signed head names a sequence the stream does not have"))
        if wanted.setdefault(head.seq, head.hash) != head.hash:
            return result(Finding(head.seq, "two signed heads disagree about this sequence"))
    check.heads = wanted
    async with aclosing(stream_messages(nc, last_seq)) as messages, aclosing(table_rows(engine, last_seq)) as rows:
        finding = await compare(messages, rows, check)
    if finding is None:
        now_last = (await js.stream_info(EVENTS_STREAM)).state.last_seq
        async with engine.connect() as conn:
            beyond = await conn.scalar(
                select(audit_trail.c.seq).where(audit_trail.c.seq > now_last).order_by(audit_trail.c.seq).limit(1)
            )
        if beyond is not None:
            finding = Finding(int(beyond), "in the audit table but not in the stream (inserted?)")
        elif later and max(later) > now_last:
            finding = Finding(max(later), "a signed head names a sequence the stream does not have")
    return result(finding, len(heads))
