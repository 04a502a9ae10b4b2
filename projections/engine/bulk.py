"""Whole batches of rows in one statement, on the asyncpg connection under the caller's
SQLAlchemy connection, inside its transaction.

The projections write hundreds of rows per batch. Building them into SQL row by row (SQLAlchemy's
executemany) costs more CPU than PostgreSQL spends storing them. `insert_rows` sends each column
as one typed array, spread with `unnest` (a prepared statement, conflicts skipped or updated);
`copy_rows` appends with binary COPY, the cheapest way in for both sides (asyncpg checks the type
of every array element, COPY encodes each value with its column's codec), for rows nothing else
can have written (a conflict is an error there, not skipped). COPY costs two round trips (the server
answers the COPY before the rows go), so fewer than SMALL_COPY rows, a small batch's under a steady
load, go in one prepared INSERT of arrays instead, with the same outcome.

Within `combined_writes`, those INSERTs of arrays are held and sent together, as one statement of
data-modifying WITH queries: a small batch's writes to every table cost one round trip, not one each.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from functools import cache, lru_cache
from operator import itemgetter
from typing import Any

import asyncpg
from sqlalchemy import BigInteger, Boolean, Column, Date, DateTime, Integer, LargeBinary, Numeric, Table, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas.fastjson import dumps

Row = dict[str, Any]
SMALL_COPY = 100
"""`copy_rows` of fewer rows than this is one INSERT of arrays (one round trip), not a COPY (two)."""
_TYPES: tuple[tuple[type, str], ...] = (
    (BigInteger, "int8"),  # before Integer: BigInteger is one
    (Integer, "int4"),
    (Boolean, "bool"),
    (Date, "date"),
    (DateTime, "timestamptz"),
    (Numeric, "numeric"),
    (JSONB, "jsonb"),
    (LargeBinary, "bytea"),
    (Text, "text"),
)


def pg_type(column: Column[Any]) -> str:
    for kind, name in _TYPES:
        if isinstance(column.type, kind):
            return name
    raise TypeError(f"{column.table.name}.{column.name}: no array type for {column.type!r}")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def driver(conn: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under `conn`, with `conn`'s transaction begun. SQLAlchemy sends BEGIN
    lazily, before the first statement it runs; if it has not yet, a statement run through it
    here sends it, as it would have."""
    raw = await conn.get_raw_connection()
    driver_connection: asyncpg.Connection = raw.driver_connection  # type: ignore[assignment]
    if conn.in_transaction() and not driver_connection.is_in_transaction():
        await conn.exec_driver_sql(BEGUN)
    return driver_connection


BEGUN = "SELECT 1"
"""What `driver` runs through SQLAlchemy to have it begin its transaction."""


async def fetch(conn: AsyncConnection, sql: str, *args: Any) -> Sequence[Sequence[Any]]:
    """The rows of an asyncpg statement (`$1`, ...) in `conn`'s transaction. While SQLAlchemy has not
    sent its BEGIN, the statement goes through SQLAlchemy, which sends it first: the transaction's
    first query then costs no `BEGUN` round trip of its own (as through `driver`)."""
    raw = await conn.get_raw_connection()
    driver_connection: asyncpg.Connection = raw.driver_connection  # type: ignore[assignment]
    if conn.in_transaction() and not driver_connection.is_in_transaction():
        return (await conn.exec_driver_sql(sql, args)).all()
    await _written(driver_connection)
    return await driver_connection.fetch(sql, *args)


class _Held:
    """INSERTs of arrays held on one asyncpg connection, to be sent as one statement."""

    def __init__(self, adb: asyncpg.Connection):
        self.adb = adb
        self.writes: list[tuple[str, str, Sequence[Any]]] = []
        """(table, statement, its arguments)"""

    async def add(self, table: str, sql: str, args: Sequence[Any]) -> None:
        if any(held == table for held, _, _ in self.writes):  # the second write sees the first
            await self.send()
        self.writes.append((table, sql, args))

    async def send(self) -> None:
        writes, self.writes = self.writes, []
        if writes:
            await self.adb.execute(_together(tuple(sql for _, sql, _ in writes)),
                                   *[a for _, _, args in writes for a in args])


