"""Gather a `ReportData` from the read models: one province, the data window of one period.

Activities, delegations, agreements and aid count in the period when they start inside its data
window (Decree 09/2019: 15/12 of the previous year to 14/6, or to 14/12), as the dashboard counts
them. Task and report statuses are judged on the report date, or on the window's last day when
the report is written after the window closed.

A row the report cannot place on the calendar (a time of 31/12/9999 that is already year 10000 in
Việt Nam, a date beyond what Python holds) is left out of its table and logged as
`report.row_left_out` with its table, key and error; the rest of the report is made as usual."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from projections.models.tables import activities, difficulties, escalations, plans, tasks
from schemas.reference import Province, UnknownReference, province
from services.db.readable import readable_rows
from services.names import FOCUS_SCOPE, agency_names, country_name, plan_number_label, plan_scope, vi_key
from services.personal_data import revealed
from services.queries.compliance import (
    Compliance,
    ComplianceView,
    compliance_view,
    recorded_plans,
    tally,
    units_periodic,
)
from services.queries.periods import FIRST_YEAR, LAST_YEAR, BadPeriod, report_period_of, window
from services.queries.tasks import task_state
from services.reports import model as m
from services.reports.labels import partner

log = structlog.get_logger(__name__)
VN = ZoneInfo("Asia/Ho_Chi_Minh")
FIRST_DAY, LAST_DAY = date(FIRST_YEAR, 1, 1), date(LAST_YEAR, 12, 31)
OFF_CALENDAR = (ArithmeticError, ValueError)
"""What placing a date or time on the calendar raises at its edges (OverflowError, 'year 0 is out of range')."""
L = TypeVar("L")
DELEGATION_KINDS = {"delegation_in": "in", "delegation_out": "out"}
REPORT_PERIOD = re.compile(r"^[0-9]{4}(-H1)?$")
ROMAN = re.compile(r"^[IVXLC]+$")
ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}


class BadReportDate(ValueError):
    """A report date outside the years reports are made for (those of `periods.window`)."""


def today_vn() -> date:
    return datetime.now(VN).date()


def check_report_date(day: date) -> date:
    """`day` if a report may be dated so, else `BadReportDate`."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise BadReportDate(f"date must be between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}, "
                            f"not {day.isoformat()}")
    return day


def report_date(text: str | None) -> date:
    """The report's date from YYYY-MM-DD, or today in Việt Nam; ValueError when malformed or out of range."""
    if text is None:
        return today_vn()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"date must look like 2021-06-18, not {text!r}") from None
    return check_report_date(day)


def check_request(province_slug: str, period: str) -> tuple[Province, date, date]:
    """The province and the data window of the report asked for.

    Raises `UnknownReference` for a province the reference data does not hold and `BadPeriod` for
    a period that has no periodic report (only `2021-H1` and `2021` have one; `2021-H2` is part of
    the annual report)."""
    if not REPORT_PERIOD.match(period):
        raise BadPeriod(f"period must look like 2021-H1 (6 months) or 2021 (annual), not {period!r}")
    start, end = window(period)
    return province(province_slug), start, end


def vn_day(at: datetime | None) -> date | None:
    """The day in Việt Nam of a moment; OverflowError when it falls outside years 1-9999 there."""
    if at is None:
        return None
    if at.tzinfo is None or at.utcoffset() is None:  # the driver reads 'infinity' so
        raise ValueError(f"a time without its offset: {at.isoformat()}")
    return at.astimezone(VN).date()


def left_out(table: str, key: Any, error: Exception) -> None:
    """Note in the log a row the report leaves out because it cannot place it on the calendar."""
    log.warning("report.row_left_out", table=table, key=key, error=repr(error))


def each_line(table: str, key: str, rows: Sequence[Mapping[str, Any]],
              build: Callable[[Mapping[str, Any]], L | None]) -> list[L]:
    """`build` the line of each row (None: not in the report); a row it cannot place on the calendar
    is left out and logged, and the next one is built."""
    out = []
    for r in rows:
        try:
            line = build(r)
        except OFF_CALENDAR as exc:
            left_out(table, r.get(key), exc)
            continue
        if line is not None:
            out.append(line)
    return out


