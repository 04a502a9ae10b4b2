"""What a projection is: a name, and a function applying fresh events inside a transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from projections.batch import Batch, Stored


class Projection(Protocol):
    name: str

    async def apply(self, conn: AsyncConnection, batch: Batch) -> None:
        """Write the effect of `batch` (fresh events in stream order) in the caller's transaction."""


def fresh_of(batch: Batch, *names: str) -> Sequence[Stored]:
    return [s for s in batch.fresh if s.event.name in names]
