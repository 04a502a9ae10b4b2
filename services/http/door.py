"""The authority rules at the door of HTTP ingest: what can be decided before an event is stored
is refused here with 403 `not_authorized` (and kept, as every refusal is); the projection decides
the rest, in stream order (`projections.models.authority`). A signed-in person's writes meet the role
rules too (`schemas.roles.leaders_only`): a specialist's session does not record a leaders' step.

The state the rules read, each aggregate's owner and parties in every province that holds it, is read
from the table `aggregates` as it stands when the request is decided (no copy of it is kept), with
`AggregateFacts`: one prepared query on a connection of its own that concurrent requests share, so a
request costs at most one round trip to PostgreSQL, and under load many requests one between them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from schemas.authority import Aggregate, Refusal, decide, foreign
from schemas.codec import Event
from schemas.roles import leaders_only
from services.credentials import Identity
from services.http.shared_query import SharedQuery

Holders = dict[str, Aggregate]
"""The aggregates of one subject, by province."""
HeldBy = Callable[[Sequence[str]], Awaitable[dict[str, Holders]]]
"""Subjects -> their aggregates, by province (subjects no province holds are left out)."""
AGGREGATES = ("SELECT province, subject, owner, ARRAY(SELECT jsonb_array_elements_text(parties)) "
              "FROM aggregates WHERE subject = ANY($1::text[])")


class AggregateFacts(SharedQuery[str, Holders]):
    """The `aggregates` rows of subjects, by subject and province (a `HeldBy`)."""

    statement_sql = AGGREGATES
    application_name = "doingoai-door"

    def arguments(self, keys: list[str]) -> tuple[Any, ...]:
        return (keys,)

    def found(self, rows: list[Any], keys: list[str]) -> dict[str, Holders]:
        held: dict[str, Holders] = {}
        for province, subject, owner, parties in rows:
            held.setdefault(subject, {})[province] = Aggregate(province, subject, owner, frozenset(parties))
        return held

    async def __call__(self, subjects: Sequence[str]) -> dict[str, Holders]:
        return await self.ask(subjects)


async def refusals(held_by: HeldBy, who: Identity, events: Sequence[Event]) -> list[Refusal | None]:
    """For each event `who` publishes, why the rules refuse it, or None: the type's rule, and the
    aggregate's owner and parties as the read model knows them (an aggregate it does not know yet
    is left to the projection); then, for a signed-in person, the role rules."""
    if not events:
        return []
    held = await held_by(sorted({e.envelope.subject for e in events}))
    out: list[Refusal | None] = []
    for event in events:
        subject = event.envelope.subject
        holders = held.get(subject, {})
        out.append(foreign(who.province, subject, holders) or decide(
            who.province, who.agency, event.name, subject, event.data, holders.get(who.province), settled=False,
        ) or leaders_only(who.person.role if who.person else None, event.name))
    return out
