"""The difficulty lifecycle state machine (schemas.difficulty_lifecycle)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.difficulty_lifecycle import (
    DifficultyEvent,
    DifficultyState,
    DifficultyStatus,
    ImpossibleTransition,
    InvalidDifficultyPayload,
    StepLimits,
    allowed_events,
    apply,
    step_deadline,
)
from schemas.working_days import VN_TZ, end_of_day

pytestmark = pytest.mark.unit

T0 = datetime(2027, 1, 29, 10, 0, tzinfo=VN_TZ)  # Friday a week before Tết 2027


def run(*events: str, payload: dict[str, object] | None = None) -> DifficultyState:
    state: DifficultyState | None = None
    for i, name in enumerate(events):
        state = apply(state, name, T0 + timedelta(days=i), payload or {})
    assert state is not None
    return state


def test_guidance_path_reaches_resolved_with_a_timestamp_per_step() -> None:
    state = run("difficulty_raised", "difficulty_acknowledged", "guidance_issued", "difficulty_resolved")
    assert state.status is DifficultyStatus.resolved
    assert state.raised_at == T0
    assert state.acknowledged_at == T0 + timedelta(days=1)
    assert state.guidance_issued_at == T0 + timedelta(days=2)
    assert state.resolved_at == T0 + timedelta(days=3)
    assert state.escalated_at is None and state.decision_issued_at is None


def test_escalation_path_goes_through_the_ubnd_decision_before_resolution() -> None:
    state = run(
        "difficulty_raised",
        "difficulty_acknowledged",
        "difficulty_escalated",
        "decision_issued",
        "difficulty_resolved",
        payload={"beyond_authority": True},
    )
    assert state.status is DifficultyStatus.resolved
    assert state.beyond_authority is True
    assert state.escalated_at == T0 + timedelta(days=2)
    assert state.decision_issued_at == T0 + timedelta(days=3)


def test_an_acknowledged_difficulty_may_be_resolved_without_guidance() -> None:
    state = run("difficulty_raised", "difficulty_acknowledged", "difficulty_resolved")
    assert state.status is DifficultyStatus.resolved
    assert state.guidance_issued_at is None


def test_beyond_authority_is_taken_from_the_raised_payload_and_defaults_to_false() -> None:
    assert run("difficulty_raised", payload={"beyond_authority": True}).beyond_authority is True
    assert run("difficulty_raised").beyond_authority is False


def test_a_non_boolean_beyond_authority_is_an_invalid_payload() -> None:
    with pytest.raises(InvalidDifficultyPayload, match="beyond_authority"):
        apply(None, "difficulty_raised", T0, {"beyond_authority": "yes"})


def test_the_raisers_flag_is_its_view_only_and_sngv_judges_on_acknowledgement() -> None:
    flagged = run("difficulty_raised", "difficulty_acknowledged", payload={"beyond_authority": True})
    assert flagged.beyond_authority is True and flagged.within_authority is None
    assert flagged.beyond_sngv_authority is False  # the raiser said so; SNgV has not
    raised = run("difficulty_raised")
    judged = apply(raised, "difficulty_acknowledged", T0 + timedelta(days=1), {"within_authority": False})
    assert judged.within_authority is False and judged.beyond_sngv_authority is True
    within = apply(raised, "difficulty_acknowledged", T0 + timedelta(days=1), {"within_authority": True})
    assert within.beyond_sngv_authority is False


def test_escalating_with_a_proposal_is_sngv_judging_it_beyond_its_authority() -> None:
    acknowledged = run("difficulty_raised", "difficulty_acknowledged", payload={"within_authority": True})
    proposal = {"decide_by": date(2027, 2, 26), "document": {"number": "45/TTr-SNgV", "issued_on": None}}
    escalated = apply(acknowledged, "difficulty_escalated", T0 + timedelta(days=5), proposal)
    assert escalated.beyond_sngv_authority is True
    assert (escalated.proposal_document, escalated.decide_by) == ("45/TTr-SNgV", date(2027, 2, 26))
    again = DifficultyState.model_validate(escalated.model_dump(mode="json"))  # as the read model keeps it
    assert again == escalated


def test_the_ubnd_decision_is_due_by_the_date_sngv_asks_else_ubnd_decision_working_days() -> None:
    acknowledged = run("difficulty_raised", "difficulty_acknowledged")
    at = datetime(2027, 2, 23, 9, tzinfo=VN_TZ)
    asked = apply(acknowledged, "difficulty_escalated", at, {"decide_by": "2027-03-05"})
    assert step_deadline(asked, StepLimits()) == end_of_day(date(2027, 3, 5))
    unasked = apply(acknowledged, "difficulty_escalated", at, {})
    assert step_deadline(unasked, StepLimits(ubnd_decision=2)) == end_of_day(date(2027, 2, 25))


@pytest.mark.parametrize(("event_name", "payload"), [
    ("difficulty_acknowledged", {"within_authority": "no"}),
    ("difficulty_escalated", {"decide_by": "soon"}),
])
def test_an_unreadable_judgement_or_decide_by_is_an_invalid_payload(event_name: str, payload: dict) -> None:
    state = run("difficulty_raised") if event_name == "difficulty_acknowledged" else run(
        "difficulty_raised", "difficulty_acknowledged")
    with pytest.raises(InvalidDifficultyPayload):
        apply(state, event_name, T0 + timedelta(days=3), payload)


def test_apply_returns_a_new_frozen_state_and_leaves_the_old_one_unchanged() -> None:
    raised = run("difficulty_raised")
    acknowledged = apply(raised, "difficulty_acknowledged", T0 + timedelta(hours=2), {})
    assert raised.status is DifficultyStatus.raised and raised.acknowledged_at is None
    assert acknowledged is not raised
    with pytest.raises(ValidationError):
        acknowledged.status = DifficultyStatus.resolved  # type: ignore[misc]


REJECTED = [
    (None, "difficulty_acknowledged"),
    (None, "difficulty_resolved"),
    (("difficulty_raised",), "difficulty_raised"),
    (("difficulty_raised",), "difficulty_resolved"),
    (("difficulty_raised",), "guidance_issued"),
    (("difficulty_raised",), "difficulty_escalated"),
    (("difficulty_raised", "difficulty_acknowledged"), "decision_issued"),
    (("difficulty_raised", "difficulty_acknowledged"), "difficulty_acknowledged"),
    (("difficulty_raised", "difficulty_acknowledged", "guidance_issued"), "decision_issued"),
    (("difficulty_raised", "difficulty_acknowledged", "difficulty_escalated"), "difficulty_resolved"),
    (("difficulty_raised", "difficulty_acknowledged", "difficulty_escalated"), "guidance_issued"),
    (
        ("difficulty_raised", "difficulty_acknowledged", "guidance_issued", "difficulty_resolved"),
        "guidance_issued",
    ),
]


@pytest.mark.parametrize(("history", "event_name"), REJECTED)
def test_impossible_transitions_are_rejected(history: tuple[str, ...] | None, event_name: str) -> None:
    state = run(*history) if history else None
    with pytest.raises(ImpossibleTransition) as caught:
        apply(state, event_name, T0 + timedelta(days=10), {})
    assert caught.value.event_name == event_name
    assert caught.value.state == (state.status if state else None)


def test_the_rejection_message_names_the_state_the_event_and_the_allowed_events() -> None:
    state = run("difficulty_raised", "difficulty_acknowledged", "difficulty_escalated")
    with pytest.raises(ImpossibleTransition) as caught:
        apply(state, "difficulty_resolved", T0, {})
    message = str(caught.value)
    assert "'escalated'" in message and "'difficulty_resolved'" in message
    assert "allowed: decision_issued" in message
    assert caught.value.allowed == ("decision_issued",)


def test_a_resolved_difficulty_allows_no_event_and_says_so() -> None:
    state = run("difficulty_raised", "difficulty_acknowledged", "difficulty_resolved")
    assert allowed_events(state) == ()
    with pytest.raises(ImpossibleTransition, match="closed"):
        apply(state, "difficulty_raised", T0, {})


def test_an_unknown_event_name_is_an_impossible_transition() -> None:
    with pytest.raises(ImpossibleTransition, match="'difficulty_forgotten'"):
        apply(run("difficulty_raised"), "difficulty_forgotten", T0, {})


def test_a_naive_event_time_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        apply(None, "difficulty_raised", datetime(2027, 1, 29, 10), {})


def test_allowed_events_after_acknowledgement_are_guidance_escalation_or_resolution() -> None:
    assert set(allowed_events(DifficultyStatus.acknowledged)) == {
        DifficultyEvent.guidance_issued,
        DifficultyEvent.difficulty_escalated,
        DifficultyEvent.difficulty_resolved,
    }


def test_default_limits_are_2_10_15_and_20_working_days() -> None:
    limits = StepLimits()
    assert (limits.acknowledge, limits.guide_or_escalate, limits.ubnd_decision, limits.resolve) == (
        2,
        10,
        15,
        20,
    )


def test_step_deadlines_follow_each_step_in_working_days_across_tet() -> None:
    raised = apply(None, "difficulty_raised", T0, {})
    assert step_deadline(raised, StepLimits()) == end_of_day(date(2027, 2, 2))
    acknowledged = apply(raised, "difficulty_acknowledged", datetime(2027, 2, 2, 9, tzinfo=VN_TZ), {})
    # 3/2, then 11, 12, 15, 16, 17, 18, 19, 22, 23/2 → the 10th working day is 23/02/2027
    assert step_deadline(acknowledged, StepLimits()) == end_of_day(date(2027, 2, 23))
    escalated = apply(acknowledged, "difficulty_escalated", datetime(2027, 2, 23, 9, tzinfo=VN_TZ), {})
    assert step_deadline(escalated, StepLimits()) == end_of_day(date(2027, 3, 16))
    decided = apply(escalated, "decision_issued", datetime(2027, 3, 16, 9, tzinfo=VN_TZ), {})
    assert step_deadline(decided, StepLimits()) == end_of_day(date(2027, 4, 13))
    resolved = apply(decided, "difficulty_resolved", datetime(2027, 3, 20, 9, tzinfo=VN_TZ), {})
    assert step_deadline(resolved, StepLimits()) is None


def test_a_province_may_configure_its_own_limits() -> None:
    raised = apply(None, "difficulty_raised", T0, {})
    assert step_deadline(raised, StepLimits(acknowledge=1)) == end_of_day(date(2027, 2, 1))
    with pytest.raises(ValidationError):
        StepLimits(acknowledge=0)


def test_the_guidance_step_is_due_resolve_working_days_after_the_guidance() -> None:
    state = run("difficulty_raised", "difficulty_acknowledged")
    guided = apply(state, "guidance_issued", datetime(2027, 4, 29, 15, tzinfo=VN_TZ), {})
    assert step_deadline(guided, StepLimits(resolve=1)) == end_of_day(date(2027, 5, 4))


@given(st.lists(st.sampled_from([e.value for e in DifficultyEvent] + ["bogus"]), max_size=8))
def test_any_event_sequence_either_applies_or_raises_impossible_transition(names: list[str]) -> None:
    state: DifficultyState | None = None
    for i, name in enumerate(names):
        try:
            state = apply(state, name, T0 + timedelta(hours=i), {})
        except ImpossibleTransition as error:
            assert name not in error.allowed
        else:
            assert state.reached_at(state.status) == T0 + timedelta(hours=i)
