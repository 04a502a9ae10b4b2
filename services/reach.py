"""Whether NATS and PostgreSQL answer as the system's own, within seconds.

The services' connections reconnect for ever once up (`services.store.connect`); a command must
not retry for ever against a server that refuses its credentials or never speaks. These checks run
first, with a bound, and raise `Unreachable` with one line naming the server and why."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import asyncpg
import nats
from nats import errors as nats_errors

from services.natsauth import SERVICES_INBOX_PREFIX
from services.settings import Unreachable

NATS_CONNECT_S = 2.0
DATABASE_CONNECT_S = 5.0


def _why(exc: BaseException) -> str:
    if isinstance(exc, nats_errors.AuthorizationError) or "authorization" in str(exc).lower():
        return "it refuses the system's credentials (Authorization Violation): not this system's server"
    if isinstance(exc, asyncio.TimeoutError | nats_errors.TimeoutError):
        return "no answer in time (is it a NATS server?)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (not running)"
    if isinstance(exc, ConnectionResetError):  # a refusal whose -ERR the reset overtook
        return "it dropped the connection as the system signed in: refused credentials, not this system's server"
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


async def check_nats(servers: list[str], *, user: str | None, password: str | None) -> None:
    """Connect once (two tries per server, NATS_CONNECT_S each) and close; Unreachable otherwise."""
    seen: list[BaseException] = []

    async def note(exc: Exception) -> None:  # instead of nats-py's own logging of every try
        seen.append(exc)

    try:
        nc = await nats.connect(servers=servers, user=user, password=password, name="doingoai-check",
                                connect_timeout=NATS_CONNECT_S, max_reconnect_attempts=1, reconnect_time_wait=0.2,
                                inbox_prefix=SERVICES_INBOX_PREFIX, error_cb=note)
    except Exception as exc:
        cause = next((e for e in seen if isinstance(e, nats_errors.AuthorizationError)), seen[-1] if seen else exc)
        raise Unreachable(f"NATS at {', '.join(servers)}: {_why(cause)}") from None
    await nc.close()


async def check_database(url: str) -> None:
    """Connect once within DATABASE_CONNECT_S and close; Unreachable otherwise (no password shown)."""
    plain = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    parts = urlsplit(plain)
    where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
    try:
        conn = await asyncio.wait_for(asyncpg.connect(plain, timeout=DATABASE_CONNECT_S), DATABASE_CONNECT_S + 1)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        why = _why(exc)
        if isinstance(exc, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError):
            why = "it refuses the system's credentials: not this system's server"
        elif isinstance(exc, TimeoutError):
            why = "no answer in time (is it a PostgreSQL server?)"
        raise Unreachable(f"PostgreSQL at {where}: {why}") from None
    await conn.close()
