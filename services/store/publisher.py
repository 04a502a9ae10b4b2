"""The publisher library: validated, idempotent, optionally concurrency-checked appends.

Used by our own services and offered to agency systems written in Python:

    nc = await nats.connect(url, user=..., password=...)
    publisher = Publisher(nc)
    result = await publisher.publish(envelope)          # -> PublishResult(sequence, duplicate)

Idempotency: `Nats-Msg-Id` is the event id, so the server drops a repeat inside its duplicate
window; before publishing, the event index is asked whether the id was stored earlier, so a
repeat months later is still stored once. Optimistic concurrency: pass
`expected_last_subject_seq` and a stale value raises `ConcurrencyConflict`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.errors import APIError, BadRequestError, NoStreamResponseError, NotFoundError

from schemas.codec import decode, encode
from schemas.envelope import CloudEvent, nats_subject
from services.store import EVENTS_STREAM, LOOKUP_SUBJECT

WRONG_LAST_SEQUENCE = 10071
MSG_ID_IN_PROCESS = 10158
CONTENT_TYPE = "application/cloudevents+json"
Lookup = Callable[[Sequence[str]], Awaitable[dict[str, int]]]


@dataclass(frozen=True)
class PublishResult:
    id: str
    sequence: int
    duplicate: bool


class ConcurrencyConflict(Exception):
    """The aggregate moved on: the expected last subject sequence is stale."""

    def __init__(self, event_id: str, subject: str, expected: int):
        self.event_id = event_id
        self.subject = subject
        self.expected = expected
        super().__init__(f"event {event_id}: {subject} is no longer at sequence {expected}")


class StoreUnavailable(Exception):
    """The event stream did not acknowledge in time (no leader, server down): retry later, same id."""


class Publisher:
    def __init__(
        self, nc: Client, *, timeout: float = 5.0, retries: int = 6, lookup: Lookup | bool | None = True
    ):
        self.nc = nc
        self.js = nc.jetstream(timeout=timeout)
        self.timeout = timeout
        self.retries = retries
        self.lookup = self._ask_index if lookup is True else (lookup or None)

    async def stored(self, ids: Sequence[str]) -> dict[str, int]:
        """Which of `ids` the event index holds already, with their sequences."""
        if self.lookup is None or not ids:
            return {}
        return await self.lookup(ids)

    async def _ask_index(self, ids: Sequence[str]) -> dict[str, int]:
        try:
            reply = await self.nc.request(LOOKUP_SUBJECT, json.dumps({"ids": list(ids)}).encode(), timeout=self.timeout)
        except (NoRespondersError, NatsTimeout):
            return {}  # the stream's duplicate window and the index still keep one copy
        found = json.loads(reply.data).get("found", {})
        return {str(k): int(v) for k, v in found.items()}

    async def publish(
        self, event: CloudEvent | bytes, *, expected_last_subject_seq: int | None = None
    ) -> PublishResult:
        raw = event if isinstance(event, bytes) else encode(event)
        envelope = decode(raw).envelope  # raises InvalidEvent before anything is sent
        earlier = await self.stored([envelope.id])
        if envelope.id in earlier:
            return PublishResult(envelope.id, earlier[envelope.id], True)
        return await self._append(envelope, raw, expected_last_subject_seq)

    async def publish_many(self, events: Sequence[CloudEvent | bytes], *, window: int = 256) -> list[PublishResult]:
        """Publish in order of acknowledgement windows, pipelined; results in input order."""
        raws = [e if isinstance(e, bytes) else encode(e) for e in events]
        envelopes = [decode(r).envelope for r in raws]
        results: list[PublishResult] = []
        for start in range(0, len(raws), window):
            chunk = list(zip(envelopes[start:start + window], raws[start:start + window], strict=True))
            earlier = await self.stored([env.id for env, _ in chunk])
            results.extend(
                await asyncio.gather(
                    *(
                        self._append(env, raw, None)
                        if env.id not in earlier
                        else _done(PublishResult(env.id, earlier[env.id], True))
                        for env, raw in chunk
                    )
                )
            )
        return results

    async def _append(self, envelope: CloudEvent, raw: bytes, expected: int | None) -> PublishResult:
        subject = nats_subject(envelope.province, envelope.agency, envelope.event_name)
        headers = {"Nats-Msg-Id": envelope.id, "Content-Type": CONTENT_TYPE}
        if expected is not None:
            headers["Nats-Expected-Last-Subject-Sequence"] = str(expected)
        for attempt in range(self.retries + 1):
            try:
                ack = await self.js.publish(subject, raw, headers=headers, stream=EVENTS_STREAM)
                return PublishResult(envelope.id, ack.seq, bool(ack.duplicate))
            except BadRequestError as exc:
                if exc.err_code != WRONG_LAST_SEQUENCE or expected is None:
                    raise
                landed = await self._landed_earlier(subject, envelope.id, expected)
                if landed is not None:
                    return PublishResult(envelope.id, landed, True)
                raise ConcurrencyConflict(envelope.id, subject, expected) from None
            except APIError as exc:  # an earlier try of this id is still being replicated
                if exc.err_code != MSG_ID_IN_PROCESS or attempt == self.retries:
                    raise
            except (NatsTimeout, NoStreamResponseError):  # e.g. a leader election on a cluster
                if attempt == self.retries:
                    raise StoreUnavailable(f"the event stream did not acknowledge {envelope.id}") from None
            await asyncio.sleep(min(0.1 * 2**attempt, 2.0))  # retry with the same id: stored once
        raise AssertionError("unreachable")  # pragma: no cover

    async def _landed_earlier(self, subject: str, event_id: str, expected: int) -> int | None:
        """After a 'wrong last sequence', tell our own earlier success from a real conflict: the
        next message on the subject after `expected` carries our id if the first try landed."""
        try:
            msg = await self.js.get_msg(EVENTS_STREAM, seq=expected + 1, subject=subject, next=True)
        except NotFoundError:
            return None
        except (NatsTimeout, NatsError):  # no read access to the stream: ask the lookup service
            reply = await self.nc.request(
                LOOKUP_SUBJECT,
                json.dumps({"probe": {"subject": subject, "after": expected, "id": event_id}}).encode(),
                timeout=self.timeout,
            )
            landed = json.loads(reply.data).get("landed")
            return int(landed) if landed else None
        if msg.headers and msg.headers.get("Nats-Msg-Id") == event_id:
            return msg.seq
        return None


async def _done(result: PublishResult) -> PublishResult:
    return result
