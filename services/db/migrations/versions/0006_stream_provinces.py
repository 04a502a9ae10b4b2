"""stream_provinces: the provinces seen on the events stream, one projection unit each

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stream_provinces",
        sa.Column("province", sa.Text(), nullable=False, comment="province token of the NATS subjects"),
        sa.Column("first_seq", sa.BigInteger(), nullable=False, comment="stream sequence of its first message"),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("province"),
        comment="Provinces seen on the events stream: each gets its own projection unit (partitioned workers)",
    )


def downgrade() -> None:
    op.drop_table("stream_provinces")
