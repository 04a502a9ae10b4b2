"""JetStream publishes: single messages, and atomic batches (ADR-50; nats-server 2.12+, stream
option `allow_atomic`), which nats-py 2.16 does not offer, sent with nats-py's public `publish`
(headers and a reply subject) and `request`.

A single message is what nats-py's `js.publish(..., stream=...)` sends (the same headers, with
`Nats-Expected-Stream`), as a `request`, and its acknowledgement is read the same way.

An atomic batch stores up to 1,000 messages all or nothing, in consecutive sequences, with one
acknowledgement (and, with `sync_interval: always`, one fsync). The protocol rides on headers:
each message carries `Nats-Batch-Id` and `Nats-Batch-Sequence` (1, 2, ...); the first has a reply
subject (the server answers it empty, or with the error that refused the batch); the last also
carries `Nats-Batch-Commit: 1` and is answered with the acknowledgement of the batch: the
sequence of its last message and the message count. The replies come to one wildcard inbox per
connection, shared by every Wire on it.

What nats-server 2.15 answers instead, checked against a real server; in every case nothing of the
batch is stored:
- 10201 "atomic publish batch contains duplicate message id": a `Nats-Msg-Id` of the batch is in
  the stream's duplicate window, or twice in the batch (where a single publish would have answered
  "duplicate" with the original sequence).
- 10071 "wrong last sequence": a `Nats-Expected-Last-Subject-Sequence` of the batch is stale.
- 10176 "atomic publish batch is incomplete": a message of the batch did not reach the stream (too
  large, refused by permissions, another stream's subject) or arrived out of order (a gap in the
  batch sequence: how `SentBatch.abandon` drops a batch at once).
- 10060 "expected stream does not match", 10174 "atomic publish is disabled" (the stream does not
  allow it), 10199 "too large" (more than 1,000 messages), 10210 "too many inflight" (more than 50
  open batches on the stream).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from nats.js.errors import APIError, NoStreamResponseError

MAX_BATCH = 1000
"""Most messages nats-server takes in one atomic batch."""
DUPLICATE_IN_BATCH = 10201
ATOMIC_DISABLED = 10174


@dataclass(frozen=True)
class Message:
    subject: str
    payload: bytes
    msg_id: str
    expected_last_subject_seq: int | None = None


class NotSent(Exception):
    """Nothing was written (the connection is not up, or a message is over the server's max
    payload): publishing with nats-py's `js.publish` instead is safe."""


class BatchRefused(Exception):
    """The server refused the whole batch: nothing of it is stored."""

    def __init__(self, err_code: int, description: str):
        self.err_code = err_code
        self.description = description
        super().__init__(f"atomic batch refused ({err_code}): {description}")


class BatchUnconfirmed(Exception):
    """No acknowledgement of the commit in time: the batch may or may not be stored (publish its
    messages again with the same message ids: the duplicate window keeps one copy)."""


class Replies:
    """The wildcard inbox of one connection, shared by every Wire on it: a reply finds its
    waiting future by the token that ends its subject."""

    def __init__(self) -> None:
        self.inbox = ""
        self.sub: Subscription | None = None
        self.tokens = itertools.count(1)
        self.waiting: dict[str, asyncio.Future[Msg]] = {}
        self.opening = asyncio.Lock()

    async def open(self, nc: Client) -> None:
        if self.sub is not None:
            return
        async with self.opening:
            if self.sub is None:
                self.inbox = nc.new_inbox()
                self.sub = await nc.subscribe(self.inbox + ".*", cb=self.on_reply)

    def subject(self) -> tuple[str, asyncio.Future[Msg]]:
        assert self.sub is not None, "open() first"
        token = str(next(self.tokens))
        future: asyncio.Future[Msg] = asyncio.get_running_loop().create_future()
        self.waiting[token] = future
        future.add_done_callback(lambda _: self.waiting.pop(token, None))
        return f"{self.inbox}.{token}", future

    async def on_reply(self, msg: Msg) -> None:
        future = self.waiting.get(msg.subject[len(self.inbox) + 1:])
        if future is not None and not future.done():
            future.set_result(msg)


