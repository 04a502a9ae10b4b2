"""Difficulties through their lifecycle (raised -> acknowledged -> guidance | escalated -> decided
-> resolved); an impossible transition is refused and kept as a rejection with the reason."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from projections.engine.batch import Stored
from projections.models.rows import Reducer, Refused, Row, RowProjection, base_row
from projections.models.tables import difficulties
from schemas.difficulty_lifecycle import DifficultyState, ImpossibleTransition, InvalidDifficultyPayload, apply

EVENTS = ("difficulty_raised", "difficulty_acknowledged", "guidance_issued", "difficulty_escalated",
          "decision_issued", "difficulty_resolved")


def step(row: Row | None, s: Stored) -> Row:
    state = DifficultyState.model_validate(row["state"]) if row else None
    payload = s.event.data.model_dump()
    try:
        new = apply(state, s.event.name, s.event.envelope.time, payload)
    except ImpossibleTransition as exc:
        raise Refused("impossible_transition", "type", str(exc)) from None
    except InvalidDifficultyPayload as exc:
        raise Refused("impossible_transition", "data", str(exc)) from None
    out: Row = {**(row or {}), "state": new.model_dump(mode="json"), "status": new.status.value,
                "beyond_authority": new.beyond_authority, "updated_at": s.event.envelope.time}
    if row is None:
        d: Any = s.event.data
        out.update(**base_row(s), topic=d.topic, severity=d.severity.value, raised_at=s.event.envelope.time)
    return out


class Difficulties(RowProjection):
    name = "difficulties"
    table = difficulties
    key = "difficulty_id"
    reducers: ClassVar[Mapping[str, Reducer]] = dict.fromkeys(EVENTS, step)
