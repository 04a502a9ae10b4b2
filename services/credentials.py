"""Agency credentials: an HTTP bearer token and a NATS user each, stored hashed; issued, listed,
revoked and rotated here."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import bcrypt
import structlog
from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.authority import SYSTEM
from schemas.envelope import SOURCE_RE, source_for
from services.db import engine_key
from services.db.tables import credentials
from services.natsauth import NatsUser, inbox_prefix

ROLES = ("agency", "auditor")
log = structlog.get_logger(__name__)


class UnknownToken(Exception):
    """The bearer token is missing, unknown or revoked."""


class ReservedIdentity(ValueError):
    """Credentials were asked for the system's own identity (`schemas.authority.SYSTEM`, agency
    `doingoai`), which only the services publish as: they connect with their own secret instead."""

    def __init__(self, agency: str) -> None:
        self.agency = agency
        super().__init__(f"{agency!r} is the system's own identity (escalations): no credentials speak as it; "
                         "issue them for the agency's own slug, e.g. so-ngoai-vu")


def check_not_reserved(agency: str) -> str:
    """`agency` unless it is the system identity (`ReservedIdentity`)."""
    if agency == SYSTEM:
        raise ReservedIdentity(agency)
    return agency


@dataclass(frozen=True)
class Person:
    """The official behind a signed-in session (`services.people`): who acts, not only for which agency."""

    username: str
    name: str
    title: str
    role: str
    """specialist, leader, auditor or admin (`schemas.roles.ROLES`)."""

    @property
    def actor(self) -> str:
        """The CloudEvents `actor` of what the person records: `<name> (<username>)`."""
        return f"{self.name} ({self.username})"


@dataclass(frozen=True)
class Identity:
    """Who makes a request: an agency's (or auditor's) token, or a signed-in person (`person`) with
    the agency, province and role of their account. `role` is `agency` (publishes as the agency),
    `auditor` (reads its province) or `admin` (reads its province, manages its users)."""

    province: str
    agency: str
    role: str
    nats_user: str
    person: Person | None = None

    @property
    def source(self) -> str:
        return source_for(self.province, self.agency)

    @property
    def can_publish(self) -> bool:
        return self.role == "agency"

    @property
    def actor(self) -> str | None:
        """The `actor` the system sets on events recorded in a signed-in session (None for a token)."""
        return self.person.actor if self.person is not None else None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def password_hash(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()


def _new_row(province: str, agency: str, role: str) -> tuple[dict[str, object], dict[str, str]]:
    """A credentials row and the secrets it hashes (returned once, never stored). Raises
    `ReservedIdentity` for the system identity and ValueError for an unknown role or slugs that are
    not lowercase."""
    check_not_reserved(agency)
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    if not SOURCE_RE.match(source_for(province, agency)):
        raise ValueError("province and agency must be lowercase slugs, e.g. ha-tinh / so-ngoai-vu")
    token = "dgo_" + secrets.token_urlsafe(32)
    password = secrets.token_urlsafe(24)
    nats_user = f"{province}.{agency}.{secrets.token_hex(4)}"
    row: dict[str, object] = {"nats_user": nats_user, "province": province, "agency": agency, "role": role,
                              "token_hash": token_hash(token), "nats_password_hash": password_hash(password),
                              "revoked": False, "created_at": datetime.now(UTC)}
    issued = {"province": province, "agency": agency, "role": role, "token": token, "nats_user": nats_user,
              "nats_password": password, "nats_inbox_prefix": inbox_prefix(nats_user)}
    return row, issued


async def issue(engine: AsyncEngine, province: str, agency: str, role: str = "agency") -> dict[str, str]:
    """Create credentials; returns the secrets once (only their hashes are kept)."""
    row, issued = _new_row(province, agency, role)
    async with engine.begin() as conn:
        await conn.execute(credentials.insert().values(**row))
    return issued


def _active(province: str, agency: str) -> ColumnElement[bool]:
    return and_(credentials.c.province == province, credentials.c.agency == agency,
                credentials.c.revoked.is_(False))


async def revoke(engine: AsyncEngine, province: str, agency: str) -> list[str]:
    """Mark every active credential of the agency revoked; returns the NATS users it had. (The
    caller regenerates the NATS authorization; HTTP refuses the tokens within `IDENTITY_TTL_S`.)"""
    async with engine.begin() as conn:
        rows = await conn.execute(
            credentials.update().where(_active(province, agency)).values(revoked=True)
            .returning(credentials.c.nats_user))
        return sorted(rows.scalars())


class NoActiveCredentials(LookupError):
    """The agency has no credentials that are not revoked: there is nothing to rotate."""


async def rotate(engine: AsyncEngine, province: str, agency: str) -> tuple[dict[str, str], list[str]]:
    """Issue new credentials with the role of the agency's newest active ones and revoke those, in
    one transaction; returns the new secrets and the NATS users revoked."""
    async with engine.begin() as conn:
        newest = (await conn.execute(select(credentials.c.role).where(_active(province, agency))
                                     .order_by(credentials.c.created_at.desc()).limit(1))).scalar()
        if newest is None:
            raise NoActiveCredentials(f"no active credentials for {province}/{agency}: use `credentials issue`")
        old = await conn.execute(credentials.update().where(_active(province, agency)).values(revoked=True)
                                 .returning(credentials.c.nats_user))
        revoked = sorted(old.scalars())
        row, issued = _new_row(province, agency, newest)
        await conn.execute(credentials.insert().values(**row))
    return issued, revoked


async def list_credentials(engine: AsyncEngine, province: str | None = None,
                           agency: str | None = None) -> list[dict[str, object]]:
    """Every credential (no secret, no hash), oldest first."""
    query = select(credentials.c.province, credentials.c.agency, credentials.c.role, credentials.c.nats_user,
                   credentials.c.revoked, credentials.c.created_at).order_by(
        credentials.c.province, credentials.c.agency, credentials.c.created_at)
    if province is not None:
        query = query.where(credentials.c.province == province)
    if agency is not None:
        query = query.where(credentials.c.agency == agency)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [{"province": r.province, "agency": r.agency, "role": r.role, "nats_user": r.nats_user,
             "nats_inbox_prefix": inbox_prefix(r.nats_user), "revoked": r.revoked,
             "created_at": r.created_at.isoformat()} for r in rows]


async def nats_users(engine: AsyncEngine) -> list[NatsUser]:
    """The NATS users of the credentials in force; any stored for the system identity are left out."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(credentials).where(credentials.c.revoked.is_(False)))).all()
    for r in rows:
        if r.agency == SYSTEM:
            log.warning("credentials.reserved_identity_ignored", nats_user=r.nats_user, province=r.province)
    return [NatsUser(r.nats_user, r.nats_password_hash, r.role, r.province, r.agency) for r in rows
            if r.agency != SYSTEM]


IDENTITY_TTL_S = 10.0
"""How long a verified token is trusted without asking the database again (the longest a revoked
token keeps working on a running HTTP service)."""
_verified: dict[tuple[str, str], tuple[float, Identity]] = {}


async def identify(engine: AsyncEngine, token: str | None) -> Identity:
    if not token:
        raise UnknownToken("missing bearer token")
    key = (engine_key(engine), token_hash(token))
    cached = _verified.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(credentials).where(credentials.c.token_hash == key[1], credentials.c.revoked.is_(False))
            )
        ).first()
    if row is None or row.agency == SYSTEM:  # the system identity has no token
        _verified.pop(key, None)
        raise UnknownToken("unknown or revoked token")
    who = Identity(row.province, row.agency, row.role, row.nats_user)
    if len(_verified) > 10_000:
        _verified.clear()
    _verified[key] = (time.monotonic() + IDENTITY_TTL_S, who)
    return who
