"""Signed-in sessions, kept on the server: the cookie holds a random id (256 bits) and the table
`sessions` only its SHA-256, with the account, a CSRF token and the expiry. Signing out deletes the
row, so the cookie stops working at once; disabling an account or resetting its password deletes
its rows (`services.people`), and a running HTTP service stops trusting them within
`SESSION_CHECK_S`.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.authority import SYSTEM
from services.credentials import Identity, Person
from services.db import engine_key
from services.db.tables import sessions, users
from services.people import identity_of

SESSION_TTL = timedelta(hours=12)
"""How long a sign-in lasts (a working day); then the person signs in again."""
SESSION_CHECK_S = 10.0
"""How long a verified session is trusted without asking the database again, as for tokens
(`services.credentials.IDENTITY_TTL_S`); signing out on this service forgets it at once."""


class NoSession(Exception):
    """The session id is unknown, expired, signed out, or its account is disabled."""


@dataclass(frozen=True)
class Session:
    """A signed-in session: who it is, its CSRF token (sent back in `X-CSRF-Token` on writes), its end."""

    identity: Identity
    csrf_token: str
    expires_at: datetime

    @property
    def person(self) -> Person:
        assert self.identity.person is not None
        return self.identity.person


def id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


_verified: dict[tuple[str, str], tuple[float, Session]] = {}


async def open_session(engine: AsyncEngine, identity: Identity) -> tuple[str, Session]:
    """A new session of the signed-in person: its id (for the cookie, never stored) and the session.
    Expired sessions of anyone are deleted on the way."""
    assert identity.person is not None
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(delete(sessions).where(sessions.c.expires_at <= func.now()))
        await conn.execute(sessions.insert().values(id_hash=id_hash(session_id), username=identity.person.username,
                                                    csrf_token=csrf, created_at=now, expires_at=now + SESSION_TTL))
    return session_id, Session(identity, csrf, now + SESSION_TTL)


async def session_of(engine: AsyncEngine, session_id: str) -> Session:
    """The session of a cookie's id, or NoSession."""
    key = (engine_key(engine), id_hash(session_id))
    cached = _verified.get(key)
    if cached is not None and cached[0] > time.monotonic() and cached[1].expires_at > datetime.now(UTC):
        return cached[1]
    query = (select(sessions.c.csrf_token, sessions.c.expires_at, users)
             .join(users, users.c.username == sessions.c.username)
             .where(sessions.c.id_hash == key[1], sessions.c.expires_at > func.now(), users.c.disabled.is_(False)))
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None or row.agency == SYSTEM:
        _verified.pop(key, None)
        raise NoSession("not signed in, or the session has ended")
    person = Person(row.username, row.name, row.title, row.role)
    found = Session(identity_of(row.province, row.agency, person), row.csrf_token, row.expires_at)
    if len(_verified) > 10_000:
        _verified.clear()
    _verified[key] = (time.monotonic() + SESSION_CHECK_S, found)
    return found


async def close_session(engine: AsyncEngine, session_id: str) -> None:
    """Sign out: the session's row is deleted and this process forgets it."""
    key = (engine_key(engine), id_hash(session_id))
    _verified.pop(key, None)
    async with engine.begin() as conn:
        await conn.execute(delete(sessions).where(sessions.c.id_hash == key[1]))


def forget_user(username: str) -> None:
    """This process trusts no cached session of `username` (after disabling it or resetting its password)."""
    for key in [k for k, (_, found) in _verified.items() if found.person.username == username]:
        _verified.pop(key, None)
