"""Escalation policies (schemas.escalation_policy)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.escalation_policy import (
    DEFAULT_POLICY,
    Decision,
    DecisionKind,
    EscalationLevel,
    EscalationPolicy,
    EscalationState,
    TriggerKind,
    acknowledge,
    addressed_to_office,
    apply_decision,
    escalation_id,
    evaluate,
)
from schemas.working_days import VN_TZ, end_of_day

pytestmark = pytest.mark.unit

SUBJECT = "difficulty.ha-tinh.0190a1b2"
DUE = end_of_day(date(2027, 1, 29))  # Friday


def at(m: int, d: int, hh: int = 9) -> datetime:
    return datetime(2027, m, d, hh, tzinfo=VN_TZ)


def fresh(trigger: TriggerKind = TriggerKind.difficulty_unacknowledged) -> EscalationState:
    return EscalationState(trigger=trigger, subject=SUBJECT, due_at=DUE, responsible_agency="so-tu-phap")


def step(state: EscalationState, now: datetime) -> tuple[EscalationState, list[Decision]]:
    decisions = evaluate(now, state, DEFAULT_POLICY)
    for decision in decisions:
        state = apply_decision(state, decision)
    return state, decisions


def test_the_six_trigger_kinds_are_modelled() -> None:
    assert {t.value for t in TriggerKind} == {
        "difficulty_unacknowledged",
        "difficulty_unhandled",
        "difficulty_beyond_authority",
        "report_missing",
        "task_overdue",
        "information_unacknowledged",
    }


def test_the_default_policy_climbs_from_the_sngv_specialist_to_the_director_to_the_ubnd_office() -> None:
    """Level 3 is the office that receives SNgV's proposals for the UBND tỉnh, not the UBND itself."""
    assert [(lv.level, lv.agency) for lv in DEFAULT_POLICY.levels] == [
        (1, "so-ngoai-vu"),
        (2, "so-ngoai-vu"),
        (3, "van-phong-ubnd-tinh"),
    ]


def test_a_province_s_configured_office_takes_the_ubnd_level_and_the_sngv_levels_stay() -> None:
    own = addressed_to_office(DEFAULT_POLICY, "ubnd-tinh")
    assert [lv.agency for lv in own.levels] == ["so-ngoai-vu", "so-ngoai-vu", "ubnd-tinh"]
    assert [lv.role for lv in own.levels] == [lv.role for lv in DEFAULT_POLICY.levels]
    assert addressed_to_office(DEFAULT_POLICY, "van-phong-ubnd-tinh") is DEFAULT_POLICY
    assert [lv.agency for lv in DEFAULT_POLICY.levels][-1] == "van-phong-ubnd-tinh"  # left unchanged


def test_nothing_happens_before_the_reminder_window() -> None:
    assert evaluate(at(1, 27), fresh(), DEFAULT_POLICY) == []


def test_a_reminder_goes_to_the_responsible_agency_one_working_day_before_the_deadline() -> None:
    [reminder] = evaluate(at(1, 28, 0), fresh(), DEFAULT_POLICY)
    assert reminder.kind is DecisionKind.remind
    assert reminder.agency == "so-tu-phap" and reminder.level == 0
    assert reminder.due_at == DUE


def test_the_reminder_is_sent_only_once() -> None:
    state, _ = step(fresh(), at(1, 28))
    assert state.reminded
    assert evaluate(at(1, 29, 17), state, DEFAULT_POLICY) == []


def test_the_reminder_window_over_a_weekend_opens_on_the_previous_working_day() -> None:
    state = fresh().model_copy(update={"due_at": end_of_day(date(2027, 2, 1))})  # Monday
    assert evaluate(at(1, 28, 17), state, DEFAULT_POLICY) == []
    assert [d.kind for d in evaluate(at(1, 29, 8), state, DEFAULT_POLICY)] == [DecisionKind.remind]


def test_an_overdue_cause_is_raised_at_level_1_with_its_ack_deadline() -> None:
    [raised] = evaluate(at(2, 1), fresh(), DEFAULT_POLICY)
    assert raised.kind is DecisionKind.raise_
    assert (raised.level, raised.agency, raised.role) == (1, "so-ngoai-vu", "Chuyên viên Sở Ngoại vụ")
    assert raised.due_at == end_of_day(date(2027, 2, 2))
    assert raised.escalation_id == escalation_id(TriggerKind.difficulty_unacknowledged, SUBJECT, 1)


def test_an_unacknowledged_escalation_climbs_level_by_level_and_stops_at_the_top() -> None:
    state, _ = step(fresh(), at(2, 1))
    assert evaluate(end_of_day(date(2027, 2, 2)), state, DEFAULT_POLICY) == []  # still within timeout
    state, [climb] = step(state, at(2, 3))
    assert (climb.kind, climb.level, climb.agency) == (DecisionKind.climb, 2, "so-ngoai-vu")
    # level 2 has 2 working days from Wednesday 3/2: Tết closes 4-10/2, so it is due 12/02/2027
    assert climb.due_at == end_of_day(date(2027, 2, 12))
    assert evaluate(at(2, 10), state, DEFAULT_POLICY) == []
    state, [top] = step(state, at(2, 13))
    assert (top.kind, top.level, top.agency) == (DecisionKind.climb, 3, "van-phong-ubnd-tinh")
    assert evaluate(at(6, 1), state, DEFAULT_POLICY) == []


