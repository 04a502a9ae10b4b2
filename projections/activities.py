"""The activity table: activities held and delegations received, one row per aggregate."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.base import fresh_of
from projections.batch import Batch, Stored
from projections.tables import activities


def _partner(data: Any) -> tuple[str | None, str | None]:
    partners = getattr(data, "partners", None)
    partner = partners[0] if partners else getattr(data, "partner", None)
    if partner is None:
        return None, None
    return partner.country, partner.locality or partner.organisation


def row_for(stored: Stored) -> dict[str, Any]:
    """The activity row an event sets (pure)."""
    event = stored.event
    data: Any = event.data
    country, partner_name = _partner(data)
    row: dict[str, Any] = {
        "subject": event.envelope.subject,
        "province": event.envelope.province,
        "agency": event.envelope.agency,
        "partner_country": country,
        "partner_name": partner_name,
        "first_seq": stored.seq,
        "last_seq": stored.seq,
        "updated_at": stored.recorded_at,
    }
    if event.name == "activity_held":
        row.update(
            kind="activity",
            title=data.title,
            status="held",
            start_date=data.start_date,
            end_date=data.end_date,
            participants=data.participants,
        )
    else:  # delegation_received
        row.update(
            kind="delegation_in",
            title=data.purpose,
            status="received",
            start_date=data.arrival_date,
            end_date=data.departure_date,
            participants=data.size,
        )
    return row


class Activities:
    name = "activities"
    handles = ("activity_held", "delegation_received")

    async def apply(self, conn: AsyncConnection, batch: Batch) -> None:
        rows = [row_for(s) for s in fresh_of(batch, *self.handles)]
        if not rows:
            return
        latest: dict[str, dict[str, Any]] = {}
        for row in rows:  # one row per aggregate per statement; later events win
            if row["subject"] in latest:
                row["first_seq"] = latest[row["subject"]]["first_seq"]
            latest[row["subject"]] = row
        stmt = insert(activities)
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[activities.c.subject],
                set_={
                    c: stmt.excluded[c]
                    for c in row
                    if c not in ("subject", "first_seq")
                },
                where=activities.c.last_seq < stmt.excluded.last_seq,
            ),
            list(latest.values()),
        )
