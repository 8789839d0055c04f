"""The job queue on both stores: slots become runs once, runs are claimed under a lease, finished,
retried with back-off, failed after the last try, and every attempt is on record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import factories
from creditbridge.audit import service as audit_service
from creditbridge.core.actors import CONSOLE
from creditbridge.core.clock import FrozenClock
from creditbridge.core.errors import Forbidden
from creditbridge.jobs import service
from creditbridge.jobs.domain import JobArgsInvalid, JobUnknown
from creditbridge.jobs.models import JobAttempt, JobRun
from creditbridge.jobs.registry import REGISTRY, JobSpec, Registry

LEASE = timedelta(seconds=60)
PERIODIC = [spec.name for spec in REGISTRY.periodic()]


def _attempts(session: Session, run_id: int) -> list[tuple[int, str | None, str]]:
    return [
        (a.attempt, a.outcome, a.worker)
        for a in session.scalars(
            select(JobAttempt).where(JobAttempt.run_id == run_id).order_by(JobAttempt.attempt)
        )
    ]


def _queued(session: Session, **args: object) -> JobRun:
    return service.enqueue(session, "test", "jobs.selftest", dict(args))


class TestSchedule:
    def test_each_periodic_job_gets_its_latest_slot_once(
        self, session: Session, frozen_clock: FrozenClock
    ) -> None:
        now = frozen_clock.now()
        made = service.schedule_due(session, REGISTRY, now=now)

        assert sorted(run.job for run in made) == sorted(PERIODIC)
        assert all(run.status == "queued" and run.requested_by == "schedule" for run in made)
        assert all(run.slot is not None and run.slot <= now for run in made)
        assert service.schedule_due(session, REGISTRY, now=now) == []

    def test_a_slot_another_worker_queued_first_is_skipped(
        self, session: Session, frozen_clock: FrozenClock
    ) -> None:
        now = frozen_clock.now()
        sweep = REGISTRY.get_or_raise("marketplace.sweep")
        assert sweep.trigger is not None
        # The other worker's row, with the slot this one is about to compute.
        first = service.schedule_due(session, Registry([sweep]), now=now)
        assert len(first) == 1
        session.execute(
            JobRun.__table__.delete().where(JobRun.job != "marketplace.sweep")  # type: ignore[attr-defined]
        )

        again = service.schedule_due(session, REGISTRY, now=now)

        assert "marketplace.sweep" not in {run.job for run in again}
        # The refused INSERT left the transaction usable.
        count = session.scalar(
            select(func.count()).where(JobRun.job == "marketplace.sweep", JobRun.slot.is_not(None))
        )
        assert count == 1

    def test_later_slots_come_one_at_a_time_and_missed_ones_coalesce(
        self, session: Session, frozen_clock: FrozenClock
    ) -> None:
        service.schedule_due(session, REGISTRY, now=frozen_clock.now())

        frozen_clock.advance(timedelta(minutes=5))
        five = service.schedule_due(session, REGISTRY, now=frozen_clock.now())
        assert [run.job for run in five] == ["marketplace.sweep"]

        frozen_clock.advance(timedelta(days=3))
        later = service.schedule_due(session, REGISTRY, now=frozen_clock.now())
        assert sorted(run.job for run in later) == sorted(PERIODIC)


class TestEnqueue:
    def test_an_operators_run_is_audited(self, session: Session) -> None:
        run = service.enqueue(session, CONSOLE, "jobs.selftest", {"seconds": 1})

        assert (run.status, run.args, run.requested_by) == (
            "queued",
            {"seconds": 1.0, "fail": False},
            "console",
        )
        events = audit_service.list_events(
            session, flt=audit_service.EventFilter(action="job.enqueue", object_id=str(run.id))
        )
        assert [e.facts.get("detail") for e in events] == [
            {"job": "jobs.selftest", "args": run.args}
        ]

    def test_a_component_names_itself_and_is_not_audited(self, session: Session) -> None:
        before = audit_service.count_events(session)
        run = service.enqueue(session, "market", "jobs.selftest")
        assert run.requested_by == "market"
        assert audit_service.count_events(session) == before

    def test_an_unknown_job_is_refused(self, session: Session) -> None:
        with pytest.raises(JobUnknown) as caught:
            service.enqueue(session, CONSOLE, "no.such.job")
        assert caught.value.code == "CB-JOB-UNKNOWN"
        assert "no.such.job" in caught.value.message

    @pytest.mark.parametrize(
        ("job", "args"),
        [
            ("jobs.selftest", {"secs": 1}),
            ("jobs.selftest", {"seconds": "slow"}),
            ("jobs.selftest", {"seconds": 99999}),
            ("jobs.selftest", {"fail": "yes"}),
            ("marketplace.sweep", {"today": "2026-13-01"}),
            ("delivery.retention", {"anything": 1}),
        ],
    )
    def test_arguments_a_job_does_not_take_are_refused(
        self, session: Session, job: str, args: dict[str, object]
    ) -> None:
        with pytest.raises(JobArgsInvalid):
            service.enqueue(session, CONSOLE, job, args)

    def test_only_the_platform_side_may_run_jobs(self, session: Session) -> None:
        bank = factories.institution(session)
        with pytest.raises(Forbidden):
            service.run_now(session, factories.officer(bank, id=7), "marketplace.sweep")
        run = service.run_now(session, factories.operator(), "marketplace.sweep")
        assert (run.job, run.slot, run.requested_by) == ("marketplace.sweep", None, "运营")


class TestClaim:
    def test_the_oldest_due_run_is_leased_and_its_attempt_opened(
        self, session: Session, frozen_clock: FrozenClock
    ) -> None:
        now = frozen_clock.now()
        first = _queued(session)
        second = _queued(session)
        later = service.enqueue(session, "test", "jobs.selftest", run_after=now + LEASE)

        claimed = service.claim(session, worker="w1", now=now, lease=LEASE)
        assert claimed is not None
        assert claimed.id == first.id
        assert (claimed.status, claimed.attempts, claimed.lease_owner) == ("running", 1, "w1")
        assert claimed.lease_until == now + LEASE
        assert _attempts(session, first.id) == [(1, None, "w1")]

        other = service.claim(session, worker="w2", now=now, lease=LEASE)
        assert other is not None
        assert other.id == second.id
        assert service.claim(session, worker="w3", now=now, lease=LEASE) is None
        assert session.get(JobRun, later.id).status == "queued"  # type: ignore[union-attr]

    def test_a_job_this_worker_does_not_know_is_left_alone(
        self, session: Session, frozen_clock: FrozenClock
    ) -> None:
        _queued(session)
        only_sweep = Registry([REGISTRY.get_or_raise("marketplace.sweep")])
        assert (
            service.claim(
                session, worker="old", now=frozen_clock.now(), lease=LEASE, registry=only_sweep
            )
            is None
        )

    def test_a_job_may_ask_for_a_longer_lease(
        self, session: Session, frozen_clock: FrozenClock
    ) -> None:
        service.enqueue(session, "test", "collection.metrics", {"month": "2026-01"})
        claimed = service.claim(session, worker="w1", now=frozen_clock.now(), lease=LEASE)
        assert claimed is not None
        assert claimed.lease_until == frozen_clock.now() + timedelta(seconds=1800)

    def test_a_run_whose_worker_died_is_taken_again_after_its_lease(
        self, session: Session, frozen_clock: FrozenClock
    ) -> None:
        run = _queued(session)
        dead = service.claim(session, worker="dead", now=frozen_clock.now(), lease=LEASE)
        assert dead is not None

        # Still leased: nobody takes it.
        frozen_clock.advance(LEASE - timedelta(seconds=1))
        assert service.claim(session, worker="w2", now=frozen_clock.now(), lease=LEASE) is None

        frozen_clock.advance(timedelta(seconds=2))
        again = service.claim(session, worker="w2", now=frozen_clock.now(), lease=LEASE)
        assert again is not None
        assert (again.id, again.attempts, again.lease_owner) == (run.id, 2, "w2")
        assert _attempts(session, run.id) == [(1, "lost", "dead"), (2, None, "w2")]

    def test_a_lost_last_attempt_fails_the_run(
        self, session: Session, frozen_clock: FrozenClock
    ) -> None:
        run = _queued(session)
        for n in range(run.max_attempts):
            assert service.claim(session, worker=f"w{n}", now=frozen_clock.now(), lease=LEASE)
            frozen_clock.advance(LEASE * 2)

        assert service.claim(session, worker="last", now=frozen_clock.now(), lease=LEASE) is None
        failed = session.get(JobRun, run.id, populate_existing=True)
        assert failed is not None
        assert (failed.status, failed.attempts, failed.lease_owner) == ("failed", 3, None)
        assert [outcome for _, outcome, _ in _attempts(session, run.id)] == ["lost"] * 3

    def test_a_run_failed_for_good_does_not_hide_the_next_one(
        self, session: Session, frozen_clock: FrozenClock
    ) -> None:
        doomed = _queued(session)
        for n in range(doomed.max_attempts):
            assert service.claim(session, worker=f"w{n}", now=frozen_clock.now(), lease=LEASE)
            frozen_clock.advance(LEASE * 2)
        waiting = _queued(session)

        claimed = service.claim(session, worker="next", now=frozen_clock.now(), lease=LEASE)

        assert claimed is not None
        assert claimed.id == waiting.id
        assert session.get(JobRun, doomed.id, populate_existing=True).status == "failed"  # type: ignore[union-attr]

    def test_one_run_can_be_claimed_by_id(
        self, session: Session, frozen_clock: FrozenClock
    ) -> None:
        _queued(session)
        wanted = _queued(session)
        claimed = service.claim(
            session, worker="cli", now=frozen_clock.now(), lease=LEASE, run_id=wanted.id
        )
        assert claimed is not None
        assert claimed.id == wanted.id


class TestFinish:
    def test_success_records_the_summary(self, session: Session, frozen_clock: FrozenClock) -> None:
        _queued(session)
        run = service.claim(session, worker="w1", now=frozen_clock.now(), lease=LEASE)
        assert run is not None
        done = service.finish(session, run, worker="w1", summary={"slept": 0})

        assert (done.status, done.summary, done.finished_at) == (
            "succeeded",
            {"slept": 0},
            frozen_clock.now(),
        )
        assert (done.lease_owner, done.lease_until) == (None, None)
        assert _attempts(session, run.id) == [(1, "succeeded", "w1")]
        assert service.claim(session, worker="w2", now=frozen_clock.now(), lease=LEASE) is None

    def test_failures_back_off_then_fail_after_the_last_try(
        self, session: Session, frozen_clock: FrozenClock
    ) -> None:
        queued = _queued(session)
        waits = []
        for n in range(1, queued.max_attempts + 1):
            run = service.claim(session, worker=f"w{n}", now=frozen_clock.now(), lease=LEASE)
            assert run is not None
            assert run.attempts == n
            done = service.finish(session, run, worker=f"w{n}", error=f"boom {n}")
            if done.status == "retrying":
                waits.append(done.run_after - frozen_clock.now())
                # Not due before its back-off has passed.
                assert (
                    service.claim(session, worker="eager", now=frozen_clock.now(), lease=LEASE)
                    is None
                )
                frozen_clock.current = done.run_after

        assert waits == [timedelta(seconds=30), timedelta(minutes=2)]
        assert (done.status, done.last_error, done.attempts) == ("failed", "boom 3", 3)
        assert done.finished_at == frozen_clock.now()
        errors = [
            a.error
            for a in session.scalars(
                select(JobAttempt).where(JobAttempt.run_id == queued.id).order_by(JobAttempt.id)
            )
        ]
        assert errors == ["boom 1", "boom 2", "boom 3"]
        assert [o for _, o, _ in _attempts(session, queued.id)] == ["failed"] * 3

    def test_a_worker_that_lost_its_lease_cannot_finish(
        self, session: Session, frozen_clock: FrozenClock
    ) -> None:
        _queued(session)
        slow = service.claim(session, worker="slow", now=frozen_clock.now(), lease=LEASE)
        assert slow is not None
        frozen_clock.advance(LEASE * 2)
        fresh = service.claim(session, worker="fresh", now=frozen_clock.now(), lease=LEASE)
        assert fresh is not None

        # ``slow`` still holds the run as it claimed it (attempt 1).
        slow.attempts, slow.lease_owner, slow.status = 1, "slow", "running"
        session.expunge(slow)
        with pytest.raises(service.LeaseLost):
            service.finish(session, slow, worker="slow", summary={})
        assert not service.renew_lease(
            session, slow, worker="slow", now=frozen_clock.now(), lease=LEASE
        )

        kept = session.get(JobRun, fresh.id, populate_existing=True)
        assert kept is not None
        assert (kept.status, kept.lease_owner, kept.attempts) == ("running", "fresh", 2)

    def test_the_owner_renews_its_lease(self, session: Session, frozen_clock: FrozenClock) -> None:
        _queued(session)
        run = service.claim(session, worker="w1", now=frozen_clock.now(), lease=LEASE)
        assert run is not None
        frozen_clock.advance(LEASE / 2)
        assert service.renew_lease(session, run, worker="w1", now=frozen_clock.now(), lease=LEASE)
        assert not service.renew_lease(
            session, run, worker="w2", now=frozen_clock.now(), lease=LEASE
        )
        renewed = session.get(JobRun, run.id, populate_existing=True)
        assert renewed is not None
        assert renewed.lease_until == frozen_clock.now() + LEASE


class TestWhatTheOperatorSees:
    def test_schedule_overview_lists_every_job_with_next_and_last_run(
        self, session: Session, frozen_clock: FrozenClock
    ) -> None:
        now = frozen_clock.now()
        service.schedule_due(session, REGISTRY, now=now)
        rows = {row.name: row for row in service.schedule_overview(session, REGISTRY, now=now)}

        assert list(rows) == REGISTRY.names()
        sweep = rows["marketplace.sweep"]
        assert (sweep.title_zh, sweep.schedule_en) == ("融资对接响应时限处理", "every 5 minutes")
        assert sweep.next_fire_at is not None
        assert now < sweep.next_fire_at <= now + timedelta(minutes=5)
        assert sweep.last_run is not None
        assert sweep.last_run.status == "queued"
        selftest = rows["jobs.selftest"]
        assert (selftest.periodic, selftest.next_fire_at, selftest.last_run) == (False, None, None)
        assert rows["collection.metrics"].as_dict()["last_run"]["job"] == "collection.metrics"

    def test_runs_attempts_and_counts(self, session: Session, frozen_clock: FrozenClock) -> None:
        ok, bad = _queued(session), _queued(session, fail=True)
        for worker in ("w1", "w2"):
            run = service.claim(session, worker=worker, now=frozen_clock.now(), lease=LEASE)
            assert run is not None
            service.finish(session, run, worker=worker, error="boom" if run.id == bad.id else None)

        assert [r.id for r in service.list_runs(session, job="jobs.selftest")] == [bad.id, ok.id]
        assert [r.id for r in service.list_runs(session, status="retrying")] == [bad.id]
        assert service.count_runs(session, status="succeeded", job="jobs.selftest") == 1
        assert [a.outcome for a in service.list_attempts(session, bad.id)] == ["failed"]
        counts = service.run_counts(session)
        assert counts[("jobs.selftest", "succeeded")] >= 1
        assert counts[("jobs.selftest", "failed")] >= 1
        view = service.get_run(session, ok.id)
        assert view is not None
        assert view.as_dict()["status"] == "succeeded"


def test_a_registry_refuses_two_jobs_of_one_name() -> None:
    spec = JobSpec(name="x", title_zh="x", title_en="x", func=lambda s, c, a: {})
    with pytest.raises(ValueError, match="share a name"):
        Registry([spec, spec])


def test_slots_are_stored_in_utc(session: Session) -> None:
    now = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
    made = service.schedule_due(session, REGISTRY, now=now)
    session.expire_all()
    stored = session.scalars(select(JobRun).where(JobRun.id.in_([r.id for r in made]))).all()
    daily = {run.job: run.slot for run in stored}
    assert daily["collection.metrics"] == datetime(2026, 5, 31, 18, 0, tzinfo=UTC)
    assert daily["delivery.feed_files"] == datetime(2026, 5, 31, 17, 30, tzinfo=UTC)


def test_finished_runs_past_the_retention_go_but_each_jobs_newest_stays(session: Session) -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    old = now - timedelta(days=service.RUN_RETENTION_DAYS + 1)
    runs = [_queued(session) for _ in range(4)]
    for run in runs[:3]:
        run.status, run.finished_at = "succeeded", old
    runs[3].status = "retrying"  # unfinished: never purged, however old
    session.add(JobAttempt(run_id=runs[0].id, attempt=1, worker="w", started_at=old))
    recent = _queued(session)
    recent.status, recent.finished_at = "failed", now - timedelta(days=1)
    session.flush()

    # runs[0] and runs[1] go; runs[2] is not the newest either, so it goes too; the newest of
    # jobs.selftest is `recent`, and it is inside the retention anyway.
    assert service.purge_finished_runs(session, now=now) == 3
    left = set(session.scalars(select(JobRun.id)))
    assert left == {runs[3].id, recent.id}
    assert session.scalar(select(func.count()).select_from(JobAttempt)) == 0
    assert service.purge_finished_runs(session, now=now) == 0


def test_the_newest_run_of_a_job_is_kept_even_when_old(session: Session) -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    only = _queued(session)
    only.status, only.finished_at = "succeeded", now - timedelta(days=400)
    session.flush()
    assert service.purge_finished_runs(session, now=now) == 0
    assert session.get(JobRun, only.id) is not None
