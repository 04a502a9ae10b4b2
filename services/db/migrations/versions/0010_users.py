"""users: the people who sign in to the dashboard, and their sessions

Neither table is derived from events (like `credentials`): a replay does not rebuild them.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("province", sa.Text(), nullable=False),
        sa.Column("agency", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False, comment="specialist, leader, auditor or admin"),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username"),
        comment="People who sign in to the dashboard (services.people); not derived from events",
    )
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.Text(), nullable=False, comment="SHA-256 of the cookie's random session id"),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("csrf_token", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["username"], ["users.username"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id_hash"),
        comment="Signed-in sessions (services.sessions); not derived from events",
    )
    op.create_index(op.f("ix_sessions_username"), "sessions", ["username"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sessions_username"), table_name="sessions")
    op.drop_table("sessions")
    op.drop_table("users")
