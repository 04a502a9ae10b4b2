"""rejections: the id of the event that corrected a rejected one

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "rejected",
        sa.Column("resubmitted_as", sa.Text(), nullable=True,
                  comment="id of the event re-submitted as the correction (POST /api/rejected/{key}/resubmit)"),
    )


def downgrade() -> None:
    op.drop_column("rejected", "resubmitted_as")
