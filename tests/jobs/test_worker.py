"""The worker in this process, against committed databases of both stores: a job's work and its
``succeeded`` status commit together, a failure rolls the work back and is retried with
back-off until it fails, a worker that lost its lease commits nothing, and two workers at once
run each run once."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from creditbridge import migrations
from creditbridge.core.actors import CONSOLE
from creditbridge.core.clock import FrozenClock
from creditbridge.core.config import Settings
from creditbridge.core.db import make_engine, make_sessionmaker
from creditbridge.jobs import service
from creditbridge.jobs.models import JobAttempt, JobRun
from creditbridge.jobs.registry import REGISTRY, JobSpec, Registry, current_run
from creditbridge.jobs.worker import Worker

PG_URL = os.environ.get("CREDITBRIDGE_TEST_DATABASE_URL", "").strip()
STORES = ["sqlite"] + (["postgresql"] if PG_URL else [])
SCHEMA = "cb_jobs_worker"


@dataclass
class Store:
    """A migrated database whose transactions really commit (the worker opens its own)."""

    url: str
    engine: Engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        return make_sessionmaker(self.engine)

    def settings(self, **worker: Any) -> Settings:
        return Settings(
            database_url=self.url,
            worker={"poll_seconds": 0.05, "job_lease_seconds": 30, **worker},
        )

    def clear(self) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(JobAttempt))
            connection.execute(delete(JobRun))


def open_store(kind: str, folder: Path, schema: str) -> Iterator[Store]:
    """A fresh migrated database: a SQLite file in ``folder``, or a PostgreSQL schema of its own
    in the test database (dropped afterwards)."""
    if kind == "sqlite":
        url = f"sqlite:///{folder / 'jobs.db'}"
        engine = make_engine(url)
        migrations.upgrade(engine)
        yield Store(url, engine)
        engine.dispose()
        return
    admin = make_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    rendered = url.render_as_string(hide_password=False)
    engine = make_engine(rendered)
    try:
        migrations.upgrade(engine)
        yield Store(rendered, engine)
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(scope="module", params=STORES)
def module_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    yield from open_store(request.param, tmp_path_factory.mktemp("jobs"), SCHEMA)


@pytest.fixture
def store(module_store: Store) -> Store:
    module_store.clear()
    return module_store


# --- Jobs of these tests: each leaves a mark that shows whether its work committed ---------


def _marks(store: Store) -> int:
    with store.sessions() as session:
        return int(session.scalar(select(func.count()).where(JobRun.requested_by == "mark")) or 0)


def _mark(session: Session) -> None:
    """The job's own work: a row in its transaction (a queued run of a job nobody runs)."""
    service.enqueue(session, "mark", "test.idle", registry=TEST_REGISTRY)


def writes(session: Session, settings: Settings, args: dict[str, Any]) -> dict[str, Any]:
    _mark(session)
    return {"marked": True}


def writes_then_fails(session: Session, settings: Settings, args: dict[str, Any]) -> dict[str, Any]:
    _mark(session)
    run = current_run()
    raise RuntimeError(f"boom on attempt {run.attempt if run else '?'}")


def loses_its_lease(session: Session, settings: Settings, args: dict[str, Any]) -> dict[str, Any]:
    """Another worker takes the run while this one works (its lease ran out unnoticed)."""
    run = current_run()
    assert run is not None
    engine = session.get_bind()
    with Session(engine) as other, other.begin():
        other.execute(update(JobRun).where(JobRun.id == run.run_id).values(lease_owner="another:1"))
    _mark(session)
    return {"marked": True}


def idle(session: Session, settings: Settings, args: dict[str, Any]) -> dict[str, Any]:
    return {}


def _spec(name: str, func: Any) -> JobSpec:
    return JobSpec(name=name, title_zh=name, title_en=name, func=func, check_args=dict)


def _told(store: Store) -> list[dict[str, Any]]:
    """The arguments the ``on_failed`` hook was told, one queued ``test.idle`` run each."""
    with store.sessions() as session:
        return [
            dict(run.args)
            for run in session.scalars(select(JobRun).where(JobRun.requested_by == "told"))
        ]


