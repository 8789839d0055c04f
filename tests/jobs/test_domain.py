"""The worker's pure rules: which slot of a schedule is due, and the back-off of a failed run."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from hypothesis import given
from hypothesis import strategies as st

from creditbridge.core.clock import SHANGHAI
from creditbridge.jobs import domain
from creditbridge.jobs.registry import REGISTRY

DAILY_0200 = CronTrigger(hour=2, minute=0, timezone=SHANGHAI)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


class TestBackoff:
    @pytest.mark.parametrize(
        ("attempt", "wait"),
        [
            (1, timedelta(seconds=30)),
            (2, timedelta(minutes=2)),
            (3, timedelta(minutes=8)),
            (4, timedelta(minutes=32)),
            (5, timedelta(hours=1)),
            (40, timedelta(hours=1)),
        ],
    )
    def test_four_fold_from_thirty_seconds_capped_at_an_hour(
        self, attempt: int, wait: timedelta
    ) -> None:
        assert domain.backoff(attempt) == wait

    def test_attempts_count_from_one(self) -> None:
        with pytest.raises(ValueError, match="from 1"):
            domain.backoff(0)


class TestDailySlots:
    def test_the_latest_0200_beijing_is_1800_utc_the_day_before(self) -> None:
        now = utc(2026, 3, 10, 1, 0)  # 09:00 in Beijing
        assert domain.latest_fire_time(DAILY_0200, now) == utc(2026, 3, 9, 18, 0)

    def test_a_fire_time_equal_to_now_is_due_now(self) -> None:
        assert domain.latest_fire_time(DAILY_0200, utc(2026, 3, 9, 18, 0)) == utc(2026, 3, 9, 18)

    def test_the_first_ever_run_is_the_latest_slot(self) -> None:
        now = utc(2026, 3, 10, 1, 0)
        assert domain.due_slot(DAILY_0200, last_slot=None, now=now) == utc(2026, 3, 9, 18)

    def test_a_slot_already_queued_is_not_due_again(self) -> None:
        now = utc(2026, 3, 10, 1, 0)
        assert domain.due_slot(DAILY_0200, last_slot=utc(2026, 3, 9, 18), now=now) is None

    def test_missed_slots_are_coalesced_into_the_latest(self) -> None:
        # The worker was down for a long weekend: one run for the latest slot, not four.
        now = utc(2026, 3, 10, 1, 0)
        due = domain.due_slot(DAILY_0200, last_slot=utc(2026, 3, 5, 18), now=now)
        assert due == utc(2026, 3, 9, 18)
        assert domain.due_slot(DAILY_0200, last_slot=due, now=now) is None

    def test_beijing_has_no_daylight_saving_time(self) -> None:
        # Across the days Europe and America change their clocks, every 02:00 Beijing slot is
        # 18:00 UTC and exactly 24 hours after the one before.
        slots = [
            domain.latest_fire_time(DAILY_0200, utc(2026, 1, 1, 20) + timedelta(days=n))
            for n in range(366)
        ]
        assert all(slot is not None and slot.time().hour == 18 for slot in slots)
        gaps = {b - a for a, b in itertools.pairwise(slots)}  # type: ignore[operator]
        assert gaps == {timedelta(days=1)}

    def test_a_schedule_that_never_fired_has_no_slot(self) -> None:
        ended = CronTrigger(year=2020, hour=2, timezone=SHANGHAI)
        assert domain.latest_fire_time(ended, utc(2026, 3, 10)) is None
        assert domain.due_slot(ended, last_slot=None, now=utc(2026, 3, 10)) is None

    def test_the_next_fire_time_is_strictly_after_now(self) -> None:
        assert domain.next_fire_time(DAILY_0200, utc(2026, 3, 9, 18)) == utc(2026, 3, 10, 18)
        assert domain.next_fire_time(DAILY_0200, utc(2026, 3, 9, 17, 59)) == utc(2026, 3, 9, 18)


class TestIntervalSlots:
    def test_five_minute_slots_are_the_same_for_every_worker(self) -> None:
        # Two workers started at different moments build their own triggers; both must name the
        # same slot, which is what the (job, slot) key arbitrates on.
        anchor = datetime(2026, 1, 1, tzinfo=SHANGHAI)
        one = IntervalTrigger(minutes=5, start_date=anchor, timezone=SHANGHAI)
        other = IntervalTrigger(minutes=5, start_date=anchor, timezone=SHANGHAI)
        now = utc(2026, 5, 1, 10, 7, 30)
        assert domain.latest_fire_time(one, now) == utc(2026, 5, 1, 10, 5)
        assert domain.latest_fire_time(other, now) == utc(2026, 5, 1, 10, 5)

    def test_the_registered_sweep_runs_every_five_minutes(self) -> None:
        sweep = REGISTRY.get_or_raise("marketplace.sweep").trigger
        assert sweep is not None
        now = utc(2026, 5, 1, 10, 7, 30)
        last = domain.due_slot(sweep, last_slot=None, now=now)
        assert last == utc(2026, 5, 1, 10, 5)
        assert domain.due_slot(sweep, last_slot=last, now=now + timedelta(minutes=2)) is None
        assert domain.due_slot(sweep, last_slot=last, now=now + timedelta(minutes=3)) == utc(
            2026, 5, 1, 10, 10
        )


moments = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)


@given(now=moments)
def test_the_latest_slot_is_the_last_fire_time_not_after_now(now: datetime) -> None:
    for spec in REGISTRY.periodic():
        assert spec.trigger is not None
        latest = domain.latest_fire_time(spec.trigger, now)
        upcoming = domain.next_fire_time(spec.trigger, now)
        assert latest is not None
        assert upcoming is not None
        assert latest <= now < upcoming
        # Nothing fires in between: the slot after the latest is the upcoming one.
        assert spec.trigger.get_next_fire_time(latest, latest) == upcoming
