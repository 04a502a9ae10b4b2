"""personal data: for an erased key, what the values its events held in clear were sealed as

Written by `doingoai personal-data erase` before it destroys a key, and copied by a replay with the
keys, so that the replay writes those values as the live projection wrote them.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "personal_erased",
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False,
                  comment="HMAC-SHA256 of a value held in clear (schemas.personal.value_digest)"),
        sa.Column("token", sa.Text(), nullable=False,
                  comment="what the projection sealed it as, before the key was erased"),
        sa.PrimaryKeyConstraint("key_id", "value"),
        comment="For an erased key: what the values its events held in clear were sealed as; not derived from events",
    )


def downgrade() -> None:
    op.drop_table("personal_erased")
