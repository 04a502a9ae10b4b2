"""Reporting periods: `2021-H1` (6-month), `2021-H2`, `2021` (annual), and their date windows."""

from __future__ import annotations

import re
from datetime import date

from schemas.reference import data_window

PERIOD_RE = re.compile(r"^(?P<year>[0-9]{4})(?:-H(?P<half>[12]))?$")
FIRST_YEAR, LAST_YEAR = 1900, 2100
"""The years a period may name: nothing is recorded before 1900 (the ingest refuses such times), and
the reference calendars (plans, reporting deadlines) end in 2100."""


class BadPeriod(ValueError):
    """The period is not of the form 2021, 2021-H1 or 2021-H2, or its year is not 1900-2100."""


def window(period: str) -> tuple[date, date]:
    """The data window of a period per Decree 09/2019/NĐ-CP: 6-month = 15/12 of the previous
    year to 14/6; annual = 15/12 to 14/12; the second half = 15/6 to 14/12."""
    found = PERIOD_RE.match(period)
    if not found:
        raise BadPeriod(f"period must look like 2021, 2021-H1 or 2021-H2, not {period!r}")
    year = int(found["year"])
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise BadPeriod(f"the year of period {period!r} must be between {FIRST_YEAR} and {LAST_YEAR}")
    if found["half"] == "2":
        return date(year, 6, 15), date(year, 12, 14)
    return data_window(period)


def report_period_of(period: str) -> str:
    """The period whose reports a dashboard period is judged by (H2 is covered by the annual)."""
    return period[:4] if period.endswith("-H2") else period
