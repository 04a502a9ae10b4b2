"""The event store: JetStream streams, connections and the publisher library."""

EVENTS_STREAM = "DOINGOAI_EVENTS"
EVENTS_SUBJECTS = "doingoai.events.>"
REJECTED_STREAM = "DOINGOAI_REJECTED"
REJECTED_SUBJECTS = "doingoai.rejected.>"
ESCALATIONS_STREAM = "DOINGOAI_ESCALATIONS"
ESCALATIONS_SUBJECTS = "doingoai.escalations.>"
LOOKUP_SUBJECT = "doingoai.api.events.lookup"


def msg_id(source: str, event_id: str) -> str:
    """The `Nats-Msg-Id` of an event: its `source`, a space and its `id`. A source never holds a
    space (`/provinces/<slug>/agencies/<slug>`), so the pair is read back unambiguously, and the
    stream's duplicate window keys on (source, id) as the event index does: another publisher's
    equal id is another message id."""
    return f"{source} {event_id}"
