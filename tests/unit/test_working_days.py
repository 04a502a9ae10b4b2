"""Vietnamese working-day arithmetic (schemas.working_days)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.working_days import (
    VN_TZ,
    add_working_days,
    end_of_day,
    is_working_day,
    subtract_working_days,
    working_days_between,
)

pytestmark = pytest.mark.unit


def at(y: int, m: int, d: int, hh: int = 9, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=VN_TZ)


def test_weekends_are_not_working_days_and_ordinary_weekdays_are() -> None:
    assert is_working_day(date(2027, 1, 29))  # Friday
    assert not is_working_day(date(2027, 1, 30))  # Saturday
    assert not is_working_day(date(2027, 1, 31))  # Sunday
    assert is_working_day(date(2027, 2, 1))  # Monday


def test_tet_2027_closes_thursday_4_to_wednesday_10_february_including_substitute_days() -> None:
    """holidays' VN calendar: 29 Tết (for Saturday 6/2), the eve, days 1-4 and day 5 (for Sunday 7/2)."""
    assert is_working_day(date(2027, 2, 3))
    for day in range(4, 11):
        assert not is_working_day(date(2027, 2, day)), f"{day}/02/2027 should be a Tết day off"
    assert is_working_day(date(2027, 2, 11))


def test_30_april_and_1_may_2027_close_friday_and_the_observed_monday() -> None:
    assert is_working_day(date(2027, 4, 29))
    assert not is_working_day(date(2027, 4, 30))
    assert not is_working_day(date(2027, 5, 3))  # 1/5 fell on Saturday, observed Monday
    assert is_working_day(date(2027, 5, 4))


def test_hung_kings_and_national_day_2027_are_days_off() -> None:
    assert not is_working_day(date(2027, 4, 16))
    assert not is_working_day(date(2027, 9, 2))
    assert not is_working_day(date(2027, 9, 3))


def test_a_declared_make_up_saturday_is_a_working_day_and_its_swapped_monday_is_not() -> None:
    assert is_working_day(date(2026, 8, 22))
    assert not is_working_day(date(2026, 8, 31))


def test_the_deadline_is_the_end_of_the_nth_working_day_after_the_event_day() -> None:
    due = add_working_days(at(2027, 1, 27, 16, 45), 2)  # Wednesday
    assert due == datetime(2027, 1, 29, 23, 59, 59, 999_999, tzinfo=VN_TZ)
    assert due == end_of_day(date(2027, 1, 29))


def test_the_event_day_does_not_count_even_late_at_night() -> None:
    assert add_working_days(at(2027, 1, 27, 23, 59), 1) == end_of_day(date(2027, 1, 28))
    assert add_working_days(at(2027, 1, 27, 0, 0), 1) == end_of_day(date(2027, 1, 28))


def test_a_date_and_a_datetime_on_the_same_day_give_the_same_deadline() -> None:
    assert add_working_days(date(2027, 1, 27), 3) == add_working_days(at(2027, 1, 27, 15), 3)


def test_days_are_taken_in_ho_chi_minh_time_not_utc() -> None:
    """18:00 UTC on Thursday 28/01/2027 is 01:00 on Friday 29/01 in Việt Nam."""
    moment = datetime(2027, 1, 28, 18, 0, tzinfo=UTC)
    assert add_working_days(moment, 1) == end_of_day(date(2027, 2, 1))


def test_a_deadline_from_the_friday_a_week_before_tet_2027_skips_the_whole_tet_break() -> None:
    raised = at(2027, 1, 29, 10)  # Friday
    assert add_working_days(raised, 2) == end_of_day(date(2027, 2, 2))
    assert add_working_days(raised, 3) == end_of_day(date(2027, 2, 3))
    assert add_working_days(raised, 4) == end_of_day(date(2027, 2, 11))
    assert add_working_days(raised, 10) == end_of_day(date(2027, 2, 19))


def test_a_difficulty_raised_on_tet_eve_friday_5_february_2027_is_due_after_tet() -> None:
    raised = at(2027, 2, 5, 8)  # Friday, Lunar New Year's Eve (a day off)
    assert add_working_days(raised, 1) == end_of_day(date(2027, 2, 11))
    assert add_working_days(raised, 2) == end_of_day(date(2027, 2, 12))


def test_a_deadline_from_the_last_working_day_before_tet_2027_lands_after_tet() -> None:
    assert add_working_days(at(2027, 2, 3, 16), 2) == end_of_day(date(2027, 2, 12))


def test_a_deadline_crossing_30_april_and_1_may_2027_skips_the_observed_monday() -> None:
    raised = at(2027, 4, 29, 14)  # Thursday
    assert add_working_days(raised, 1) == end_of_day(date(2027, 5, 4))
    assert add_working_days(raised, 2) == end_of_day(date(2027, 5, 5))
    assert working_days_between(raised, at(2027, 5, 5)) == 2


def test_a_time_limit_of_zero_working_days_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least 1 working day"):
        add_working_days(at(2027, 1, 4), 0)


def test_a_naive_datetime_is_rejected_because_its_day_is_ambiguous() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_working_days(datetime(2027, 1, 4, 9), 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        working_days_between(datetime(2027, 1, 4, 9), date(2027, 1, 8))


def test_working_days_between_counts_the_end_day_but_not_the_start_day() -> None:
    assert working_days_between(date(2027, 1, 25), date(2027, 1, 29)) == 4
    assert working_days_between(date(2027, 1, 25), date(2027, 1, 25)) == 0
    assert working_days_between(date(2027, 1, 29), date(2027, 1, 31)) == 0


def test_working_days_between_is_negative_when_the_end_is_before_the_start() -> None:
    assert working_days_between(date(2027, 2, 12), date(2027, 2, 3)) == -2


def test_subtract_working_days_steps_back_over_tet() -> None:
    assert subtract_working_days(date(2027, 2, 11), 1) == date(2027, 2, 3)
    assert subtract_working_days(date(2027, 2, 11), 0) == date(2027, 2, 11)
    assert subtract_working_days(date(2027, 2, 7), 0) == date(2027, 2, 3)


days = st.dates(min_value=date(2015, 1, 1), max_value=date(2035, 12, 31))
times = st.integers(min_value=0, max_value=24 * 60 - 1)
limits = st.integers(min_value=1, max_value=40)


@given(day=days, minute=times, n=limits)
def test_a_deadline_is_always_the_end_of_a_working_day_strictly_after_the_start(
    day: date, minute: int, n: int
) -> None:
    start = datetime(day.year, day.month, day.day, tzinfo=VN_TZ) + timedelta(minutes=minute)
    due = add_working_days(start, n)
    assert due > start
    assert is_working_day(due)
    assert due == end_of_day(due.date())


@given(day=days, n=limits)
def test_working_days_between_inverts_add_working_days(day: date, n: int) -> None:
    due = add_working_days(day, n)
    assert working_days_between(day, due) == n
    assert working_days_between(due, day) == -n
    assert subtract_working_days(due, n) <= day


@given(day=days, n=limits)
def test_one_more_working_day_always_moves_the_deadline_later(day: date, n: int) -> None:
    assert add_working_days(day, n + 1) > add_working_days(day, n)
