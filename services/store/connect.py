"""Open NATS connections (no connection is made at import time)."""

from __future__ import annotations

import nats
from nats.aio.client import Client


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
    )
