"""Report compliance: who owes which report of a period, and whether it came on time, late or not at
all (pure, then the query).

Only a plan or a request creates a duty (`schemas.reference.duties`):
* a **periodic** row per agency the plan in force binds for the period (6-month or annual), with its
  deadline and what sets it (`deadline_basis`: `plan`, `default` — the province's configured
  default — or none); only a periodic report of that kind and period answers it, never an ad hoc one;
* a **request** row per request (`report_requested`) of the period and agency it names, by the
  request's own deadline; a report answers it through its `request_id` (a periodic report of the
  period also answers a request for that periodic report);
* a **no_duty** row for an agency that sent a report nobody asked of it.

A report returned (`report_returned`) counts as not sent until it is sent again; the day it is sent
again decides. When no plan sets a periodic report for the period, `note` says so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import structlog
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.models.tables import plans, report_requests, reports
from schemas.common import ReportKind
from schemas.reference import UnknownReference, agencies, parse_period, province
from schemas.reference.duties import DEFAULT, Duty, in_force, on_request, periodic_duties
from schemas.reference.duties import recorded_plans as recorded_slugs
from services.db.readable import readable_rows

log = structlog.get_logger(__name__)
PERIODIC, REQUEST, NONE = "periodic", "request", "none"
NO_DUTY_NOTE = "Không có kế hoạch nào quy định báo cáo này"


@dataclass(frozen=True)
class Compliance:
    agency: str
    agency_name: str
    period: str
    deadline: date | None
    status: str  # on_time | late | missing | pending | no_duty
    submitted_on: date | None
    report_status: str | None
    days_late: int | None
    duty: str = PERIODIC  # periodic | request | none
    report_kind: str | None = None
    deadline_basis: str | None = None  # plan | default | request | None (no date set)
    basis: str | None = None  # the plan ("Kế hoạch số 53/KH-UBND") or the request's title
    plan: str | None = None
    request_id: str | None = None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for k in ("deadline", "submitted_on"):
            out[k] = out[k].isoformat() if out[k] else None
        return out


@dataclass(frozen=True)
class Request:
    """A `report_requested` row."""

    request_id: str
    report_kind: str
    period: str
    title: str
    deadline: date
    requested_agencies: Sequence[str]


@dataclass(frozen=True)
class Sent:
    """A `reports` row: one report of an agency."""

    report_id: str
    agency: str
    report_kind: str
    period: str
    submitted_on: date
    status: str  # submitted | returned | accepted
    returned_on: date | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class ComplianceView:
    rows: list[Compliance]
    plan: str | None = None
    """The plan in force for the period's year (among those recorded)."""
    note: str | None = None
    """Said when no plan binds the units to a periodic report of the period."""


def judge(deadline: date | None, submitted_on: date | None, today: date) -> tuple[str, int | None]:
    """A report is on time if submitted on or before its deadline day ("trước ngày dd/mm")."""
    if submitted_on is None:
        return ("missing" if deadline is not None and today > deadline else "pending"), None
    if deadline is None or submitted_on <= deadline:
        return "on_time", None
    return "late", (submitted_on - deadline).days


def vn(d: date) -> str:
    return f"{d.day:02d}/{d.month:02d}/{d.year}"


def best(sent: Iterable[Sent]) -> tuple[date | None, str | None, Sent | None]:
    """The report that counts among an agency's reports for one duty: the first not returned (its
    day, status); else the last returned one, which counts as not sent (None, 'returned')."""
    found = sorted(sent, key=lambda s: (s.submitted_on, s.report_id))
    kept = [s for s in found if s.status != "returned"]
    if kept:
        return kept[0].submitted_on, kept[0].status, kept[0]
    if found:
        return None, "returned", found[-1]
    return None, None, None


