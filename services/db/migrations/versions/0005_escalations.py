"""escalations read model

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "escalations",
        sa.Column("escalation_id", sa.Text(), nullable=False),
        sa.Column("province", sa.Text(), nullable=False),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("cause_subject", sa.Text(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False, comment="0 for a reminder"),
        sa.Column("target_agency", sa.Text(), nullable=False),
        sa.Column("target_role", sa.Text(), nullable=True),
        sa.Column("responsible_agency", sa.Text(), nullable=True),
        sa.Column("period", sa.Text(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ack_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False, comment="open | acknowledged | closed"),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("escalation_id"),
    )
    op.create_index(op.f("ix_escalations_province"), "escalations", ["province"], unique=False)
    op.create_index(op.f("ix_escalations_cause_subject"), "escalations", ["cause_subject"], unique=False)
    op.create_index(op.f("ix_escalations_target_agency"), "escalations", ["target_agency"], unique=False)


def downgrade() -> None:
    op.drop_table("escalations")
