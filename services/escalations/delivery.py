"""Deliver every escalation (and reminder) on doingoai.escalations.<province>.<agency>, in stream
order, once: to its target agency and, for an escalation raised after a missed deadline, to the
responsible agency too (đôn đốc: the late unit, or whoever's step it is, is told on its own subject
that its deadline was missed and who has been told). The runner checkpoints what was delivered, and
each delivery has its own `Nats-Msg-Id`, the event's `<source> <id>` (as on the events stream) for
the target and `<agency> <source> <id>` for the responsible agency's copy
(`services.store.copy_msg_id`), so a redelivery after a crash is a duplicate the escalations stream
drops, and neither delivery is taken for the other. Only the escalation service's own events are
delivered, and only the services publish on that stream, so no other publisher can take their
message ids there.

The copy informs; it gives no say: `escalation_acknowledged` stays the target's alone
(`schemas.authority`, the escalation's parties are its target). The responsible agency answers an
escalation by doing the late step (submitting the report, completing the task, acknowledging the
information, SNgV guiding or proposing, the UBND deciding), which closes it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.engine.batch import StreamMessage
from projections.engine.runner import Handler
from schemas.authority import SYSTEM
from schemas.codec import Event, InvalidEvent, decode
from services.store import ESCALATIONS_STREAM, copy_msg_id, msg_id

DELIVERED = ("escalation_raised", "escalation_reminded")


def escalation_subject(province: str, agency: str) -> str:
    return f"doingoai.escalations.{province}.{agency}"


@dataclass(frozen=True)
class Delivery:
    """One publication of an escalation on the escalations stream."""

    agency: str
    subject: str
    msg_id: str


def deliveries(event: Event) -> list[Delivery]:
    """Where an event is delivered, in order (pure): nothing unless it is one of the escalation
    service's own `escalation_raised`/`escalation_reminded`; else its target agency, then, for an
    escalation raised, its responsible agency if that is another agency. A reminder is addressed to
    the responsible agency already."""
    if event.name not in DELIVERED or event.envelope.agency != SYSTEM:
        return []
    province, source = event.envelope.province, event.envelope.source
    target: str = event.data.target_agency  # type: ignore[attr-defined]
    out = [Delivery(target, escalation_subject(province, target), msg_id(source, event.id))]
    responsible: str | None = getattr(event.data, "responsible_agency", None)
    if event.name == "escalation_raised" and responsible is not None and responsible != target:
        out.append(Delivery(responsible, escalation_subject(province, responsible),
                            copy_msg_id(responsible, source, event.id)))
    return out


def delivery_handler(js: JetStreamContext) -> Handler:
    async def deliver(conn: AsyncConnection, messages: Sequence[StreamMessage]) -> None:
        for m in messages:
            try:
                event = decode(m.data)
            except InvalidEvent:
                continue  # the projector keeps it as rejected; nothing to deliver
            for d in deliveries(event):
                headers = {"Nats-Msg-Id": d.msg_id, "Content-Type": "application/cloudevents+json"}
                await js.publish(d.subject, m.data, headers=headers, stream=ESCALATIONS_STREAM)

    return deliver
