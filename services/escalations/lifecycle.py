"""The lifecycle of a difficulty (khó khăn, vướng mắc) as a pure state machine.

A unit raises a difficulty with SNgV; SNgV acknowledges it, then either issues guidance or, when
the matter is beyond its authority, escalates it to the UBND tỉnh, which issues a decision; the
difficulty is then resolved::

    (none) --difficulty_raised--> raised --difficulty_acknowledged--> acknowledged
    acknowledged --guidance_issued--> guidance_issued --difficulty_resolved--> resolved
    acknowledged --difficulty_escalated--> escalated --decision_issued--> decision_issued
    decision_issued --difficulty_resolved--> resolved
    acknowledged --difficulty_resolved--> resolved

`acknowledged → resolved` is allowed: the raising unit may settle the matter itself or withdraw it
once SNgV has registered it, and forcing a fictitious guidance step would falsify the record.
`raised → resolved` is not: SNgV must first acknowledge receipt, so the history always shows the
focal agency saw the difficulty. An escalated difficulty is resolved only after the UBND decision.
The `beyond_authority` flag (from difficulty_raised's payload) is carried for the escalation policy;
it does not forbid guidance, since SNgV may judge the matter within its authority after all.

Redelivered events are not this module's concern: projections skip them by stream sequence, so a
repeated event reaching `apply` is an impossible transition.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.escalations.calendar import add_working_days


class DifficultyStatus(StrEnum):
    raised = "raised"
    acknowledged = "acknowledged"
    guidance_issued = "guidance_issued"
    escalated = "escalated"
    decision_issued = "decision_issued"
    resolved = "resolved"


class DifficultyEvent(StrEnum):
    difficulty_raised = "difficulty_raised"
    difficulty_acknowledged = "difficulty_acknowledged"
    guidance_issued = "guidance_issued"
    difficulty_escalated = "difficulty_escalated"
    decision_issued = "decision_issued"
    difficulty_resolved = "difficulty_resolved"


_S, _E = DifficultyStatus, DifficultyEvent

TRANSITIONS: Mapping[DifficultyStatus | None, Mapping[DifficultyEvent, DifficultyStatus]] = {
    None: {_E.difficulty_raised: _S.raised},
    _S.raised: {_E.difficulty_acknowledged: _S.acknowledged},
    _S.acknowledged: {
        _E.guidance_issued: _S.guidance_issued,
        _E.difficulty_escalated: _S.escalated,
        _E.difficulty_resolved: _S.resolved,
    },
    _S.guidance_issued: {_E.difficulty_resolved: _S.resolved},
    _S.escalated: {_E.decision_issued: _S.decision_issued},
    _S.decision_issued: {_E.difficulty_resolved: _S.resolved},
    _S.resolved: {},
}
"""For each state (None: no difficulty yet), the events it accepts and the state each leads to."""

_TIMESTAMP_FIELD: Mapping[DifficultyStatus, str] = {
    status: f"{status.value}_at" for status in DifficultyStatus
}


class ImpossibleTransition(ValueError):
    """An event that the difficulty's current state does not allow (e.g. a decision before escalation).

    The message names the current state, the event and the events that state allows.
    """

    def __init__(self, state: DifficultyStatus | None, event_name: str) -> None:
        self.state = state
        self.event_name = event_name
        self.allowed = tuple(str(e) for e in allowed_events(state))
        shown = state.value if state is not None else "(no difficulty yet)"
        allowed = ", ".join(self.allowed) or "none (the difficulty is closed)"
        super().__init__(
            f"impossible transition from state {shown!r} on event {event_name!r}; allowed: {allowed}"
        )


class InvalidDifficultyPayload(ValueError):
    """An event payload the lifecycle cannot read (e.g. `beyond_authority` that is not a boolean)."""


class DifficultyState(BaseModel):
    """Where a difficulty stands, with the moment each step was reached."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: DifficultyStatus = Field(description="Current step", examples=["acknowledged"])
    beyond_authority: bool = Field(
        default=False, description="The raiser believes it is beyond SNgV's authority", examples=[False]
    )
    raised_at: AwareDatetime = Field(description="When it was raised", examples=["2027-01-29T09:30:00+07:00"])
    acknowledged_at: AwareDatetime | None = Field(default=None, description="When SNgV acknowledged it")
    guidance_issued_at: AwareDatetime | None = Field(default=None, description="When SNgV issued guidance")
    escalated_at: AwareDatetime | None = Field(
        default=None, description="When SNgV escalated it to the UBND tỉnh"
    )
    decision_issued_at: AwareDatetime | None = Field(default=None, description="When the UBND tỉnh decided")
    resolved_at: AwareDatetime | None = Field(default=None, description="When it was resolved")

    def reached_at(self, status: DifficultyStatus) -> datetime | None:
        """When the difficulty reached `status`, or None if it has not."""
        value: datetime | None = getattr(self, _TIMESTAMP_FIELD[status])
        return value


