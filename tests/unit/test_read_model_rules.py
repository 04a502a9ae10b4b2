"""The pure rules behind the read models: reducers, compliance, task status."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from projections.batch import Stored
from projections.difficulties import step
from projections.plans import completed, task_assigned
from projections.rows import Refused
from schemas.codec import decode, encode
from services.queries.compliance import compliance_rows, judge
from services.queries.dashboard import task_status
from services.queries.periods import BadPeriod, window
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


def test_compliance_lists_expected_agencies_and_also_unexpected_submitters():
    rows = compliance_rows([("so-y-te", "Sở Y tế"), ("so-noi-vu", "Sở Nội vụ")],
                           {"so-y-te": (date(2021, 5, 20), "submitted"), "hoi-x": (date(2021, 6, 1), "submitted")},
                           "2021-H1", date(2021, 5, 25), date(2021, 7, 1))
    assert [(r.agency, r.status) for r in rows] == [("hoi-x", "late"), ("so-noi-vu", "missing"), ("so-y-te", "on_time")]


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


def test_an_impossible_difficulty_transition_is_refused_with_its_reason():
    with pytest.raises(Refused) as refused:
        step(None, stored("difficulty_resolved"))
    assert refused.value.kind == "impossible_transition"
    raised = step(None, stored("difficulty_raised"))
    assert raised["status"] == "raised"
    assert step(raised, stored("difficulty_acknowledged", seq=2))["status"] == "acknowledged"
