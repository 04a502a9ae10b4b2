"""personal data: a key per person (sealing their names), the HMAC secret of the keys' look-up, and
which events name which person

`personal_keys` and `personal_secret` are not derived from events: a replay copies them. An erased
key keeps its row (`key` NULL, `erased_at` set). `personal_refs` is derived from the stream and the
keys by the projection; it starts empty: events stored before are not sealed again.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "personal_keys",
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("province", sa.Text(), nullable=False),
        sa.Column("person", sa.Text(), nullable=False,
                  comment="HMAC-SHA256 of the normalized name (schemas.personal.digest)"),
        sa.Column("key", sa.LargeBinary(), nullable=True, comment="AES-256-GCM key; NULL once erased"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True,
                  comment="when `doingoai personal-data erase` destroyed the key"),
        sa.PrimaryKeyConstraint("key_id"),
        comment="One key per person of a province, sealing their personal data; not derived from events",
    )
    op.create_index("ix_personal_keys_person", "personal_keys", ["province", "person"], unique=False)
    op.create_index("uq_personal_keys_live", "personal_keys", ["province", "person"], unique=True,
                    postgresql_where=sa.text("erased_at IS NULL"))
    op.create_table(
        "personal_secret",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        comment="The HMAC key of personal_keys.person (one row)",
    )
    op.create_table(
        "personal_refs",
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False,
                  comment="stream sequence of the event naming the person"),
        sa.Column("in_clear", sa.Boolean(), nullable=False,
                  comment="the stored bytes hold the name as written (not sealed)"),
        sa.PrimaryKeyConstraint("key_id", "seq"),
        comment="Which events name which person (derived from the stream and the keys)",
    )
    op.create_index(op.f("ix_personal_refs_seq"), "personal_refs", ["seq"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_personal_refs_seq"), table_name="personal_refs")
    op.drop_table("personal_refs")
    op.drop_table("personal_secret")
    op.drop_index("uq_personal_keys_live", table_name="personal_keys")
    op.drop_index("ix_personal_keys_person", table_name="personal_keys")
    op.drop_table("personal_keys")
