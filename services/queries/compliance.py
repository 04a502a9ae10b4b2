"""Report compliance: who submitted on time, late, or not at all (pure, then the query)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.tables import reports
from schemas.reference import UnknownReference, report_deadline, reporting_agencies
from services.db.readable import readable_rows

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Compliance:
    agency: str
    agency_name: str
    period: str
    deadline: date | None
    status: str  # on_time | late | missing | pending
    submitted_on: date | None
    report_status: str | None
    days_late: int | None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for k in ("deadline", "submitted_on"):
            out[k] = out[k].isoformat() if out[k] else None
        return out


def judge(deadline: date | None, submitted_on: date | None, today: date) -> tuple[str, int | None]:
    """A report is on time if submitted on or before its deadline day ("trước ngày dd/mm")."""
    if submitted_on is None:
        return ("missing" if deadline is not None and today > deadline else "pending"), None
    if deadline is None or submitted_on <= deadline:
        return "on_time", None
    return "late", (submitted_on - deadline).days


def compliance_rows(
    agencies: list[tuple[str, str]],
    submissions: dict[str, tuple[date, str]],
    period: str,
    deadline: date | None,
    today: date,
) -> list[Compliance]:
    """One row per expected agency plus any other agency that submitted, alphabetical."""
    names = dict(agencies)
    for slug in submissions:
        names.setdefault(slug, slug)
    rows = []
    for slug in sorted(names):
        submitted_on, report_status = submissions.get(slug, (None, None))
        status, late = judge(deadline, submitted_on, today)
        rows.append(Compliance(slug, names[slug], period, deadline, status, submitted_on, report_status, late))
    return rows


async def compliance(conn: AsyncConnection, province: str, period: str, today: date) -> list[Compliance]:
    try:
        expected = [(a.slug, a.name_vi) for a in reporting_agencies(province)]
    except UnknownReference:
        expected = []
    deadline = report_deadline(province, period) if expected else None
    q = (
        select(reports.c.agency, reports.c.submitted_on, reports.c.status)
        .where(reports.c.province == province, reports.c.period == period)
        .order_by(reports.c.submitted_on)
    )
    rows, unreadable = await readable_rows(conn, q, [reports.c.report_id, reports.c.agency])
    for u in unreadable:  # a date beyond what Python holds: judged as if not submitted
        log.warning("compliance.report_left_out", report_id=u.ident[0], agency=u.ident[1], error=repr(u.error))
    first: dict[str, tuple[date, str]] = {}
    for row in rows:
        first.setdefault(row.agency, (row.submitted_on, row.status))
    return compliance_rows(expected, first, period, deadline, today)
