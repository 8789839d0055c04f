"""China working-day calendar, checked against the State Council holiday notices for 2025/2026."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditbridge.reference import calendar
from creditbridge.reference.errors import CalendarOutOfRange


def test_weekend_make_up_days_are_working_days() -> None:
    assert date(2026, 2, 14).weekday() == 5
    assert calendar.is_working_day(date(2026, 2, 14))
    assert date(2025, 10, 11).weekday() == 5
    assert calendar.is_working_day(date(2025, 10, 11))
    assert calendar.is_working_day(date(2025, 9, 28))  # Sunday before National Day


def test_national_day_2026_is_seven_days_off() -> None:
    golden_week = [date(2026, 10, 1) + timedelta(days=i) for i in range(7)]
    assert not any(calendar.is_working_day(d) for d in golden_week)
    assert calendar.is_working_day(date(2026, 10, 8))


def test_ordinary_weekdays_and_weekends() -> None:
    assert calendar.is_working_day(date(2026, 3, 10))  # Tuesday
    assert not calendar.is_working_day(date(2026, 3, 14))  # Saturday


def test_add_working_days_skips_the_golden_week() -> None:
    assert calendar.add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert calendar.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)  # make-up Saturday


def test_add_working_days_counts_from_a_holiday() -> None:
    assert calendar.add_working_days(date(2026, 10, 3), 1) == date(2026, 10, 8)


def test_add_zero_working_days_returns_the_same_day() -> None:
    assert calendar.add_working_days(date(2026, 10, 3), 0) == date(2026, 10, 3)


def test_add_negative_working_days_is_refused() -> None:
    with pytest.raises(ValueError, match="n"):
        calendar.add_working_days(date(2026, 1, 5), -1)


def test_next_working_day_is_strictly_after() -> None:
    assert calendar.next_working_day(date(2026, 3, 10)) == date(2026, 3, 11)
    assert calendar.next_working_day(date(2026, 3, 13)) == date(2026, 3, 16)


def test_roll_forward_moves_only_non_working_days() -> None:
    assert calendar.roll_forward(date(2026, 3, 10)) == date(2026, 3, 10)
    assert calendar.roll_forward(date(2026, 10, 1)) == date(2026, 10, 8)


def test_working_days_between_counts_the_end_not_the_start() -> None:
    assert calendar.working_days_between(date(2026, 9, 30), date(2026, 10, 10)) == 3
    assert calendar.working_days_between(date(2026, 3, 9), date(2026, 3, 9)) == 0
    assert calendar.working_days_between(date(2026, 3, 13), date(2026, 3, 9)) == -4


def test_dates_outside_the_data_raise_instead_of_guessing() -> None:
    first, last = calendar.covered_years()
    assert (first, last) == (2004, 2026)
    with pytest.raises(CalendarOutOfRange, match="2004–2026"):
        calendar.is_working_day(date(2027, 1, 4))
    with pytest.raises(CalendarOutOfRange):
        calendar.add_working_days(date(2026, 12, 30), 5)
    with pytest.raises(ValueError, match="2003-12-31"):
        calendar.working_days_between(date(2003, 12, 31), date(2004, 1, 5))


days_2025_2026 = st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 11, 30))


@given(days_2025_2026, st.integers(0, 20))
def test_working_days_between_inverts_add_working_days(day: date, n: int) -> None:
    later = calendar.add_working_days(day, n)
    assert calendar.working_days_between(day, later) == n
    if n:
        assert calendar.is_working_day(later)
