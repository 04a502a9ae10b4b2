"""A query that concurrent requests share: one prepared statement on a PostgreSQL connection of its
own (asyncpg, outside the engine's pool, with the engine's address and search_path); callers ready in
the same turn of the event loop share one query, and callers arriving while a query runs share the
next one, so a request costs at most one round trip, and under load many requests one between them.
A lost connection is opened again (once per query) before the error reaches the callers.
`services.http.lookup` (which events the index holds) and `services.http.door`
(the aggregates the authority rules read) are made of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Sequence
from typing import Any, Generic, TypeVar

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

QUERY_TIMEOUT_S = 10.0
LOST = (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError)
"""What a lost or broken connection raises (asyncpg's protocol errors included, e.g. when the server
ended the session between two queries)."""
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SharedQuery(Generic[K, V]):
    """`ask(keys)`: what `statement` finds for the keys, by key. Subclasses say the statement, its
    arguments for a set of keys, and how its rows answer them."""

    statement_sql = ""
    application_name = "doingoai-lookup"

    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        self.conn: asyncpg.Connection | None = None
        self.statement: Any = None
        self.waiting: list[tuple[list[K], asyncio.Future[dict[K, V]]]] = []
        self.running = False
        self.task: asyncio.Task[None] | None = None

    def askable(self, keys: Sequence[K]) -> list[K]:
        """The keys worth a query (each once)."""
        return list(set(keys))

    def arguments(self, keys: list[K]) -> tuple[Any, ...]:
        raise NotImplementedError

    def found(self, rows: list[Any], keys: list[K]) -> dict[K, V]:
        raise NotImplementedError

    async def ask(self, keys: Sequence[K]) -> dict[K, V]:
        if self.running:  # join the next query
            future: asyncio.Future[dict[K, V]] = asyncio.get_running_loop().create_future()
            self.waiting.append((list(keys), future))
            return await future
        self.running = True  # no query running: this task asks, for itself and the callers that join by
        joined: list[tuple[list[K], asyncio.Future[dict[K, V]]]] = []  # the loop's next turn
        try:
            await asyncio.sleep(0)
            joined, self.waiting = self.waiting, []
            found = await self.query(self.askable([*keys, *(k for more, _ in joined for k in more)]))
        except Exception as exc:
            self._answer(joined, exc)
            raise
        except BaseException:  # cancelled: the callers that joined wait for the next query
            self.waiting[:0] = joined
            raise
        finally:
            if self.waiting:
                self.task = asyncio.create_task(self._drain())
            else:
                self.running = False
        self._answer(joined, found)
        return {k: found[k] for k in keys if k in found}

    @staticmethod
    def _answer(callers: list[tuple[list[K], asyncio.Future[dict[K, V]]]], found: dict[K, V] | Exception) -> None:
        """Each caller's keys that `found` answers, or the error that ended their query."""
        for keys, future in callers:
            if future.done():
                continue
            if isinstance(found, Exception):
                future.set_exception(found)
            else:
                future.set_result({k: found[k] for k in keys if k in found})

    async def _drain(self) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting, []
                try:
                    found = await self.query(self.askable([k for keys, _ in batch for k in keys]))
                except Exception as exc:  # handed to every caller of this round
                    self._answer(batch, exc)
                    continue
                self._answer(batch, found)
        finally:
            self.running = False

    async def query(self, keys: list[K]) -> dict[K, V]:
        if not keys:
            return {}
        for attempt in (1, 2):
            try:
                if self.statement is None:
                    await self._connect()
                rows = await self.statement.fetch(*self.arguments(keys), timeout=QUERY_TIMEOUT_S)
                return self.found(rows, keys)
            except LOST:
                await self.close_connection()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _connect(self) -> None:
        async with self.engine.connect() as conn:  # the engine's search_path (the read-model schema)
            search_path = str(await conn.scalar(text("SHOW search_path")))
        _, params = self.engine.dialect.create_connect_args(self.engine.url)
        self.conn = await asyncpg.connect(
            **params, server_settings={"search_path": search_path, "application_name": self.application_name})
        self.statement = await self.conn.prepare(self.statement_sql)

    async def close_connection(self) -> None:
        conn, self.conn, self.statement = self.conn, None, None
        if conn is not None and not conn.is_closed():
            try:
                await asyncio.wait_for(conn.close(), 2)
            except LOST:
                conn.terminate()
