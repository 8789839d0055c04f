"""China's working-day calendar for deadlines counted in 工作日: weekends, the statutory holidays
and the make-up working days (调休) announced each year by the State Council General Office.

Built on ``chinese-calendar``; a date outside the years its data covers raises
:class:`CalendarOutOfRange` instead of guessing, because a guessed holiday moves a legal deadline.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import chinese_calendar

from creditbridge.reference.errors import CalendarOutOfRange

_DAY = timedelta(days=1)


@cache
def covered_years() -> tuple[int, int]:
    """First and last year for which the holiday data is published."""
    years = {d.year for d in chinese_calendar.holidays} | {
        d.year for d in chinese_calendar.workdays
    }
    return min(years), max(years)


def _require_covered(day: date) -> None:
    first, last = covered_years()
    if not first <= day.year <= last:
        raise CalendarOutOfRange(
            f"{day.isoformat()} 超出节假日数据覆盖范围（{first}–{last}年）；"
            "请升级 chinese-calendar 以获得新一年的放假安排"
        )


def is_working_day(day: date) -> bool:
    """True on weekdays that are not holidays and on weekend make-up days (调休上班)."""
    _require_covered(day)
    return bool(chinese_calendar.is_workday(day))


def next_working_day(day: date) -> date:
    """The first working day strictly after ``day``."""
    candidate = day + _DAY
    while not is_working_day(candidate):
        candidate += _DAY
    return candidate


def roll_forward(day: date) -> date:
    """``day`` if it is a working day, else the next one: when a period's last day is a holiday
    the period ends on the first working day after it (民法典 第二百零三条)."""
    return day if is_working_day(day) else next_working_day(day)


def add_working_days(day: date, n: int) -> date:
    """The n-th working day after ``day`` (``day`` itself does not count, whatever it is);
    ``n == 0`` returns ``day`` unchanged."""
    if n < 0:
        raise ValueError("n must be ≥ 0")
    _require_covered(day)
    current = day
    for _ in range(n):
        current = next_working_day(current)
    return current


def working_days_between(start: date, end: date) -> int:
    """Working days d with start < d ≤ end, so that
    ``working_days_between(d, add_working_days(d, n)) == n``; negative when end < start."""
    if end < start:
        return -working_days_between(end, start)
    _require_covered(start)
    _require_covered(end)
    count = 0
    current = start + _DAY
    while current <= end:
        count += is_working_day(current)
        current += _DAY
    return count
