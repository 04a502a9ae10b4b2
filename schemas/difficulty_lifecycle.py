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

Whether a difficulty is beyond SNgV's authority is SNgV's judgement ("trường hợp vượt thẩm quyền,
Sở Ngoại vụ tổng hợp, tham mưu, đề xuất UBND tỉnh"): it says so on acknowledgement
(`within_authority: false`) or shows it by escalating the difficulty with its proposal (tờ trình).
`DifficultyState.beyond_sngv_authority` is that judgement. The raiser's `beyond_authority` flag
(difficulty_raised) is the raiser's view only: it is kept and shown, and decides nothing. Neither
forbids guidance, since SNgV may judge the matter within its authority after all.

Redelivered events are not this module's concern: projections skip them by stream sequence, so a
repeated event reaching `apply` is an impossible transition.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.working_days import add_working_days, end_of_day


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
    """An event payload the lifecycle cannot read (e.g. `beyond_authority` that is not a boolean, a
    `decide_by` that is not a date)."""


class DifficultyState(BaseModel):
    """Where a difficulty stands, with the moment each step was reached."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: DifficultyStatus = Field(description="Current step", examples=["acknowledged"])
    beyond_authority: bool = Field(
        default=False,
        description="The raiser's view that it is beyond SNgV's authority (shown, never escalated on by itself)",
        examples=[False],
    )
    within_authority: bool | None = Field(
        default=None,
        description="SNgV's judgement on acknowledgement: within its authority, beyond it (False), or not said",
        examples=[False],
    )
    proposal_document: str | None = Field(
        default=None, description="Number of SNgV's submission (tờ trình) to the UBND tỉnh", examples=["45/TTr-SNgV"]
    )
    decide_by: date | None = Field(
        default=None, description="Date SNgV asked the UBND tỉnh to decide by", examples=["2021-04-23"]
    )
    raised_at: AwareDatetime = Field(description="When it was raised", examples=["2027-01-29T09:30:00+07:00"])
    acknowledged_at: AwareDatetime | None = Field(default=None, description="When SNgV acknowledged it")
    guidance_issued_at: AwareDatetime | None = Field(default=None, description="When SNgV issued guidance")
    escalated_at: AwareDatetime | None = Field(
        default=None, description="When SNgV escalated it to the UBND tỉnh"
    )
    decision_issued_at: AwareDatetime | None = Field(default=None, description="When the UBND tỉnh decided")
    resolved_at: AwareDatetime | None = Field(default=None, description="When it was resolved")

    @property
    def beyond_sngv_authority(self) -> bool:
        """SNgV's own judgement that the difficulty is beyond its authority: said on acknowledgement
        (`within_authority` False) or shown by escalating it to the UBND with its proposal."""
        return self.within_authority is False or self.escalated_at is not None

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
        default=15,
        ge=1,
        le=120,
        description="From escalated to the UBND decision (unless SNgV's proposal asks a decide_by date)",
        examples=[15],
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


def _within_authority(payload: Mapping[str, Any]) -> bool | None:
    value = payload.get("within_authority")
    if value is not None and not isinstance(value, bool):
        raise InvalidDifficultyPayload(f"within_authority must be a boolean or null, got {value!r}")
    return value


def _decide_by(payload: Mapping[str, Any]) -> date | None:
    value = payload.get("decide_by")
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidDifficultyPayload(f"decide_by must be a date, got {value!r}")


def _document_number(payload: Mapping[str, Any]) -> str | None:
    document = payload.get("document")
    number = document.get("number") if isinstance(document, Mapping) else None
    return number if isinstance(number, str) else None


def _step_facts(event: DifficultyEvent, payload: Mapping[str, Any]) -> dict[str, Any]:
    """What an event says besides its step: SNgV's judgement on acknowledgement, its proposal's
    document and the date it asks the UBND to decide by on escalation."""
    if event is DifficultyEvent.difficulty_acknowledged:
        return {"within_authority": _within_authority(payload)}
    if event is DifficultyEvent.difficulty_escalated:
        return {"decide_by": _decide_by(payload), "proposal_document": _document_number(payload)}
    return {}


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
    return state.model_copy(update={"status": target, _TIMESTAMP_FIELD[target]: at, **_step_facts(event, payload)})


def step_deadline(state: DifficultyState, limits: StepLimits | None = None) -> datetime | None:
    """When the current step is due, or None once the difficulty is resolved.

    raised → acknowledge within `acknowledge` working days of raising; acknowledged → guidance or
    escalation within `guide_or_escalate` of acknowledgement; escalated → UBND decision by the end
    of the `decide_by` day SNgV's proposal asks, else within `ubnd_decision` of escalation;
    guidance_issued / decision_issued → resolved within `resolve` of the guidance or decision.
    Counted with `schemas.working_days.add_working_days`.
    """
    limits = limits or StepLimits()
    field = _LIMIT_OF.get(state.status)
    if field is None:
        return None
    if state.status is DifficultyStatus.escalated and state.decide_by is not None:
        return end_of_day(state.decide_by)
    since = state.reached_at(state.status)
    assert since is not None, "a state always has the timestamp of its own status"
    return add_working_days(since, getattr(limits, field))