REPLIES: weakref.WeakKeyDictionary[Client, Replies] = weakref.WeakKeyDictionary()
"""The reply inbox of each connection, made on first use: one subscription per connection
however many Publishers use it (and gone with the connection)."""


def replies_of(nc: Client) -> Replies:
    replies = REPLIES.get(nc)
    if replies is None:
        replies = REPLIES[nc] = Replies()
    return replies


class Wire:
    """Publishes to one stream on one connection; the replies of batches arrive on the
    connection's inbox."""

    def __init__(self, nc: Client, *, stream: str | None, content_type: str, timeout: float = 5.0):
        self.nc = nc
        self.timeout = timeout
        self.fixed = {"Content-Type": content_type}
        """The headers every message carries besides its own."""
        if stream is not None:
            self.fixed["Nats-Expected-Stream"] = stream
        self.replies = replies_of(nc)

    async def open(self) -> None:
        """Subscribe to the connection's reply inbox (once, before the first batch)."""
        await self.replies.open(self.nc)

    def headers(self, m: Message, batch: dict[str, str] | None = None) -> dict[str, str]:
        """The headers of `m`, with those of its place in a batch after ours."""
        headers = {"Nats-Msg-Id": m.msg_id, **self.fixed}
        if m.expected_last_subject_seq is not None:
            headers["Nats-Expected-Last-Subject-Sequence"] = str(int(m.expected_last_subject_seq))
        if batch:
            headers.update(batch)
        return headers

    def check(self, messages: Sequence[Message]) -> None:
        """NotSent unless every message can be written now; ValueError for a bad subject."""
        for m in messages:
            if not m.subject or any(c in m.subject for c in " \t\r\n"):
                raise ValueError(f"bad subject {m.subject!r}")
        if not self.nc.is_connected:
            raise NotSent("not connected")
        if any(len(m.payload) > self.nc.max_payload for m in messages):
            raise NotSent("a message is over the max payload")

    async def publish(self, message: Message) -> tuple[int, bool]:
        """One message, as `js.publish(..., stream=...)` would send it: (sequence, duplicate), or
        the same errors (nats.js.errors.APIError by code, NoStreamResponseError, TimeoutError)."""
        self.check([message])
        try:
            msg = await self.nc.request(message.subject, message.payload, timeout=self.timeout,
                                        headers=self.headers(message))
        except NoRespondersError:
            raise NoStreamResponseError from None
        ack = json.loads(msg.data)
        if "error" in ack:
            raise APIError.from_error(ack["error"])
        return int(ack["seq"]), bool(ack.get("duplicate"))

    async def send(self, messages: Sequence[Message]) -> int:
        """Store `messages` as one atomic batch; the sequence of the first (the others follow it)."""
        return await (await self.begin(messages)).acknowledged()

    async def begin(self, messages: Sequence[Message], *, commit: bool = True) -> SentBatch:
        """Write an atomic batch (batches begun one after the other reach the server in that
        order); with `commit=False` its last message is held back until `commit()`, the server
        staging the rest meanwhile. `acknowledged()` of the result tells the outcome."""
        await self.open()
        if not 0 < len(messages) <= MAX_BATCH:
            raise ValueError(f"an atomic batch holds 1 to {MAX_BATCH} messages, not {len(messages)}")
        self.check(messages)
        batch_id = uuid.uuid4().hex
        last = len(messages)
        commit_reply, committed = self.replies.subject()
        start_reply, started = self.replies.subject() if last > 1 else ("", None)
        sent = SentBatch(self, batch_id, last, started, committed)
        try:
            for n, m in enumerate(messages[:-1], 1):
                await self.write(Outgoing(m, start_reply if n == 1 else "", _batch_headers(batch_id, n, False)))
            final = Outgoing(messages[-1], commit_reply, _batch_headers(batch_id, last, True))
            if not commit and last > 1:
                sent.held = final
                sent.gap = Outgoing(messages[0], "", _batch_headers(batch_id, last + 1, True))
            else:
                await self.write(final)
        except BaseException:
            sent.forget()
            raise
        return sent

    async def write(self, out: Outgoing) -> None:
        """Publish one message of a batch (nats-py writes it to its outgoing buffer)."""
        await self.nc.publish(out.message.subject, out.message.payload, reply=out.reply,
                              headers=self.headers(out.message, out.batch))


