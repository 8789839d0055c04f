"""``creditbridge worker``: one process that runs the platform's timed and queued jobs and sends
its outbox.

Two loops share an asyncio event loop. The jobs loop, every ``poll_seconds``, queues the
schedule's due slots and claims runs up to ``job_concurrency``, each executed in a thread of its
own pool while a lease keeper renews its lease. The outbox relay
(``creditbridge.delivery.sender.run_relay``) claims and sends webhook deliveries. Every database
step is its own short transaction, so a worker killed at any point leaves only leases that
expire: its runs and deliveries are taken again by whichever worker comes next.

SIGTERM or SIGINT stops the claiming; the jobs and the relay round in flight finish and are
recorded, then the process exits 0."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from creditbridge.core.actors import Actor
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings
from creditbridge.core.db import make_engine, make_sessionmaker
from creditbridge.delivery import sender
from creditbridge.jobs import domain, service
from creditbridge.jobs.models import JobRun
from creditbridge.jobs.registry import CURRENT_RUN, REGISTRY, Registry, RunContext

log = logging.getLogger("creditbridge.jobs")


def default_worker_id() -> str:
    """``hostname:pid``: names the lease holder in the tables and the logs."""
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


@dataclass(frozen=True)
class RunOutcome:
    """How one attempt at a run ended. ``outcome`` is the attempt's (succeeded, failed, lost:
    the run was no longer this worker's); ``status`` the run's afterwards (succeeded, retrying,
    failed, or running when another worker holds it now)."""

    run_id: int
    job: str
    slot: datetime | None
    attempt: int
    outcome: str
    status: str
    seconds: float
    error: str | None = None
    summary: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["slot"] = None if self.slot is None else self.slot.isoformat()
        return body


class _LeaseKeeper:
    """Renews a running job's lease every third of it, in a thread of its own (the job's thread
    is busy with the job). A renewal that cannot reach the database is tried again at the next
    tick; one refused because the run is no longer this worker's ends the keeping, and the
    job's finish is then refused too."""

    def __init__(self, worker: Worker, run: JobRun, lease: timedelta) -> None:
        self._worker = worker
        self._run = run
        self._lease = lease
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._keep, name=f"lease-{run.id}", daemon=True)

    def __enter__(self) -> _LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _keep(self) -> None:
        interval = max(self._lease.total_seconds() / 3, 0.1)
        while not self._stop.wait(interval):
            try:
                with self._worker.sessionmaker() as session, session.begin():
                    held = service.renew_lease(
                        session,
                        self._run,
                        worker=self._worker.id,
                        now=utc_now(),
                        lease=self._lease,
                    )
            except SQLAlchemyError as exc:
                log.warning("run %d: lease not renewed, retrying: %s", self._run.id, exc)
                continue
            if not held:
                # Finished meanwhile, or taken by another worker after a lease that ran out.
                log.info("run %d: lease no longer held by %s", self._run.id, self._worker.id)
                return