class StepLimits(BaseModel):
    """Time limits of each step in working days; each province may configure its own."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    acknowledge: int = Field(default=2, ge=1, le=60, description="From raised to acknowledged", examples=[2])
    guide_or_escalate: int = Field(
        default=10,
        ge=1,
        le=120,
        description="From acknowledged to guidance issued or escalated to UBND",
        examples=[10],
    )
    ubnd_decision: int = Field(
        default=15, ge=1, le=120, description="From escalated to the UBND decision", examples=[15]
    )
    resolve: int = Field(
        default=20, ge=1, le=250, description="From guidance or UBND decision to resolved", examples=[20]
    )


_LIMIT_OF: Mapping[DifficultyStatus, str] = {
    _S.raised: "acknowledge",
    _S.acknowledged: "guide_or_escalate",
    _S.escalated: "ubnd_decision",
    _S.guidance_issued: "resolve",
    _S.decision_issued: "resolve",
}


def allowed_events(state: DifficultyStatus | DifficultyState | None) -> tuple[DifficultyEvent, ...]:
    """The events accepted in `state` (a status, a full state, or None before the difficulty exists)."""
    status = state.status if isinstance(state, DifficultyState) else state
    return tuple(TRANSITIONS[status])


def _beyond_authority(payload: Mapping[str, Any]) -> bool:
    value = payload.get("beyond_authority", False)
    if not isinstance(value, bool):
        raise InvalidDifficultyPayload(f"beyond_authority must be a boolean, got {value!r}")
    return value


def apply(
    state: DifficultyState | None, event_name: str, at: datetime, payload: Mapping[str, Any]
) -> DifficultyState:
    """The state after `event_name` happened at `at`; `state` is None before difficulty_raised.

    Returns a new frozen state with the step's timestamp set. Raises ImpossibleTransition when the
    event is unknown or not allowed in the current state, InvalidDifficultyPayload for a bad
    payload and ValueError for a naive `at`.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"event time must be timezone-aware, got {at.isoformat()}")
    status = state.status if state is not None else None
    try:
        event = DifficultyEvent(event_name)
        target = TRANSITIONS[status][event]
    except (ValueError, KeyError):
        raise ImpossibleTransition(status, event_name) from None
    if state is None:
        return DifficultyState(status=target, raised_at=at, beyond_authority=_beyond_authority(payload))
    return state.model_copy(update={"status": target, _TIMESTAMP_FIELD[target]: at})


def step_deadline(state: DifficultyState, limits: StepLimits | None = None) -> datetime | None:
    """When the current step is due, or None once the difficulty is resolved.

    raised → acknowledge within `acknowledge` working days of raising; acknowledged → guidance or
    escalation within `guide_or_escalate` of acknowledgement; escalated → UBND decision within
    `ubnd_decision` of escalation; guidance_issued / decision_issued → resolved within `resolve`
    of the guidance or decision. Counted with `calendar.add_working_days`.
    """
    limits = limits or StepLimits()
    field = _LIMIT_OF.get(state.status)
    if field is None:
        return None
    since = state.reached_at(state.status)
    assert since is not None, "a state always has the timestamp of its own status"
    return add_working_days(since, getattr(limits, field))
