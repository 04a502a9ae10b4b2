"""One cause that cannot be computed (a row holding a time at the edge of the calendar, year 9999)
is parked on its own: the other causes, of its province and of the others, are read and decided
as if it were not there."""

from __future__ import annotations

from datetime import date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from schemas.difficulty_lifecycle import StepLimits
from schemas.escalation_policy import DEFAULT_POLICY, TriggerKind, escalation_id
from services.escalations.causes import Cause, Owed, Parked, difficulty_causes, report_causes, task_causes
from services.escalations.service import plan_tick, report_parked

pytestmark = pytest.mark.unit
VN = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2027, 3, 10, 8, tzinfo=VN)
EXTREME = "9999-12-31T20:00:00+00:00"  # 01/01/10000 in Việt Nam: no calendar day holds it


def difficulty_row(difficulty_id: str, raised_at: str, province: str = "ha-tinh", **state: object) -> SimpleNamespace:
    return SimpleNamespace(difficulty_id=difficulty_id, province=province, topic="Thủ tục visa", agency="so-tu-phap",
                           state={"status": "raised", "raised_at": raised_at, **state})


def overdue(province: str, agency: str = "so-tu-phap") -> Cause:
    """A report cause whose deadline passed: the policy raises it at level 1 at NOW."""
    [cause] = report_causes([Owed(province, agency, "Sở Tư pháp", "2027-H1", date(2027, 3, 5), False)]).causes
    return cause


def far_future(province: str) -> Cause:
    """A cause due at a moment whose reminder day cannot be computed (the day after 31/12/9999)."""
    return Cause(TriggerKind.difficulty_unacknowledged, province, "difficulty/far", f"{province}:difficulty/far:ack",
                 datetime.fromisoformat(EXTREME), "so-ngoai-vu", False, "Khó khăn chưa được tiếp nhận")


def test_a_difficulty_raised_in_year_9999_parks_its_deadline_cause_and_not_the_other_rows():
    rows = [difficulty_row("good", "2027-03-01T09:00:00+07:00"),
            difficulty_row("bad", EXTREME, beyond_authority=True),
            difficulty_row("also-good", "2027-03-02T09:00:00+07:00")]
    causes, parked = difficulty_causes(rows, StepLimits())
    assert [c.key for c in causes] == ["ha-tinh:difficulty/good:ack", "ha-tinh:difficulty/bad:beyond",
                                       "ha-tinh:difficulty/also-good:ack"]
    [bad] = parked
    assert (bad.key, bad.trigger, bad.province) == ("ha-tinh:difficulty/bad:ack", TriggerKind.difficulty_unacknowledged,
                                                    "ha-tinh")
    assert isinstance(bad.error, OverflowError)


def test_an_unreadable_difficulty_state_is_parked_as_its_row():
    rows = [SimpleNamespace(difficulty_id="junk", province="kon-tum", topic="x", agency="so-y-te",
                            state={"status": "no-such-status"}),
            difficulty_row("good", "2027-03-01T09:00:00+07:00", province="kon-tum")]
    causes, parked = difficulty_causes(rows, StepLimits())
    assert [c.key for c in causes] == ["kon-tum:difficulty/good:ack"]
    assert [(p.key, p.trigger, p.province) for p in parked] == [("kon-tum:difficulty/junk", None, "kon-tum")]


def test_a_task_row_that_cannot_be_read_is_parked_and_the_next_task_is_read():
    good = SimpleNamespace(task_id="t1", province="gia-lai", due_date=date(2027, 3, 1), lead_agencies=["so-noi-vu"],
                           status="assigned", task_number="6", plan_id="p", title="Tập huấn")
    bad = SimpleNamespace(task_id="t0", province="gia-lai", due_date="31/12/9999", lead_agencies=[],
                          status="assigned", task_number="1", plan_id="p", title="Lỗi")
    causes, parked = task_causes([bad, good])
    assert [c.key for c in causes] == ["gia-lai:task/t1"]
    assert [(p.key, p.trigger) for p in parked] == [("gia-lai:task/t0", TriggerKind.task_overdue)]


def test_a_cause_whose_decision_raises_is_parked_and_the_others_are_decided():
    causes = [overdue("ha-tinh"), far_future("ha-tinh"), overdue("kon-tum", "so-y-te")]
    plan = plan_tick(NOW, causes, {}, DEFAULT_POLICY)
    assert [(e.source, e.data["level"]) for e, _ in plan.events] == [
        ("/provinces/ha-tinh/agencies/doingoai", 1), ("/provinces/kon-tum/agencies/doingoai", 1)]
    assert all(valid.id == event.id for event, valid in plan.events)
    [parked] = plan.parked
    assert (parked.key, parked.trigger, parked.province) == ("ha-tinh:difficulty/far:ack",
                                                             TriggerKind.difficulty_unacknowledged, "ha-tinh")
    assert isinstance(parked.error, OverflowError)


def test_an_escalation_row_raised_in_year_9999_parks_the_climb_of_its_cause_only():
    """The state is computed from the escalations read model: the ack deadline of a level raised at
    the end of year 9999 cannot be counted; the other cause still climbs."""
    stuck, moving = overdue("ha-tinh"), overdue("quang-tri")
    rows = {str(escalation_id(stuck.trigger, stuck.key, 1)): SimpleNamespace(
                raised_at=datetime.fromisoformat(EXTREME), status="open"),
            str(escalation_id(moving.trigger, moving.key, 1)): SimpleNamespace(
                raised_at=datetime(2027, 3, 6, 8, tzinfo=VN), status="open")}
    plan = plan_tick(NOW, [stuck, moving], rows, DEFAULT_POLICY)
    assert [(e.data["cause_subject"], e.data["level"]) for e, _ in plan.events] == [
        ("report/quang-tri-so-tu-phap-2027-H1", 2)]
    assert [p.key for p in plan.parked] == [stuck.key]


def test_a_parked_cause_is_logged_with_its_key_trigger_province_and_error_and_counted():
    labels = {"trigger": "difficulty_unacknowledged"}
    before = REGISTRY.get_sample_value("doingoai_escalation_causes_parked_total", labels) or 0.0
    [parked] = plan_tick(NOW, [far_future("ha-tinh")], {}, DEFAULT_POLICY).parked
    with capture_logs() as logs:
        report_parked(parked)
        report_parked(Parked("kon-tum:difficulty/junk", None, "kon-tum", ValueError("bad state")))
    assert logs[0]["event"] == "escalations.cause_parked" and logs[0]["log_level"] == "error"
    assert {k: logs[0][k] for k in ("key", "trigger", "province")} == {
        "key": "ha-tinh:difficulty/far:ack", "trigger": "difficulty_unacknowledged", "province": "ha-tinh"}
    assert "OverflowError" in logs[0]["error"] and logs[0]["where"]
    assert logs[1]["trigger"] is None and logs[1]["error"] == "ValueError('bad state')"
    assert REGISTRY.get_sample_value("doingoai_escalation_causes_parked_total", labels) == before + 1
    assert REGISTRY.get_sample_value("doingoai_escalation_causes_parked_total", {"trigger": "unreadable"}) >= 1

