"""The pure parts of the escalation service: causes, state rebuilt from rows, events decided."""

from __future__ import annotations

from datetime import date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from services.escalations.causes import information_causes, report_causes, task_causes
from services.escalations.policy import DEFAULT_POLICY, DecisionKind, TriggerKind, escalation_id, evaluate
from services.escalations.service import event_for, state_for

pytestmark = pytest.mark.unit
VN = ZoneInfo("Asia/Ho_Chi_Minh")


def report_cause(submitted: bool = False):
    [cause] = report_causes(
        {("ha-tinh", "2021-H1"): date(2021, 5, 25)},
        {("ha-tinh", "so-tu-phap", "2021-H1")} if submitted else set(),
        {("ha-tinh", "so-tu-phap"): "Sở Tư pháp"},
    ).causes
    return cause


def test_a_report_cause_is_due_at_the_end_of_its_deadline_day_and_resolved_by_a_submission():
    cause = report_cause()
    assert cause.due_at == datetime(2021, 5, 25, 23, 59, 59, 999999, tzinfo=VN)
    assert cause.cause_subject == "report/ha-tinh-so-tu-phap-2021-H1" and not cause.resolved
    assert "Sở Tư pháp chưa gửi báo cáo 6 tháng đầu năm 2021 (hạn 25/05/2021)" == cause.message
    assert report_cause(submitted=True).resolved


def test_only_tasks_with_a_due_date_can_be_overdue_and_completion_resolves_them():
    rows = [SimpleNamespace(task_id="t1", province="gia-lai", due_date=date(2020, 6, 30), lead_agencies=["so-noi-vu"],
                            status="assigned", task_number="6", plan_id="gia-lai-1109-2020", title="Tập huấn"),
            SimpleNamespace(task_id="t2", province="gia-lai", due_date=None, lead_agencies=["so-ngoai-vu"],
                            status="assigned", task_number="1", plan_id="gia-lai-1109-2020", title="Nghiên cứu")]
    [cause] = task_causes(rows).causes
    assert (cause.trigger, cause.responsible_agency, cause.resolved) == (TriggerKind.task_overdue, "so-noi-vu", False)


def test_each_recipient_that_has_not_acknowledged_is_its_own_cause():
    row = SimpleNamespace(info_id="i1", province="ha-tinh", respond_by=date(2021, 4, 10), topic="Tình hình",
                          recipients=["so-y-te", "so-noi-vu"], acknowledged=["so-y-te"])
    causes = {c.responsible_agency: c.resolved for c in information_causes([row]).causes}
    assert causes == {"so-y-te": True, "so-noi-vu": False}


def test_state_is_rebuilt_from_the_escalation_rows_of_the_cause():
    cause = report_cause()
    at = datetime(2021, 5, 26, 8, tzinfo=VN)
    rows = {str(escalation_id(cause.trigger, cause.key, 1)): SimpleNamespace(raised_at=at, status="closed"),
            str(escalation_id(cause.trigger, cause.key, 2)): SimpleNamespace(raised_at=at, status="acknowledged")}
    state = state_for(cause, rows)
    assert (state.current_level, state.acknowledged, state.closed, state.reminded) == (2, True, False, False)


def test_the_same_decision_always_becomes_the_same_event_id():
    cause = report_cause()
    now = datetime(2021, 5, 26, 8, tzinfo=VN)
    [decision] = evaluate(now, state_for(cause, {}), DEFAULT_POLICY)
    assert decision.kind == DecisionKind.raise_
    first, again = event_for(cause, decision, DEFAULT_POLICY), event_for(cause, decision, DEFAULT_POLICY)
    assert first.id == again.id and first.subject == f"escalation/{decision.escalation_id}"
    assert first.source == "/provinces/ha-tinh/agencies/doingoai"
    assert first.data["target_agency"] == "so-ngoai-vu" and first.data["responsible_agency"] == "so-tu-phap"
