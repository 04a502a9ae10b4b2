"""Vietnamese working days (ngày làm việc) in the Asia/Ho_Chi_Minh time zone.

Administrative time limits are written as "within N working days" (trong thời hạn N ngày làm việc).
A day is a working day unless it is a Saturday or Sunday or a public holiday of the `holidays`
package's Vietnam calendar (``holidays.country_holidays("VN", ...)``), with one refinement the
package also supplies: a Saturday the Government has declared a make-up working day (ngày làm bù,
``weekend_workdays``, e.g. Saturday 22/08/2026 in exchange for Monday 31/08/2026) is a working day.
No holiday list is written by hand here; a newer ``holidays`` release brings newly announced swaps.

What the package's VN calendar (observed days included, the default) holds, checked on 0.109:

* **Tết Nguyên Đán**: Lunar New Year's Eve, days 1 to 4 of the first lunar month, plus observed
  (nghỉ bù) days when one of those falls on a weekend: a Saturday moves to the previous working
  day, a Sunday to the next. Tết 2027 (day 1 = Saturday 06/02/2027) therefore gives Thursday
  04/02 ("29 Tết", substitute) to Wednesday 10/02 ("Mùng năm", substitute) off; Wednesday 03/02
  and Thursday 11/02/2027 are working days. Tết 2026: Monday 16/02 to Friday 20/02.
* **Giỗ Tổ Hùng Vương** (10/3 lunar): one day, observed on the next working day if it falls on a
  weekend (Sunday 26/04/2026 → Monday 27/04/2026); Friday 16/04/2027.
* **30/4 and 1/5**: one day each, a weekend day observed on the next working day: 2027 has Friday
  30/04, Saturday 01/05 and Monday 03/05/2027 (observed) off.
* **Quốc khánh 2/9**: 2/9 plus an adjacent day (since 2021): Thursday 02/09 and Friday 03/09/2027.
* **1/1** and, from 2026, **24/11** (Ngày Văn hóa Việt Nam); special one-off swaps decided by the
  Government for past years (e.g. 2024, 2025, 2026).

Years the package computes ahead are its estimate from the law; a later announcement of the
official schedule for civil servants reaches us through an upgrade of ``holidays``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
END_OF_DAY = time(23, 59, 59, 999_999)
"""The last instant of a day: a deadline "on day D" is D at 23:59:59.999999 Asia/Ho_Chi_Minh."""


@lru_cache(maxsize=64)
def _calendar(year: int) -> holidays.HolidayBase:
    # Neighbouring years are loaded too: a make-up Saturday may belong to the previous or next
    # year's decision (02/01/2015 ↔ 27/12/2014 belongs to 2015; 31/12/2018 ↔ 05/01/2019 to 2018).
    return holidays.country_holidays("VN", years=(year - 1, year, year + 1))


def local_date(moment: datetime | date) -> date:
    """The calendar day in Asia/Ho_Chi_Minh of an aware datetime, or the date itself.

    Raises ValueError for a naive datetime: its day would depend on the server's time zone.
    """
    if isinstance(moment, datetime):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"a timezone-aware datetime is required, got naive {moment.isoformat()}")
        return moment.astimezone(VN_TZ).date()
    return moment


def end_of_day(d: date) -> datetime:
    """The last instant (23:59:59.999999) of day `d` in Asia/Ho_Chi_Minh."""
    return datetime.combine(d, END_OF_DAY, tzinfo=VN_TZ)


def start_of_day(d: date) -> datetime:
    """Midnight at the start of day `d` in Asia/Ho_Chi_Minh."""
    return datetime.combine(d, time(0, 0), tzinfo=VN_TZ)


def is_working_day(d: datetime | date) -> bool:
    """True if the day (in Asia/Ho_Chi_Minh) is a working day.

    Saturdays and Sundays are not, unless declared make-up working days; public holidays and
    their observed/substitute days of the VN calendar are not.
    """
    day = local_date(d)
    return bool(_calendar(day.year).is_working_day(day))


def add_working_days(start: datetime | date, n: int) -> datetime:
    """The deadline of a time limit of `n` working days counted from `start`.

    An event at any time on day D (in Asia/Ho_Chi_Minh) with a limit of n working days is due at
    the end (23:59:59.999999 Asia/Ho_Chi_Minh) of the n-th working day after D; D itself never
    counts, whether or not it is a working day. `n` must be at least 1.

    Example: raised Friday 29/01/2027 with 2 working days → due Tuesday 02/02/2027 23:59:59.999999;
    raised Wednesday 03/02/2027 with 2 → due Friday 12/02/2027 (04/02-10/02 is Tết).
    """
    if n < 1:
        raise ValueError(f"a time limit is at least 1 working day, got {n}")
    day = local_date(start)
    counted = 0
    while counted < n:
        day += timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return end_of_day(day)


def subtract_working_days(d: datetime | date, n: int) -> date:
    """The n-th working day before day `d` (its own day when n == 0 and it is a working day).

    With n == 0 and `d` not a working day, the last working day before it is returned.
    """
    if n < 0:
        raise ValueError(f"n must not be negative, got {n}")
    day = local_date(d)
    if n == 0:
        while not is_working_day(day):
            day -= timedelta(days=1)
        return day
    counted = 0
    while counted < n:
        day -= timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return day


def working_days_between(a: datetime | date, b: datetime | date) -> int:
    """The number of working days d with day(a) < d <= day(b), negative if b is before a.

    Days are taken in Asia/Ho_Chi_Minh. It is the inverse of `add_working_days`:
    ``working_days_between(d, add_working_days(d, n)) == n`` for every n >= 1.
    """
    first, last = local_date(a), local_date(b)
    sign = 1
    if last < first:
        first, last, sign = last, first, -1
    count = 0
    day = first
    while day < last:
        day += timedelta(days=1)
        if is_working_day(day):
            count += 1
    return sign * count
