"""Read a JetStream pull consumer in batches, without a wait per message.

nats-py's `PullSubscription.fetch` awaits each message of a batch with its own `wait_for` task;
a projection reading thousands of messages a second spent more CPU there than on decoding them.
Here one callback subscription (`<inbox>.*`) collects what the server sends, and a fetch waits
once: for the answer to a `no_wait` request (what is there now, up to the batch), and only if that
was nothing, for the first message of a request that waits up to the timeout. Status messages
(404 no messages, 408 request expired, 409, 503 no responders) come to the reply subject of
their own request, so a late status of an earlier request never ends the current one.

A waiting request that returned at its first message stays open at the server: what it brings
later is kept, in order, and served by the next fetch before anything is asked for again.

Stream messages are taken from the protocol parser as they arrive (`Delivered`), before the
client parses their headers, builds a `Msg` and queues it to the subscription's task: per message
that cost more CPU than decoding the event. The connection's parser becomes a
`projections.nats_parser.FastParser`, which hands them over without nats-py's per-message regular
expressions and coroutine. Status messages (no ack subject) go the usual way.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.js import JetStreamContext

from projections.batch import StreamMessage
from projections.nats_parser import install

ANSWER_S = 5.0
"""How long a `no_wait` request may go unanswered before the fetch gives up (returns nothing)."""


class ConsumerGone(NatsError):
    """The server ended a pull request with 409 Consumer Deleted."""


class RawHeaders(Mapping[str, str]):
    """Message headers as the server sent them, `NATS/1.0\r\nName: value\r\n...\r\n\r\n`, parsed
    when first read (a projection reads none of a stream message's own headers)."""

    __slots__ = ("_parsed", "_raw")

    def __init__(self, raw: bytes | None):
        self._raw = raw
        self._parsed: dict[str, str] | None = None

    def _headers(self) -> dict[str, str]:
        if self._parsed is None:
            self._parsed = {}
            for line in (self._raw or b"").decode(errors="replace").split("\r\n")[1:]:
                name, colon, value = line.partition(":")
                if colon and name.strip():
                    self._parsed[name.strip()] = value.strip()
        return self._parsed

    def __getitem__(self, name: str) -> str:
        return self._headers()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._headers())

    def __len__(self) -> int:
        return len(self._headers())


class Delivered:
    """A stream message delivered to a Puller, acknowledged like a nats-py `Msg`."""

    __slots__ = ("_nc", "data", "headers", "reply", "subject")

    def __init__(self, nc: Client, subject: str, reply: str, data: bytes, headers: Mapping[str, str]):
        self._nc, self.subject, self.reply, self.data, self.headers = nc, subject, reply, data, headers

    async def ack(self) -> None:
        await self._nc.publish(self.reply, b"+ACK")

    async def in_progress(self) -> None:
        await self._nc.publish(self.reply, b"+WPI")


def _routes(nc: Client) -> dict[int, Puller]:
    """The Pullers of `nc` by subscription id; on first use, the parser of `nc` becomes a FastParser
    that hands them their stream messages directly."""
    routes: dict[int, Puller] | None = getattr(nc, "_doingoai_pullers", None)
    if routes is None:
        nc._doingoai_pullers = routes = {}  # type: ignore[attr-defined]
        install(nc, routes)
    return routes


def stream_message(msg: Msg | Delivered) -> StreamMessage:
    """A delivered JetStream message as a StreamMessage (sequence and time from its ack subject,
    `$JS.ACK.[<domain>.<account>.]<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ns>.<pending>…`)."""
    tokens = msg.reply.split(".")
    if len(tokens) > 9:  # the form with a domain and an account hash
        tokens = tokens[:2] + tokens[4:]
    return StreamMessage(  # seq, subject, data, recorded_at, headers
        int(tokens[5]),
        msg.subject,
        msg.data,
        datetime.fromtimestamp(int(tokens[7]) / 1_000_000_000.0, UTC),
        msg.headers if isinstance(msg, Delivered) else dict(msg.headers or {}),
    )


class Puller:
    """Batches from the pull consumer `consumer` of `stream` (bound, not created, here)."""

    def __init__(self, js: JetStreamContext, stream: str, consumer: str):
        self.nc: Client = js._nc  # nats-py 2.x keeps its connection and API prefix there
        self.next_subject = f"{js._prefix}.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self.inbox = self.nc.new_inbox()
        self.buffer: deque[Delivered] = deque()
        self.requests = 0
        self.awaited = ""
        """Reply subject of the request the current fetch waits for."""
        self.ended: tuple[str, str] | None = None
        """(status, description) that ended the awaited request."""
        self.wake = asyncio.Event()
        self.sub: Subscription | None = None

    async def start(self) -> Puller:
        self.sub = await self.nc.subscribe(f"{self.inbox}.*", cb=self._received)
        _routes(self.nc)[self.sub._id] = self
        return self

    async def stop(self) -> None:
        if self.sub is not None:
            _routes(self.nc).pop(self.sub._id, None)
            await self.sub.unsubscribe()
            self.sub = None

    def deliver(self, subject: bytes, reply: bytes, data: bytes, headers: bytes | None) -> None:
        """(from the parser) A stream message of this Puller's subscription."""
        self._arrived(Delivered(self.nc, subject.decode(), reply.decode(), data, RawHeaders(headers)))

    def _arrived(self, msg: Delivered) -> None:
        self.buffer.append(msg)
        self.wake.set()

    async def _received(self, msg: Msg) -> None:
        """Status messages (and nothing else: stream messages come to `_arrived`)."""
        if msg.reply:  # pragma: no cover - only if the connection's parser was not replaced
            self._arrived(Delivered(self.nc, msg.subject, msg.reply, msg.data, dict(msg.headers or {})))
            return
        status = (msg.headers or {}).get("Status", "")
        if status != "100" and msg.subject == self.awaited:  # 100: an idle heartbeat
            self.ended = (status, (msg.headers or {}).get("Description", ""))
            self.wake.set()

    async def _ask(self, batch: int, *, wait_s: float | None) -> None:
        self.requests += 1
        self.awaited, self.ended = f"{self.inbox}.{self.requests}", None
        request: dict[str, object] = {"batch": batch}
        if wait_s is None:
            request["no_wait"] = True
        else:
            request["expires"] = int(wait_s * 1_000_000_000)
        await self.nc.publish(self.next_subject, json.dumps(request).encode(), reply=self.awaited)

    async def _until(self, enough: int, limit_s: float) -> None:
        """Wait until `enough` messages are kept or the awaited request ended, `limit_s` at most."""
        try:
            async with asyncio.timeout(limit_s):
                while len(self.buffer) < enough and self.ended is None:
                    self.wake.clear()
                    await self.wake.wait()
        except TimeoutError:
            pass
        if self.ended is not None:
            status, description = self.ended
            if status == "503":
                raise NoRespondersError
            if status == "409" and "deleted" in description.lower() and not self.buffer:
                raise ConsumerGone(f"pull request ended: 409 {description}")

    async def fetch(self, batch: int, wait_s: float) -> list[Delivered]:
        """Up to `batch` messages: those kept from an earlier request, else what the consumer has
        now, else the first to arrive within `wait_s` (with any that came with it); [] if none."""
        if not self.buffer:
            await self._ask(batch, wait_s=None)
            await self._until(batch, ANSWER_S)
        if not self.buffer and wait_s > 0:
            await self._ask(batch, wait_s=wait_s)
            await self._until(1, wait_s + 0.05)
        return [self.buffer.popleft() for _ in range(min(batch, len(self.buffer)))]
