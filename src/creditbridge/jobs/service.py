"""The job queue: slots of the schedule become runs, runs are claimed under a lease, finished,
retried with back-off, and shown to the operator. Services flush; the worker commits.

Two workers never run the same thing twice, on either store, because every hand-over is a
conditional write that only one of them can win:

- a schedule slot is claimed by inserting ``JobRun(job, slot)``: the unique (job, slot) pair
  lets one INSERT through and turns the other into nothing (``ON CONFLICT DO NOTHING``, which
  SQLite and PostgreSQL spell alike, rather than a failing INSERT in a savepoint: with the
  pysqlite driver a savepoint opened first in a transaction is committed by its release);
- a run is claimed by an UPDATE whose WHERE repeats why it is due (queued or retrying and due,
  or running under an expired lease) and the attempt count seen: a claimer that lost the race
  updates no row. PostgreSQL also skips rows another claimer holds (FOR UPDATE SKIP LOCKED);
- a run is finished or its lease renewed only by the worker named in its lease, at the attempt
  it claimed: a worker whose lease expired and whose run was claimed again cannot overwrite the
  new attempt, and its job's work rolls back with the refused finish."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from creditbridge.audit import service as audit
from creditbridge.core.actors import Actor, ActorKind, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.errors import Forbidden
from creditbridge.jobs import domain
from creditbridge.jobs.models import JobAttempt, JobRun
from creditbridge.jobs.registry import REGISTRY, JobSpec, Registry
from creditbridge.reports import jobs as reports_jobs

logger = logging.getLogger(__name__)

SCHEDULE = "schedule"
"""``requested_by`` of the runs the schedule makes."""

_ERROR_LIMIT = 2000
# PostgreSQL locks the one candidate it reads (SKIP LOCKED), so its claim cannot be lost; SQLite
# reads without locks, so a claimer that loses the first candidate goes on to the next.
_CLAIM_CANDIDATES = {"postgresql": 1, "sqlite": 8}
_CLAIM_PASSES = 16


class LeaseLost(Exception):
    """The run is no longer this worker's (its lease expired and another worker claimed it, or
    it was finished): whatever this worker did for it must not be committed."""

    def __init__(self, run_id: int, worker: str) -> None:
        super().__init__(f"run {run_id} is no longer leased to {worker}")
        self.run_id = run_id
        self.worker = worker


@dataclass(frozen=True)
class RunView:
    id: int
    job: str
    slot: datetime | None
    args: dict[str, Any]
    status: str
    attempts: int
    max_attempts: int
    run_after: datetime
    lease_owner: str | None
    lease_until: datetime | None
    requested_by: str
    created_at: datetime
    finished_at: datetime | None
    last_error: str | None
    summary: dict[str, Any] | None

    @classmethod
    def of(cls, run: JobRun) -> RunView:
        return cls(
            id=run.id,
            job=run.job,
            slot=run.slot,
            args=dict(run.args),
            status=run.status,
            attempts=run.attempts,
            max_attempts=run.max_attempts,
            run_after=run.run_after,
            lease_owner=run.lease_owner,
            lease_until=run.lease_until,
            requested_by=run.requested_by,
            created_at=run.created_at,
            finished_at=run.finished_at,
            last_error=run.last_error,
            summary=None if run.summary is None else dict(run.summary),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AttemptView:
    run_id: int
    attempt: int
    worker: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ScheduleRow:
    """One job as the operator's page lists it."""

    name: str
    title_zh: str
    title_en: str
    schedule_zh: str
    schedule_en: str
    periodic: bool
    next_fire_at: datetime | None
    last_run: RunView | None

    def as_dict(self) -> dict[str, Any]:
        return {
            **{k: v for k, v in asdict(self).items() if k != "last_run"},
            "last_run": None if self.last_run is None else self.last_run.as_dict(),
        }


def _clip(error: str | None) -> str | None:
    return None if error is None else error[:_ERROR_LIMIT]