@dataclass(frozen=True)
class Outgoing:
    """A message of a batch as it is to be written: its reply subject and batch headers."""

    message: Message
    reply: str
    batch: dict[str, str]


class SentBatch:
    """An atomic batch written to the connection, waiting for its acknowledgement."""

    def __init__(self, wire: Wire, batch_id: str, count: int, started: asyncio.Future[Msg] | None,
                 committed: asyncio.Future[Msg]):
        self.wire, self.batch_id, self.count = wire, batch_id, count
        self.started, self.committed = started, committed
        self.held: Outgoing | None = None
        """The last message, held back by `begin(..., commit=False)`."""
        self.gap: Outgoing | None = None
        """A message out of sequence: the server abandons the batch at once when it gets it."""

    async def commit(self) -> None:
        """Send the message held back: the server stores the batch (or refuses it whole)."""
        if self.held is not None:
            held, self.held = self.held, None
            await self.wire.write(held)

    async def abandon(self) -> None:
        """Give up a batch whose last message is held back: nothing of it is stored."""
        if self.held is not None and self.gap is not None:
            self.held = None
            await self.wire.write(self.gap)
        self.forget()
    async def acknowledged(self) -> int:
        """The sequence of the batch's first message (BatchRefused, BatchUnconfirmed)."""
        try:
            return self._first_seq(await self._commit_reply())
        finally:
            self.forget()

    def forget(self) -> None:
        for future in (self.started, self.committed):
            if future is not None and not future.done():
                future.cancel()

    async def _commit_reply(self) -> Msg:
        """The commit's reply; an error answered to the first message ends the wait at once."""
        started, committed = self.started, self.committed
        waiting: set[asyncio.Future[Msg]] = {committed} if started is None else {committed, started}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wire.timeout
        while True:
            done, waiting = await asyncio.wait(waiting, timeout=max(0.0, deadline - loop.time()),
                                               return_when=asyncio.FIRST_COMPLETED)
            if committed in done:
                return committed.result()
            if started is not None and started in done and (started.result().data or _no_responders(started.result())):
                return started.result()
            if not done or not waiting:
                raise BatchUnconfirmed(f"no acknowledgement of the batch commit in {self.wire.timeout:g} s")

    def _first_seq(self, reply: Msg) -> int:
        if _no_responders(reply):
            raise BatchRefused(503, "no stream answers on this subject")
        ack = json.loads(reply.data)
        if "error" in ack:
            error = ack["error"]
            raise BatchRefused(int(error.get("err_code") or error.get("code") or 0), str(error.get("description")))
        if ack.get("batch") != self.batch_id or ack.get("count") != self.count or not ack.get("seq"):
            raise BatchUnconfirmed(f"unexpected acknowledgement of the batch: {ack}")
        return int(ack["seq"]) - self.count + 1


def _batch_headers(batch_id: str, n: int, commit: bool) -> dict[str, str]:
    head = {"Nats-Batch-Id": batch_id, "Nats-Batch-Sequence": str(n)}
    if commit:
        head["Nats-Batch-Commit"] = "1"
    return head


def _no_responders(msg: Msg) -> bool:
    return bool(msg.headers) and msg.headers.get("Status") == "503"  # type: ignore[union-attr]
