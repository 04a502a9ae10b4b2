"""What a projection is: a name, and how it applies fresh events inside a transaction, in steps:
what it reads of its tables, the changes it makes of them (pure), and how it writes those.

Every projection reads only tables it alone writes (a partition worker's units write disjoint
aggregates of them), so a batch can be planned (read, then changed) while the batch before it is
still being written on another connection: what that batch will have written when it commits
is laid over what the read found (`after`), and the batch's writes wait for that commit
(`projections.engine.runner`).
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from projections.engine.batch import Batch


class Projection(Protocol):
    name: str

    async def read(self, conn: AsyncConnection, batch: Batch) -> Any:
        """What the projection needs of its tables to apply `batch`."""

    def after(self, found: Any, before: Any) -> Any:
        """What `read` would have found once `before` (this projection's changes of the batch
        just before, not committed yet) is written (pure)."""

    def changes(self, batch: Batch, found: Any) -> Any:
        """The effect of `batch` (fresh events in stream order) given what was found (pure)."""

    async def write(self, conn: AsyncConnection, changes: Any) -> None:
        """Store `changes` in the caller's transaction."""