def _requested_by(actor: Actor) -> str:
    """The name the operator's page shows; the audit event keeps who exactly it was."""
    return actor.name[:64]


def _require_operator(actor: Actor) -> None:
    """Running a job is the platform's business: its operators, its system administrators,
    and the console."""
    if actor.kind in (ActorKind.CLI, ActorKind.SYSTEM):
        return
    if actor.kind is ActorKind.USER and actor.has_role(Role.OPERATOR, Role.SYSTEM_ADMIN):
        return
    raise Forbidden(
        "只有平台运营人员或系统管理员可以运行作业", key="error.jobs.operator_only", params={}
    )


# --- Making runs ---------------------------------------------------------------------------


def _insert_slot(session: Session, values: dict[str, Any]) -> int | None:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(JobRun)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["job", "slot"])
        .returning(JobRun.id)
    )
    inserted: int | None = session.scalar(statement)
    return inserted


def schedule_due(session: Session, registry: Registry = REGISTRY, *, now: datetime) -> list[JobRun]:
    """Queue the due slot of every periodic job (the latest fire time not yet queued; missed
    ones are coalesced into it). A slot another worker queued first is skipped, not an error."""
    made: list[int] = []
    for spec in registry.periodic():
        assert spec.trigger is not None
        # The newest slot of one job is an index lookup on the unique (job, slot).
        last_slot = session.scalar(select(func.max(JobRun.slot)).where(JobRun.job == spec.name))
        slot = domain.due_slot(spec.trigger, last_slot=last_slot, now=now)
        if slot is None:
            continue
        inserted = _insert_slot(
            session,
            {
                "job": spec.name,
                "slot": slot,
                "args": {},
                "status": "queued",
                "attempts": 0,
                "max_attempts": spec.max_attempts,
                "run_after": slot,
                "requested_by": SCHEDULE,
                "created_at": now,
            },
        )
        if inserted is not None:
            made.append(inserted)
    if not made:
        return []
    return list(session.scalars(select(JobRun).where(JobRun.id.in_(made)).order_by(JobRun.id)))


def enqueue(
    session: Session,
    actor_or_name: Actor | str,
    job: str,
    args: dict[str, Any] | None = None,
    *,
    run_after: datetime | None = None,
    registry: Registry = REGISTRY,
) -> JobRun:
    """Queue a one-off run of ``job``. A person's request (an :class:`Actor`) must come from the
    platform's side and is audited; a component of the platform names itself instead."""
    spec = registry.get_or_raise(job)
    if isinstance(actor_or_name, Actor):
        _require_operator(actor_or_name)
    clean = spec.parse_args(args)
    now = utc_now()
    run = JobRun(
        job=job,
        slot=None,
        args=clean,
        status="queued",
        attempts=0,
        max_attempts=spec.max_attempts,
        run_after=run_after or now,
        requested_by=(
            _requested_by(actor_or_name) if isinstance(actor_or_name, Actor) else actor_or_name[:64]
        ),
        created_at=now,
    )
    session.add(run)
    session.flush()
    if isinstance(actor_or_name, Actor):
        audit.record(
            session,
            actor_or_name,
            action="job.enqueue",
            object_type="job_run",
            object_id=run.id,
            detail={"job": job, "args": clean},
        )
    return run


def run_now(session: Session, actor: Actor, job: str, *, registry: Registry = REGISTRY) -> JobRun:
    """An operator's "run now": a one-off run of ``job`` with its default arguments, queued for
    the next free worker (a periodic job keeps its schedule)."""
    return enqueue(session, actor, job, registry=registry)


# --- Claiming, renewing, finishing ---------------------------------------------------------


def _due_now(now: datetime) -> Any:
    return or_(
        and_(JobRun.status.in_(domain.DUE_STATUSES), JobRun.run_after <= now),
        and_(JobRun.status == "running", JobRun.lease_until < now),
    )