def test_an_acknowledged_level_stops_the_climb() -> None:
    state, _ = step(fresh(), at(2, 1))
    assert evaluate(at(3, 1), acknowledge(state), DEFAULT_POLICY) == []


def test_a_resolved_cause_closes_every_raised_level_with_their_ids() -> None:
    state, _ = step(fresh(), at(2, 1))
    state, _ = step(state, at(2, 3))
    resolved = state.model_copy(update={"cause_resolved": True})
    closes = evaluate(at(2, 4), resolved, DEFAULT_POLICY)
    assert [(d.kind, d.level) for d in closes] == [(DecisionKind.close, 1), (DecisionKind.close, 2)]
    assert [d.escalation_id for d in closes] == [
        escalation_id(TriggerKind.difficulty_unacknowledged, SUBJECT, level) for level in (1, 2)
    ]
    closed, _ = step(resolved, at(2, 4))
    assert closed.closed and evaluate(at(9, 1), closed, DEFAULT_POLICY) == []


def test_a_cause_resolved_before_its_deadline_is_never_raised() -> None:
    assert evaluate(at(3, 1), fresh().model_copy(update={"cause_resolved": True}), DEFAULT_POLICY) == []


def test_re_evaluating_the_same_state_after_a_restart_gives_the_same_decisions_and_ids() -> None:
    state, _ = step(fresh(), at(2, 1))
    restored = EscalationState.model_validate_json(state.model_dump_json())
    assert evaluate(at(2, 3), restored, DEFAULT_POLICY) == evaluate(at(2, 3), state, DEFAULT_POLICY)


def test_once_decisions_are_applied_re_evaluating_at_the_same_time_decides_nothing() -> None:
    state = fresh()
    for now in (at(1, 28), at(2, 1), at(2, 3), at(2, 13)):
        state, decisions = step(state, now)
        assert decisions
        assert evaluate(now, state, DEFAULT_POLICY) == []


def test_escalation_ids_are_uuid5_and_differ_by_trigger_subject_and_level() -> None:
    base = escalation_id(TriggerKind.report_missing, "report.gia-lai.so-tu-phap.2027-H1", 1)
    assert base.version == 5
    assert base == escalation_id(TriggerKind.report_missing, "report.gia-lai.so-tu-phap.2027-H1", 1)
    assert base != escalation_id(TriggerKind.task_overdue, "report.gia-lai.so-tu-phap.2027-H1", 1)
    assert base != escalation_id(TriggerKind.report_missing, "report.dong-nai.so-tu-phap.2027-H1", 1)
    assert base != escalation_id(TriggerKind.report_missing, "report.gia-lai.so-tu-phap.2027-H1", 2)


def test_a_cause_due_at_the_moment_it_arises_is_raised_at_once() -> None:
    raised_at = at(2, 1, 10)
    state = EscalationState(
        trigger=TriggerKind.difficulty_beyond_authority, subject=SUBJECT, due_at=raised_at
    )
    [decision] = evaluate(at(2, 1, 11), state, DEFAULT_POLICY)
    assert decision.kind is DecisionKind.raise_ and decision.level == 1


def test_a_policy_whose_levels_are_not_numbered_1_to_n_is_rejected() -> None:
    lv = EscalationLevel(level=2, agency="ubnd-tinh", role="Lãnh đạo UBND tỉnh", ack_timeout_working_days=1)
    with pytest.raises(ValidationError, match="numbered"):
        EscalationPolicy(name="sai", levels=(lv,))
    with pytest.raises(ValidationError):
        EscalationPolicy(name="rong", levels=())


def test_a_naive_evaluation_time_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(datetime(2027, 2, 1, 9), fresh(), DEFAULT_POLICY)


@given(
    hours=st.lists(st.integers(min_value=0, max_value=24 * 120), min_size=1, max_size=12),
    acked_at_tick=st.integers(min_value=0, max_value=12),
)
def test_however_often_it_is_evaluated_each_escalation_is_decided_at_most_once(
    hours: list[int], acked_at_tick: int
) -> None:
    state = fresh()
    seen: set[tuple[DecisionKind, UUID]] = set()
    for tick, offset in enumerate(sorted(hours)):
        now = at(1, 20, 0) + timedelta(hours=offset)
        if tick == acked_at_tick and state.current_level is not None:
            state = acknowledge(state)
        for _ in range(2):  # a redelivered tick decides nothing new
            state, decisions = step(state, now)
            for decision in decisions:
                key = (decision.kind, decision.escalation_id)
                assert key not in seen
                seen.add(key)
    assert (state.current_level or 0) <= len(DEFAULT_POLICY.levels)