_HELD: ContextVar[_Held | None] = ContextVar("held_writes", default=None)
_PARAMETER = re.compile(r"\$(\d+)")


@lru_cache(maxsize=256)
def _together(statements: tuple[str, ...]) -> str:
    """`statements` (INSERTs with parameters $1...) as one: the first ones as data-modifying WITH
    queries, their parameters numbered on. PostgreSQL runs them all on one snapshot; none writes a
    table another one does (`_Held.add`)."""
    numbered, offset = [], 0
    for sql in statements:
        numbered.append(_renumbered(sql, offset))
        offset += len(set(_PARAMETER.findall(sql)))
    *first, last = numbered
    if not first:
        return last
    return "WITH " + ", ".join(f"w{n} AS ({sql})" for n, sql in enumerate(first)) + " " + last


def _renumbered(sql: str, offset: int) -> str:
    return _PARAMETER.sub(lambda m: f"${int(m.group(1)) + offset}", sql)


@asynccontextmanager
async def combined_writes(conn: AsyncConnection) -> AsyncIterator[None]:
    """The INSERTs of arrays that `insert_rows` and `copy_records` run on `conn` in this block (in this
    task) are sent at its end as one statement, or earlier where a read of this module, a COPY or a
    second write to the same table follows them. Nothing is sent if the block fails. A statement run
    through SQLAlchemy meanwhile does not see them: the block is for writes that do not read each other."""
    held = _Held(await driver(conn))
    token = _HELD.set(held)
    try:
        yield
    finally:
        _HELD.reset(token)
    await held.send()


async def _write(adb: asyncpg.Connection, table: Table, sql: str, args: Sequence[Any]) -> None:
    """Run an INSERT of arrays now, or hold it (`combined_writes`)."""
    held = _HELD.get()
    if held is not None and held.adb is adb:
        await held.add(table.name, sql, args)
    else:
        await adb.execute(sql, *args)


async def _written(adb: asyncpg.Connection) -> None:
    """Send the INSERTs held on `adb`, before a statement that must see them."""
    held = _HELD.get()
    if held is not None and held.adb is adb:
        await held.send()


Key = str | tuple[str, ...]
"""A table's key: one column, or several (a composite key)."""


def _columns(key: Key) -> tuple[str, ...]:
    return (key,) if isinstance(key, str) else key


@cache
def _insert_sql(table: Table, conflict: Key | None, update: bool, *, skip: bool = True) -> str:
    columns = list(table.columns)
    names = ", ".join(_quote(c.name) for c in columns)
    arrays = ", ".join(f"${n}::{pg_type(c)}[]" for n, c in enumerate(columns, 1))
    sql = f"INSERT INTO {_quote(table.name)} ({names}) SELECT * FROM unnest({arrays})"
    if not skip:
        return sql
    if conflict is None:
        return sql + " ON CONFLICT DO NOTHING"
    target = ", ".join(_quote(c) for c in _columns(conflict))
    if not update:
        return sql + f" ON CONFLICT ({target}) DO NOTHING"
    keys = set(_columns(conflict))
    assignments = ", ".join(f"{_quote(c.name)} = EXCLUDED.{_quote(c.name)}" for c in columns if c.name not in keys)
    return sql + f" ON CONFLICT ({target}) DO UPDATE SET {assignments}"


def _json(value: Any) -> str | bytes:
    """A JSONB value as text, or as the bytes of a document already encoded (sent as they are, see
    `services.db.make_engine`); None as JSON null, as SQLAlchemy's JSONB writes it."""
    return value if isinstance(value, bytes) else dumps(value)


@cache
def _layout(table: Table) -> tuple[list[str], list[int]]:
    """The column names of `table`, in order, and the positions of its JSONB columns."""
    return [c.name for c in table.columns], [k for k, c in enumerate(table.columns) if isinstance(c.type, JSONB)]


@cache
def _getter(table: Table) -> Callable[[Row], tuple[Any, ...]]:
    """A row's values in column order (KeyError if it leaves a column out)."""
    names, _ = _layout(table)
    get = itemgetter(*names)
    return get if len(names) > 1 else lambda row: (get(row),)


