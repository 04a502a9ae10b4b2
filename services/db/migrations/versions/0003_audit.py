"""audit trail: hash-chained rows per stream sequence, signed heads

Revision ID: 0003
Revises: 0002
"""

from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_trail",
        sa.Column("seq", sa.BigInteger(), nullable=False, comment="stream sequence in DOINGOAI_EVENTS"),
        sa.Column("nats_subject", sa.Text(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False, comment="the stored message bytes, unchanged"),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False,
                  comment="JetStream timestamp of the message"),
        sa.Column("province", sa.Text(), nullable=True, comment="publisher, from the NATS subject"),
        sa.Column("agency", sa.Text(), nullable=True, comment="publisher, from the NATS subject"),
        sa.Column("actor", sa.Text(), nullable=True, comment="CloudEvents extension `actor`, if any"),
        sa.Column("event_id", sa.Text(), nullable=True),
        sa.Column("event_type", sa.Text(), nullable=True),
        sa.Column("aggregate", sa.Text(), nullable=True, comment="CloudEvents `subject`"),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True, comment="CloudEvents `time`"),
        sa.Column("prev_hash", sa.Text(), nullable=False, comment="hex sha256 of the previous row"),
        sa.Column("hash", sa.Text(), nullable=False, comment="hex sha256(prev_hash, seq, subject, data)"),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index(op.f("ix_audit_trail_recorded_at"), "audit_trail", ["recorded_at"], unique=False)
    op.create_index(op.f("ix_audit_trail_event_id"), "audit_trail", ["event_id"], unique=False)
    op.create_table(
        "audit_heads",
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.Text(), nullable=False, comment="exactly as signed (RFC 3339, UTC)"),
        sa.Column("signature", sa.Text(), nullable=False, comment="hex Ed25519 signature of the canonical head"),
        sa.Column("public_key", sa.Text(), nullable=False, comment="hex raw Ed25519 public key"),
        sa.PrimaryKeyConstraint("seq"),
    )


def downgrade() -> None:
    op.drop_table("audit_heads")
    op.drop_index(op.f("ix_audit_trail_event_id"), table_name="audit_trail")
    op.drop_index(op.f("ix_audit_trail_recorded_at"), table_name="audit_trail")
    op.drop_table("audit_trail")
