"""Open the services' NATS connections (no connection is made at import time): replies come on
the services' own inbox prefix, which no agency or auditor may subscribe to."""

from __future__ import annotations

import nats
import structlog
from nats.aio.client import Client

from services.natsauth import SERVICES_INBOX_PREFIX

log = structlog.get_logger(__name__)


async def _connection_error(exc: Exception) -> None:
    """One line per error (a server restarting, a connection lost), not nats-py's traceback."""
    log.warning("nats.connection_error", error=repr(exc))


async def connect(
    servers: list[str], *, user: str | None = None, password: str | None = None, name: str = "doingoai"
) -> Client:
    return await nats.connect(
        servers=servers,
        user=user,
        password=password,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        inbox_prefix=SERVICES_INBOX_PREFIX,
        error_cb=_connection_error,
    )