def _row(agency: str, name: str, period: str, deadline: date | None, today: date, sent: list[Sent],
         **extra: Any) -> tuple[Compliance, Sent | None]:
    submitted_on, report_status, counted = best(sent)
    status, late = judge(deadline, submitted_on, today)
    note = extra.pop("note", None)
    if report_status == "returned" and counted is not None and counted.returned_on is not None:
        note = f"Báo cáo bị trả lại ngày {vn(counted.returned_on)}, chưa gửi lại"
    return Compliance(agency, name, period, deadline, status, submitted_on, report_status, late, note=note,
                      **extra), counted


def plan_label(number: str | None, plan_slug: str) -> str:
    return f"Kế hoạch số {number}" if number else f"Kế hoạch {plan_slug}"


def deadline_note(duty: Duty) -> str | None:
    if duty.deadline_basis == DEFAULT:
        return "Kế hoạch không nêu ngày; hạn là thời hạn mặc định do tỉnh cấu hình"
    if duty.deadline is None:
        return "Kế hoạch không nêu thời hạn"
    return None


def compliance_rows(duties: Sequence[Duty], requests: Sequence[Request], sent: Sequence[Sent],
                    names: Mapping[str, str], period: str, today: date) -> list[Compliance]:
    """The periodic rows (by agency), the request rows (by deadline, request, agency), then a row for
    each agency that sent a report no duty asked of it (pure)."""
    by_agency: dict[str, list[Sent]] = {}
    for s in sent:
        by_agency.setdefault(s.agency, []).append(s)
    used: set[str] = set()
    rows: list[Compliance] = []
    for duty in sorted(duties, key=lambda d: d.agency):
        mine = [s for s in by_agency.get(duty.agency, []) if s.report_kind == duty.report_kind.value
                and s.period == duty.period]
        row, _ = _row(duty.agency, duty.agency_name, period, duty.deadline, today, mine, duty=PERIODIC,
                      report_kind=duty.report_kind.value, deadline_basis=duty.deadline_basis,
                      basis=plan_label(duty.plan_number, duty.plan), plan=duty.plan, note=deadline_note(duty))
        used.update(s.report_id for s in mine)
        rows.append(row)
    for req in sorted(requests, key=lambda r: (r.deadline, r.request_id)):
        for agency in sorted(req.requested_agencies):
            mine = [s for s in by_agency.get(agency, []) if s.request_id == req.request_id or (
                req.report_kind != ReportKind.ad_hoc and s.report_kind == req.report_kind and s.period == req.period)]
            row, _ = _row(agency, names.get(agency, agency), period, req.deadline, today, mine, duty=REQUEST,
                          report_kind=req.report_kind, deadline_basis=REQUEST, basis=req.title,
                          request_id=req.request_id)
            used.update(s.report_id for s in mine)
            rows.append(row)
    extra: dict[tuple[str, str], list[Sent]] = {}
    for s in sent:
        if s.report_id not in used and s.period == period:
            extra.setdefault((s.agency, s.report_kind), []).append(s)
    for (agency, kind), mine in sorted(extra.items()):
        submitted_on, report_status, counted = best(mine)
        rows.append(Compliance(agency, names.get(agency, agency), period, None, "no_duty", submitted_on,
                               report_status, None, duty=NONE, report_kind=kind,
                               request_id=counted.request_id if counted else None, note=NO_DUTY_NOTE))
    return rows


def period_label(period: str) -> str:
    if period.endswith("-H1"):
        return f"6 tháng đầu năm {period[:4]}"
    if period.endswith("-H2"):
        return f"6 tháng cuối năm {period[:4]}"
    return f"năm {period[:4]}"


