"""agency keys: agencies' public keys, the provinces' signature requirements, and each stored signed
event's verifying key

`agency_keys` and `signature_requirements` are not derived from events (like `credentials`): a
replay copies them. `event_signatures` is derived from the stream (and the keys) by the projection's
authority step; it starts empty: events stored before are not checked again.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agency_keys",
        sa.Column("key_id", sa.Text(), nullable=False, comment="hex SHA-256 of the key's DER SubjectPublicKeyInfo"),
        sa.Column("province", sa.Text(), nullable=False),
        sa.Column("agency", sa.Text(), nullable=False),
        sa.Column("algorithm", sa.Text(), nullable=False, comment="ed25519 or ecdsa-p256-sha256"),
        sa.Column("public_key", sa.Text(), nullable=False, comment="PEM (SubjectPublicKeyInfo)"),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id"),
        comment="Agencies' public keys that verify their signed events (doingoai keys); not derived from events",
    )
    op.create_index(op.f("ix_agency_keys_province"), "agency_keys", ["province"], unique=False)
    op.create_table(
        "signature_requirements",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("province", sa.Text(), nullable=False),
        sa.Column("agency", sa.Text(), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        comment="From `since` on, the agency's events must be signed (or need not be): a history, never rewritten",
    )
    op.create_index(op.f("ix_signature_requirements_province"), "signature_requirements", ["province"], unique=False)
    op.create_table(
        "event_signatures",
        sa.Column("seq", sa.BigInteger(), nullable=False, comment="stream sequence of the stored event"),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("algorithm", sa.Text(), nullable=False),
        sa.Column("extensions", sa.Text(), nullable=False,
                  comment="signed extension attributes: none, verified or skipped"),
        sa.PrimaryKeyConstraint("seq"),
        comment="The key that verified each stored signed event (derived from the stream and agency_keys)",
    )


def downgrade() -> None:
    op.drop_table("event_signatures")
    op.drop_index(op.f("ix_signature_requirements_province"), table_name="signature_requirements")
    op.drop_table("signature_requirements")
    op.drop_index(op.f("ix_agency_keys_province"), table_name="agency_keys")
    op.drop_table("agency_keys")