def tell(session: Session, args: dict[str, Any]) -> None:
    service.enqueue(session, "told", "test.idle", args, registry=TEST_REGISTRY)


def tell_badly(session: Session, args: dict[str, Any]) -> None:
    tell(session, args)  # rolled back with the hook's savepoint
    raise RuntimeError("the hook broke")


TEST_REGISTRY = Registry(
    [
        _spec("test.writes", writes),
        _spec("test.writes_then_fails", writes_then_fails),
        replace(_spec("test.fails_and_tells", writes_then_fails), on_failed=tell, max_attempts=2),
        replace(_spec("test.fails_tells_badly", writes_then_fails), on_failed=tell_badly),
        _spec("test.loses_its_lease", loses_its_lease),
        _spec("test.idle", idle),
        REGISTRY.get_or_raise("jobs.selftest"),
    ]
)
# The queue of marks is never worked off: a registry without ``test.idle`` leaves them queued.
RUNNING = Registry([spec for spec in TEST_REGISTRY if spec.name != "test.idle"])


def _worker(store: Store, name: str = "w1", **settings: Any) -> Worker:
    return Worker(store.settings(**settings), worker_id=name, registry=RUNNING, engine=store.engine)


def _enqueue(store: Store, job: str, args: dict[str, Any] | None = None) -> int:
    with store.sessions() as session, session.begin():
        return service.enqueue(session, "test", job, args, registry=TEST_REGISTRY).id


def _run(store: Store, run_id: int) -> JobRun:
    with store.sessions() as session:
        run = session.get(JobRun, run_id)
        assert run is not None
        return run


def _attempts(store: Store, run_id: int) -> list[tuple[int, str | None, str | None]]:
    with store.sessions() as session:
        return [
            (a.attempt, a.outcome, a.error)
            for a in session.scalars(
                select(JobAttempt).where(JobAttempt.run_id == run_id).order_by(JobAttempt.attempt)
            )
        ]


# --- The tests ------------------------------------------------------------------------------


def test_once_with_nothing_due_does_nothing(store: Store) -> None:
    summary = _worker(store).run_once()
    assert (summary["scheduled"], summary["runs"]) == (0, [])
    assert summary["deliveries"]["claimed"] == 0


def test_a_job_whose_work_committed_is_not_run_again(store: Store) -> None:
    run_id = _enqueue(store, "test.writes")
    worker = _worker(store)

    first = worker.run_once()
    assert [(r["run_id"], r["outcome"], r["status"]) for r in first["runs"]] == [
        (run_id, "succeeded", "succeeded")
    ]
    assert _marks(store) == 1

    second = worker.run_once()
    assert second["runs"] == []
    assert _marks(store) == 1
    assert _run(store, run_id).summary == {"marked": True}
    assert _attempts(store, run_id) == [(1, "succeeded", None)]


def test_a_failing_job_is_rolled_back_retried_with_backoff_then_failed(
    store: Store, frozen_clock: FrozenClock
) -> None:
    run_id = _enqueue(store, "test.writes_then_fails")
    worker = _worker(store)
    waits = []
    for attempt in (1, 2, 3):
        (outcome,) = worker.run_once()["runs"]
        assert (outcome["attempt"], outcome["outcome"]) == (attempt, "failed")
        assert outcome["error"] == f"RuntimeError: boom on attempt {attempt}"
        run = _run(store, run_id)
        if attempt < 3:
            assert run.status == "retrying"
            waits.append(run.run_after - frozen_clock.now())
            # Before the back-off has passed the run is not taken again.
            assert worker.run_once()["runs"] == []
            frozen_clock.current = run.run_after

    assert waits == [timedelta(seconds=30), timedelta(minutes=2)]
    assert (run.status, run.attempts, run.finished_at) == ("failed", 3, frozen_clock.now())
    assert run.last_error == "RuntimeError: boom on attempt 3"
    assert _attempts(store, run_id) == [
        (n, "failed", f"RuntimeError: boom on attempt {n}") for n in (1, 2, 3)
    ]
    assert _marks(store) == 0  # no failed attempt's work was kept
    assert worker.run_once()["runs"] == []