def natural(number: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key of a task number such as II.10 (after II.9) or 3.2."""
    parts: list[tuple[int, int | str]] = []
    for part in number.split("."):
        if part.isdigit():
            parts.append((0, int(part)))
        elif ROMAN.match(part):
            values = [ROMAN_VALUES[c] for c in part]
            parts.append((0, sum(-v if v < nxt else v for v, nxt in zip(values, [*values[1:], 0], strict=True))))
        else:
            parts.append((1, part))
    return tuple(parts)


def activity_line(row: Mapping[str, Any], names: Mapping[str, str]) -> m.ActivityLine:
    detail = row["detail"] or {}
    kind = "conference" if row["kind"] == "conference" else detail.get("activity_kind", "other")
    return m.ActivityLine(
        title=row["title"], kind=kind, start=row["start_date"], end=row["end_date"],
        partner=partner(row["partner_name"], row["partner_country"]),
        lead_agency=names.get(row["lead_agency"] or row["agency"], row["lead_agency"] or row["agency"]),
        participants=row["participants"], status=row["status"],
    )


def delegation_line(row: Mapping[str, Any], names: Mapping[str, str]) -> m.DelegationLine:
    detail = row["detail"] or {}
    head = ", ".join(x for x in (detail.get("head"), detail.get("head_title")) if x) or None
    return m.DelegationLine(
        direction=DELEGATION_KINDS[row["kind"]], partner=partner(row["partner_name"], row["partner_country"]),
        country=country_name(row["partner_country"]) or None,
        head=head, size=row["participants"], start=row["start_date"], end=row["end_date"], purpose=row["title"],
        agency=names.get(row["lead_agency"] or row["agency"], row["lead_agency"] or row["agency"]),
    )


def agreement_line(row: Mapping[str, Any], names: Mapping[str, str]) -> m.AgreementLine:
    return m.AgreementLine(
        title=row["title"], kind=(row["detail"] or {}).get("agreement_kind", "other"),
        partner=partner(row["partner_name"], row["partner_country"]), signed_on=row["start_date"],
        signatory=names.get(row["lead_agency"] or row["agency"], row["lead_agency"] or row["agency"]),
    )


def aid_line(row: Mapping[str, Any], names: Mapping[str, str]) -> m.AidLine:
    return m.AidLine(
        title=row["title"], donor=partner(row["partner_name"], row["partner_country"]), amount=row["amount"],
        currency=row["currency"], sector=(row["detail"] or {}).get("sector", "other"),
        recipient=names.get(row["lead_agency"] or row["agency"], row["lead_agency"] or row["agency"]),
        start=row["start_date"],
    )


def task_heading(title: str) -> str:
    """A task as the report's table names it: its heading, without the enumeration after the colon
    ("Xây dựng các Chương trình, Kế hoạch …: kiến nghị …; hướng dẫn …" -> "Xây dựng các Chương trình, Kế hoạch …")."""
    head, colon, _ = title.partition(":")
    return head.strip() if colon and len(head.strip()) >= 20 else title


def task_line(r: Mapping[str, Any], names: Mapping[str, str], as_of: date,
              recorded: Collection[str] | None) -> m.TaskLine:
    judged = task_state(r, as_of, recorded, r["plan_issued_on"].year if r["plan_issued_on"] else None)
    return m.TaskLine(
        plan=plan_number_label(r["plan_number"], r["plan_issued_on"], None), number=r["task_number"],
        title=task_heading(r["title"]),
        lead_agencies="; ".join(names.get(a, a) for a in r["lead_agencies"]), due_date=judged.due_date,
        timeframe=r["timeframe"], progress_percent=r["progress_percent"], status=judged.status,
    )


def task_lines(rows: Sequence[Mapping[str, Any]], names: Mapping[str, str], start: date, end: date,
               as_of: date, recorded: Collection[str] | None = None) -> list[m.TaskLine]:
    """Tasks of the plans issued by the window's end, except one-off tasks completed before it began;
    an annual task is judged by its instances up to `as_of`."""
    kept = [r for r in rows if (r["plan_issued_on"] is None or r["plan_issued_on"] <= end)
            and (r["status"] != "completed" or r["completed_on"] is None or r["completed_on"] >= start)]
    kept.sort(key=lambda r: (r["plan_issued_on"] or date.min, r["plan_id"], natural(r["task_number"])))
    return each_line("tasks", "task_id", kept, lambda r: task_line(r, names, as_of, recorded))


def difficulty_line(r: Mapping[str, Any], names: Mapping[str, str], start: date, end: date) -> m.DifficultyLine | None:
    """A difficulty raised in the window, or raised before it and not yet resolved; None otherwise."""
    raised = vn_day(r["raised_at"])
    if raised is None:
        raise ValueError("raised_at is missing")
    if raised > end or (raised < start and r["status"] == "resolved"):
        return None
    state = r.get("state") or {}  # SNgV's judgement, not the raiser's flag: the report is SNgV's to the UBND
    beyond = state.get("within_authority") is False or state.get("escalated_at") is not None
    return m.DifficultyLine(agency=names.get(r["agency"], r["agency"]), topic=r["topic"], raised_on=raised,
                            severity=r["severity"], beyond_authority=beyond, status=r["status"])


def difficulty_lines(rows: Sequence[Mapping[str, Any]], names: Mapping[str, str], start: date,
                     end: date) -> list[m.DifficultyLine]:
    """Difficulties raised in the window, and those raised before it that are not yet resolved."""
    return each_line("difficulties", "difficulty_id", rows, lambda r: difficulty_line(r, names, start, end))


def own_report_warning(row: Mapping[str, Any], period: str) -> bool:
    """An escalation about a report of the period itself not sent: Bảng 6 lists those agencies already."""
    return row["trigger"] == "report_missing" and row["period"] == report_period_of(period)


def report_warnings(rows: Sequence[Mapping[str, Any]], period: str, listed: Collection[str]) -> int:
    """How many of the agencies `listed` in Bảng 6 (their slugs) were warned about the period's report not sent."""
    return len({r.get("responsible_agency") for r in rows if own_report_warning(r, period)} & set(listed))


def escalation_lines(rows: Sequence[Mapping[str, Any]], names: Mapping[str, str], period: str, start: date,
                     end: date) -> list[m.EscalationLine]:
    """One line per escalated cause: its trigger, the aggregate and the agency responsible (two recipients
    of one piece of information are two lines), at the highest level it reached. A cause counts in the
    period when its deadline fell in the window (for a difficulty beyond SNgV's authority: the day it was
    raised), whenever the escalation itself was raised. Reports of the period not sent are left to Bảng 6."""
    dated = each_line("escalations", "escalation_id", rows, lambda r: (r, vn_day(r["due_at"])))
    top: dict[tuple[str, str, str | None], tuple[Mapping[str, Any], date]] = {}
    for r, due in dated:
        if own_report_warning(r, period) or due is None or not start <= due <= end:
            continue
        key = (r["trigger"], r["cause_subject"], r.get("responsible_agency"))
        if key not in top or r["level"] > top[key][0]["level"]:
            top[key] = (r, due)

    def order(item: tuple[Mapping[str, Any], date]) -> tuple[Any, ...]:
        r, due = item
        responsible = r.get("responsible_agency") or ""
        return due, r["trigger"], vi_key(names.get(responsible, responsible)), r["cause_subject"]

    return [
        m.EscalationLine(trigger=r["trigger"], message=r["message"], target=names.get(r["target_agency"],
                         r["target_agency"]), level=r["level"], due_on=due, status=r["status"])
        for r, due in sorted(top.values(), key=order)
    ]


def report_scope(plan_rows: Sequence[Mapping[str, Any]], year: int) -> str:
    """What the report's title calls the work: the scope of the plans issued for the report's year
    (Hà Tĩnh 2021: plan 53/KH-UBND, 'đối ngoại và hội nhập quốc tế'), a wider one first; 'đối ngoại nhân
    dân' when no plan of that year names another."""
    scopes = [plan_scope(p["plan_id"]) for p in plan_rows
              if p["issued_on"] is not None and p["issued_on"].year == year]
    return next((s for s in reversed(scopes) if s != FOCUS_SCOPE), FOCUS_SCOPE)


async def _rows(conn: AsyncConnection, table: str, query: Select[Any],
                ident: ColumnElement[Any]) -> list[dict[str, Any]]:
    """The rows of `query` as dicts, personal data opened; those the driver cannot read (a date beyond
    what Python holds) are left out and logged by `ident`, their key."""
    rows, unreadable = await readable_rows(conn, query, [ident])
    for u in unreadable:
        left_out(table, u.ident[0], u.error)
    return list(await revealed(conn, [dict(r._mapping) for r in rows]))  # people's names, or [đã xóa]


async def _compliance(conn: AsyncConnection, slug: str, period: str, as_of: date) -> ComplianceView:
    try:
        return await compliance_view(conn, slug, report_period_of(period), as_of)
    except UnknownReference:  # no reporting calendar for that year
        return ComplianceView([])


def compliance_lines(rows: Sequence[Compliance], note: str | None = None) -> tuple[m.ComplianceSummary,
                                                                                  list[m.ComplianceLine]]:
    """The counts, and the agencies that sent late (first) or not at all, each in Vietnamese order of names."""
    count = tally(rows)
    dated = next((c for c in rows if c.deadline is not None), None)
    summary = m.ComplianceSummary(dated.deadline if dated else None, len(rows), count["on_time"], count["late"],
                                  count["missing"], count["pending"], dated.deadline_basis if dated else None,
                                  note)
    ordered = sorted(rows, key=lambda c: (c.status != "late", vi_key(c.agency_name)))
    lines = [m.ComplianceLine(c.agency_name, c.deadline, c.submitted_on, c.days_late, c.status)
             for c in ordered if c.status in ("late", "missing")]
    return summary, lines


async def gather(conn: AsyncConnection, province_slug: str, period: str, report_date: date,
                 document_number: str | None = None) -> m.ReportData:
    """The report of `province_slug` for `period` (`2021-H1` or `2021`), dated `report_date`."""
    prov, start, end = check_request(province_slug, period)
    as_of = min(report_date, end)
    names = agency_names(province_slug)
    found = await _rows(conn, "activities", select(activities).where(
        activities.c.province == province_slug, activities.c.start_date >= start, activities.c.start_date <= end,
    ).order_by(activities.c.start_date, activities.c.subject), activities.c.subject)
    of_kind = {kind: [r for r in found if r["kind"] in kinds] for kind, kinds in (
        ("activity", ("activity", "conference")), ("delegation", tuple(DELEGATION_KINDS)),
        ("agreement", ("agreement",)), ("aid", ("aid",)))}
    same_plan = (tasks.c.plan_id == plans.c.plan_id) & (tasks.c.province == plans.c.province)
    task_rows = await _rows(conn, "tasks", select(tasks, plans.c.issued_on.label("plan_issued_on")).select_from(
        tasks.outerjoin(plans, same_plan)).where(tasks.c.province == province_slug), tasks.c.task_id)
    recorded = await recorded_plans(conn, province_slug)
    difficulty_rows = await _rows(conn, "difficulties", select(difficulties).where(
        difficulties.c.province == province_slug).order_by(difficulties.c.raised_at, difficulties.c.difficulty_id),
        difficulties.c.difficulty_id)
    escalation_rows = await _rows(conn, "escalations", select(escalations).where(
        escalations.c.province == province_slug, escalations.c.level > 0), escalations.c.escalation_id)
    plan_rows = await _rows(conn, "plans", select(plans).where(plans.c.province == province_slug)
                            .order_by(plans.c.issued_on, plans.c.plan_id), plans.c.plan_id)
    view = await _compliance(conn, province_slug, period, as_of)
    compliance_rows = units_periodic(view.rows, province_slug)
    summary, late_or_missing = compliance_lines(compliance_rows, view.note)
    listed = [c.agency for c in compliance_rows if c.status in ("late", "missing")]
    in_force = [p for p in plan_rows if p["issued_on"] is None or p["issued_on"] <= end]
    return m.ReportData(
        province=province_slug, province_name=prov.name_vi, period=period, window_start=start, window_end=end,
        report_date=report_date, as_of=as_of, document_number=document_number,
        scope=report_scope(in_force, int(period[:4])),
        plans=tuple(m.PlanRef(p["number"], p["issued_on"], p["title"]) for p in in_force),
        activities=tuple(activity_line(r, names) for r in of_kind["activity"]),
        delegations=tuple(delegation_line(r, names) for r in of_kind["delegation"]),
        agreements=tuple(agreement_line(r, names) for r in of_kind["agreement"]),
        aid=tuple(aid_line(r, names) for r in of_kind["aid"]),
        tasks=tuple(task_lines(task_rows, names, start, end, as_of, recorded)),
        compliance=summary, late_or_missing=tuple(late_or_missing),
        difficulties=tuple(difficulty_lines(difficulty_rows, names, start, end)),
        escalations=tuple(escalation_lines(escalation_rows, names, period, start, end)),
        report_warnings=report_warnings(escalation_rows, period, listed),
    )


async def load_report(database_url: str, province_slug: str, period: str, report_date: date) -> m.ReportData:
    """`gather` on a short-lived engine (the command line's way in)."""
    from services.db import make_engine

    engine = make_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return await gather(conn, province_slug, period, report_date)
    finally:
        await engine.dispose()
