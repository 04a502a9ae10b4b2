"""The consolidated report and one row at the edge of the calendar (year 9999, year 0001): the row
is left out with a note in the log, or shown as it is, and the report is made; a period or date
outside the years 1900-2100 is refused with a message naming it."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import docx
import pytest
from structlog.testing import capture_logs

from services.queries.periods import BadPeriod, window
from services.reports import model as m
from services.reports.data import (
    BadReportDate,
    check_report_date,
    check_request,
    difficulty_lines,
    escalation_lines,
    report_date,
    task_lines,
)
from services.reports.docx_report import to_bytes

pytestmark = pytest.mark.unit
START, END = date(2020, 12, 15), date(2021, 6, 14)
NAMES = {"so-y-te": "Sở Y tế"}


def difficulty(difficulty_id: str, raised_at: datetime, status: str = "raised") -> dict[str, object]:
    return {"difficulty_id": difficulty_id, "agency": "so-y-te", "topic": f"Khó khăn {difficulty_id}",
            "raised_at": raised_at, "severity": "high", "beyond_authority": False, "status": status}


def test_a_difficulty_raised_in_year_9999_is_left_out_with_a_log_line_and_the_others_are_kept():
    rows = [difficulty("good", datetime(2021, 3, 1, 2, tzinfo=UTC)),
            difficulty("bad", datetime.fromisoformat("9999-12-31T20:00:00+00:00")),
            difficulty("naive", datetime.max),  # how the driver reads 'infinity'
            difficulty("later", datetime(2021, 4, 1, 2, tzinfo=UTC))]
    with capture_logs() as logs:
        lines = difficulty_lines(rows, NAMES, START, END)
    assert [x.topic for x in lines] == ["Khó khăn good", "Khó khăn later"]
    assert [(e["event"], e["table"], e["key"]) for e in logs] == [
        ("report.row_left_out", "difficulties", "bad"), ("report.row_left_out", "difficulties", "naive")]
    assert "OverflowError" in logs[0]["error"] and logs[0]["log_level"] == "warning"


def test_the_report_says_beyond_sngv_s_authority_on_sngv_s_judgement_not_the_raiser_s_flag():
    at = datetime(2021, 3, 1, 2, tzinfo=UTC)
    flagged = {**difficulty("flag", at, "acknowledged"), "beyond_authority": True,
               "state": {"status": "acknowledged", "within_authority": None}}
    judged = {**difficulty("judged", at, "acknowledged"),
              "state": {"status": "acknowledged", "within_authority": False}}
    proposed = {**difficulty("proposed", at, "escalated"),
                "state": {"status": "escalated", "escalated_at": "2021-03-05T09:00:00+07:00"}}
    lines = difficulty_lines([flagged, judged, proposed], NAMES, START, END)
    assert [(x.topic, x.beyond_authority) for x in lines] == [
        ("Khó khăn flag", False), ("Khó khăn judged", True), ("Khó khăn proposed", True)]


def test_a_difficulty_of_year_0001_still_open_is_shown_as_raised_before_the_window():
    [line] = difficulty_lines([difficulty("old", datetime(1, 1, 1, tzinfo=UTC))], NAMES, START, END)
    assert line.raised_on == date(1, 1, 1)


def test_an_escalation_due_in_year_9999_is_left_out_and_the_others_are_kept():
    base = {"trigger": "task_overdue", "period": None, "raised_at": datetime(2021, 5, 26, tzinfo=UTC),
            "target_agency": "so-ngoai-vu", "message": "Nhiệm vụ quá hạn", "status": "open", "level": 1}
    rows = [{**base, "escalation_id": "e1", "cause_subject": "task/a",
             "due_at": datetime.fromisoformat("9999-12-31T20:00:00+00:00")},
            {**base, "escalation_id": "e2", "cause_subject": "task/b", "due_at": datetime(2021, 5, 25, tzinfo=UTC)}]
    with capture_logs() as logs:
        lines = escalation_lines(rows, {}, "2021-H1", START, END)
    assert [x.message for x in lines] == ["Nhiệm vụ quá hạn"] and lines[0].due_on == date(2021, 5, 25)
    assert [(e["table"], e["key"]) for e in logs] == [("escalations", "e1")]


def test_tasks_due_at_the_ends_of_the_calendar_are_shown_with_their_dates():
    row = {"plan_issued_on": None, "plan_id": "p", "plan_number": "1/KH", "title": "t", "timeframe": None,
           "lead_agencies": ["so-y-te"], "progress_percent": None, "status": "assigned", "completed_on": None}
    lines = task_lines([{**row, "task_id": "a", "task_number": "1", "due_date": date(9999, 12, 31)},
                        {**row, "task_id": "b", "task_number": "2", "due_date": date(1, 1, 1)}],
                       NAMES, START, END, END)
    assert [(t.due_date, t.status) for t in lines] == [(date(9999, 12, 31), "assigned"), (date(1, 1, 1), "overdue")]
    doc = docx.Document(io.BytesIO(to_bytes(m.ReportData(
        province="ha-tinh", province_name="Hà Tĩnh", period="2021-H1", window_start=START, window_end=END,
        report_date=END, as_of=END, tasks=tuple(lines)))))
    cells = {c.text for t in doc.tables for row in t.rows for c in row.cells}
    assert {"31/12/9999", "01/01/1"} <= cells


@pytest.mark.parametrize("period", ["9999-H1", "9999", "0001-H1", "0000", "1899", "2101-H1"])
def test_a_period_outside_1900_2100_is_a_bad_period_naming_the_range(period: str):
    with pytest.raises(BadPeriod, match="between 1900 and 2100"):
        check_request("ha-tinh", period)
    with pytest.raises(BadPeriod):
        window(period)


def test_the_first_and_last_years_are_periods():
    assert window("1900-H1") == (date(1899, 12, 15), date(1900, 6, 14))
    assert window("2100") == (date(2099, 12, 15), date(2100, 12, 14))


@pytest.mark.parametrize("day", [date(9999, 12, 31), date(1, 1, 1), date(1899, 12, 31), date(2101, 1, 1)])
def test_a_report_date_outside_1900_2100_is_refused(day: date):
    with pytest.raises(BadReportDate, match="between 1900-01-01 and 2100-12-31"):
        check_report_date(day)
    with pytest.raises(ValueError, match="between"):
        report_date(day.isoformat())
    assert check_report_date(date(2100, 12, 31)) == date(2100, 12, 31)
