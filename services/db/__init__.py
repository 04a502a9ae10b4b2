"""PostgreSQL access: engines bound to a read-model schema, and migrations."""

from __future__ import annotations

import json
import re
from typing import Any
from weakref import finalize

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from schemas.fastjson import loads

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


_URLS: dict[int, str] = {}
"""id(engine) -> str(engine.url), while the engine lives."""


def engine_key(engine: AsyncEngine) -> str:
    """`str(engine.url)`, the database a cache's entries belong to: rendered once per engine (a URL
    takes microseconds to render, and the request caches look it up on every request)."""
    key = _URLS.get(id(engine))
    if key is None:
        key = _URLS[id(engine)] = str(engine.url)
        finalize(engine, _URLS.pop, id(engine), None)
    return key


def make_engine(url: str, schema: str = DEFAULT_SCHEMA, pool_size: int = 5, *, pre_ping: bool = True) -> AsyncEngine:
    """An engine whose connections see the read-model tables of `schema` unqualified.

    With `pre_ping` every checkout first tests the connection: three round trips (BEGIN, a
    query, ROLLBACK), more than a small projection batch's writes take. Engines of projection
    runners go without: a batch whose connection turns out dead fails, is retried, and the pool
    then replaces every connection opened before the failure."""
    check_schema(schema)
    engine = create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=5,
        pool_pre_ping=pre_ping,
        connect_args={"server_settings": {"search_path": schema, "application_name": "doingoai"}},
    )
    event.listen(engine.sync_engine, "connect", _jsonb_takes_bytes)
    return engine


def _jsonb_encoder(value: str | bytes) -> bytes:
    """JSONB in binary: a version byte, then the document (text from SQLAlchemy's serialiser, or
    bytes of a document already encoded, such as a stored event: sent as they are)."""
    return b"\x01" + (value if isinstance(value, bytes) else value.encode())


def _jsonb_decoder(value: bytes) -> Any:
    return loads(value[1:], json.loads)


def _jsonb_takes_bytes(dbapi_connection: Any, _record: Any) -> None:
    """(on connect, after SQLAlchemy's own codec) JSONB as SQLAlchemy's asyncpg dialect codes it,
    and encoded JSON bytes written as they are."""
    dbapi_connection.run_async(lambda driver: driver.set_type_codec(
        "jsonb", encoder=_jsonb_encoder, decoder=_jsonb_decoder, schema="pg_catalog", format="binary"))
