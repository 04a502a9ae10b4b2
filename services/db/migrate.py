"""Run the Alembic migrations of the read-model schema (any schema name, for replays)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

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
