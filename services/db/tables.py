"""The services' own tables, not derived from events: credentials of agencies, the people who
sign in to the dashboard and their sessions (on the projections' metadata: one schema)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Table, Text, UniqueConstraint

from projections.engine.tables import metadata

credentials = Table(
    "credentials",
    metadata,
    Column("nats_user", Text, primary_key=True),
    Column("province", Text, nullable=False),
    Column("agency", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("nats_password_hash", Text, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("token_hash", name="credentials_token_unique"),
)

users = Table(
    "users",
    metadata,
    Column("username", Text, primary_key=True),
    Column("province", Text, nullable=False),
    Column("agency", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("role", Text, nullable=False, comment="specialist, leader, auditor or admin"),
    Column("password_hash", Text, comment="null for an account that signs in only through its OpenID provider"),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("oidc_issuer", Text, comment="the OpenID provider the account is linked to"),
    Column("oidc_subject", Text, comment="the account's `sub` at that provider"),
    UniqueConstraint("oidc_issuer", "oidc_subject", name="uq_users_oidc"),
    comment="People who sign in to the dashboard (services.people); not derived from events",
)

sessions = Table(
    "sessions",
    metadata,
    Column("id_hash", Text, primary_key=True, comment="SHA-256 of the cookie's random session id"),
    Column("username", Text, ForeignKey("users.username", ondelete="CASCADE"), nullable=False, index=True),
    Column("csrf_token", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    comment="Signed-in sessions (services.sessions); not derived from events",
)
