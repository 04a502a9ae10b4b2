"""Escalation policies, decided like an on-call tool's: remind, raise at level 1, climb, close.

A policy is an ordered list of levels (SNgV specialist → SNgV director → the office that receives
SNgV's proposals for the UBND tỉnh, Văn phòng UBND tỉnh, by default; `addressed_to_office` puts a
province's own configured office there).
Each level names a target agency slug, a role label and an acknowledgement timeout in **working
days**: administrative limits are written in working days (ngày làm việc), not hours, and a
count of whole working days never fires at night, at weekends or over Tết. A timeout of n means
the level must acknowledge by the end of the n-th working day after the day it was notified
(`schemas.working_days.add_working_days`).

`evaluate(now, state, policy)` is pure. For one cause (a trigger kind and the subject it concerns)
it returns what should happen now:

* **remind** once, from the start of the working day `reminder_lead_working_days` before the
  cause's deadline (`due_at`) until that deadline, to the responsible agency;
* **raise** at level 1 once `now` is past `due_at` and the cause is not resolved;
* **climb** to the next level when the current level has not acknowledged within its timeout; the
  new level's timeout runs from `now`, the moment it is notified, so a level is never skipped
  silently after an outage. Nothing climbs past the last level, and an acknowledged level stops
  the climb;
* **close** every raised level once the cause is resolved.

Escalation ids are uuid5 of trigger kind, subject and level, so re-evaluating after a restart
yields the same ids and consumers keyed on (kind, escalation_id) never duplicate an escalation.
The subject must be unique across provinces (e.g. ``difficulty.ha-tinh.<id>``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from schemas.authority import UBND
from schemas.common import Slug
from schemas.events.escalations import EscalationTrigger
from schemas.working_days import add_working_days, start_of_day, subtract_working_days

ESCALATION_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:doingoai:escalation")

AgencySlug = Slug
TriggerKind = EscalationTrigger
"""What caused an escalation: the same values `escalation_raised` carries on the wire."""


class DecisionKind(StrEnum):
    remind = "remind"
    raise_ = "raise"
    climb = "climb"
    close = "close"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EscalationLevel(_Frozen):
    """One rung of a policy: who is notified and how long they have to acknowledge."""

    level: int = Field(ge=1, description="Rank, 1 first", examples=[1])
    agency: AgencySlug = Field(description="Target agency slug", examples=["so-ngoai-vu"])
    role: str = Field(min_length=1, max_length=200, description="Role notified", examples=["Chuyên viên"])
    ack_timeout_working_days: int = Field(
        ge=1, le=60, description="Working days to acknowledge before the next level is notified", examples=[1]
    )


class EscalationPolicy(_Frozen):
    """Ordered levels plus how early to remind before the cause's deadline."""

    name: str = Field(min_length=1, max_length=120, description="Policy name", examples=["mac-dinh"])
    levels: tuple[EscalationLevel, ...] = Field(min_length=1, description="Levels 1..n in order")
    reminder_lead_working_days: int = Field(
        default=1,
        ge=0,
        le=30,
        description="Remind from the start of this many working days before the deadline",
    )

    @field_validator("levels")
    @classmethod
    def _numbered_in_order(cls, levels: tuple[EscalationLevel, ...]) -> tuple[EscalationLevel, ...]:
        numbers = [lv.level for lv in levels]
        if numbers != list(range(1, len(levels) + 1)):
            raise ValueError(f"levels must be numbered 1..{len(levels)} in order, got {numbers}")
        return levels

    def level(self, number: int) -> EscalationLevel:
        return self.levels[number - 1]


DEFAULT_POLICY = EscalationPolicy(
    name="mac-dinh",
    levels=(
        EscalationLevel(
            level=1, agency="so-ngoai-vu", role="Chuyên viên Sở Ngoại vụ", ack_timeout_working_days=1
        ),
        EscalationLevel(
            level=2, agency="so-ngoai-vu", role="Giám đốc Sở Ngoại vụ", ack_timeout_working_days=2
        ),
        EscalationLevel(
            level=3,
            agency="van-phong-ubnd-tinh",
            role="Văn phòng UBND tỉnh (trình Lãnh đạo UBND tỉnh)",
            ack_timeout_working_days=3,
        ),
    ),
    reminder_lead_working_days=1,
)
"""The default: SNgV's specialist, SNgV's director, then the UBND tỉnh through its office, which
receives what SNgV proposes to the UBND ("Sở Ngoại vụ tổng hợp, tham mưu, đề xuất UBND tỉnh")."""


def addressed_to_office(policy: EscalationPolicy, office: AgencySlug) -> EscalationPolicy:
    """`policy` with every level addressed to the UBND tỉnh or its office (`schemas.authority.UBND`)
    addressed to `office` instead: the agency a province configures to receive SNgV's proposals
    (`ubnd_office` in schemas/reference/provinces.yaml). Other levels are kept as they are."""
    levels = tuple(lv.model_copy(update={"agency": office}) if lv.agency in UBND else lv for lv in policy.levels)
    return policy if levels == policy.levels else policy.model_copy(update={"levels": levels})


