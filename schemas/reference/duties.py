"""Reporting duties and annual task instances as the plans write them (pure).

No duty exists unless a plan (or a request) creates it, for the agencies it names, for the years
it covers:

* a plan covers its years — from its `year`, up to `covers_to` where it names one — until a later
  plan of the province replaces it; `in_force` picks, for a year, the latest plan covering it among
  the plans the system has recorded (`recorded`: the ids of the issued plans; None: every plan of
  the reference data);
* a duty binds the agencies it names, a group (`cac-so-ban-nganh`, …) standing for its members, and
  never the one it is addressed to (`to`) nor the one it goes through (`via`);
* its deadline is the plan's day ("trước ngày 25/5") of the period's year; where the plan names
  none, the province's configured default (calendars.yaml), said as such (`deadline_basis`
  "default"); where neither exists, there is no deadline;
* a duty of kind `ad_hoc` ("đột xuất", "khi có yêu cầu") binds nobody by itself: a request does,
  and only the agencies it names, by its own deadline.

An annual task ("hàng năm") has one instance in each year its plan is in force, due on the day
the plan says (`due_each_year`) or on 31/12, each completed on its own.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from schemas.common import ReportKind
from schemas.reference import (
    GROUPS,
    Agency,
    AgencyKind,
    Plan,
    ReportingDuty,
    UnknownReference,
    agencies,
    default_deadline,
    in_group,
    parse_period,
    plan,
    plans,
)

PLAN = "plan"
"""`deadline_basis` of a deadline the plan names."""
DEFAULT = "default"
"""`deadline_basis` of the province's configured default, where the plan names no date."""


@dataclass(frozen=True)
class Duty:
    """One agency's duty to send the periodic report of one period."""

    province: str
    period: str
    report_kind: ReportKind
    agency: str
    agency_name: str
    deadline: date | None
    deadline_basis: str | None
    """`plan`, `default` (the province's configured default), or None where no date is set."""
    plan: str
    plan_number: str | None
    to: str
    text: str


def in_force(province: str, year: int, recorded: Collection[str] | None = None) -> Plan | None:
    """The plan whose rules hold in `year`: the latest plan of the province that covers it, among
    those recorded (all of the reference data when `recorded` is None); None before the first."""
    covering = [p for p in plans(province) if p.covers(year) and (recorded is None or p.slug in recorded)]
    return covering[-1] if covering else None


def recorded_plans(province: str, issued: Iterable[tuple[str, str | None]]) -> set[str]:
    """The reference plans a province's `plan_issued` records name — by id (`ha-tinh-53-2021`) or by
    number (`53/KH-UBND`) — given as (plan id, number) pairs."""
    pairs = list(issued)
    ids = {plan_id for plan_id, _ in pairs}
    numbers = {number for _, number in pairs if number}
    return {p.slug for p in plans(province) if p.slug in ids or (p.number is not None and p.number in numbers)}


def years_in_force(the_plan: Plan, until: int, recorded: Collection[str] | None = None) -> list[int]:
    """The years from the plan's first to `until` in which it is the plan in force."""
    out = []
    for year in range(the_plan.year, until + 1):
        found = in_force(the_plan.province, year, recorded)
        if found is not None and found.slug == the_plan.slug:
            out.append(year)
    return out


def members(province: str, names: Iterable[str], exclude: Collection[str] = ()) -> list[Agency]:
    """The agencies `names` stands for — agencies, and the members of the groups among them — in
    the province's order, without those in `exclude`, the UBND and the group names themselves."""
    named = set(names)
    groups = [g for g in named if g in GROUPS]
    return [a for a in agencies(province)
            if a.kind not in (AgencyKind.group, AgencyKind.ubnd) and a.slug not in exclude
            and (a.slug in named or any(in_group(province, a.slug, g) for g in groups))]


def deadline_of(province: str, duty: ReportingDuty, kind: ReportKind, year: int) -> tuple[date | None, str | None]:
    """The deadline of a periodic duty in `year` and what sets it (`plan`, `default` or None)."""
    if duty.due is not None:
        return duty.due.in_year(year), PLAN
    configured = default_deadline(province, kind)
    if configured is not None:
        return configured.due.in_year(year), DEFAULT
    return None, None


def periodic_duties(province: str, period: str, recorded: Collection[str] | None = None) -> list[Duty]:
    """Who owes the periodic report of `period` (`2021-H1`, `2021`), by when, under the plan in force.

    Nobody for a second half (`2021-H2`: the annual report covers it), in a year no plan covers, or
    where the plan in force sets no periodic report of that kind. ValueError for a malformed period."""
    kind, year, half = parse_period(period)
    found = in_force(province, year, recorded)
    if half == 2 or found is None:
        return []
    out: dict[str, Duty] = {}
    for duty in found.reporting:
        if kind not in duty.periodic_kinds:
            continue
        deadline, basis = deadline_of(province, duty, kind, year)
        exclude = {duty.to} | ({duty.via} if duty.via else set())
        for a in members(province, duty.agencies, exclude):
            out.setdefault(a.slug, Duty(province, period, kind, a.slug, a.name_vi, deadline, basis, found.slug,
                                        found.number, duty.to, duty.text))
    return list(out.values())


def on_request(province: str, year: int, recorded: Collection[str] | None = None) -> list[ReportingDuty]:
    """The duties of the plan in force in `year` to report only when asked ("đột xuất", "khi có yêu cầu")."""
    found = in_force(province, year, recorded)
    return [] if found is None else [d for d in found.reporting if d.report_kinds == [ReportKind.ad_hoc]]


@dataclass(frozen=True)
class TaskInstance:
    """One year's instance of an annual task."""

    year: int
    due_date: date
    completed_on: date | None

    def status(self, today: date) -> str:
        """completed, overdue (its due date passed), or open."""
        if self.completed_on is not None:
            return "completed"
        return "overdue" if self.due_date < today else "open"


def task_years(province: str, plan_id: str, until: int, recorded: Collection[str] | None = None,
               first_year: int | None = None) -> list[int]:
    """The years up to `until` in which the plan of a task is in force. A plan the reference data does
    not hold is taken to run from `first_year` (the year it was issued; `until` if unknown)."""
    try:
        the_plan = plan(plan_id)
    except UnknownReference:
        the_plan = None
    if the_plan is None or the_plan.province != province:
        return list(range(first_year if first_year is not None else until, until + 1))
    return years_in_force(the_plan, until, None if recorded is None else {*recorded, plan_id})


def due_in(province: str, plan_id: str, task_number: str, year: int) -> date:
    """The due date of an annual task's instance of `year`: the plan's day, else 31/12."""
    try:
        the_plan = plan(plan_id)
        if the_plan.province == province:
            return the_plan.task(task_number).due_in(year)
    except (UnknownReference, KeyError):
        pass
    return date(year, 12, 31)


def completion_year(period: str | None, completed_on: date) -> str:
    """The year a completion covers: its period's year, else the year it was completed."""
    return period[:4] if period else str(completed_on.year)


def annual_instances(province: str, plan_id: str, task_number: str, years: Iterable[int],
                     completed: Mapping[str, Any] | None) -> list[TaskInstance]:
    """The instances of an annual task in `years`, each with its completion (`completed`: year ->
    the day, as a date or ISO text)."""
    done = completed or {}
    out = []
    for year in years:
        day = done.get(str(year))
        out.append(TaskInstance(year, due_in(province, plan_id, task_number, year),
                                date.fromisoformat(day) if isinstance(day, str) else day))
    return out
