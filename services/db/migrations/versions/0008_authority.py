"""authority: read models keyed by (province, id), the aggregates table, and a rebuild under the rules

Every read-model row belongs to one province: its key becomes (province, id), so that another
province's event with the same subject can never reach it. The table `aggregates` holds who
opened each aggregate and to whom it is addressed, the state the authority rules read.

The read models and their checkpoints are emptied: the workers rebuild them from the streams
under the authority rules on their next start; events the rules refuse are then listed as
rejections of kind `not_authorized` (`doingoai rejected`), nothing is dropped.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

KEYS = {
    "activities": "subject",
    "plans": "plan_id",
    "tasks": "task_id",
    "reports": "report_id",
    "report_requests": "request_id",
    "partners": "slug",
    "information": "info_id",
    "difficulties": "difficulty_id",
    "escalations": "escalation_id",
}
REBUILT = (
    "events", "event_duplicates", "rejected", *KEYS, "aggregates", "audit_trail",
)
CHECKPOINTS = ("projector\\_%", "audit\\_%", "rejected\\_%")


def upgrade() -> None:
    for table, key in KEYS.items():
        op.drop_constraint(f"{table}_pkey", table, type_="primary")
        op.create_primary_key(f"{table}_pkey", table, ["province", key])
    op.create_table(
        "aggregates",
        sa.Column("province", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("owner", sa.Text(), nullable=False, comment="the agency of its first event"),
        sa.Column("parties", JSONB(), nullable=False,
                  comment="agencies it is addressed to (task, information, escalation)"),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("province", "subject"),
        comment="Each aggregate of a province: who opened it and to whom it is addressed (the authority rules' state)",
    )
    op.execute(f"TRUNCATE {', '.join(REBUILT)}")
    op.execute("DELETE FROM checkpoints WHERE " + " OR ".join(f"consumer LIKE '{c}'" for c in CHECKPOINTS))


def downgrade() -> None:
    op.drop_table("aggregates")
    for table, key in KEYS.items():
        op.drop_constraint(f"{table}_pkey", table, type_="primary")
        op.create_primary_key(f"{table}_pkey", table, [key])
