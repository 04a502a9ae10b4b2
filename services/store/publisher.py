"""The publisher library: validated, idempotent, optionally concurrency-checked appends.

Used by our own services and offered to agency systems written in Python:

    nc = await nats.connect(url, user=..., password=...)
    publisher = Publisher(nc)
    result = await publisher.publish(envelope)          # -> PublishResult(id, sequence, duplicate)
    results = await publisher.publish_many(envelopes)   # atomic batches of up to 1,000

Idempotency: (source, id) is the key. `Nats-Msg-Id` is `<source> <id>` (`services.store.msg_id`),
so the server drops a repeat inside its duplicate window; before publishing, the event index is
asked whether the pair was stored earlier, so a repeat months later is still stored once. Another
source's equal id is another event. A message id is only a header, which any publisher may set:
a "duplicate" answer of the server counts only if the message it names is this very event (valid,
same source and id, on its source's subject); otherwise the event is published again under
`<source> <id>:<that sequence>`. Optimistic concurrency: pass `expected_last_subject_seq` and a
stale value raises `ConcurrencyConflict`.

Batches: where the stream allows JetStream atomic batches, `publish_many` stores each chunk all or
nothing with one acknowledgement (one fsync instead of one per event), and concurrent `publish`
calls on one Publisher (the request handlers of a service) are committed together once more than
`direct_limit` of them are in flight: the ones waiting meanwhile go as one batch (group commit). A
batch the server refuses (an id in the duplicate window, a message that did not reach the stream)
or does not acknowledge in time is published again event by event, with the same message ids:
nothing is lost, nothing is stored twice.

nats-server stages every atomic batch of a single-replica file stream in a file store of its own,
a fixed cost of a few milliseconds a batch whatever its size; fewer than MIN_ATOMIC events are
cheaper published one by one, pipelined, so smaller groups and chunks go that way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Sequence

from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.errors import APIError, BadRequestError, NoStreamResponseError, NotFoundError

from projections.engine.batch import Key, is_copy_of
from schemas.envelope import CloudEvent
from services.store import EVENTS_STREAM, LOOKUP_SUBJECT
from services.store.outgoing import (
    CONTENT_TYPE,
    Chunk,
    Outcome,
    PublishResult,
    StoreUnavailable,
    Valid,
    validate,
    validate_all,
)
from services.store.wire import (
    ATOMIC_DISABLED,
    MAX_BATCH,
    BatchRefused,
    BatchUnconfirmed,
    Message,
    NotSent,
    SentBatch,
    Wire,
)

MIN_ATOMIC = 48
"""Smallest group or chunk sent as one atomic batch (see above)."""
STAGE_LIMIT = 16
"""Atomic batches `publish_many` lets the server stage while it validates the rest of its events
(nats-server keeps at most 50 batches open per stream, shared by every publisher)."""
DIRECT_LIMIT = 16
"""Concurrent `publish` calls of one Publisher that each go out at once; more wait for a group."""
WRONG_LAST_SEQUENCE = 10071
MSG_ID_IN_PROCESS = 10158
TAKEN_IDS = 3
"""Message ids tried for one event whose id other messages took in the duplicate window (see above)."""
Lookup = Callable[[Sequence[Key]], Awaitable[dict[Key, int]]]
"""(source, id) pairs -> the sequences of those the event index holds."""


class ConcurrencyConflict(Exception):
    """The aggregate moved on: the expected last subject sequence is stale."""

    def __init__(self, event_id: str, subject: str, expected: int):
        self.event_id = event_id
        self.subject = subject
        self.expected = expected
        super().__init__(f"event {event_id}: {subject} is no longer at sequence {expected}")


class Publisher:
    """Publishes to the event stream on `nc`. `lookup`: True asks the event index over NATS (and
    has the lookup service read the stream for it: an agency may not), a function asks it
    directly, False/None skips it (the duplicate window alone dedups). `atomic`: use atomic
    batches where the stream allows them (found out on first use). `group_commit`:
    concurrent `publish` calls beyond `direct_limit` in flight wait and go together; `in_flight`:
    how many groups (and `publish_many` chunks) may await their acknowledgement at once."""

    def __init__(
        self, nc: Client, *, timeout: float = 5.0, retries: int = 6, lookup: Lookup | bool | None = True,
        atomic: bool = True, group_commit: bool = True, in_flight: int = 2, direct_limit: int = DIRECT_LIMIT,
    ):
        self.nc = nc
        self.js = nc.jetstream(timeout=timeout)
        self.timeout = timeout
        self.retries = retries
        self.lookup = self._ask_index if lookup is True else (lookup or None)
        self.reads_stream = lookup is not True
        """Whether it reads the event stream itself (else, or when that fails, the lookup service
        reads it for it)."""
        self.atomic = atomic
        self.group_commit = group_commit
        self.in_flight = max(1, in_flight)
        self.direct_limit = max(1, direct_limit)
        self.wire = Wire(nc, stream=EVENTS_STREAM, content_type=CONTENT_TYPE, timeout=timeout)
        self._waiting: list[tuple[Valid, asyncio.Future[PublishResult]]] = []
        self._direct = 0
        self._groups = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def stored(self, keys: Sequence[Key]) -> dict[Key, int]:
        """Which of `keys` ((source, id)) the event index holds already, with their sequences."""
        if self.lookup is None or not keys:
            return {}
        return await self.lookup(keys)

    async def _ask_index(self, keys: Sequence[Key]) -> dict[Key, int]:
        """One request `{"source": ..., "ids": [...]}` per source (a publisher has one, as a rule)."""
        ids: dict[str, list[str]] = {}
        for source, event_id in keys:
            ids.setdefault(source, []).append(event_id)
        if len(ids) == 1:
            [(source, asked)] = ids.items()
            return {(source, k): v for k, v in (await self._ask_source(source, asked)).items()}
        found: dict[Key, int] = {}
        for source, seqs in zip(ids, await asyncio.gather(*(self._ask_source(s, i) for s, i in ids.items())),
                                strict=True):
            found.update({(source, k): v for k, v in seqs.items()})
        return found

    async def _ask_source(self, source: str, ids: list[str]) -> dict[str, int]:
        request = json.dumps({"source": source, "ids": ids}).encode()
        try:
            reply = await self.nc.request(LOOKUP_SUBJECT, request, timeout=self.timeout)
        except (NoRespondersError, NatsTimeout):
            return {}  # the stream's duplicate window and the index still keep one copy
        found = json.loads(reply.data).get("found", {})
        return {str(k): int(v) for k, v in found.items()}

    async def publish(
        self, event: CloudEvent | bytes | Valid, *, expected_last_subject_seq: int | None = None
    ) -> PublishResult:
        """Store one event (InvalidEvent before anything is sent); a (source, id) stored earlier is
        answered with its original sequence and `duplicate=True`."""
        valid = validate(event)
        key = valid.source, valid.id
        earlier = await self.stored([key])
        if key in earlier:
            return PublishResult(valid.id, earlier[key], True)
        if expected_last_subject_seq is not None or not self.group_commit:
            return await self._append(valid, expected_last_subject_seq)
        return await self._join_group(valid)

    async def publish_many(
        self, events: Sequence[CloudEvent | bytes | Valid], *, window: int = MAX_BATCH, in_flight: int | None = None,
        validate_first: bool = True,
    ) -> list[PublishResult]:
        """Store `events` in chunks of `window` (at most 1,000): one atomic batch each where the
        stream allows them, else pipelined publishes; chunks are stored in order, up to `in_flight`
        awaiting their acknowledgement. The (source, id) pairs the event index holds are left out
        and answered as duplicates with their sequence, as is a repeated pair (of its first copy).
        Results in input order. On a failure no further chunk is sent and the first error is raised
        once the chunks in flight are settled (publish the same events again: those stored are
        answered as duplicates).

        `validate_first`: every event is validated before any is stored (InvalidEvent: nothing
        stored); meanwhile the server stages the batches of the chunks already validated (up to
        STAGE_LIMIT), committed once all are valid. Without it each chunk is sent as soon as it is
        validated, so an invalid event raises InvalidEvent after the chunks before it are stored."""
        size = max(1, min(window, MAX_BATCH))
        limit = in_flight or self.in_flight
        chunks: list[Chunk] = []
        running: set[asyncio.Task[None]] = set()
        try:
            for start in range(0, len(events), size):
                valids = await validate_all(events[start:start + size])
                chunk = Chunk(valids, await self.stored([(v.source, v.id) for v in valids]))
                chunks.append(chunk)
                if not validate_first:
                    if not await self._send(chunk, chunks, running, limit):
                        break
                elif sum(c.sent is not None for c in chunks) <= STAGE_LIMIT:
                    chunk.sent = await self._begin(chunk.fresh, commit=False)
            if validate_first:
                for chunk in chunks:
                    if not await self._send(chunk, chunks, running, limit):
                        break
            await asyncio.gather(*running)
        except Exception:  # what was sent is settled (stored or not) before the error is raised
            await asyncio.gather(*running, return_exceptions=True)
            raise
        finally:
            for task in running:
                task.cancel()
            for chunk in chunks:
                if chunk.sent is not None and chunk.sent.held is not None:
                    with contextlib.suppress(Exception):
                        await chunk.sent.abandon()
        for chunk in chunks:
            if chunk.failed:
                raise chunk.failed[0]
        return [r for c in chunks for r in c.results()]

    async def _send(self, chunk: Chunk, chunks: list[Chunk], running: set[asyncio.Task[None]], limit: int) -> bool:
        """Commit `chunk` if it is staged, else begin it once fewer than `limit` chunks are in
        flight; its outcome is settled in a task added to `running`. False after a failure."""
        if chunk.sent is None:
            while len(running) >= limit:
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                running.difference_update(done)
        if any(c.failed for c in chunks):
            return False
        if chunk.sent is not None:
            await chunk.sent.commit()
        else:
            chunk.sent = await self._begin(chunk.fresh)
        running.add(asyncio.create_task(chunk.settle(self._finish(chunk.fresh, chunk.sent))))
        return True

    async def _begin(self, fresh: Sequence[Valid], *, commit: bool = True) -> SentBatch | None:
        """Write `fresh` as one atomic batch if that is allowed and pays (None: publish each)."""
        if len(fresh) < MIN_ATOMIC or not self.atomic:
            return None
        try:
            return await self.wire.begin([Message(v.subject, v.raw, v.msg_id) for v in fresh], commit=commit)
        except NotSent:
            return None

    async def _finish(self, fresh: Sequence[Valid], sent: SentBatch | None) -> list[Outcome]:
        """The outcome of each of `fresh`: from the batch's acknowledgement, else (no batch, or a
        batch refused or not acknowledged) from a publish of each, pipelined."""
        if sent is not None:
            try:
                first = await sent.acknowledged()
                return [PublishResult(v.id, first + k, False) for k, v in enumerate(fresh)]
            except BatchRefused as exc:
                if exc.err_code == ATOMIC_DISABLED:
                    self.atomic = False
            except BatchUnconfirmed:
                pass
        return list(await asyncio.gather(*(self._append(v, None) for v in fresh),
                                         return_exceptions=True))

    # --- group commit -------------------------------------------------------------------------

    async def _join_group(self, valid: Valid) -> PublishResult:
        """Publish at once while fewer than `direct_limit` such publishes are in flight; otherwise
        wait and go with the next group: everything that arrived meanwhile, together."""
        if self._direct < self.direct_limit and not self._waiting:
            self._direct += 1
            try:
                return await self._append(valid, None)
            finally:
                self._direct -= 1
                self._start_groups()
        future: asyncio.Future[PublishResult] = asyncio.get_running_loop().create_future()
        self._waiting.append((valid, future))
        self._start_groups()
        return await future

    def _start_groups(self) -> None:
        while self._waiting and self._groups < self.in_flight:
            group, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            self._groups += 1
            task = asyncio.get_running_loop().create_task(self._send_group(group))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send_group(self, group: list[tuple[Valid, asyncio.Future[PublishResult]]]) -> None:
        """Store a group (its keys were looked up by their callers) and answer each caller."""
        chunk = Chunk([v for v, _ in group], {})
        try:
            try:
                await chunk.settle(self._finish(chunk.fresh, await self._begin(chunk.fresh)))
            except asyncio.CancelledError:
                for _, future in group:
                    future.cancel()
                raise
            except Exception as exc:
                chunk.failed.append(exc)
            for (_, future), outcome in zip(group, chunk.outcomes(), strict=True):
                if future.done():
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
        finally:
            self._groups -= 1
            self._start_groups()

    # --- one event ----------------------------------------------------------------------------

    async def _append(self, valid: Valid, expected: int | None) -> PublishResult:
        """Publish one event as `<source> <id>`; a "duplicate" answer naming a message that is not
        this event (another publisher sent that message id) is published again under
        `<source> <id>:<its sequence>` (the same after a retry: still stored once)."""
        message_id = valid.msg_id
        for _ in range(TAKEN_IDS):
            result = await self._append_as(valid, message_id, expected)
            if not result.duplicate or await self._is_copy(valid, result.sequence):
                return result
            message_id = f"{valid.msg_id}:{result.sequence}"
        raise StoreUnavailable(f"the message ids of {valid.source} {valid.id} are taken by other messages")

    async def _append_as(self, valid: Valid, message_id: str, expected: int | None) -> PublishResult:
        event_id, subject, raw, _ = valid
        message = Message(subject, raw, message_id, expected)
        for attempt in range(self.retries + 1):
            try:
                try:
                    seq, duplicate = await self.wire.publish(message)
                except NotSent:  # nats-py buffers it while it reconnects
                    ack = await self.js.publish(subject, raw, headers=_headers(message), stream=EVENTS_STREAM)
                    seq, duplicate = ack.seq, bool(ack.duplicate)
                return PublishResult(event_id, seq, duplicate)
            except BadRequestError as exc:
                if exc.err_code != WRONG_LAST_SEQUENCE or expected is None:
                    raise
                landed = await self._landed_earlier(valid, message_id, expected)
                if landed is not None:
                    return PublishResult(event_id, landed, True)
                raise ConcurrencyConflict(event_id, subject, expected) from None
            except APIError as exc:  # an earlier try of this id is still being replicated
                if exc.err_code != MSG_ID_IN_PROCESS or attempt == self.retries:
                    raise
            except (NatsTimeout, NoStreamResponseError):  # e.g. a leader election on a cluster
                if attempt == self.retries:
                    raise StoreUnavailable(f"the event stream did not acknowledge {event_id}") from None
            await asyncio.sleep(min(0.1 * 2**attempt, 2.0))  # retry with the same id: stored once
        raise AssertionError("unreachable")  # pragma: no cover

    async def _is_copy(self, valid: Valid, seq: int) -> bool:
        """Whether the message at `seq`, which the server called a duplicate of ours, is this event."""
        if self.reads_stream:
            try:
                msg = await self.js.get_msg(EVENTS_STREAM, seq=seq)
            except NotFoundError:
                return False  # nothing there: not a copy
            except (NatsTimeout, NatsError):  # no read access to the stream, or no answer: ask the lookup service
                pass
            else:
                return is_copy_of((valid.source, valid.id), msg.subject or "", msg.data or b"")
        request = {"copy": {"seq": seq, "source": valid.source, "id": valid.id}}
        try:
            reply = await self.nc.request(LOOKUP_SUBJECT, json.dumps(request).encode(), timeout=self.timeout)
        except (NoRespondersError, NatsTimeout):
            return True  # nobody to ask: the server's word stands
        return json.loads(reply.data).get("copy") is not False

    async def _landed_earlier(self, valid: Valid, message_id: str, expected: int) -> int | None:
        """After a 'wrong last sequence', tell our own earlier success from a real conflict: the
        next message on the subject after `expected` carries our message id if the first try landed
        (only our own source publishes on our subject)."""
        subject = valid.subject
        try:
            msg = await self.js.get_msg(EVENTS_STREAM, seq=expected + 1, subject=subject, next=True)
        except NotFoundError:
            return None
        except (NatsTimeout, NatsError):  # no read access to the stream: ask the lookup service
            probe = {"subject": subject, "after": expected, "id": valid.id, "msg_id": message_id}
            reply = await self.nc.request(LOOKUP_SUBJECT, json.dumps({"probe": probe}).encode(), timeout=self.timeout)
            landed = json.loads(reply.data).get("landed")
            return int(landed) if landed else None
        if msg.headers and msg.headers.get("Nats-Msg-Id") == message_id:
            return msg.seq
        return None


def _headers(message: Message) -> dict[str, str]:
    headers = {"Nats-Msg-Id": message.msg_id, "Content-Type": CONTENT_TYPE}
    if message.expected_last_subject_seq is not None:
        headers["Nats-Expected-Last-Subject-Sequence"] = str(message.expected_last_subject_seq)
    return headers
