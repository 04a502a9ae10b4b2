"""The pure rules behind the read models: reducers, compliance, task status."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from projections.engine.batch import Stored
from projections.models.difficulties import step
from projections.models.plans import completed, task_assigned
from projections.models.reports import returned, submitted
from projections.models.rows import Refused
from schemas.codec import decode, encode
from schemas.common import ReportKind
from schemas.reference.duties import Duty
from services.queries.compliance import Request, Sent, compliance_rows, judge
from services.queries.dashboard import task_status
from services.queries.periods import BadPeriod, window
from services.queries.tasks import task_state
from tests.support import sample

pytestmark = pytest.mark.unit
NOW = datetime(2021, 5, 20, tzinfo=UTC)


def stored(name: str, seq: int = 1, **data) -> Stored:
    event = sample(name, aggregate_id="x1", data=data)
    return Stored(seq, NOW, f"doingoai.events.ha-tinh.so-ngoai-vu.{name}", decode(encode(event)))


def test_a_report_on_its_deadline_day_is_on_time_and_a_day_later_is_late():
    assert judge(date(2021, 5, 25), date(2021, 5, 25), date(2021, 7, 1)) == ("on_time", None)
    assert judge(date(2021, 5, 25), date(2021, 5, 26), date(2021, 7, 1)) == ("late", 1)


def test_no_report_is_pending_until_the_deadline_passes_then_missing():
    assert judge(date(2021, 5, 25), None, date(2021, 5, 25)) == ("pending", None)
    assert judge(date(2021, 5, 25), None, date(2021, 5, 26)) == ("missing", None)


def duty(agency: str, deadline: date | None = date(2021, 5, 25), basis: str | None = "plan") -> Duty:
    return Duty("ha-tinh", "2021-H1", ReportKind.semiannual, agency, agency, deadline, basis, "ha-tinh-53-2021",
                "53/KH-UBND", "so-ngoai-vu", "Định kỳ 6 tháng (trước ngày 25/5)")


def sent(report_id: str, agency: str, day: date, kind: str = "semiannual", period: str = "2021-H1",
         status: str = "submitted", request_id: str | None = None, returned_on: date | None = None) -> Sent:
    return Sent(report_id, agency, kind, period, day, status, returned_on, request_id)


def test_compliance_lists_the_agencies_bound_and_a_sender_nobody_asked_as_no_duty():
    rows = compliance_rows([duty("so-y-te"), duty("so-noi-vu")],
                           [], [sent("r1", "so-y-te", date(2021, 5, 20)), sent("r2", "hoi-x", date(2021, 6, 1))],
                           {}, "2021-H1", date(2021, 7, 1))
    assert [(r.agency, r.duty, r.status) for r in rows] == [
        ("so-noi-vu", "periodic", "missing"), ("so-y-te", "periodic", "on_time"), ("hoi-x", "none", "no_duty")]
    assert rows[0].basis == "Kế hoạch số 53/KH-UBND" and rows[0].deadline_basis == "plan"
    assert rows[2].note == "Không có kế hoạch nào quy định báo cáo này" and rows[2].deadline is None


def test_a_request_binds_exactly_its_agencies_by_its_deadline_apart_from_the_periodic_duty():
    request = Request("req-1", "ad_hoc", "2021-H1", "Báo cáo đột xuất biên giới", date(2021, 4, 9),
                      ["cong-an-tinh", "so-tu-phap"])
    answered = sent("a1", "cong-an-tinh", date(2021, 4, 8), kind="ad_hoc", request_id="req-1")
    rows = compliance_rows([duty("cong-an-tinh")], [request], [answered], {"so-tu-phap": "Sở Tư pháp"}, "2021-H1",
                           date(2021, 7, 1))
    assert [(r.agency, r.duty, r.request_id, r.status) for r in rows] == [
        ("cong-an-tinh", "periodic", None, "missing"),  # the ad hoc report is not the 6-month one
        ("cong-an-tinh", "request", "req-1", "on_time"), ("so-tu-phap", "request", "req-1", "missing")]
    assert rows[2].agency_name == "Sở Tư pháp" and rows[2].deadline == date(2021, 4, 9)
    assert rows[2].basis == "Báo cáo đột xuất biên giới" and rows[2].deadline_basis == "request"


def test_an_ad_hoc_report_for_a_year_never_counts_as_the_annual_report():
    annual = Duty("ha-tinh", "2021", ReportKind.annual, "so-y-te", "Sở Y tế", date(2021, 10, 10), "plan",
                  "ha-tinh-53-2021", "53/KH-UBND", "so-ngoai-vu", "năm (trước 10/10)")
    rows = compliance_rows([annual], [], [sent("x", "so-y-te", date(2021, 9, 1), kind="ad_hoc", period="2021")], {},
                           "2021", date(2021, 11, 1))
    assert [(r.duty, r.status) for r in rows] == [("periodic", "missing"), ("none", "no_duty")]


def test_a_returned_report_is_not_there_until_sent_again():
    returned = sent("r1", "so-y-te", date(2021, 5, 20), status="returned", returned_on=date(2021, 5, 27))
    [row] = compliance_rows([duty("so-y-te")], [], [returned], {}, "2021-H1", date(2021, 5, 28))
    assert (row.status, row.submitted_on, row.report_status) == ("missing", None, "returned")
    assert row.note == "Báo cáo bị trả lại ngày 27/05/2021, chưa gửi lại"
    [early] = compliance_rows([duty("so-y-te")], [], [returned], {}, "2021-H1", date(2021, 5, 24))
    assert early.status == "pending"


def test_a_report_resent_after_its_return_is_judged_by_the_day_it_is_sent_again():
    first = submitted(None, stored("report_submitted", period="2021-H1", report_kind="semiannual",
                                   submitted_on="2021-05-20"))
    back = returned(first, stored("report_returned", seq=2, returned_on="2021-05-27", resubmit_by=None))
    again = submitted(back, stored("report_submitted", seq=3, period="2021-H1", report_kind="semiannual",
                                   submitted_on="2021-06-02"))
    assert (again["status"], again["submitted_on"]) == ("submitted", date(2021, 6, 2))
    [row] = compliance_rows([duty("so-ngoai-vu")], [], [sent("x1", "so-ngoai-vu", again["submitted_on"])], {},
                            "2021-H1", date(2021, 7, 1))
    assert (row.status, row.days_late) == ("late", 8)
    unasked = submitted(first, stored("report_submitted", seq=2, period="2021-H1", report_kind="semiannual",
                                      submitted_on="2021-06-02"))
    assert unasked["submitted_on"] == date(2021, 5, 20)  # sent again unasked: it was there on the 20th


def test_a_report_keeps_the_request_it_answers():
    row = submitted(None, stored("report_submitted", period="2021-H1", report_kind="ad_hoc", request_id="req-1"))
    assert row["request_id"] == "req-1"


def test_without_a_deadline_a_report_is_pending_until_sent_and_the_row_says_why():
    [row] = compliance_rows([duty("so-ngoai-vu", None, None)], [], [], {}, "2021-H1", date(2022, 1, 1))
    assert (row.status, row.deadline, row.note) == ("pending", None, "Kế hoạch không nêu thời hạn")
    [default] = compliance_rows([duty("so-noi-vu", date(2020, 6, 20), "default")], [], [], {}, "2021-H1",
                                date(2022, 1, 1))
    assert default.deadline_basis == "default" and "mặc định do tỉnh cấu hình" in (default.note or "")


def test_periods_follow_the_decree_09_data_windows():
    assert window("2021-H1") == (date(2020, 12, 15), date(2021, 6, 14))
    assert window("2021") == (date(2020, 12, 15), date(2021, 12, 14))
    assert window("2021-H2") == (date(2021, 6, 15), date(2021, 12, 14))
    with pytest.raises(BadPeriod):
        window("2021-Q3")


def test_a_task_past_its_due_date_and_not_completed_is_overdue():
    row = SimpleNamespace(status="assigned", due_date=date(2020, 6, 30))
    assert task_status(row, date(2020, 7, 1)) == "overdue"
    assert task_status(SimpleNamespace(status="completed", due_date=date(2020, 6, 30)), date(2021, 1, 1)) == "completed"


def test_a_recurring_task_stays_open_after_a_periodic_completion():
    assigned = task_assigned(None, stored("task_assigned", recurrence="annually", due_date=None))
    after = completed(assigned, stored("task_completed", seq=2))
    assert after["status"] == "in_progress" and after["completed_on"] is not None


def test_an_annual_task_keeps_a_completion_per_year_its_period_or_else_the_year_it_was_done():
    assigned = task_assigned(None, stored("task_assigned", recurrence="annually", due_date=None))
    done = completed(assigned, stored("task_completed", seq=2, period="2020", completed_on="2021-01-05"))
    done = completed(done, stored("task_completed", seq=3, period=None, completed_on="2021-11-30"))
    done = completed(done, stored("task_completed", seq=4, period="2021", completed_on="2021-12-20"))
    assert done["completed_periods"] == {"2020": "2021-01-05", "2021": "2021-11-30"}
    monthly = task_assigned(None, stored("task_assigned", recurrence="monthly", due_date=None))
    assert completed(monthly, stored("task_completed", seq=2))["status"] == "in_progress"


def test_an_annual_task_is_overdue_in_a_year_whose_instance_is_not_done():
    row = {"province": "gia-lai", "plan_id": "gia-lai-1109-2020", "task_number": "8", "recurrence": "annually",
           "status": "in_progress", "due_date": None, "completed_periods": {"2020": "2020-11-20"}}
    state = task_state(row, date(2021, 12, 31))
    assert (state.status, state.due_date) == ("in_progress", date(2021, 12, 31))
    state = task_state(row, date(2022, 1, 1))
    assert (state.status, state.due_date) == ("overdue", date(2021, 12, 31))
    assert [i["status"] for i in state.instances_as_dicts(date(2022, 1, 1))] == ["completed", "overdue", "open"]
    both = {**row, "completed_periods": {"2020": "2020-11-20", "2021": "2021-12-01"}}
    assert task_state(both, date(2022, 1, 1)).status == "in_progress"


def test_an_impossible_difficulty_transition_is_refused_with_its_reason():
    with pytest.raises(Refused) as refused:
        step(None, stored("difficulty_resolved"))
    assert refused.value.kind == "impossible_transition"
    raised = step(None, stored("difficulty_raised"))
    assert raised["status"] == "raised"
    assert step(raised, stored("difficulty_acknowledged", seq=2))["status"] == "acknowledged"
