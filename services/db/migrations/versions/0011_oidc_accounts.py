"""users: accounts linked to an OpenID provider (no password)

An account signed in through the province's single sign-on is linked to the provider's issuer and its
subject (`sub`), and has no password hash.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("users", "password_hash", existing_type=sa.Text(), nullable=True,
                    comment="null for an account that signs in only through its OpenID provider")
    op.add_column("users", sa.Column("oidc_issuer", sa.Text(), nullable=True,
                                     comment="the OpenID provider the account is linked to"))
    op.add_column("users", sa.Column("oidc_subject", sa.Text(), nullable=True,
                                     comment="the account's `sub` at that provider"))
    op.create_unique_constraint("uq_users_oidc", "users", ["oidc_issuer", "oidc_subject"])


def downgrade() -> None:
    op.drop_constraint("uq_users_oidc", "users", type_="unique")
    op.drop_column("users", "oidc_subject")
    op.drop_column("users", "oidc_issuer")
    op.execute("DELETE FROM users WHERE password_hash IS NULL")
    op.alter_column("users", "password_hash", existing_type=sa.Text(), nullable=False)