class EscalationState(_Frozen):
    """What is known of one cause and its escalation, as persisted between evaluations."""

    trigger: TriggerKind = Field(description="Why it may escalate", examples=["difficulty_unacknowledged"])
    subject: str = Field(min_length=1, max_length=300, description="The cause, unique across provinces")
    due_at: AwareDatetime = Field(description="When the cause becomes escalable (its deadline)")
    responsible_agency: AgencySlug | None = Field(
        default=None, description="Who is reminded; level 1 if None"
    )
    cause_resolved: bool = Field(
        default=False, description="The cause has gone (acknowledged, submitted, done)"
    )
    reminded: bool = Field(default=False, description="The reminder was sent")
    current_level: int | None = Field(
        default=None, ge=1, description="Highest level notified, None if not raised"
    )
    level_raised_at: AwareDatetime | None = Field(
        default=None, description="When the current level was notified"
    )
    acknowledged: bool = Field(default=False, description="The current level acknowledged")
    closed: bool = Field(default=False, description="The escalation was closed")


class Decision(_Frozen):
    """One thing to do now; consumers key it on (kind, escalation_id)."""

    kind: DecisionKind
    escalation_id: uuid.UUID = Field(description="Deterministic id (uuid5) of the escalation or reminder")
    trigger: TriggerKind
    subject: str
    level: int = Field(ge=0, description="Level concerned; 0 for a reminder")
    agency: AgencySlug = Field(description="Agency notified")
    role: str | None = Field(
        default=None, description="Role notified, None for a reminder to the responsible agency"
    )
    at: AwareDatetime = Field(description="The evaluation time the decision was taken at")
    due_at: AwareDatetime | None = Field(
        default=None, description="Ack deadline (raise/climb) or cause deadline (remind)"
    )


def escalation_id(trigger: TriggerKind, subject: str, level: int) -> uuid.UUID:
    """The deterministic id of the escalation of `subject` for `trigger` at `level` (0: reminder)."""
    return uuid.uuid5(ESCALATION_NAMESPACE, f"{trigger.value}|{subject}|{level}")


def ack_deadline(state: EscalationState, policy: EscalationPolicy) -> datetime | None:
    """When the current level must have acknowledged, or None if nothing is raised."""
    if state.current_level is None or state.level_raised_at is None:
        return None
    timeout = policy.level(state.current_level).ack_timeout_working_days
    return add_working_days(state.level_raised_at, timeout)


def reminder_from(state: EscalationState, policy: EscalationPolicy) -> datetime:
    """The start of the working day `reminder_lead_working_days` before the cause's deadline day."""
    return start_of_day(subtract_working_days(state.due_at, policy.reminder_lead_working_days))


def _notify(
    kind: DecisionKind, state: EscalationState, policy: EscalationPolicy, number: int, now: datetime
) -> Decision:
    target = policy.level(number)
    return Decision(
        kind=kind,
        escalation_id=escalation_id(state.trigger, state.subject, number),
        trigger=state.trigger,
        subject=state.subject,
        level=number,
        agency=target.agency,
        role=target.role,
        at=now,
        due_at=add_working_days(now, target.ack_timeout_working_days),
    )


def evaluate(now: datetime, state: EscalationState, policy: EscalationPolicy) -> list[Decision]:
    """What to do for this cause at `now`: an empty list, one remind/raise/climb, or the closes."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got {now.isoformat()}")
    if state.closed:
        return []
    if state.cause_resolved:
        return [
            Decision(
                kind=DecisionKind.close,
                escalation_id=escalation_id(state.trigger, state.subject, number),
                trigger=state.trigger,
                subject=state.subject,
                level=number,
                agency=policy.level(number).agency,
                role=policy.level(number).role,
                at=now,
            )
            for number in range(1, (state.current_level or 0) + 1)
        ]
    if state.current_level is None:
        if now > state.due_at:
            return [_notify(DecisionKind.raise_, state, policy, 1, now)]
        if not state.reminded and now >= reminder_from(state, policy):
            return [
                Decision(
                    kind=DecisionKind.remind,
                    escalation_id=escalation_id(state.trigger, state.subject, 0),
                    trigger=state.trigger,
                    subject=state.subject,
                    level=0,
                    agency=state.responsible_agency or policy.level(1).agency,
                    at=now,
                    due_at=state.due_at,
                )
            ]
        return []
    deadline = ack_deadline(state, policy)
    if state.acknowledged or state.current_level >= len(policy.levels) or deadline is None or now <= deadline:
        return []
    return [_notify(DecisionKind.climb, state, policy, state.current_level + 1, now)]


def apply_decision(state: EscalationState, decision: Decision) -> EscalationState:
    """The state once `decision` has been carried out (what a handler persists)."""
    match decision.kind:
        case DecisionKind.remind:
            return state.model_copy(update={"reminded": True})
        case DecisionKind.raise_ | DecisionKind.climb:
            update = {"current_level": decision.level, "level_raised_at": decision.at, "acknowledged": False}
            return state.model_copy(update=update)
        case DecisionKind.close:
            return state.model_copy(update={"closed": True})
    raise ValueError(f"unknown decision kind {decision.kind!r}")  # pragma: no cover


def acknowledge(state: EscalationState) -> EscalationState:
    """The state once the current level has acknowledged the escalation (stops the climb)."""
    return state.model_copy(update={"acknowledged": True})
