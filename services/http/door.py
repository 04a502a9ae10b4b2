"""The authority rules at the door of HTTP ingest: what can be decided before an event is stored
is refused here with 403 `not_authorized` (and kept, as every refusal is); the projection decides
the rest, in stream order (`projections.authority`). A signed-in person's writes meet the role
rules too (`schemas.roles.leaders_only`): a specialist's session does not record a leaders' step."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from projections.tables import aggregates
from schemas.authority import Aggregate, Refusal, decide, foreign
from schemas.codec import Event
from schemas.roles import leaders_only
from services.credentials import Identity


async def refusals(engine: AsyncEngine, who: Identity, events: Sequence[Event]) -> list[Refusal | None]:
    """For each event `who` publishes, why the rules refuse it, or None: the type's rule, and the
    aggregate's owner and parties as the read model knows them (an aggregate it does not know yet
    is left to the projection); then, for a signed-in person, the role rules."""
    if not events:
        return []
    subjects = sorted({e.envelope.subject for e in events})
    held: dict[str, dict[str, Aggregate]] = {}
    async with engine.connect() as conn:
        for r in await conn.execute(select(aggregates).where(aggregates.c.subject.in_(subjects))):
            held.setdefault(r.subject, {})[r.province] = Aggregate(r.province, r.subject, r.owner,
                                                                   frozenset(r.parties))
    out: list[Refusal | None] = []
    for event in events:
        subject = event.envelope.subject
        holders = held.get(subject, {})
        out.append(foreign(who.province, subject, holders) or decide(
            who.province, who.agency, event.name, subject, event.data, holders.get(who.province), settled=False,
        ) or leaders_only(who.person.role if who.person else None, event.name))
    return out
