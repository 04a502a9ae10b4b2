"""The latest period that has data for a province: where the dashboard opens."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.tables import activities, difficulties, information, plans, reports
from services.queries.periods import FIRST_YEAR, LAST_YEAR, PERIOD_RE

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def period_of(day: date) -> str:
    """The reporting period whose data window holds `day` (Decree 09/2019/NĐ-CP): 15/12 of the year before
    to 14/6 -> the 6-month report ('2021-H1'); 15/6 to 14/12 -> the annual report ('2021')."""
    year = day.year + 1 if (day.month, day.day) >= (12, 15) else day.year
    return f"{year}-H1" if (day.month, day.day) >= (12, 15) or (day.month, day.day) <= (6, 14) else str(year)


def vn_date(value: date | datetime | None) -> date | None:
    if isinstance(value, datetime):
        return value.astimezone(VN).date()
    return value


def period_order(period: str) -> tuple[int, int]:
    """2021-H1 < 2021 (the annual report, which the second half belongs to) < 2022-H1."""
    return int(period[:4]), 0 if period.endswith("-H1") else 1


def report_period(period: str) -> str | None:
    """The period a report of `period` counts in (2021-H2 in the annual 2021); None for one that is not a period
    the dashboard offers."""
    found = PERIOD_RE.match(period)
    if found is None or not FIRST_YEAR <= int(found["year"]) <= LAST_YEAR:
        return None
    return period if found["half"] == "1" else found["year"]


async def latest_period(conn: AsyncConnection, province: str, today: date) -> dict[str, str | None]:
    """{'period': the latest period with data in the province, or None; 'day': its latest day with data}.

    Data are what agencies report happened, up to `today`: activities, delegations, agreements and aid by the
    day they began, difficulties raised, information shared, plans issued (each in the period whose window
    holds that day), and reports sent, in the period they report on. Escalations, which the system raises
    today about old deadlines, do not count."""
    if today < date(FIRST_YEAR, 1, 1):  # nothing is recorded before 1900
        return {"period": None, "day": None}
    today = min(today, date(LAST_YEAR, 12, 14))
    until = datetime(today.year, today.month, today.day, 23, 59, 59, tzinfo=VN)
    days: list[date] = []
    for column, limit in ((activities.c.start_date, today), (plans.c.issued_on, today),
                          (difficulties.c.raised_at, until), (information.c.shared_at, until)):
        table: Any = column.table
        query = select(func.max(column)).where(table.c.province == province, column <= limit,
                                                column >= date(FIRST_YEAR, 1, 1))
        day = vn_date((await conn.execute(query)).scalar())
        if day is not None:
            days.append(day)
    sent = await conn.execute(select(reports.c.period, func.max(reports.c.submitted_on)).where(
        reports.c.province == province, reports.c.submitted_on <= today).group_by(reports.c.period))
    periods = [(p, d) for p, d in ((report_period(p), d) for p, d in sent) if p is not None]
    candidates = [(period_of(d), d) for d in days] + periods
    if not candidates:
        return {"period": None, "day": None}
    period = max((p for p, _ in candidates), key=period_order)
    day = max(d for p, d in candidates if p == period)
    return {"period": period, "day": day.isoformat()}
