"""People who sign in to the dashboard: their accounts (username, province, agency, name, title,
role), passwords kept only as hashes, and the `Identity` a signed-in person acts as.

Roles: a `specialist` (chuyên viên) or `leader` (lãnh đạo) speaks for the agency of the account, as
its token would; an `auditor` reads the province and writes nothing; an `admin` reads the province
and manages its accounts. `identity_of` is the one mapping from an account to an `Identity`: the
OpenID Connect sign-in (`services.oidc`) maps its claims to a `Person` and an agency, and goes through
it too; its accounts have no password.

Passwords are hashed with bcrypt (cost `BCRYPT_ROUNDS`) over an HMAC-SHA256 of the password keyed
with the bcrypt salt, so a password longer than bcrypt's 72 bytes still counts whole; they are
NFC-normalised first (a Vietnamese keyboard may type "ệ" composed or decomposed).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import unicodedata
from datetime import UTC, datetime
from functools import cache
from typing import Any

import bcrypt
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from projections.tables import sessions, users
from schemas.authority import SYSTEM
from schemas.envelope import SOURCE_RE, source_for
from schemas.roles import ROLES
from services.credentials import Identity, Person, ReservedIdentity

IDENTITY_ROLE = {"specialist": "agency", "leader": "agency", "auditor": "auditor", "admin": "admin"}
"""The `Identity.role` each role of a person acts with."""
USERNAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
MAX_NAME = 120
MAX_TITLE = 200
BCRYPT_ROUNDS = 12
SCHEME = "bcrypt-hmac-sha256$"
"""The prefix of every stored hash: another scheme (argon2, say) can be added beside it."""
PUBLIC_COLUMNS = (users.c.username, users.c.province, users.c.agency, users.c.name, users.c.title, users.c.role,
                  users.c.disabled, users.c.created_at, users.c.oidc_issuer)
"""What is ever read back of an account: never its hash."""


class BadAccount(ValueError):
    """An account cannot be made as asked: a field is missing, too long or not of its form."""


class UserExists(ValueError):
    """The username is taken (usernames are unique across provinces)."""


class NoSuchUser(LookupError):
    """No account has this username."""


class WrongPassword(Exception):
    """The username is unknown or the password is not its own (which of the two is not told)."""


class AccountDisabled(Exception):
    """The password is right but the account is disabled: it signs in no more."""


def _normal(password: str) -> bytes:
    return unicodedata.normalize("NFC", password).encode()


def _keyed(password: str, salt: bytes) -> bytes:
    return base64.b64encode(hmac.new(salt, _normal(password), hashlib.sha256).digest())


def hash_password(password: str, rounds: int = BCRYPT_ROUNDS) -> str:
    """The stored form of a password (slow on purpose: ~0.2 s at the default cost)."""
    salt = bcrypt.gensalt(rounds=rounds)
    return SCHEME + bcrypt.hashpw(_keyed(password, salt), salt).decode()


def verify_password(password: str, stored: str) -> bool:
    if not stored.startswith(SCHEME) or len(password) > MAX_PASSWORD:
        return False
    hashed = stored[len(SCHEME):].encode()
    try:
        return bcrypt.checkpw(_keyed(password, hashed[:29]), hashed)
    except ValueError:  # not a bcrypt hash
        return False


@cache
def _decoy() -> str:
    """A hash to check unknown usernames against, so they take as long as known ones."""
    return hash_password("not a password of anyone")


def check_password(password: str) -> str:
    """`password` if it may be one (BadAccount otherwise)."""
    if len(password) < MIN_PASSWORD:
        raise BadAccount(f"a password has at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise BadAccount(f"a password has at most {MAX_PASSWORD} characters")
    return password


def check_account(province: str, agency: str, username: str, name: str, title: str, role: str) -> None:
    """BadAccount (or ReservedIdentity for the system's own agency) unless the fields make an account."""
    if agency == SYSTEM:
        raise ReservedIdentity(agency)
    if username == SYSTEM:
        raise BadAccount(f"{SYSTEM!r} is the system's own name: no account has it")
    if role not in ROLES:
        raise BadAccount(f"role must be one of {', '.join(ROLES)}")
    if not SOURCE_RE.match(source_for(province, agency)):
        raise BadAccount("province and agency must be lowercase slugs, e.g. ha-tinh / so-ngoai-vu")
    if not USERNAME_RE.match(username):
        raise BadAccount("a username is 1-64 lowercase letters, digits, '.', '_' or '-' (e.g. nguyen.van.an)")
    for field, value, most in (("name", name, MAX_NAME), ("title", title, MAX_TITLE)):
        if not value.strip() or len(value) > most or any(unicodedata.category(c) == "Cc" for c in value):
            raise BadAccount(f"{field} is 1-{most} characters on one line")


def identity_of(province: str, agency: str, person: Person) -> Identity:
    """The identity a person acts with: the agency and province of the account, the role it maps to."""
    return Identity(province, agency, IDENTITY_ROLE[person.role], nats_user="", person=person)


def public(row: Any) -> dict[str, Any]:
    return {"username": row.username, "province": row.province, "agency": row.agency, "name": row.name,
            "title": row.title, "role": row.role, "disabled": row.disabled, "created_at": row.created_at.isoformat(),
            "oidc_issuer": row.oidc_issuer}


async def add_user(engine: AsyncEngine, *, province: str, agency: str, username: str, name: str, title: str,
                   role: str, password: str) -> dict[str, Any]:
    """Create an account; returns it as `list_users` shows it (UserExists for a taken username)."""
    name, title = name.strip(), title.strip()
    check_account(province, agency, username, name, title, role)
    hashed = await asyncio.to_thread(hash_password, check_password(password))
    row = {"username": username, "province": province, "agency": agency, "name": name, "title": title,
           "role": role, "password_hash": hashed, "disabled": False, "created_at": datetime.now(UTC),
           "oidc_issuer": None}
    try:
        async with engine.begin() as conn:
            await conn.execute(users.insert().values(**row))
    except IntegrityError:
        raise UserExists(f"the username {username!r} is taken") from None
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items() if k != "password_hash"}


