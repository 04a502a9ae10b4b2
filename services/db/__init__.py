"""PostgreSQL access: engines bound to a read-model schema, and migrations."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

DEFAULT_SCHEMA = "doingoai"
_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_schema(schema: str) -> str:
    if not _SCHEMA_RE.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    return schema


def async_url(url: str) -> str:
    """postgresql://... -> postgresql+asyncpg://..."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    raise ValueError(f"not a PostgreSQL URL: {url}")


def make_engine(url: str, schema: str = DEFAULT_SCHEMA, pool_size: int = 5) -> AsyncEngine:
    """An engine whose connections see the read-model tables of `schema` unqualified."""
    check_schema(schema)
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=5,
        pool_pre_ping=True,
        connect_args={"server_settings": {"search_path": schema, "application_name": "doingoai"}},
    )
