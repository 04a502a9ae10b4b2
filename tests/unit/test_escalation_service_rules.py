"""The pure parts of the escalation service: causes, state rebuilt from rows, events decided."""

from __future__ import annotations

from datetime import date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from services.escalations.causes import Owed, information_causes, report_causes, task_causes
from services.escalations.owed import owed_reports
from services.escalations.policy import DEFAULT_POLICY, DecisionKind, TriggerKind, escalation_id, evaluate
from services.escalations.service import event_for, state_for
from services.queries.compliance import Request, Sent

pytestmark = pytest.mark.unit
VN = ZoneInfo("Asia/Ho_Chi_Minh")


def report_cause(submitted: bool = False):
    owed = Owed("ha-tinh", "so-tu-phap", "Sở Tư pháp", "2021-H1", date(2021, 5, 25), submitted)
    [cause] = report_causes([owed]).causes
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


def test_reports_owed_follow_the_plans_recorded_and_the_requests_only():
    """Hà Tĩnh with plans 365 and 53 recorded: in 2021 the units owe 6-month reports by 25/05 and annual
    ones by 10/10; in 2020 and 2024 nobody owes a dated report (SNgV's has no date); a request binds
    exactly its agencies by its deadline, and a returned report is not there."""
    recorded = {"ha-tinh": {"ha-tinh-365-2019", "ha-tinh-53-2021"}}
    request = Request("req-1", "ad_hoc", "2024", "Báo cáo đột xuất", date(2024, 3, 1), ["so-y-te", "so-tu-phap"])
    sent = {"ha-tinh": [Sent("r1", "so-y-te", "ad_hoc", "2024", date(2024, 2, 20), "submitted", None, "req-1"),
                        Sent("r2", "so-noi-vu", "semiannual", "2021-H1", date(2021, 5, 20), "returned",
                             date(2021, 5, 27))]}
    owing = owed_reports(recorded, {("ha-tinh", "2024"): [request]}, sent, date(2024, 6, 1))
    assert owing.parked == []
    deadlines = {(o.period, o.deadline) for o in owing.owed}
    assert deadlines == {("2021-H1", date(2021, 5, 25)), ("2021", date(2021, 10, 10)), ("2024", date(2024, 3, 1))}
    adhoc = {o.agency: o.done for o in owing.owed if o.request_id == "req-1"}
    assert adhoc == {"so-y-te": True, "so-tu-phap": False}
    assert not next(o for o in owing.owed if o.agency == "so-noi-vu" and o.period == "2021-H1").done
    assert not any(o.agency == "so-ngoai-vu" for o in owing.owed)
    assert owed_reports({"ha-tinh": {"ha-tinh-365-2019"}}, {}, {}, date(2024, 6, 1)).owed == []


def test_a_missing_ad_hoc_report_is_a_cause_of_its_own_named_by_the_request():
    owed = Owed("kon-tum", "so-tu-phap", "Sở Tư pháp", "2021-H1", date(2021, 4, 9), False, "req-1", "Báo cáo biên giới")
    [cause] = report_causes([owed]).causes
    assert (cause.key, cause.cause_subject) == ("kon-tum:report/req-1:so-tu-phap", "report/req-1")
    assert cause.message == "Sở Tư pháp chưa gửi báo cáo theo yêu cầu “Báo cáo biên giới” (hạn 09/04/2021)"
    assert (cause.trigger, cause.responsible_agency, cause.period) == (TriggerKind.report_missing, "so-tu-phap",
                                                                       "2021-H1")


def test_each_year_of_an_annual_task_is_a_cause_due_on_its_own_day():
    row = SimpleNamespace(task_id="gia-lai-1109-2020-8", province="gia-lai", plan_id="gia-lai-1109-2020",
                          task_number="8", recurrence="annually", due_date=None, status="in_progress",
                          lead_agencies=["so-ngoai-vu"], completed_periods={"2020": "2020-11-20"}, title="Tập huấn")
    causes = task_causes([row], date(2022, 3, 1), {"gia-lai": {"gia-lai-1109-2020"}}).causes
    assert [(c.key, c.due_at.date(), c.resolved, c.period) for c in causes] == [
        ("gia-lai:task/gia-lai-1109-2020-8:2020", date(2020, 12, 31), True, "2020"),
        ("gia-lai:task/gia-lai-1109-2020-8:2021", date(2021, 12, 31), False, "2021"),
        ("gia-lai:task/gia-lai-1109-2020-8:2022", date(2022, 12, 31), False, "2022")]
    assert causes[1].message.startswith("Nhiệm vụ 8 năm 2021 của Kế hoạch năm 2020 “Triển khai Quyết định số 1109")
    assert "quá hạn 31/12/2021" in causes[1].message and "gia-lai-1109-2020" not in causes[1].message
