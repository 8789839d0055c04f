"""The one source of "now". Stored times are UTC; screens show Asia/Shanghai.

Tests replace the clock with :class:`FrozenClock` instead of patching ``datetime``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FrozenClock:
    """A clock that only moves when told to."""

    current: datetime = field(default_factory=lambda: datetime(2026, 1, 5, 2, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current = self.current + delta


_clock: Clock = SystemClock()


def set_clock(clock: Clock) -> Clock:
    """Install ``clock`` and return the one it replaces."""
    global _clock
    previous, _clock = _clock, clock
    return previous


def utc_now() -> datetime:
    return _clock.now()


def local_today() -> date:
    """Today's date in China, which is what deadlines and reporting periods count in."""
    return utc_now().astimezone(SHANGHAI).date()


def to_local(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(SHANGHAI)
