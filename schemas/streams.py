"""The names of the contract on NATS: the JetStream streams, the subjects they hold, the
subject of the event-id lookup, and the `Nats-Msg-Id` of an event (see CONTRACT.md)."""

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


def copy_msg_id(agency: str, source: str, event_id: str) -> str:
    """The `Nats-Msg-Id` of a copy of an event delivered to `agency` besides the agency it is
    addressed to (on the escalations stream: the late unit told of its own escalation): the agency
    slug, a space, then `msg_id`. A slug never starts with '/' as a source does, so it reads back
    unambiguously and never equals the event's own message id: each delivery subject gets the event
    once, and the stream's duplicate window drops only a repeat of the same delivery."""
    return f"{agency} {msg_id(source, event_id)}"
