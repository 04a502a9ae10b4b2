"""The event store: JetStream streams, connections and the publisher library.

The names of the streams and subjects, and the message ids, are the contract's
(`schemas.streams`); they are given here too, for the adapters that use the store.
"""

from schemas.streams import (
    ESCALATIONS_STREAM,
    ESCALATIONS_SUBJECTS,
    EVENTS_STREAM,
    EVENTS_SUBJECTS,
    LOOKUP_SUBJECT,
    REJECTED_STREAM,
    REJECTED_SUBJECTS,
    copy_msg_id,
    msg_id,
)

__all__ = [
    "ESCALATIONS_STREAM",
    "ESCALATIONS_SUBJECTS",
    "EVENTS_STREAM",
    "EVENTS_SUBJECTS",
    "LOOKUP_SUBJECT",
    "REJECTED_STREAM",
    "REJECTED_SUBJECTS",
    "copy_msg_id",
    "msg_id",
]
