"""Plans and their tasks: lead and coordinating agencies, timeframe, due date, status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from projections.engine.batch import Stored
from projections.models.rows import Reducer, Row, RowProjection, aggregate_id, base_row
from projections.models.tables import plans, tasks
from schemas.events.plans import Recurrence
from schemas.reference.duties import completion_year


def plan_issued(row: Row | None, s: Stored) -> Row:
    d: Any = s.event.data
    return {**base_row(s), "number": d.number, "issued_on": d.issued_on, "title": d.title, "task_count": d.task_count}


def task_assigned(row: Row | None, s: Stored) -> Row:
    d: Any = s.event.data
    status = (row or {}).get("status") or "assigned"
    return {
        **(row or {}),
        "province": s.event.envelope.province,
        "plan_id": d.plan_id,
        "plan_number": d.plan_number,
        "task_number": d.task_number,
        "title": d.title,
        "lead_agencies": list(d.lead_agencies),
        "coordinating_agencies": list(d.coordinating_agencies),
        "timeframe": d.timeframe,
        "recurrence": d.recurrence.value,
        "due_date": d.due_date,
        "expected_result": d.expected_result,
        "status": status,
    }


def _known(row: Row | None, s: Stored) -> Row:
    if row is None:  # progress on a task whose assignment is not (yet) known
        return {"province": s.event.envelope.province, "plan_id": "", "task_number": aggregate_id(s),
                "title": "", "lead_agencies": [], "coordinating_agencies": [], "status": "assigned"}
    return row


def progress_reported(row: Row | None, s: Stored) -> Row:
    d: Any = s.event.data
    current = _known(row, s)
    status = current["status"] if current["status"] == "completed" else "in_progress"
    return {**current, "status": status, "progress_percent": d.progress_percent, "last_report_on": d.reported_on}


RECURRING = frozenset(r.value for r in Recurrence) - {Recurrence.once.value}


def completed(row: Row | None, s: Stored) -> Row:
    d: Any = s.event.data
    current = _known(row, s)
    if current.get("recurrence") in RECURRING:
        # a recurring task completes per year (its period's, else the year it was done); it stays open
        year = completion_year(d.period, d.completed_on)
        periods = {**(current.get("completed_periods") or {})}
        periods.setdefault(year, d.completed_on.isoformat())
        return {**current, "status": "in_progress", "last_report_on": d.completed_on, "completed_on": d.completed_on,
                "completed_periods": periods}
    return {**current, "status": "completed", "progress_percent": 100, "completed_on": d.completed_on}


class Plans(RowProjection):
    name = "plans"
    table = plans
    key = "plan_id"
    reducers: ClassVar[Mapping[str, Reducer]] = {"plan_issued": plan_issued}


class Tasks(RowProjection):
    name = "tasks"
    table = tasks
    key = "task_id"
    reducers: ClassVar[Mapping[str, Reducer]] = {
        "task_assigned": task_assigned,
        "task_progress_reported": progress_reported,
        "task_completed": completed,
    }
