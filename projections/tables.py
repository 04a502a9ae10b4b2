"""Read-model tables. They live in one PostgreSQL schema (default `doingoai`); a replay builds
the same tables in a fresh schema, so every table here is unqualified."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("consumer", Text, primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("seq", BigInteger, primary_key=True),
    Column("id", Text, nullable=False, unique=True),
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
)

event_duplicates = Table(
    "event_duplicates",
    metadata,
    Column("seq", BigInteger, primary_key=True),
    Column("id", Text, nullable=False, index=True),
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
)

activities = Table(
    "activities",
    metadata,
    Column("subject", Text, primary_key=True),
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
    Column("first_seq", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

credentials = Table(
    "credentials",
    metadata,
    Column("nats_user", Text, primary_key=True),
    Column("province", Text, nullable=False),
    Column("agency", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("nats_password_hash", Text, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("token_hash", name="credentials_token_unique"),
)

READ_MODEL_TABLES = ("events", "event_duplicates", "rejected", "activities")
"""Tables rebuilt by a replay and compared by checksum (credentials are not derived from events)."""
