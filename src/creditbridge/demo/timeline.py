"""The demo's calendar: every date and timestamp follows from the "as of" date, none from the
wall clock, so a seed and an as-of date give identical rows on any day.

Months are counted as integers (``year * 12 + month - 1``) so that numpy can shift them.
Deliveries: data about month *M* arrive in one batch on the 2nd to 9th working day after *M*
ends (China's calendar with its holidays, :mod:`creditbridge.reference.calendar`; plain weekdays
beyond the years its data covers), during office hours, the day and hour fixed per provider and
dataset. The last delivered month is the newest one whose every delivery is done by the as-of
date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from creditbridge.demo.model import HISTORY_MONTHS, MONTHLY_MONTHS, stable_key
from creditbridge.reference import calendar
from creditbridge.reference.errors import CalendarOutOfRange

Days = NDArray[np.datetime64]


EARLIEST_DELIVERY = 2
LATEST_DELIVERY = EARLIEST_DELIVERY + 7


@cache
def working_days_after(day: date, n: int) -> date:
    """The n-th working day after ``day``; weekdays only where the holiday data ends."""
    try:
        return calendar.add_working_days(day, n)
    except CalendarOutOfRange:
        current = day
        for _ in range(n):
            current += timedelta(days=1)
            while current.weekday() >= 5:
                current += timedelta(days=1)
        return current


def month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def month_start(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def month_end(index: int) -> date:
    return month_start(index + 1) - timedelta(days=1)


def period_text(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@dataclass(frozen=True)
class Window:
    """The time frame of one generation run."""

    as_of: date

    @property
    def last_month(self) -> int:
        """The newest month whose data have all been delivered by ``as_of``."""
        previous = month_index(self.as_of) - 1
        done = working_days_after(month_end(previous), LATEST_DELIVERY) < self.as_of
        return previous if done else previous - 1

    @property
    def first_monthly(self) -> int:
        return self.last_month - MONTHLY_MONTHS + 1

    @property
    def history_start(self) -> int:
        """First month of the event history; older facts arrive in that month's batches, as the
        platform's initial load."""
        return self.last_month - HISTORY_MONTHS + 1

    @property
    def end_date(self) -> date:
        return month_end(self.last_month)

    @property
    def start_date(self) -> date:
        return month_start(self.history_start)

    def monthly_periods(self) -> list[int]:
        return list(range(self.first_monthly, self.last_month + 1))

    def delivery_month(self, event_month: NDArray[np.int64]) -> NDArray[np.int64]:
        return np.maximum(event_month, self.history_start)

    def received_at(self, provider_code: str, dataset_code: str, month: int) -> datetime:
        """When the batch of ``dataset_code`` for ``month`` arrived from that provider."""
        key = stable_key(f"{provider_code}|{dataset_code}")
        day = working_days_after(month_end(month), EARLIEST_DELIVERY + key % 8)
        # 09:00–17:00 in Beijing is 01:00–09:00 UTC.
        return datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC) + timedelta(
            minutes=(key >> 8) % 480, seconds=(key >> 16) % 60
        )


EPOCH = np.datetime64("1970-01-01", "D")


def to_days(day: date) -> np.datetime64:
    return np.datetime64(day.isoformat(), "D")


def months_of(days: Days) -> NDArray[np.int64]:
    """Month index of each date."""
    months = days.astype("datetime64[M]").astype(np.int64)  # months since 1970-01
    return np.asarray(months + 1970 * 12, dtype=np.int64)


DayLike = Days | np.datetime64 | date


def uniform_days(rng: np.random.Generator, start: DayLike, end: DayLike, n: int) -> Days:
    """``n`` dates uniform between ``start`` and ``end`` inclusive (scalars or arrays); where
    ``start`` is after ``end`` the date is ``end``, never later."""
    hi = _as_day_numbers(end)
    lo = np.minimum(_as_day_numbers(start), hi)
    span = np.maximum(hi - lo, 0) + 1
    offset = np.floor(rng.random(n) * span).astype(np.int64)
    return np.asarray((lo + offset).astype("datetime64[D]"))


def _as_day_numbers(value: DayLike) -> NDArray[np.int64] | Any:
    if isinstance(value, date):
        return int((to_days(value) - EPOCH).astype(np.int64))
    return value.astype("datetime64[D]").astype(np.int64)


def iso(days: Days) -> list[str]:
    """ISO ``YYYY-MM-DD`` strings of a date array."""
    text: list[str] = np.datetime_as_string(days.astype("datetime64[D]"), unit="D").tolist()
    return text


def add_months_days(days: Days, months: NDArray[np.int64] | int) -> Days:
    """Each date plus whole months, the day clamped to the target month's length."""
    month = days.astype("datetime64[M]")
    day_of_month = (days - month.astype("datetime64[D]")).astype(np.int64)
    target = month + np.asarray(months)
    length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(
        np.int64
    )
    return np.asarray(target.astype("datetime64[D]") + np.minimum(day_of_month, length - 1))