def _close_lost_attempt(session: Session, run: JobRun, *, now: datetime) -> None:
    session.execute(
        update(JobAttempt)
        .where(JobAttempt.run_id == run.id, JobAttempt.finished_at.is_(None))
        .values(
            finished_at=now,
            outcome="lost",
            error=_clip(
                f"租约到期，工作进程 {run.lease_owner} 未完成 lease expired: worker "
                f"{run.lease_owner} stopped before finishing"
            ),
        )
        .execution_options(synchronize_session=False)
    )


def _take(
    session: Session,
    seen: JobRun,
    *,
    worker: str,
    now: datetime,
    lease: timedelta,
    registry: Registry,
) -> JobRun | None:
    """Claim ``seen`` as read, if it still is as read; None when another worker was first or
    the run's last attempt was lost (it is then marked failed)."""
    lost = seen.status == "running"
    attempt = seen.attempts + 1
    spec = registry.get_or_raise(seen.job)
    if lost and seen.attempts >= seen.max_attempts:
        values: dict[str, Any] = {
            "status": "failed",
            "finished_at": now,
            "lease_owner": None,
            "lease_until": None,
            "last_error": "最后一次尝试未完成（工作进程中断） the last attempt was lost",
        }
    else:
        lease_for = timedelta(seconds=spec.lease_seconds) if spec.lease_seconds else lease
        values = {
            "status": "running",
            "attempts": attempt,
            "lease_owner": worker,
            "lease_until": now + lease_for,
        }
    won = session.execute(
        update(JobRun)
        .where(JobRun.id == seen.id, JobRun.attempts == seen.attempts, _due_now(now))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if won.rowcount != 1:  # type: ignore[attr-defined]
        return None  # another worker took it between the read and the write
    if lost:
        _close_lost_attempt(session, seen, now=now)
    session.refresh(seen)
    if seen.status != "running":
        if seen.status == "failed":
            given_up(session, spec, seen.args)
        return None
    session.add(JobAttempt(run_id=seen.id, attempt=attempt, worker=worker, started_at=now))
    session.flush()
    return seen


def claim(
    session: Session,
    *,
    worker: str,
    now: datetime,
    lease: timedelta,
    registry: Registry = REGISTRY,
    run_id: int | None = None,
) -> JobRun | None:
    """Take the next due run for ``worker``: attempts + 1, leased until ``now`` + the job's lease
    (``lease`` unless the job names its own), and a new attempt opened. A run found running
    under an expired lease lost its worker: that attempt is closed as ``lost`` and the run is
    taken again, or marked ``failed`` if it was its last. Runs of jobs this worker does not
    know (a newer version's) are left for the workers that do. ``run_id`` claims that run only
    (the old commands run their job at once)."""
    dialect = session.get_bind().dialect.name
    query = (
        select(JobRun)
        .where(_due_now(now), JobRun.job.in_(registry.names()))
        .order_by(JobRun.run_after, JobRun.id)
        .limit(_CLAIM_CANDIDATES.get(dialect, 1))
        .execution_options(populate_existing=True)
    )
    if run_id is not None:
        query = query.where(JobRun.id == run_id)
    if dialect == "postgresql":
        query = query.with_for_update(skip_locked=True)
    # Each pass either claims a run or retires its candidates (taken by another worker, or
    # failed for good); the bound only guards against a store that would not make progress.
    for _ in range(_CLAIM_PASSES):
        candidates = session.scalars(query).all()
        if not candidates:
            return None
        for seen in candidates:
            claimed = _take(session, seen, worker=worker, now=now, lease=lease, registry=registry)
            if claimed is not None:
                return claimed
    return None


def renew_lease(
    session: Session, run: JobRun, *, worker: str, now: datetime, lease: timedelta
) -> bool:
    """Extend ``worker``'s lease on ``run`` (while its job runs); False when it is no longer
    the worker's, and the job's work is then refused at its finish."""
    renewed = session.execute(
        update(JobRun)
        .where(
            JobRun.id == run.id,
            JobRun.status == "running",
            JobRun.lease_owner == worker,
            JobRun.attempts == run.attempts,
        )
        .values(lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    return bool(renewed.rowcount == 1)  # type: ignore[attr-defined]


def given_up(session: Session, spec: JobSpec, args: dict[str, Any] | None) -> None:
    """Tell ``spec``'s ``on_failed`` hook that a run failed for good, in the transaction that
    records it. The hook runs in a savepoint: one that fails is logged and rolled back alone,
    so the run is still recorded as failed (a retried hook would hold the run forever)."""
    if spec.on_failed is None:
        return
    try:
        with session.begin_nested():
            spec.on_failed(session, dict(args or {}))
    except Exception:
        logger.exception("the on_failed hook of %s failed", spec.name)


def finish(
    session: Session,
    run: JobRun,
    *,
    worker: str,
    error: str | None = None,
    summary: dict[str, Any] | None = None,
) -> JobRun:
    """Record how ``worker``'s attempt at ``run`` ended (``run`` as :func:`claim` returned it).

    Success: ``succeeded`` with the job's summary, written in the job's own transaction so
    that work and status commit together. Failure (written in a fresh transaction after the
    work rolled back): ``retrying`` after :func:`domain.backoff`, or ``failed`` after the last
    attempt. Raises :class:`LeaseLost` when the run is no longer this worker's."""
    now = utc_now()
    attempt = run.attempts
    values: dict[str, Any] = {"lease_owner": None, "lease_until": None}
    if error is None:
        values |= {
            "status": "succeeded",
            "finished_at": now,
            "summary": summary,
            "last_error": None,
        }
    elif attempt >= run.max_attempts:
        values |= {"status": "failed", "finished_at": now, "last_error": _clip(error)}
    else:
        values |= {
            "status": "retrying",
            "run_after": now + domain.backoff(attempt),
            "last_error": _clip(error),
        }
    done = session.execute(
        update(JobRun)
        .where(
            JobRun.id == run.id,
            JobRun.status == "running",
            JobRun.lease_owner == worker,
            JobRun.attempts == attempt,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost(run.id, worker)
    session.execute(
        update(JobAttempt)
        .where(
            JobAttempt.run_id == run.id,
            JobAttempt.attempt == attempt,
            JobAttempt.finished_at.is_(None),
        )
        .values(
            finished_at=now,
            outcome="succeeded" if error is None else "failed",
            error=_clip(error),
        )
        .execution_options(synchronize_session=False)
    )
    session.flush()
    finished = session.get(JobRun, run.id, populate_existing=True)
    assert finished is not None
    return finished


# --- What the operator sees ----------------------------------------------------------------


def get_run(session: Session, run_id: int) -> RunView | None:
    run = session.get(JobRun, run_id, populate_existing=True)
    return None if run is None else RunView.of(run)


def list_runs(
    session: Session, *, job: str | None = None, status: str | None = None, limit: int = 100
) -> list[RunView]:
    """The latest runs first."""
    query = select(JobRun).order_by(JobRun.id.desc()).limit(limit)
    if job is not None:
        query = query.where(JobRun.job == job)
    if status is not None:
        query = query.where(JobRun.status == status)
    return [RunView.of(run) for run in session.scalars(query)]


def list_attempts(session: Session, run_id: int) -> list[AttemptView]:
    return [
        AttemptView(
            run_id=a.run_id,
            attempt=a.attempt,
            worker=a.worker,
            started_at=a.started_at,
            finished_at=a.finished_at,
            outcome=a.outcome,
            error=a.error,
        )
        for a in session.scalars(
            select(JobAttempt).where(JobAttempt.run_id == run_id).order_by(JobAttempt.attempt)
        )
    ]


def count_runs(session: Session, *, status: str, job: str | None = None) -> int:
    query = select(func.count()).select_from(JobRun).where(JobRun.status == status)
    if job is not None:
        query = query.where(JobRun.job == job)
    return int(session.scalar(query) or 0)


def schedule_overview(
    session: Session, registry: Registry = REGISTRY, *, now: datetime
) -> list[ScheduleRow]:
    """Every job of ``registry``: its schedule, its next fire time and its latest run."""
    latest_ids = [
        run_id
        for _, run_id in session.execute(
            select(JobRun.job, func.max(JobRun.id)).group_by(JobRun.job)
        )
    ]
    latest = {
        run.job: RunView.of(run)
        for run in session.scalars(select(JobRun).where(JobRun.id.in_(latest_ids)))
    }
    return [
        ScheduleRow(
            name=spec.name,
            title_zh=spec.title_zh,
            title_en=spec.title_en,
            schedule_zh=spec.schedule_zh,
            schedule_en=spec.schedule_en,
            periodic=spec.periodic,
            next_fire_at=(
                None if spec.trigger is None else domain.next_fire_time(spec.trigger, now)
            ),
            last_run=latest.get(spec.name),
        )
        for spec in registry
    ]


def run_counts(session: Session) -> dict[tuple[str, str], int]:
    """Finished attempts per (job, outcome), for the ``/metrics`` counters."""
    rows = session.execute(
        select(JobRun.job, JobAttempt.outcome, func.count())
        .join(JobRun, JobRun.id == JobAttempt.run_id)
        .where(JobAttempt.outcome.is_not(None))
        .group_by(JobRun.job, JobAttempt.outcome)
    )
    return {(job, outcome): int(count) for job, outcome, count in rows if outcome is not None}


RUN_RETENTION_DAYS = 90
"""Finished runs are kept this long; the sweep alone adds some 105,000 a year."""


def purge_finished_runs(
    session: Session, *, now: datetime, keep_days: int = RUN_RETENTION_DAYS
) -> int:
    """Delete succeeded and failed runs (with their attempts) finished more than ``keep_days``
    ago, except each job's newest run: the newest slot is what the schedule counts from. Runs
    still queued, running or retrying are never touched. Returns how many runs went."""
    cutoff = now - timedelta(days=keep_days)
    newest = select(func.max(JobRun.id)).group_by(JobRun.job)
    doomed = select(JobRun.id).where(
        JobRun.status.in_(("succeeded", "failed")),
        JobRun.finished_at < cutoff,
        JobRun.id.not_in(newest),
    )
    ids = list(session.scalars(doomed))
    if not ids:
        return 0
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        session.execute(delete(JobAttempt).where(JobAttempt.run_id.in_(chunk)))
        session.execute(delete(JobRun).where(JobRun.id.in_(chunk)))
    session.flush()
    return len(ids)


# --- The queue as reports sees it ----------------------------------------------------------
#
# Reports sits below the jobs layer, so its pages queue their long work through a port of its
# own (``creditbridge.reports.jobs.WorkQueue``), filled in here.


def _work_of(run: JobRun) -> reports_jobs.Work:
    return reports_jobs.Work(
        run_id=run.id,
        job=run.job,
        status=run.status,
        args=dict(run.args),
        created_at=run.created_at,
        finished_at=run.finished_at,
        summary=None if run.summary is None else dict(run.summary),
        error=run.last_error,
    )


class _ReportsQueue:
    def enqueue(
        self, session: Session, requester: Actor | str, job: str, args: dict[str, Any]
    ) -> reports_jobs.Work:
        return _work_of(enqueue(session, requester, job, args))

    def get(self, session: Session, run_id: int) -> reports_jobs.Work | None:
        run = session.get(JobRun, run_id, populate_existing=True)
        return None if run is None else _work_of(run)

    def recent(
        self, session: Session, job: str, *, limit: int, user_id: int | None = None
    ) -> list[reports_jobs.Work]:
        query = select(JobRun).where(JobRun.job == job)
        if user_id is not None:
            query = query.where(JobRun.args["user_id"].as_integer() == user_id)
        query = query.order_by(JobRun.id.desc()).limit(limit)
        return [_work_of(run) for run in session.scalars(query)]


reports_jobs.use_queue(_ReportsQueue())
