"""Pure rules of the worker: which slot of a schedule is due now, how long a failed run waits
before its next try, and the refusals of the job queue.

A schedule is anything with APScheduler's trigger interface (``get_next_fire_time``): the
registry builds ``CronTrigger``/``IntervalTrigger`` in Asia/Shanghai, these rules only ask them
for fire times, so the arithmetic is tested here without a database or a clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from creditbridge.core.errors import NotFound, ValidationFailed

RUN_STATUSES = ("queued", "running", "retrying", "succeeded", "failed")
DUE_STATUSES = ("queued", "retrying")
"""A run in one of these is claimed once its ``run_after`` has come."""
FINISHED_STATUSES = ("succeeded", "failed")
ATTEMPT_OUTCOMES = ("succeeded", "failed", "lost")

BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_FACTOR = 4
BACKOFF_CAP = timedelta(hours=1)

# The widest look-back for a schedule's latest fire time: the platform's slowest schedule is
# daily, so a trigger that has not fired in two years never will.
_LOOKBACK_START = timedelta(minutes=1)
_LOOKBACK_LIMIT = timedelta(days=732)


class Trigger(Protocol):
    """APScheduler 3's trigger interface: the first fire time at or after ``now`` when
    ``previous_fire_time`` is None, otherwise the one after ``previous_fire_time``."""

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None: ...


class JobUnknown(NotFound):
    """Raised when a run is asked of a job the registry does not hold."""

    code = "CB-JOB-UNKNOWN"
    title = "没有这个作业"


class JobArgsInvalid(ValidationFailed):
    """Raised when a one-off run's arguments are not what its job accepts."""

    code = "CB-JOB-ARGS"
    title = "作业参数无效"


def backoff(attempt: int) -> timedelta:
    """How long a run waits after its ``attempt``-th try failed: 30 s, 2 min, 8 min, 32 min,
    then an hour each time. Four-fold steps let a passing fault (a locked table, a restarting
    database) clear quickly while a lasting one costs at most one try an hour."""
    if attempt < 1:
        raise ValueError(f"attempts count from 1, not {attempt}")
    # The exponent is bounded before the multiplication: 4**n grows past any timedelta.
    factor: int = BACKOFF_FACTOR ** min(attempt - 1, 8)
    return min(BACKOFF_FIRST * factor, BACKOFF_CAP)


def next_fire_time(trigger: Trigger, now: datetime) -> datetime | None:
    """The schedule's first fire time after ``now`` (UTC), for the operator's page."""
    upcoming = trigger.get_next_fire_time(None, now)
    if upcoming is not None and upcoming <= now:
        upcoming = trigger.get_next_fire_time(upcoming, upcoming)
    return None if upcoming is None else upcoming.astimezone(UTC)


def latest_fire_time(trigger: Trigger, now: datetime) -> datetime | None:
    """The schedule's latest fire time at or before ``now`` (UTC), or None if it never fired.

    Found from the trigger alone, never from when a worker happened to start: two workers asking
    at the same moment name the same slot, which is what lets the (job, slot) key keep them from
    both running it. The look-back doubles until it holds a fire time, so a five-minute schedule
    costs a few steps and a daily one a dozen."""
    span = _LOOKBACK_START
    while True:
        first = trigger.get_next_fire_time(None, now - span)
        if first is not None and first <= now:
            break
        if span >= _LOOKBACK_LIMIT:
            return None
        span *= 2
    latest = first
    while (following := trigger.get_next_fire_time(latest, latest)) is not None:
        if following > now:
            break
        latest = following
    return latest.astimezone(UTC)


def due_slot(trigger: Trigger, *, last_slot: datetime | None, now: datetime) -> datetime | None:
    """The slot to run now: the latest fire time at or before ``now`` if it comes after
    ``last_slot`` (the newest slot already run or queued), else None.

    Slots missed while no worker ran are coalesced into that one: a sweep or a daily summary
    that runs once for the latest slot covers the ones before it, and a worker back after a
    weekend must not run the five-minute sweep six hundred times."""
    latest = latest_fire_time(trigger, now)
    if latest is None or (last_slot is not None and latest <= last_slot):
        return None
    return latest
