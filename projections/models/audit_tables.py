"""Tables of the audit trail: one hash-chained row per stream sequence, and signed chain heads.

They share `projections.models.tables.metadata`, so a replay builds them in its fresh schema too.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, LargeBinary, Table, Text

from projections.models.tables import metadata

audit_trail = Table(
    "audit_trail",
    metadata,
    Column("seq", BigInteger, primary_key=True, comment="stream sequence in DOINGOAI_EVENTS"),
    Column("nats_subject", Text, nullable=False),
    Column("data", LargeBinary, nullable=False, comment="the stored message bytes, unchanged"),
    Column("recorded_at", DateTime(timezone=True), nullable=False, index=True,
           comment="JetStream timestamp of the message"),
    Column("province", Text, comment="publisher, from the NATS subject"),
    Column("agency", Text, comment="publisher, from the NATS subject"),
    Column("actor", Text, comment="CloudEvents extension `actor`, if any"),
    Column("event_id", Text, index=True),
    Column("event_type", Text),
    Column("aggregate", Text, comment="CloudEvents `subject`"),
    Column("occurred_at", DateTime(timezone=True), comment="CloudEvents `time`"),
    Column("prev_hash", Text, nullable=False, comment="hex sha256 of the previous row"),
    Column("hash", Text, nullable=False, comment="hex sha256(prev_hash, seq, subject, data)"),
)

audit_heads = Table(
    "audit_heads",
    metadata,
    Column("seq", BigInteger, primary_key=True),
    Column("hash", Text, nullable=False),
    Column("signed_at", Text, nullable=False, comment="exactly as signed (RFC 3339, UTC)"),
    Column("signature", Text, nullable=False, comment="hex Ed25519 signature of the canonical head"),
    Column("public_key", Text, nullable=False, comment="hex raw Ed25519 public key"),
)
