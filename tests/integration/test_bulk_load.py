"""A replay's schema is bulk-loaded with autovacuum held off its tables, and handed back after."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from services.db import make_engine
from services.db.migrate import autovacuum_paused, migrate
from tests.support import System

pytestmark = pytest.mark.integration


async def table_options(url: str, schema: str) -> dict[str, list[str]]:
    """Every table of `schema` with its storage options."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT c.relname, coalesce(c.reloptions, '{}') AS options FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'",
            schema,
        )
    finally:
        await conn.close()
    return {r["relname"]: sorted(r["options"]) for r in rows}


async def test_autovacuum_is_held_off_while_loading_and_handed_back_even_after_a_failure(system: System):
    url, schema = system.runtime()["database_url"], f"t_bulk_{uuid.uuid4().hex[:8]}"
    await migrate(url, schema)
    conn = await asyncpg.connect(url)
    try:  # an operator's own setting on one table
        await conn.execute(f'ALTER TABLE "{schema}".partners SET (autovacuum_enabled = true)')
    finally:
        await conn.close()
    before = await table_options(url, schema)
    assert len(before) > 10 and before["partners"] == ["autovacuum_enabled=true"]
    engine = make_engine(url, schema, pool_size=1)
    try:
        with pytest.raises(RuntimeError, match="the load failed"):
            async with autovacuum_paused(engine, schema):
                during = await table_options(url, schema)
                raise RuntimeError("the load failed")
    finally:
        await engine.dispose()
    paused = {t: o for t, o in during.items() if t != "partners"}
    assert set(paused) == set(before) - {"partners"}
    assert all(o == ["autovacuum_enabled=false"] for o in paused.values()), paused  # (TOAST tables' own options)
    assert during["partners"] == ["autovacuum_enabled=true"]
    assert await table_options(url, schema) == before
