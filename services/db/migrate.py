"""Run the Alembic migrations of the read-model schema (any schema name, for replays)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from services.db import DEFAULT_SCHEMA, check_schema, make_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(connection: Connection, schema: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    cfg.attributes["schema"] = schema
    return cfg


async def migrate(url: str, schema: str = DEFAULT_SCHEMA) -> None:
    """Create `schema` if needed and upgrade it to the newest revision."""
    check_schema(schema)
    engine = make_engine(url, schema, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('doingoai-migrate'))"))
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            await conn.execute(text(f'SET LOCAL search_path TO "{schema}"'))
            await conn.run_sync(lambda sync: command.upgrade(_config(sync, schema), "heads"))
    finally:
        await engine.dispose()


async def drop_schema(url: str, schema: str) -> None:
    check_schema(schema)
    if schema == DEFAULT_SCHEMA:
        raise ValueError("refusing to drop the live schema")
    engine = make_engine(url, schema, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        await engine.dispose()


_UNSET_AUTOVACUUM = text(
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = :schema AND c.relkind = 'r'"
    " AND NOT coalesce(c.reloptions::text LIKE '%autovacuum_enabled%', false) ORDER BY c.relname"
)
"""The plain tables of a schema without an autovacuum_enabled option (which an operator may have set)."""


async def _alter_tables(engine: AsyncEngine, schema: str, tables: list[str], clause: str) -> None:
    async with engine.begin() as conn:
        for table in tables:
            await conn.execute(text(f'ALTER TABLE "{schema}"."{table}" {clause}'))


@asynccontextmanager
async def autovacuum_paused(engine: AsyncEngine, schema: str) -> AsyncIterator[None]:
    """Autovacuum held off `schema`'s tables while they are bulk-loaded (a replay), then handed back.

    On tables filling up, autovacuum runs again and again, each time a table has grown by a fifth
    (a vacuum of the pages new since the last) or by a tenth (an ANALYZE): measured on a
    1,000,000-event replay, 8 s of CPU, about 4% of the machine's. Handed back at the end, it
    vacuums and analyzes each table once, within a minute (`autovacuum_naptime`). Tables with an
    autovacuum_enabled option of their own are left as they are. A load killed midway leaves it
    off on its unfinished tables; `ALTER TABLE ... RESET (autovacuum_enabled)` hands it back."""
    check_schema(schema)
    async with engine.connect() as conn:
        tables = list((await conn.execute(_UNSET_AUTOVACUUM, {"schema": schema})).scalars())
    await _alter_tables(engine, schema, tables, "SET (autovacuum_enabled = false, toast.autovacuum_enabled = false)")
    try:
        yield
    finally:
        await _alter_tables(engine, schema, tables, "RESET (autovacuum_enabled, toast.autovacuum_enabled)")
