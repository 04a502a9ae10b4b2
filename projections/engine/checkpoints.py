"""The checkpoint of a consumer: the last stream sequence applied, stored in the same transaction
as what the batch wrote (`projections.engine.tables.checkpoints`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.engine.bulk import driver
from projections.engine.tables import checkpoints

RELAXED_COMMIT = "off"
"""synchronous_commit for handlers whose writes are derived from the stream alone (`rebuildable =
True`) and for the replay: the commit returns before its WAL reaches disk. A crash can lose the
last commits, never part of one, and the checkpoint is among them: the runner resumes from the
checkpoint that survived and applies the lost batches again. Nothing else is relaxed (fsync stays
on; PostgreSQL stays consistent)."""


async def read_checkpoint(conn: AsyncConnection, consumer: str) -> int:
    value = await conn.scalar(select(checkpoints.c.last_seq).where(checkpoints.c.consumer == consumer))
    return int(value or 0)


ADVANCE_CHECKPOINT = (
    "UPDATE checkpoints SET last_seq = $2, updated_at = now() WHERE consumer = $1 AND last_seq = $3"
    " RETURNING set_config('synchronous_commit', coalesce($4, current_setting('synchronous_commit')), true)"
)
"""(asyncpg) Move consumer $1's checkpoint from $3 to $2 and set synchronous_commit for the
transaction to $4 (NULL: leave it as it is); no row if the checkpoint is not at $3. An update of
the row by another transaction waits until this one ends, then finds the checkpoint moved (READ
COMMITTED checks the condition again on the row that transaction left)."""


WRITE_CHECKPOINT = (
    "INSERT INTO checkpoints (consumer, last_seq, updated_at) VALUES ($1, $2, now())"
    " ON CONFLICT (consumer) DO UPDATE SET last_seq = EXCLUDED.last_seq, updated_at = EXCLUDED.updated_at"
    f" RETURNING set_config('synchronous_commit', '{RELAXED_COMMIT}', true)"
)


async def write_checkpoint(conn: AsyncConnection, consumer: str, seq: int) -> None:
    """Set consumer's checkpoint to `seq` in the caller's transaction, which then commits without
    waiting for its WAL (`RELAXED_COMMIT`; read at the commit): the replay's, one round trip."""
    await (await driver(conn)).fetchval(WRITE_CHECKPOINT, consumer, seq)