class Worker:
    """One worker process's state: its id, its registry of jobs and its database sessions.

    ``engine`` lets a caller share its own (the CLI's); otherwise one is made from the settings
    and disposed of by :meth:`close`."""

    def __init__(
        self,
        settings: Settings,
        *,
        worker_id: str | None = None,
        registry: Registry = REGISTRY,
        engine: Engine | None = None,
    ) -> None:
        self.settings = settings
        self.id = worker_id or default_worker_id()
        self.registry = registry
        self._owns_engine = engine is None
        self.engine = engine if engine is not None else make_engine(settings.database_url)
        self.sessionmaker: sessionmaker[Session] = make_sessionmaker(self.engine)
        self._next_fire_at: datetime | None = None

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.worker.job_lease_seconds)

    def _lease_of(self, run: JobRun) -> timedelta:
        seconds = self.registry.get_or_raise(run.job).lease_seconds
        return timedelta(seconds=seconds) if seconds else self.lease

    # --- One step each, each in its own transaction ----------------------------------------

    def schedule(self) -> list[int]:
        """Queue the due slots; returns the new runs' ids. Between fire times there is nothing
        to ask the database: the next look is at the schedule's next fire time."""
        now = utc_now()
        if self._next_fire_at is not None and now < self._next_fire_at:
            return []
        with self.sessionmaker() as session, session.begin():
            runs = service.schedule_due(session, self.registry, now=now)
            made = [run.id for run in runs]
        upcoming = [
            domain.next_fire_time(spec.trigger, now)
            for spec in self.registry.periodic()
            if spec.trigger is not None
        ]
        self._next_fire_at = min((t for t in upcoming if t is not None), default=None)
        return made

    def claim(self) -> JobRun | None:
        with self.sessionmaker() as session, session.begin():
            return service.claim(
                session, worker=self.id, now=utc_now(), lease=self.lease, registry=self.registry
            )

    def execute(self, run: JobRun) -> RunOutcome:
        """Run the job of a claimed ``run``. Its work and its ``succeeded`` status commit in one
        transaction, so work that committed is never done again; a failure rolls the work back
        and is recorded in a fresh transaction (retrying after back-off, or failed)."""
        spec = self.registry.get_or_raise(run.job)
        started = time.monotonic()
        error: str | None = None
        summary: dict[str, Any] | None = None
        token = CURRENT_RUN.set(
            RunContext(run_id=run.id, job=run.job, slot=run.slot, attempt=run.attempts)
        )
        try:
            with _LeaseKeeper(self, run, self._lease_of(run)):
                try:
                    with self.sessionmaker() as session, session.begin():
                        summary = spec.func(session, self.settings, dict(run.args))
                        finished = service.finish(session, run, worker=self.id, summary=summary)
                    outcome, status = "succeeded", finished.status
                except service.LeaseLost:
                    outcome, status = "lost", "running"
                except Exception as exc:  # any failure of the job is the run's, not the worker's
                    error = f"{type(exc).__name__}: {exc}"
                    outcome, status = self._record_failure(run, error)
        finally:
            CURRENT_RUN.reset(token)
        result = RunOutcome(
            run_id=run.id,
            job=run.job,
            slot=run.slot,
            attempt=run.attempts,
            outcome=outcome,
            status=status,
            seconds=round(time.monotonic() - started, 3),
            error=error,
            summary=summary if outcome == "succeeded" else None,
        )
        log.info(
            "job %s slot=%s run=%d attempt=%d/%d outcome=%s status=%s duration=%.3fs%s",
            result.job,
            "-" if run.slot is None else run.slot.isoformat(),
            result.run_id,
            result.attempt,
            run.max_attempts,
            result.outcome,
            result.status,
            result.seconds,
            "" if error is None else f" error={error!r}",
        )
        return result

    def _record_failure(self, run: JobRun, error: str) -> tuple[str, str]:
        try:
            with self.sessionmaker() as session, session.begin():
                finished = service.finish(session, run, worker=self.id, error=error)
                if finished.status == "failed":
                    service.given_up(session, self.registry.get_or_raise(run.job), run.args)
        except service.LeaseLost:
            return "lost", "running"
        return "failed", finished.status

    def run_now(
        self, job: str, args: dict[str, Any] | None = None, *, actor: Actor | str
    ) -> RunOutcome:
        """Queue a one-off run of ``job`` and execute it here, now: the old cron-style commands
        (``market sweep``, ``collection compute``) run their job this way, so the run is
        recorded and shown like the worker's. The run is queued and claimed in one transaction:
        no running worker can take it in between."""
        with self.sessionmaker() as session, session.begin():
            queued = service.enqueue(session, actor, job, args, registry=self.registry)
            run = service.claim(
                session,
                worker=self.id,
                now=utc_now(),
                lease=self.lease,
                registry=self.registry,
                run_id=queued.id,
            )
        assert run is not None, "a run queued in this transaction is due and unclaimed"
        return self.execute(run)

    # --- Modes ---------------------------------------------------------------------------

    def run_once(self) -> dict[str, Any]:
        """Queue what the schedule has due, run every due run one after the other, then send
        every due delivery; a summary of what was done. For tests and cron users."""
        scheduled = self.schedule()
        outcomes: list[RunOutcome] = []
        seen: set[int] = set()
        while (run := self.claim()) is not None:
            if run.id in seen:
                # Its lease ran out while it ran here (a job longer than its lease): leave it to
                # the next pass rather than loop on it.
                break
            seen.add(run.id)
            outcomes.append(self.execute(run))
        delivered = sender.deliver_due(self.sessionmaker, self.settings, worker=self.id)
        return {
            "worker": self.id,
            "scheduled": len(scheduled),
            "runs": [outcome.as_dict() for outcome in outcomes],
            "deliveries": asdict(delivered),
        }

    async def run_forever(self, stop: asyncio.Event | None = None) -> None:
        """Run jobs and send the outbox until ``stop`` is set or SIGTERM/SIGINT arrives."""
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        handled: list[signal.Signals] = []
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self._stopping, stop, signum)
                handled.append(signum)
        log.info(
            "worker %s started: %d job(s) at once, relay of %d",
            self.id,
            self.settings.worker.job_concurrency,
            self.settings.worker.delivery_concurrency,
        )
        pool = ThreadPoolExecutor(
            max_workers=self.settings.worker.job_concurrency, thread_name_prefix="job"
        )
        try:
            jobs = asyncio.create_task(self._jobs_loop(stop, pool), name="jobs")
            relay = asyncio.create_task(
                sender.run_relay(self.sessionmaker, self.settings, worker=self.id, stop=stop),
                name="relay",
            )
            await asyncio.wait({jobs, relay}, return_when=asyncio.FIRST_EXCEPTION)
            # One loop failing outright (not a job, not a round: those are caught) stops the
            # other, and the error ends the process for its supervisor to restart it.
            stop.set()
            await asyncio.gather(jobs, relay)
        finally:
            pool.shutdown(wait=True)
            for signum in handled:
                loop.remove_signal_handler(signum)
        log.info("worker %s stopped", self.id)

    def _stopping(self, stop: asyncio.Event, signum: signal.Signals) -> None:
        if not stop.is_set():
            log.info("worker %s: %s, finishing what is in flight", self.id, signum.name)
        stop.set()

    async def _jobs_loop(self, stop: asyncio.Event, pool: ThreadPoolExecutor) -> None:
        loop = asyncio.get_running_loop()
        in_flight: set[asyncio.Future[RunOutcome]] = set()
        capacity = self.settings.worker.job_concurrency
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.schedule)
                while len(in_flight) < capacity and not stop.is_set():
                    run = await asyncio.to_thread(self.claim)
                    if run is None:
                        break
                    running = loop.run_in_executor(pool, self.execute, run)
                    in_flight.add(running)
                    running.add_done_callback(partial(self._forget, in_flight))
            except SQLAlchemyError as exc:
                # The database away or busy: nothing was claimed that is not leased; try again.
                log.warning("worker %s: could not schedule or claim: %s", self.id, exc)
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.worker.poll_seconds)
        if in_flight:
            await asyncio.gather(*in_flight, return_exceptions=True)

    def _forget(
        self, in_flight: set[asyncio.Future[RunOutcome]], finished: asyncio.Future[RunOutcome]
    ) -> None:
        in_flight.discard(finished)
        if not finished.cancelled() and finished.exception() is not None:
            # Recording the outcome failed (the database went away mid-run): the run stays
            # leased and is taken again once the lease expires.
            log.error(
                "worker %s: a run's outcome was not recorded",
                self.id,
                exc_info=finished.exception(),
            )
