"""Deliver every escalation (and reminder) on doingoai.escalations.<province>.<target_agency>,
in stream order, once: the runner checkpoints what was delivered, and `Nats-Msg-Id` (the event's
`<source> <id>`, as on the events stream) makes a redelivery after a crash a duplicate the
escalations stream drops. Only the escalation service's own events are delivered, and only the
services publish on that stream, so no other publisher can take their message ids there."""

from __future__ import annotations

from collections.abc import Sequence

from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.batch import StreamMessage
from projections.runner import Handler
from schemas.authority import SYSTEM
from schemas.codec import InvalidEvent, decode
from services.store import ESCALATIONS_STREAM, msg_id

DELIVERED = ("escalation_raised", "escalation_reminded")


def escalation_subject(province: str, agency: str) -> str:
    return f"doingoai.escalations.{province}.{agency}"


def delivery_handler(js: JetStreamContext) -> Handler:
    async def deliver(conn: AsyncConnection, messages: Sequence[StreamMessage]) -> None:
        for m in messages:
            try:
                event = decode(m.data)
            except InvalidEvent:
                continue  # the projector keeps it as rejected; nothing to deliver
            if event.name not in DELIVERED or event.envelope.agency != SYSTEM:
                continue  # only the escalation service's own decisions are delivered
            target = event.data.target_agency  # type: ignore[attr-defined]
            headers = {"Nats-Msg-Id": msg_id(event.envelope.source, event.id),
                       "Content-Type": "application/cloudevents+json"}
            await js.publish(escalation_subject(event.envelope.province, target), m.data, headers=headers,
                             stream=ESCALATIONS_STREAM)

    return deliver
