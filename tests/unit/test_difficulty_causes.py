"""The difficulty path as the plans write it ("phản ánh về Sở Ngoại vụ để được hướng dẫn… trường hợp
vượt thẩm quyền, Sở Ngoại vụ tổng hợp, tham mưu, đề xuất UBND tỉnh"): what may escalate at each step,
who is responsible for it, and who is told (pure: services.escalations.causes and the policy)."""

from __future__ import annotations

from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from schemas.difficulty_lifecycle import DifficultyState, StepLimits, apply
from schemas.escalation_policy import DEFAULT_POLICY, TriggerKind, addressed_to_office, escalation_id
from schemas.working_days import VN_TZ, end_of_day
from services.escalations.causes import Cause, difficulty_causes
from services.escalations.service import plan_tick

pytestmark = pytest.mark.unit
RAISED = datetime(2026, 3, 2, 9, tzinfo=VN_TZ)  # Monday
ACKNOWLEDGED = datetime(2026, 3, 3, 9, tzinfo=VN_TZ)
ESCALATED = datetime(2026, 3, 10, 9, tzinfo=VN_TZ)
BEYOND = TriggerKind.difficulty_beyond_authority


def row(*steps: tuple[str, datetime, dict[str, Any]], province: str = "ha-tinh") -> SimpleNamespace:
    state: DifficultyState | None = None
    for name, at, payload in steps:
        state = apply(state, name, at, payload)
    assert state is not None
    return SimpleNamespace(difficulty_id="d1", province=province, topic="Hội thảo quốc tế", agency="ubnd-huyen-ky-anh",
                           state=state.model_dump(mode="json"))


def causes(r: SimpleNamespace, office: str = "van-phong-ubnd-tinh") -> dict[str, Cause]:
    found = difficulty_causes([r], StepLimits(), office)
    assert found.parked == []
    return {c.key.rsplit(":", 1)[1]: c for c in found.causes}


def raised(flag: bool = False) -> tuple[str, datetime, dict[str, Any]]:
    return ("difficulty_raised", RAISED, {"beyond_authority": flag})


def acknowledged(within: bool | None) -> tuple[str, datetime, dict[str, Any]]:
    return ("difficulty_acknowledged", ACKNOWLEDGED, {"within_authority": within})


def test_the_raisers_flag_alone_gives_no_open_beyond_authority_cause_only_the_usual_steps() -> None:
    found = causes(row(raised(flag=True), acknowledged(None)))
    assert [k for k, c in found.items() if c.trigger is BEYOND and not c.resolved] == []
    handle = found["handle"]
    assert (handle.trigger, handle.resolved, handle.responsible_agency) == (
        TriggerKind.difficulty_unhandled, False, "so-ngoai-vu")
    # kept resolved so that an escalation an earlier version raised on the flag alone is closed
    assert found["beyond"].resolved and found["ack"].resolved


def test_sngv_judging_it_beyond_its_authority_on_acknowledgement_makes_the_proposal_its_step() -> None:
    found = causes(row(raised(), acknowledged(False)))
    assert "handle" not in found  # the step is the proposal to the UBND, not guidance
    propose = found["propose"]
    assert (propose.trigger, propose.resolved, propose.responsible_agency) == (BEYOND, False, "so-ngoai-vu")
    # 10 working days after Tue 03/03/2026: 04, 05, 06, 09, 10, 11, 12, 13, 16, 17/03
    assert propose.due_at == end_of_day(date(2026, 3, 17))
    assert "đề xuất UBND tỉnh quyết định (hạn 17/03/2026)" in propose.message
    assert "decide" not in found


def test_a_proposal_to_the_ubnd_starts_its_decision_timer_and_makes_the_office_responsible() -> None:
    proposal = {"decide_by": None, "document": {"number": "45/TTr-SNgV"}}
    found = causes(row(raised(), acknowledged(False), ("difficulty_escalated", ESCALATED, proposal)))
    assert found["propose"].resolved
    decide = found["decide"]
    assert (decide.trigger, decide.resolved, decide.responsible_agency) == (BEYOND, False, "van-phong-ubnd-tinh")
    # 15 working days after Tue 10/03/2026 (no holiday in between): Tue 31/03
    assert decide.due_at == end_of_day(date(2026, 3, 31))
    assert "Tờ trình số 45/TTr-SNgV" in decide.message


def test_escalating_without_a_judgement_on_acknowledgement_is_the_judgement_and_decide_by_sets_the_timer() -> None:
    steps = (raised(), acknowledged(True), ("difficulty_escalated", ESCALATED, {"decide_by": date(2026, 3, 20)}))
    found = causes(row(*steps), office="ubnd-tinh")
    assert "propose" not in found and found["handle"].resolved
    decide = found["decide"]
    assert (decide.due_at, decide.responsible_agency) == (end_of_day(date(2026, 3, 20)), "ubnd-tinh")
    decided = causes(row(*steps, ("decision_issued", datetime(2026, 3, 19, 9, tzinfo=VN_TZ), {})))
    assert decided["decide"].resolved


def test_each_province_s_top_level_is_its_configured_office() -> None:
    late = datetime(2026, 6, 1, 8, tzinfo=VN_TZ)
    found = causes(row(raised(), acknowledged(False), province="kon-tum"))
    cause = found["propose"]
    levels_raised = {str(escalation_id(cause.trigger, cause.key, n)): SimpleNamespace(raised_at=late, status="open")
                     for n in (1, 2)}
    offices = {"kon-tum": "ubnd-tinh"}
    plan = plan_tick(datetime(2026, 6, 10, 8, tzinfo=VN_TZ), [cause], levels_raised,
                     lambda p: addressed_to_office(DEFAULT_POLICY, offices.get(p, "van-phong-ubnd-tinh")))
    [(event, _)] = plan.events
    assert (event.data["level"], event.data["target_agency"], event.data["responsible_agency"]) == (
        3, "ubnd-tinh", "so-ngoai-vu")
    [(default, _)] = plan_tick(datetime(2026, 6, 10, 8, tzinfo=VN_TZ), [cause], levels_raised, DEFAULT_POLICY).events
    assert default.data["target_agency"] == "van-phong-ubnd-tinh"


def test_the_raisers_flag_never_raises_anything_on_its_own() -> None:
    """Raised with the flag and acknowledged at once: three working days later (when the earlier
    version's climb from raising would have reached the UBND) nothing is decided for the difficulty."""
    found = causes(row(raised(flag=True), acknowledged(None)))
    plan = plan_tick(datetime(2026, 3, 6, 8, tzinfo=VN_TZ), list(found.values()), {}, DEFAULT_POLICY)
    assert plan.events == [] and plan.parked == []
