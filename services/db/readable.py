"""Read rows when one of them may hold a date Python cannot represent.

PostgreSQL keeps dates from 4713 BC to 5874897 AD; Python's `date` and `datetime` hold years 1 to
9999 only. A row holding `10000-01-01`, or `0001-01-01 00:00+07` (a moment of year 0 in UTC),
makes the driver fail the whole query (OverflowError or ValueError while decoding), so one planted
or corrupted row would hide every other. `readable_rows` then reads the rows one by one by their
key and hands back the ones it could read, in the query's order, with the keys of the others."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, and_
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

UNDECODABLE = (OverflowError, ValueError)
"""What the driver raises for a value out of Python's range (asyncpg: 'date value out of range',
'year 10000 is out of range')."""


@dataclass(frozen=True)
class Unreadable:
    """A row the driver could not read: the values of the columns that name it, and the error."""

    ident: tuple[Any, ...]
    error: Exception


async def readable_rows(conn: AsyncConnection, query: Select[Any], ident: Sequence[ColumnElement[Any]]
                        ) -> tuple[list[Row[Any]], list[Unreadable]]:
    """The rows of `query`, and those it holds that cannot be read.

    `ident`: columns that together name a row in the query's result (e.g. its id and province), of
    types that always decode (text). Only when the whole query fails to decode are the rows read
    one by one, so the usual path costs one query."""
    try:
        return list((await conn.execute(query)).all()), []
    except UNDECODABLE:
        pass
    rows: list[Row[Any]] = []
    unreadable: list[Unreadable] = []
    for found in (await conn.execute(query.with_only_columns(*ident))).all():
        try:
            named = and_(*(column == value for column, value in zip(ident, found, strict=True)))
            rows.extend((await conn.execute(query.where(named))).all())
        except UNDECODABLE as exc:
            unreadable.append(Unreadable(tuple(found), exc))
    return rows, unreadable
