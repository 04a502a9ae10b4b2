"""The status of a plan task on a day (pure): a one-off task is overdue past its due date; an annual
task ("hàng năm") has one instance a year, each due on its own day and completed on its own, and is
overdue while one of its instances is."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from schemas.events.plans import Recurrence
from schemas.reference.duties import TaskInstance, annual_instances, task_years


def value(row: Any, name: str) -> Any:
    """A column of a row given as a mapping (RowMapping, dict) or with attributes (Row, namespace)."""
    return row.get(name) if isinstance(row, Mapping) else getattr(row, name, None)


def task_status(row: Any, today: date) -> str:
    """assigned | in_progress | completed, or overdue when past its due date and not completed."""
    status, due = value(row, "status"), value(row, "due_date")
    if status != "completed" and due is not None and due < today:
        return "overdue"
    return str(status)


@dataclass(frozen=True)
class TaskState:
    """A task as judged on a day: its status, the due date that matters now, and for an annual task
    its instances up to that day's year."""

    status: str
    due_date: date | None
    instances: list[TaskInstance] = field(default_factory=list)

    def instances_as_dicts(self, today: date) -> list[dict[str, Any]]:
        return [{"year": i.year, "due_date": i.due_date.isoformat(),
                 "completed_on": i.completed_on.isoformat() if i.completed_on else None, "status": i.status(today)}
                for i in self.instances]


def instances_of(row: Any, today: date, recorded: Collection[str] | None = None,
                 first_year: int | None = None) -> list[TaskInstance]:
    """The instances of an annual task in the years its plan is in force, up to `today`'s year."""
    province, plan_id = str(value(row, "province")), str(value(row, "plan_id"))
    years = task_years(province, plan_id, today.year, recorded, first_year)
    return annual_instances(province, plan_id, str(value(row, "task_number")), years,
                            value(row, "completed_periods"))


def task_state(row: Any, today: date, recorded: Collection[str] | None = None,
               first_year: int | None = None) -> TaskState:
    """The task as judged on `today`. An annual task is due on the day of its earliest instance not
    completed (the latest instance's, when all are) and overdue while an instance past its day is
    not completed."""
    if value(row, "recurrence") != Recurrence.annually.value:
        return TaskState(task_status(row, today), value(row, "due_date"))
    instances = instances_of(row, today, recorded, first_year)
    if not instances:
        return TaskState(str(value(row, "status")), None)
    waiting = [i for i in instances if i.completed_on is None]
    due = (waiting or instances[-1:])[0].due_date
    overdue = any(i.status(today) == "overdue" for i in instances)
    return TaskState("overdue" if overdue else str(value(row, "status")), due, instances)
