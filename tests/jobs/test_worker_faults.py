"""Real ``python -m creditbridge worker`` processes against a SQLite file and against PostgreSQL
(a database ``<test database>_jobs`` of its own): killed with SIGKILL in the middle of a
job and in the middle of a send, stopped with SIGTERM in the middle of a job, and two of them at
once. The waits below are bounded polls for a state, never claims about speed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.engine import make_url

import factories
from creditbridge import migrations
from creditbridge.core.actors import CONSOLE
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings
from creditbridge.core.db import make_engine, make_sessionmaker
from creditbridge.delivery import service as delivery_service
from creditbridge.delivery.models import Delivery, OutboxMessage
from creditbridge.jobs import service
from creditbridge.jobs.models import JobAttempt, JobRun
from creditbridge.jobs.registry import REGISTRY
from delivery.receivers import HANG, Receiver

PG_URL = os.environ.get("CREDITBRIDGE_TEST_DATABASE_URL", "").strip()
STORES = ["sqlite"] + (["postgresql"] if PG_URL else [])
JOBS_DB = "jobs"
WAIT = 90.0  # the most any state below is waited for (a worker starts in a few seconds)
HOST = socket.gethostname()


@dataclass
class Node:
    """A migrated database the worker processes and the test share."""

    url: str
    folder: Path

    def __post_init__(self) -> None:
        self.engine = make_engine(self.url)
        self.sessions = make_sessionmaker(self.engine)

    def env(self, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("CREDITBRIDGE_")}
        return {
            **base,
            "CREDITBRIDGE_DATABASE_URL": self.url,
            "CREDITBRIDGE_DATA_DIR": str(self.folder),
            "CREDITBRIDGE_WORKER_POLL_SECONDS": "0.1",
            "CREDITBRIDGE_WEBHOOKS_ALLOW_LOOPBACK": "1",
            **extra,
        }

    def run(self, run_id: int) -> JobRun:
        with self.sessions() as session:
            found = session.get(JobRun, run_id)
            assert found is not None
            return found

    def attempts(self, run_id: int) -> list[tuple[int, str | None, str]]:
        with self.sessions() as session:
            return [
                (a.attempt, a.outcome, a.worker)
                for a in session.scalars(
                    select(JobAttempt)
                    .where(JobAttempt.run_id == run_id)
                    .order_by(JobAttempt.attempt)
                )
            ]

    def settle_schedule(self) -> None:
        """Mark the schedule's current slots done, so that only the test's own runs are due."""
        with self.sessions() as session, session.begin():
            made = service.schedule_due(session, REGISTRY, now=utc_now())
            session.execute(
                update(JobRun)
                .where(JobRun.id.in_([run.id for run in made]))
                .values(status="succeeded", finished_at=utc_now())
            )

    def enqueue(self, job: str, args: dict[str, Any]) -> int:
        with self.sessions() as session, session.begin():
            return service.enqueue(session, "test", job, args).id


@pytest.fixture(params=STORES)
def node(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Node]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'node.db'}"
    else:
        # A database of its own, named after the suite's (so two suites on one server, e.g. CI's
        # and a developer's, never share it), created afresh: worker processes commit on their
        # own connections, which the suite's rollback-per-test database cannot hold.
        suite = make_url(PG_URL)
        url = suite.set(database=f"{suite.database}_{JOBS_DB}").render_as_string(
            hide_password=False
        )
        admin_engine = make_engine(PG_URL)
        with admin_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as admin:
            admin.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
            admin.execute(text(f'CREATE DATABASE "{make_url(url).database}"'))
        admin_engine.dispose()
    built = Node(url, tmp_path)
    migrations.upgrade(built.engine)
    yield built
    built.engine.dispose()


@dataclass
class WorkerProcess:
    """``python -m creditbridge worker`` with its stderr collected line by line."""

    process: subprocess.Popen[bytes]
    lines: list[str] = field(default_factory=list)
    started: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def start(cls, env: dict[str, str], *args: str) -> WorkerProcess:
        process = subprocess.Popen(
            [sys.executable, "-m", "creditbridge", "worker", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        worker = cls(process)
        threading.Thread(target=worker._read, daemon=True).start()
        return worker

    def _read(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            if " started: " in line:
                self.started.set()

    @property
    def id(self) -> str:
        return f"{HOST}:{self.process.pid}"

    def wait_started(self) -> None:
        if not self.started.wait(WAIT):
            pytest.fail("the worker did not start:\n" + "\n".join(self.lines))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)


@pytest.fixture
def workers() -> Iterator[Callable[..., WorkerProcess]]:
    """Starts worker processes, and kills whichever is left when the test ends."""
    started: list[WorkerProcess] = []

    def start(env: dict[str, str], *args: str) -> WorkerProcess:
        worker = WorkerProcess.start(env, *args)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def _until(condition: Callable[[], bool], what: str, *watched: WorkerProcess) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        for worker in watched:
            if worker.process.poll() is not None:
                pytest.fail(
                    f"a worker exited ({worker.process.returncode}):\n" + "\n".join(worker.lines)
                )
        if time.monotonic() > deadline:
            pytest.fail(f"not reached in {WAIT} s: {what}")
        time.sleep(0.05)


def _attempt_open(node: Node, run_id: int) -> bool:
    return any(outcome is None for _, outcome, _ in node.attempts(run_id))


def test_a_worker_killed_mid_job_leaves_the_run_to_the_next_worker(
    node: Node, workers: Callable[..., WorkerProcess]
) -> None:
    node.settle_schedule()
    run_id = node.enqueue("jobs.selftest", {"seconds": 30, "seconds_on_retry": 0.1})
    env = node.env(CREDITBRIDGE_WORKER_JOB_LEASE_SECONDS="2")

    first = workers(env)
    _until(lambda: _attempt_open(node, run_id), "the first attempt runs", first)
    first.process.send_signal(signal.SIGKILL)
    assert first.process.wait(timeout=30) == -signal.SIGKILL
    killed = node.run(run_id)
    assert (killed.status, killed.lease_owner, killed.attempts) == ("running", first.id, 1)

    second = workers(env)
    _until(lambda: node.run(run_id).status == "succeeded", "the run succeeds", second)

    done = node.run(run_id)
    assert done.attempts == 2
    assert done.summary == {"slept": 0.1, "attempt": 2}
    assert node.attempts(run_id) == [(1, "lost", first.id), (2, "succeeded", second.id)]

    second.wait_started()
    second.process.send_signal(signal.SIGTERM)
    assert second.process.wait(timeout=60) == 0


def test_sigterm_finishes_the_job_in_flight_then_exits_0(
    node: Node, workers: Callable[..., WorkerProcess]
) -> None:
    node.settle_schedule()
    run_id = node.enqueue("jobs.selftest", {"seconds": 2})
    worker = workers(node.env())
    worker.wait_started()
    _until(lambda: _attempt_open(node, run_id), "the attempt runs", worker)

    worker.process.send_signal(signal.SIGTERM)

    assert worker.process.wait(timeout=60) == 0
    assert node.run(run_id).status == "succeeded"
    assert node.attempts(run_id) == [(1, "succeeded", worker.id)]
    assert any(f"run={run_id} attempt=1/3 outcome=succeeded" in line for line in worker.lines)


def test_once_with_nothing_due_exits_0(node: Node, workers: Callable[..., WorkerProcess]) -> None:
    node.settle_schedule()
    once = workers(node.env(), "--once", "--json")
    out, _ = once.process.communicate(timeout=WAIT)
    assert once.process.returncode == 0, "\n".join(once.lines)
    summary = orjson.loads(out)
    assert (summary["runs"], summary["deliveries"]["claimed"]) == ([], 0)


@pytest.mark.postgres_only
@pytest.mark.parametrize("node", ["postgresql"], indirect=True)
def test_two_workers_on_postgresql_run_every_slot_and_run_once(
    node: Node, workers: Callable[..., WorkerProcess]
) -> None:
    queued = [node.enqueue("jobs.selftest", {"seconds": 0.1}) for _ in range(40)]
    env = node.env()
    # Both started together on a fresh schedule: they contest its slots and the queue.
    pair = [workers(env, "--once", "--json") for _ in range(2)]
    summaries = []
    for worker in pair:
        out, _ = worker.process.communicate(timeout=WAIT * 2)
        assert worker.process.returncode == 0, "\n".join(worker.lines)
        summaries.append(orjson.loads(out))

    ran = [{r["run_id"] for r in summary["runs"]} for summary in summaries]
    assert ran[0].isdisjoint(ran[1])
    assert all(ran), "each worker should have taken part"
    with node.sessions() as session:
        runs = session.scalars(select(JobRun)).all()
        slots = [(run.job, run.slot) for run in runs if run.slot is not None]
        attempts = session.scalars(select(JobAttempt)).all()
    assert set(queued) <= ran[0] | ran[1]
    assert ran[0] | ran[1] == {run.id for run in runs}
    assert sorted(job for job, _ in slots) == sorted(s.name for s in REGISTRY.periodic())
    per_run: dict[int, int] = {}
    for attempt in attempts:
        per_run[attempt.run_id] = per_run.get(attempt.run_id, 0) + 1
    assert per_run == {run.id: 1 for run in runs}


def _deliveries(node: Node) -> list[tuple[str, str]]:
    with node.sessions() as session:
        return [
            (message_id, status)
            for message_id, status in session.execute(
                select(OutboxMessage.message_id, Delivery.status)
                .join(OutboxMessage, OutboxMessage.id == Delivery.message_id)
                .order_by(Delivery.id)
            )
        ]


def test_a_worker_killed_mid_send_loses_no_message(
    node: Node, workers: Callable[..., WorkerProcess]
) -> None:
    node.settle_schedule()
    settings = Settings(
        database_url=node.url, data_dir=node.folder, webhooks={"allow_loopback": True}
    )
    with Receiver() as receiver:
        receiver.queue(HANG)  # the first request hangs until the receiver closes
        with node.sessions() as session, session.begin():
            bank = factories.institution(session)
            added = delivery_service.add_endpoint(
                session, CONSOLE, institution_id=bank.id, url=receiver.url,
                events=["webhook.*"], settings=settings,
            )  # fmt: skip
            sent = [
                delivery_service.queue_test_event(session, CONSOLE, added.endpoint.id).message_id
                for _ in range(3)
            ]
        env = node.env(
            CREDITBRIDGE_WORKER_DELIVERY_LEASE_SECONDS="2",
            CREDITBRIDGE_WORKER_DELIVERY_TIMEOUT_SECONDS="60",
        )

        first = workers(env)
        # All three arrived: one hangs, two were answered 200 but their results, recorded with
        # the round's, are not.
        _until(lambda: receiver.count >= 3, "the first sends arrive", first)
        assert receiver.requests[0].reply == HANG
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=30)
        assert {status for _, status in _deliveries(node)} == {"sending"}

        second = workers(env)
        _until(
            lambda: {status for _, status in _deliveries(node)} == {"sent"},
            "every delivery is sent",
            second,
        )
        second.wait_started()
        second.process.send_signal(signal.SIGTERM)
        assert second.process.wait(timeout=60) == 0

        arrived = receiver.by_webhook_id()
    assert set(arrived) == set(sent)
    for message_id, requests in arrived.items():
        # At least once, and every copy of a message is the same message under the same id.
        assert any(r.reply is not None and r.reply.status == 200 for r in requests), message_id
        assert len({r.body for r in requests}) == 1
    assert sum(len(requests) for requests in arrived.values()) > len(sent)
