"""A replay's schema is bulk-loaded with autovacuum held off its tables, and handed back after; rows are
appended alike whichever way `copy_rows` sends them, and alike when `combined_writes` sends them together."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import BigInteger, Column, DateTime, LargeBinary, MetaData, Table, Text, func, select
from sqlalchemy.dialects.postgresql import JSONB

from projections.engine.bulk import SMALL_COPY, combined_writes, copy_rows, driver, insert_rows, select_rows
from services.db import make_engine
from services.db.migrate import autovacuum_paused, drop_schema, migrate
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


async def test_appended_rows_are_the_same_by_insert_or_by_copy_and_a_taken_key_fails_either(system: System):
    """`copy_rows` writes fewer than SMALL_COPY rows with one INSERT of arrays and more with COPY: the
    same values come back either way (JSONB as text and as bytes, NULLs, bytes, times), and a row whose
    key exists fails the whole statement in both, writing nothing."""
    url, schema = system.runtime()["database_url"], f"t_append_{uuid.uuid4().hex[:8]}"
    table = Table("appended", MetaData(), Column("seq", BigInteger, primary_key=True), Column("note", Text),
                  Column("doc", JSONB), Column("raw", LargeBinary), Column("at", DateTime(timezone=True)))
    now = datetime.now(UTC)

    def rows(first: int, count: int) -> list[dict[str, Any]]:
        return [{"seq": n, "note": None if n % 3 else f"Nguyễn {n}", "raw": bytes([n % 256]) * 3, "at": now,
                 "doc": {"n": n, "tên": "Hà Tĩnh"} if n % 2 else b'{"n": %d}' % n} for n in range(first, first + count)]

    await migrate(url, schema)
    engine = make_engine(url, schema, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(table.metadata.create_all)
        for first, count in ((1, 3), (1000, SMALL_COPY + 50)):
            async with engine.begin() as conn:
                await copy_rows(conn, table, rows(first, count))
            async with engine.connect() as conn:
                got = [dict(r) for r in (await conn.execute(
                    select(table).where(table.c.seq >= first).order_by(table.c.seq).limit(count))).mappings()]
            assert got == [{**r, "doc": r["doc"] if isinstance(r["doc"], dict) else json.loads(r["doc"])}
                           for r in rows(first, count)]
            taken = rows(first + count - 1, count)  # its first row's key is stored
            with pytest.raises(asyncpg.UniqueViolationError):
                async with engine.begin() as conn:
                    await copy_rows(conn, table, taken)
            async with engine.connect() as conn:
                later = select(func.count()).select_from(table).where(table.c.seq >= first + count)
                assert await conn.scalar(later) == 0
    finally:
        await engine.dispose()
        await drop_schema(url, schema)


async def test_combined_writes_go_as_one_statement_with_the_outcome_of_separate_ones(system: System):
    """Within `combined_writes`, small appends and upserts to several tables reach PostgreSQL as one
    statement with the rows separate statements write; a second write to a table, or a read, sends
    what is held first, so it sees it; a block that fails writes nothing."""
    url, schema = system.runtime()["database_url"], f"t_combined_{uuid.uuid4().hex[:8]}"
    meta = MetaData()
    notes = Table("notes", meta, Column("seq", BigInteger, primary_key=True), Column("note", Text),
                  Column("doc", JSONB))
    tallies = Table("tallies", meta, Column("name", Text, primary_key=True), Column("count", BigInteger))
    await migrate(url, schema)
    engine = make_engine(url, schema, pool_size=1)
    sent: list[str] = []

    async def logged() -> list[str]:
        await asyncio.sleep(0)  # asyncpg calls its query loggers soon after
        return sent

    try:
        async with engine.begin() as conn:
            await conn.run_sync(meta.create_all)
            await insert_rows(conn, tallies, [{"name": "Hà Tĩnh", "count": 1}])
        async with engine.begin() as conn:
            (await driver(conn)).add_query_logger(  # the statements on these tables (not asyncpg's type lookups)
                lambda record: sent.append(record.query) if '"notes"' in record.query or '"tallies"' in record.query
                else None)
            async with combined_writes(conn):
                await copy_rows(conn, notes, [{"seq": n, "note": f"Nguyễn {n}", "doc": {"n": n}} for n in (1, 2)])
                await insert_rows(conn, tallies, [{"name": "Hà Tĩnh", "count": 2}, {"name": "Huế", "count": 5}],
                                  conflict="name", update=True)
                assert await logged() == []  # held
            assert len(await logged()) == 1 and sent[0].startswith("WITH ")
            sent.clear()
            async with combined_writes(conn):
                await copy_rows(conn, notes, [{"seq": 3, "note": None, "doc": None}])
                await insert_rows(conn, notes, [{"seq": 3, "note": "again", "doc": None}])  # skipped: seq 3 is there
                assert len(await logged()) == 1  # the first sent before the second
                assert set(await select_rows(conn, tallies, "name", ["Huế"])) == {"Huế"}
                assert len(await logged()) == 3  # the held write, then the read
        async with engine.connect() as conn:
            got_notes = [tuple(r) for r in await conn.execute(select(notes).order_by(notes.c.seq))]
            got_tallies = dict(tuple(r) for r in await conn.execute(select(tallies)))  # type: ignore[misc]
        assert got_notes == [(1, "Nguyễn 1", {"n": 1}), (2, "Nguyễn 2", {"n": 2}), (3, None, None)]
        assert got_tallies == {"Hà Tĩnh": 2, "Huế": 5}
        with pytest.raises(RuntimeError, match="the batch failed"):
            async with engine.connect() as conn:
                async with combined_writes(conn):
                    await copy_rows(conn, notes, [{"seq": 9, "note": "lost", "doc": None}])
                    raise RuntimeError("the batch failed")
                await conn.commit()
        async with engine.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(notes)) == 3
    finally:
        await engine.dispose()
        await drop_schema(url, schema)
