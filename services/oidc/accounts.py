"""Accounts linked to an OpenID provider: made at a person's first sign-in through it, brought up to
date from the provider's claims at every later one.

An account is linked by the provider's issuer and the person's `sub` there, never by the username
alone: a provider whose claims name the username of an account made with a password (or linked to
another person) does not take it over (`UsernameTaken`). A linked account has no password; its
username stays the one of its first sign-in. An administrator disables it like any account, and a
disabled account signs in no more (`AccountDisabled`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from projections.tables import users
from services.credentials import Identity, Person
from services.oidc.claims import MappedPerson
from services.people import AccountDisabled, check_account, identity_of


class UsernameTaken(Exception):
    """The username the claims give belongs to another account (one with a password, or one linked to
    another person): the sign-in is refused, nothing is changed."""


async def _linked(conn: AsyncConnection, issuer: str, subject: str) -> Any:
    query = select(users).where(users.c.oidc_issuer == issuer, users.c.oidc_subject == subject).with_for_update()
    return (await conn.execute(query)).first()


async def sign_in_linked(engine: AsyncEngine, issuer: str, person: MappedPerson) -> Identity:
    """The identity of the account linked to (`issuer`, `person.subject`), made or brought up to date
    from `person`; AccountDisabled or UsernameTaken otherwise (BadAccount if `person` cannot be one)."""
    check_account(person.province, person.agency, person.username, person.name, person.title, person.role)
    fields = {"province": person.province, "agency": person.agency, "name": person.name, "title": person.title,
              "role": person.role}
    async with engine.begin() as conn:
        row = await _linked(conn, issuer, person.subject)
        if row is None:
            made = await conn.execute(insert(users).values(
                username=person.username, password_hash=None, disabled=False, created_at=datetime.now(UTC),
                oidc_issuer=issuer, oidc_subject=person.subject, **fields).on_conflict_do_nothing())
            if made.rowcount:
                return identity_of(person.province, person.agency,
                                   Person(person.username, person.name, person.title, person.role))
            row = await _linked(conn, issuer, person.subject)  # a first sign-in of the same person, just now
            if row is None:
                raise UsernameTaken(f"the username {person.username!r} belongs to another account")
        if row.disabled:
            raise AccountDisabled(f"the account {row.username!r} is disabled")
        if any(getattr(row, k) != v for k, v in fields.items()):
            await conn.execute(users.update().where(users.c.username == row.username).values(**fields))
    return identity_of(person.province, person.agency, Person(row.username, person.name, person.title, person.role))