def test_a_run_that_failed_for_good_tells_its_hook_once_in_the_same_transaction(
    store: Store, frozen_clock: FrozenClock
) -> None:
    run_id = _enqueue(store, "test.fails_and_tells", {"user_id": 7})
    worker = _worker(store)
    (first,) = worker.run_once()["runs"]
    assert (first["outcome"], _run(store, run_id).status) == ("failed", "retrying")
    assert _told(store) == []  # a retry is not the end: nobody is told yet
    frozen_clock.current = _run(store, run_id).run_after

    (last,) = worker.run_once()["runs"]

    assert (last["outcome"], _run(store, run_id).status) == ("failed", "failed")
    assert _told(store) == [{"user_id": 7}]
    frozen_clock.current += timedelta(days=1)
    assert worker.run_once()["runs"] == []
    assert _told(store) == [{"user_id": 7}]


def test_a_hook_that_fails_does_not_keep_the_run_from_failing(
    store: Store, frozen_clock: FrozenClock
) -> None:
    run_id = _enqueue(store, "test.fails_tells_badly", {"user_id": 8})
    worker = _worker(store)
    for _ in range(3):
        worker.run_once()
        run = _run(store, run_id)
        if run.run_after is not None:
            frozen_clock.current = max(frozen_clock.current, run.run_after)

    assert _run(store, run_id).status == "failed"
    assert _told(store) == []  # the hook's own writes went with its savepoint


def test_a_worker_that_lost_its_lease_commits_nothing(store: Store) -> None:
    run_id = _enqueue(store, "test.loses_its_lease")

    (outcome,) = _worker(store).run_once()["runs"]

    assert (outcome["outcome"], outcome["status"]) == ("lost", "running")
    assert _marks(store) == 0
    run = _run(store, run_id)
    assert (run.status, run.lease_owner) == ("running", "another:1")
    assert _attempts(store, run_id) == [(1, None, None)]  # the new holder closes it


def test_the_selftest_knows_its_attempt(store: Store, frozen_clock: FrozenClock) -> None:
    run_id = _enqueue(store, "jobs.selftest", {"fail": True, "seconds": 0})
    worker = _worker(store)
    (first,) = worker.run_once()["runs"]
    assert first["error"].endswith("(attempt 1)")
    frozen_clock.current = _run(store, run_id).run_after
    (second,) = worker.run_once()["runs"]
    assert second["error"].endswith("(attempt 2)")


def test_run_now_queues_and_runs_at_once_as_the_console(store: Store) -> None:
    outcome = _worker(store, "cli").run_now("jobs.selftest", {"seconds": 0}, actor=CONSOLE)

    assert (outcome.outcome, outcome.summary) == ("succeeded", {"slept": 0.0, "attempt": 1})
    run = _run(store, outcome.run_id)
    assert (run.requested_by, run.status) == ("console", "succeeded")
    assert _attempts(store, outcome.run_id) == [(1, "succeeded", None)]


def test_two_workers_at_once_run_each_run_once(store: Store) -> None:
    ids = [_enqueue(store, "jobs.selftest", {"seconds": 0.01}) for _ in range(30)]
    summaries: list[dict[str, Any]] = []
    start = threading.Barrier(2)

    def work(name: str) -> None:
        worker = _worker(store, name)
        start.wait()
        summaries.append(worker.run_once())

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    ran = sorted(r["run_id"] for s in summaries for r in s["runs"])
    assert ran == ids
    for run_id in ids:
        assert _attempts(store, run_id) == [(1, "succeeded", None)]


def test_run_forever_works_the_queue_until_stopped(store: Store) -> None:
    ids = [_enqueue(store, "jobs.selftest", {"seconds": 0.05}) for _ in range(5)]
    worker = _worker(store, "forever", job_concurrency=2)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            loop.run_until_complete(worker.run_forever(stop))
        except BaseException as exc:  # reported by the test thread
            failure.append(exc)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        deadline = time.monotonic() + 60  # a bound on the wait, not a claim about speed
        while not all(_run(store, run_id).status == "succeeded" for run_id in ids):
            assert time.monotonic() < deadline, [_run(store, i).status for i in ids]
            time.sleep(0.05)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join()
        loop.close()
    assert failure == []
    for run_id in ids:
        assert [a[1] for a in _attempts(store, run_id)] == ["succeeded"]
