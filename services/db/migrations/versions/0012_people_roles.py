"""escalations.acknowledged_actor: who acknowledged an escalation, as the event's actor names them

A signed-in person's acknowledgement names the person (`<name> (<username>)`); the column is derived
from the events, so a replay fills it.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("escalations", sa.Column(
        "acknowledged_actor", sa.Text(), nullable=True,
        comment="the acknowledgement's CloudEvents actor: a signed-in person, '<name> (<username>)'"))


def downgrade() -> None:
    op.drop_column("escalations", "acknowledged_actor")
