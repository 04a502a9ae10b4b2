"""Read-model tables. They live in one PostgreSQL schema (default `doingoai`); a replay builds
the same tables in a fresh schema, so every table here is unqualified. They share the metadata of
the engine's tables (`projections.engine.tables`), which the migrations compare with."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    LargeBinary,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

from projections.engine.tables import metadata

events = Table(
    "events",
    metadata,
    Column("seq", BigInteger, primary_key=True),
    Column("id", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("name", Text, nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("source", Text, nullable=False),
    Column("province", Text, nullable=False, index=True),
    Column("agency", Text, nullable=False),
    Column("subject", Text, nullable=False, index=True),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("correlationid", Text),
    Column("causationid", Text),
    Column("actor", Text),
    Column("nats_subject", Text, nullable=False),
    Column("envelope", JSONB, nullable=False),
    # the idempotency key is (source, id); id first, so that a look-up by id alone uses it too
    UniqueConstraint("id", "source", name="events_id_source_key"),
)

event_duplicates = Table(
    "event_duplicates",
    metadata,
    Column("seq", BigInteger, primary_key=True),
    Column("id", Text, nullable=False, index=True),
    Column("source", Text, nullable=False),
    Column("original_seq", BigInteger, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

rejected = Table(
    "rejected",
    metadata,
    Column("key", Text, primary_key=True, comment="events:<seq> or rejected:<seq>"),
    Column("stream_seq", BigInteger),
    Column("path", Text, nullable=False, comment="nats or http"),
    Column("kind", Text, nullable=False),
    Column("problems", JSONB, nullable=False),
    Column("publisher", Text),
    Column("nats_subject", Text),
    Column("event_id", Text, index=True),
    Column("raw", LargeBinary, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("resubmitted_as", Text, comment="id of the event re-submitted as the correction"),
)

activities = Table(
    "activities",
    metadata,
    Column("subject", Text, nullable=False),
    Column("kind", Text, nullable=False, index=True),
    Column("province", Text, nullable=False, index=True),
    Column("agency", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("partner_country", Text),
    Column("partner_name", Text),
    Column("start_date", Date),
    Column("end_date", Date),
    Column("participants", Integer),
    Column("partner_id", Text, index=True),
    Column("lead_agency", Text),
    Column("amount", Numeric(20, 2)),
    Column("currency", Text),
    Column("detail", JSONB),
    Column("first_seq", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("province", "subject"),
)

plans = Table(
    "plans",
    metadata,
    Column("plan_id", Text, nullable=False),
    Column("province", Text, nullable=False, index=True),
    Column("agency", Text, nullable=False),
    Column("number", Text),
    Column("issued_on", Date),
    Column("title", Text, nullable=False),
    Column("task_count", Integer),
    Column("last_seq", BigInteger, nullable=False),
    PrimaryKeyConstraint("province", "plan_id"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("task_id", Text, nullable=False),
    Column("province", Text, nullable=False, index=True),
    Column("plan_id", Text, nullable=False, index=True),
    Column("plan_number", Text),
    Column("task_number", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("lead_agencies", JSONB, nullable=False),
    Column("coordinating_agencies", JSONB, nullable=False),
    Column("timeframe", Text),
    Column("recurrence", Text),
    Column("due_date", Date),
    Column("expected_result", Text),
    Column("status", Text, nullable=False),
    Column("progress_percent", Integer),
    Column("last_report_on", Date),
    Column("completed_on", Date),
    Column("completed_periods", JSONB, comment="a recurring task: year -> the day it was completed for that year"),
    Column("last_seq", BigInteger, nullable=False),
    PrimaryKeyConstraint("province", "task_id"),
)

reports = Table(
    "reports",
    metadata,
    Column("report_id", Text, nullable=False),
    Column("province", Text, nullable=False, index=True),
    Column("agency", Text, nullable=False),
    Column("report_kind", Text, nullable=False),
    Column("period", Text, nullable=False, index=True),
    Column("title", Text, nullable=False),
    Column("submitted_on", Date, nullable=False),
    Column("status", Text, nullable=False),
    Column("returned_on", Date),
    Column("accepted_on", Date),
    Column("request_id", Text, comment="the report_requested aggregate this report answers"),
    Column("last_seq", BigInteger, nullable=False),
    PrimaryKeyConstraint("province", "report_id"),
)

report_requests = Table(
    "report_requests",
    metadata,
    Column("request_id", Text, nullable=False),
    Column("province", Text, nullable=False, index=True),
    Column("report_kind", Text, nullable=False),
    Column("period", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("deadline", Date, nullable=False),
    Column("requested_agencies", JSONB, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    PrimaryKeyConstraint("province", "request_id"),
)

partners = Table(
    "partners",
    metadata,
    Column("slug", Text, nullable=False),
    Column("province", Text, nullable=False),
    Column("name_vi", Text, nullable=False),
    Column("name_original", Text),
    Column("country", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("relationship", Text),
    Column("since", Date),
    Column("last_seq", BigInteger, nullable=False),
    PrimaryKeyConstraint("province", "slug"),
)

information = Table(
    "information",
    metadata,
    Column("info_id", Text, nullable=False),
    Column("province", Text, nullable=False, index=True),
    Column("agency", Text, nullable=False),
    Column("topic", Text, nullable=False),
    Column("kind", Text),
    Column("recipients", JSONB, nullable=False),
    Column("acknowledged", JSONB, nullable=False),
    Column("shared_at", DateTime(timezone=True), nullable=False),
    Column("respond_by", Date),
    Column("last_seq", BigInteger, nullable=False),
    PrimaryKeyConstraint("province", "info_id"),
)

difficulties = Table(
    "difficulties",
    metadata,
    Column("difficulty_id", Text, nullable=False),
    Column("province", Text, nullable=False, index=True),
    Column("agency", Text, nullable=False),
    Column("topic", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("beyond_authority", Boolean, nullable=False),
    Column("status", Text, nullable=False),
    Column("state", JSONB, nullable=False),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    PrimaryKeyConstraint("province", "difficulty_id"),
)

escalations = Table(
    "escalations",
    metadata,
    Column("escalation_id", Text, nullable=False),
    Column("province", Text, nullable=False, index=True),
    Column("trigger", Text, nullable=False),
    Column("cause_subject", Text, nullable=False, index=True),
    Column("level", Integer, nullable=False, comment="0 for a reminder"),
    Column("target_agency", Text, nullable=False, index=True),
    Column("target_role", Text),
    Column("responsible_agency", Text),
    Column("period", Text),
    Column("due_at", DateTime(timezone=True)),
    Column("ack_by", DateTime(timezone=True)),
    Column("message", Text, nullable=False),
    Column("status", Text, nullable=False, comment="open | acknowledged | closed"),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("acknowledged_at", DateTime(timezone=True)),
    Column("acknowledged_by", Text),
    Column("acknowledged_actor", Text, comment="the acknowledgement's CloudEvents actor: a signed-in person, "
                                               "'<name> (<username>)'"),
    Column("closed_at", DateTime(timezone=True)),
    Column("last_seq", BigInteger, nullable=False),
    PrimaryKeyConstraint("province", "escalation_id"),
)

aggregates = Table(
    "aggregates",
    metadata,
    Column("province", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("owner", Text, nullable=False, comment="the agency of its first event"),
    Column("parties", JSONB, nullable=False, comment="agencies it is addressed to (task, information, escalation)"),
    Column("first_seq", BigInteger, nullable=False),
    PrimaryKeyConstraint("province", "subject"),
    comment="Each aggregate of a province: who opened it and to whom it is addressed (the authority rules' state)",
)

READ_MODEL_TABLES = (
    "events",
    "event_duplicates",
    "rejected",
    "activities",
    "plans",
    "tasks",
    "reports",
    "report_requests",
    "partners",
    "information",
    "difficulties",
    "escalations",
    "aggregates",
    "audit_trail",
    "event_signatures",
)
"""Tables rebuilt by a replay and compared by checksum (credentials, users, sessions, agency_keys and
signature_requirements are not derived from events)."""