async def list_users(engine: AsyncEngine, province: str | None = None,
                     agency: str | None = None) -> list[dict[str, Any]]:
    """Every account (never its hash), by province, agency and username."""
    query = select(*PUBLIC_COLUMNS).order_by(users.c.province, users.c.agency, users.c.username)
    if province is not None:
        query = query.where(users.c.province == province)
    if agency is not None:
        query = query.where(users.c.agency == agency)
    async with engine.connect() as conn:
        return [public(r) for r in await conn.execute(query)]


async def get_user(engine: AsyncEngine, username: str) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = (await conn.execute(select(*PUBLIC_COLUMNS).where(users.c.username == username))).first()
    if row is None:
        raise NoSuchUser(f"no account {username!r}")
    return public(row)


async def _end_sessions(conn: AsyncConnection, username: str) -> None:
    await conn.execute(delete(sessions).where(sessions.c.username == username))


async def set_disabled(engine: AsyncEngine, username: str, disabled: bool = True) -> dict[str, Any]:
    """Disable (or enable again) an account; disabling ends its sessions. NoSuchUser if there is none."""
    async with engine.begin() as conn:
        done = await conn.execute(users.update().where(users.c.username == username).values(disabled=disabled))
        if not done.rowcount:
            raise NoSuchUser(f"no account {username!r}")
        if disabled:
            await _end_sessions(conn, username)
    return await get_user(engine, username)


async def reset_password(engine: AsyncEngine, username: str, password: str) -> dict[str, Any]:
    """Give the account a new password and end its sessions. NoSuchUser if there is none."""
    hashed = await asyncio.to_thread(hash_password, check_password(password))
    async with engine.begin() as conn:
        done = await conn.execute(users.update().where(users.c.username == username).values(password_hash=hashed))
        if not done.rowcount:
            raise NoSuchUser(f"no account {username!r}")
        await _end_sessions(conn, username)
    return await get_user(engine, username)


async def authenticate(engine: AsyncEngine, username: str, password: str) -> Identity:
    """The identity of the account if `password` is its own: WrongPassword otherwise (an unknown
    username costs the same time, and so does an account of the single sign-on, which has no password),
    AccountDisabled for a disabled account's right password."""
    async with engine.connect() as conn:
        row = (await conn.execute(select(users).where(users.c.username == username))).first()
    stored = row.password_hash if row is not None and row.password_hash is not None else _decoy()
    if not await asyncio.to_thread(verify_password, password, stored) or row is None or row.password_hash is None:
        raise WrongPassword("wrong username or password")
    if row.disabled or row.agency == SYSTEM:
        raise AccountDisabled(f"the account {username!r} is disabled")
    return identity_of(row.province, row.agency, Person(row.username, row.name, row.title, row.role))