def period_note(province_slug: str, period: str, duties: Sequence[Duty], recorded: Collection[str]) -> str | None:
    """What the view says when no plan binds the units (the agencies other than the focal one) to a
    periodic report of the period; None when one does."""
    focal = province(province_slug).focal_agency
    if any(d.agency != focal for d in duties):
        return None
    _, year, half = parse_period(period)
    if half == 2:
        return "Không có báo cáo định kỳ riêng cho 6 tháng cuối năm: báo cáo năm bao gồm kỳ này"
    found = in_force(province_slug, year, recorded)
    if found is None:
        return f"Không có kế hoạch nào quy định báo cáo {period_label(period)}"
    said = f"{plan_label(found.number, found.slug)} không quy định các cơ quan, đơn vị báo cáo {period_label(period)}"
    if any(d.to == focal for d in on_request(province_slug, year, recorded)):
        said += "; các cơ quan, đơn vị báo cáo khi có yêu cầu"
    return said


async def recorded_plans(conn: AsyncConnection, province_slug: str) -> set[str]:
    """The plans the system has recorded (issued) in the province, by id or number: only those
    create duties."""
    found = await conn.execute(select(plans.c.plan_id, plans.c.number).where(plans.c.province == province_slug))
    return recorded_slugs(province_slug, [(r.plan_id, r.number) for r in found])


async def compliance_view(conn: AsyncConnection, province_slug: str, period: str, today: date) -> ComplianceView:
    """The compliance of a province's agencies for `period`, under the plans recorded and the requests
    of the period. ValueError for a malformed period; UnknownReference for an unknown province."""
    _, year, _ = parse_period(period)
    recorded = await recorded_plans(conn, province_slug)
    duties = periodic_duties(province_slug, period, recorded)
    rq = report_requests.c
    found, bad = await readable_rows(conn, select(rq.request_id, rq.report_kind, rq.period, rq.title, rq.deadline,
                                                  rq.requested_agencies)
                                     .where(rq.province == province_slug, rq.period == period), [rq.request_id])
    for u in bad:
        log.warning("compliance.request_left_out", request_id=u.ident[0], error=repr(u.error))
    requests = [Request(r.request_id, r.report_kind, r.period, r.title, r.deadline, list(r.requested_agencies))
                for r in found]
    rp = reports.c
    q = (select(rp.report_id, rp.agency, rp.report_kind, rp.period, rp.submitted_on, rp.status, rp.returned_on,
                rp.request_id)
         .where(rp.province == province_slug,
                or_(rp.period == period, rp.request_id.in_([r.request_id for r in requests])))
         .order_by(rp.submitted_on))
    rows, unreadable = await readable_rows(conn, q, [rp.report_id, rp.agency])
    for u in unreadable:  # a date beyond what Python holds: judged as if not submitted
        log.warning("compliance.report_left_out", report_id=u.ident[0], agency=u.ident[1], error=repr(u.error))
    sent = [Sent(r.report_id, r.agency, r.report_kind, r.period, r.submitted_on, r.status, r.returned_on,
                 r.request_id) for r in rows]
    names = {a.slug: a.name_vi for a in agencies(province_slug)}
    plan_now = in_force(province_slug, year, recorded)
    return ComplianceView(compliance_rows(duties, requests, sent, names, period, today),
                          plan_now.slug if plan_now else None,
                          period_note(province_slug, period, duties, recorded))


async def compliance(conn: AsyncConnection, province_slug: str, period: str, today: date) -> list[Compliance]:
    """The rows of `compliance_view`; none for a province the reference data does not hold."""
    try:
        return (await compliance_view(conn, province_slug, period, today)).rows
    except UnknownReference:
        return []


def tally(rows: Iterable[Compliance]) -> dict[str, int]:
    """How many rows are in each state of a duty (on_time, late, missing, pending), zeros included."""
    counted = Counter(c.status for c in rows)
    return {s: counted.get(s, 0) for s in ("on_time", "late", "missing", "pending")}


def units_periodic(rows: Iterable[Compliance], province_slug: str) -> list[Compliance]:
    """The units' periodic reports to the focal agency: its own report to the UBND is another flow (the
    consolidated report), and ad hoc requests are not the periodic duty."""
    focal = province(province_slug).focal_agency
    return [c for c in rows if c.duty == PERIODIC and c.agency != focal]
