"""The event store: JetStream streams, connections and the publisher library."""

EVENTS_STREAM = "DOINGOAI_EVENTS"
EVENTS_SUBJECTS = "doingoai.events.>"
REJECTED_STREAM = "DOINGOAI_REJECTED"
REJECTED_SUBJECTS = "doingoai.rejected.>"
ESCALATIONS_STREAM = "DOINGOAI_ESCALATIONS"
ESCALATIONS_SUBJECTS = "doingoai.escalations.>"
LOOKUP_SUBJECT = "doingoai.api.events.lookup"
