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

Only nats-py's public client API is used: `subscribe`, `publish` (the pull requests, to the
JetStream API subject `<prefix>.CONSUMER.MSG.NEXT.<stream>.<consumer>`) and `Msg.ack`.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from datetime import UTC, datetime
from types import MappingProxyType

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.js.api import DEFAULT_PREFIX

from projections.engine.batch import StreamMessage

ANSWER_S = 5.0
"""How long a `no_wait` request may go unanswered before the fetch gives up (returns nothing)."""
NO_HEADERS: MappingProxyType[str, str] = MappingProxyType({})


class ConsumerGone(NatsError):
    """The server ended a pull request with 409 Consumer Deleted."""


def stream_message(msg: Msg) -> StreamMessage:
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
        msg.headers or NO_HEADERS,
    )


class Puller:
    """Batches from the pull consumer `consumer` of `stream` (bound, not created, here), on the
    connection `nc`; `api_prefix` is the JetStream API prefix of its `jetstream()` context."""

    def __init__(self, nc: Client, stream: str, consumer: str, *, api_prefix: str = DEFAULT_PREFIX):
        self.nc = nc
        self.next_subject = f"{api_prefix}.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self.inbox = self.nc.new_inbox()
        self.buffer: deque[Msg] = deque()
        self.requests = 0
        self.awaited = ""
        """Reply subject of the request the current fetch waits for."""
        self.ended: tuple[str, str] | None = None
        """(status, description) that ended the awaited request."""
        self.wake = asyncio.Event()
        self.sub: Subscription | None = None

    async def start(self) -> Puller:
        self.sub = await self.nc.subscribe(f"{self.inbox}.*", cb=self._received)
        return self

    async def stop(self) -> None:
        if self.sub is not None:
            await self.sub.unsubscribe()
            self.sub = None

    async def _received(self, msg: Msg) -> None:
        """Stream messages (with an ack subject) are kept; a status message may end the request."""
        if msg.reply:
            self.buffer.append(msg)
            self.wake.set()
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

    async def fetch(self, batch: int, wait_s: float) -> list[Msg]:
        """Up to `batch` messages: those kept from an earlier request, else what the consumer has
        now, else the first to arrive within `wait_s` (with any that came with it); [] if none."""
        if not self.buffer:
            await self._ask(batch, wait_s=None)
            await self._until(batch, ANSWER_S)
        if not self.buffer and wait_s > 0:
            await self._ask(batch, wait_s=wait_s)
            await self._until(1, wait_s + 0.05)
        return [self.buffer.popleft() for _ in range(min(batch, len(self.buffer)))]