def _column_arrays(table: Table, rows: Sequence[Row]) -> list[list[Any]]:
    names, jsonb = _layout(table)
    out = [[row.get(name) for row in rows] for name in names]
    for k in jsonb:
        out[k] = [_json(v) for v in out[k]]
    return out


def _records(table: Table, rows: Sequence[Row]) -> list[tuple[Any, ...]]:
    """`rows` as tuples in column order, missing columns None, JSONB values as JSON (text or bytes)."""
    names, jsonb = _layout(table)
    get = _getter(table)
    out = []
    for row in rows:
        try:
            values = get(row)
        except KeyError:  # a row that leaves columns out (NULL)
            values = tuple(map(row.get, names))
        if jsonb:
            listed = list(values)
            for k in jsonb:
                listed[k] = _json(listed[k])
            values = tuple(listed)
        out.append(values)
    return out


async def copy_rows(conn: AsyncConnection, table: Table, rows: Sequence[Row]) -> None:
    """Append `rows` (missing columns are NULL) with binary COPY. For rows only the caller's
    transaction can add (e.g. stream sequences after the checkpoint it holds locked): a row whose
    key exists already fails the whole statement."""
    if rows:
        await copy_records(conn, table, _records(table, rows))


async def copy_records(conn: AsyncConnection, table: Table, records: Sequence[tuple[Any, ...]]) -> None:
    """`copy_rows` of records: the values of `table`'s columns in their order, JSONB values as JSON
    (text or bytes)."""
    if not records:
        return
    adb = await driver(conn)
    if len(records) < SMALL_COPY and (sql := _append_sql(table)) is not None:
        await _write(adb, table, sql, list(map(list, zip(*records, strict=True))))
    else:
        await _written(adb)
        await adb.copy_records_to_table(table.name, records=records, columns=_layout(table)[0])


@cache
def _append_sql(table: Table) -> str | None:
    """An INSERT of `table`'s columns from arrays, no conflict skipped; None if a column has no array type."""
    try:
        return _insert_sql(table, None, False, skip=False)
    except TypeError:
        return None


async def insert_rows(conn: AsyncConnection, table: Table, rows: Sequence[Row], *, conflict: Key | None = None,
                      update: bool = False) -> None:
    """Insert `rows` (missing columns are NULL); on a conflict on `conflict` (any unique key if
    None) skip the row, or with `update` overwrite every other column. With `update` the keys of
    `rows` must be distinct (PostgreSQL cannot update one row twice in a statement)."""
    if not rows:
        return
    adb = await driver(conn)
    await _write(adb, table, _insert_sql(table, conflict, update), _column_arrays(table, rows))


@cache
def _select_sql(table: Table, key: Key) -> str:
    names = ", ".join(_quote(c.name) for c in table.columns)
    columns = _columns(key)
    if len(columns) == 1:
        column = columns[0]
        array = f"$1::{pg_type(table.c[column])}[]"
        return f"SELECT {names} FROM {_quote(table.name)} WHERE {_quote(column)} = ANY({array})"
    wanted = ", ".join(_quote(c) for c in columns)
    arrays = ", ".join(f"${n}::{pg_type(table.c[c])}[]" for n, c in enumerate(columns, 1))
    return f"SELECT {names} FROM {_quote(table.name)} WHERE ({wanted}) IN (SELECT * FROM unnest({arrays}))"


async def select_rows(conn: AsyncConnection, table: Table, key: Key, keys: Iterable[Any]) -> dict[Any, Row]:
    """The rows of `table` whose `key` is one of `keys`, by key (for a composite key, tuples of its
    columns' values)."""
    wanted = list(keys)
    if not wanted:
        return {}
    adb = await driver(conn)
    await _written(adb)
    if isinstance(key, str):
        return {record[key]: dict(record) for record in await adb.fetch(_select_sql(table, key), wanted)}
    arrays = [list(values) for values in zip(*wanted, strict=True)]
    get = itemgetter(*key)
    return {get(record): dict(record) for record in await adb.fetch(_select_sql(table, key), *arrays)}
