"""`creditbridge worker --once`, `creditbridge jobs …`, and the old cron-style commands, which now
run the worker's jobs (``market sweep``, ``collection compute``) or its relay (``consent
send-notifications``), against committed databases of both stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

import factories
from creditbridge.audit import service as audit_service
from creditbridge.cli import context
from creditbridge.cli.app import app
from creditbridge.core.actors import CONSOLE
from creditbridge.core.config import get_settings
from creditbridge.delivery import service as delivery_service
from creditbridge.jobs.models import JobAttempt, JobRun
from creditbridge.jobs.registry import REGISTRY
from delivery.receivers import Receiver, Reply

from .test_worker import STORES, Store, open_store

runner = CliRunner()


@pytest.fixture(scope="module", params=STORES)
def module_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    yield from open_store(request.param, tmp_path_factory.mktemp("cli"), "cb_jobs_cli")


@pytest.fixture
def store(module_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    module_store.clear()
    monkeypatch.setenv("CREDITBRIDGE_DATABASE_URL", module_store.url)
    monkeypatch.setenv("CREDITBRIDGE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CREDITBRIDGE_WEBHOOKS_ALLOW_LOOPBACK", "1")
    get_settings.cache_clear()
    context.engine.cache_clear()
    yield module_store
    context.engine().dispose()
    context.engine.cache_clear()
    get_settings.cache_clear()


def _json(*args: str) -> Any:
    done = runner.invoke(app, list(args))
    assert done.exit_code == 0, done.output
    return orjson.loads(done.stdout)


def _runs(store: Store, job: str) -> list[JobRun]:
    with store.sessions() as session:
        return list(session.scalars(select(JobRun).where(JobRun.job == job).order_by(JobRun.id)))


def _outcomes(store: Store, run_id: int) -> list[str | None]:
    with store.sessions() as session:
        return [
            a.outcome
            for a in session.scalars(select(JobAttempt).where(JobAttempt.run_id == run_id))
        ]


def _settle_schedule(store: Store) -> None:
    """Run the schedule's current slots once, so that later passes have only what a test adds."""
    _json("worker", "--once", "--json")


def test_jobs_list_shows_the_schedule(store: Store) -> None:
    listed = _json("jobs", "list", "--json")
    assert [row["name"] for row in listed] == REGISTRY.names()
    sweep = listed[0]
    assert (sweep["schedule_zh"], sweep["periodic"], sweep["last_run"]) == (
        "每 5 分钟",
        True,
        None,
    )
    assert sweep["next_fire_at"] is not None
    table = runner.invoke(app, ["jobs", "list"])
    assert "融资对接响应时限处理" in table.stdout


def test_jobs_run_queues_and_the_worker_runs_it(store: Store) -> None:
    _settle_schedule(store)
    queued = _json("jobs", "run", "jobs.selftest", "--args", '{"seconds": 0}', "--json")
    assert (queued["status"], queued["requested_by"]) == ("queued", "console")

    summary = _json("worker", "--once", "--json")
    assert [(r["run_id"], r["outcome"]) for r in summary["runs"]] == [(queued["id"], "succeeded")]

    (shown,) = _json("jobs", "runs", "--job", "jobs.selftest", "--json")
    assert (shown["id"], shown["status"]) == (queued["id"], "succeeded")
    assert [a["outcome"] for a in shown["attempt_log"]] == ["succeeded"]
    with store.sessions() as session:
        assert (
            audit_service.count_events(session, flt=audit_service.EventFilter(action="job.enqueue"))
            >= 1
        )
    assert _json("worker", "--once", "--json")["runs"] == []


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["jobs", "run", "no.such"], 1, "CB-JOB-UNKNOWN"),
        (["jobs", "run", "jobs.selftest", "--args", '{"seconds": "x"}'], 1, "CB-JOB-ARGS"),
        (["jobs", "run", "jobs.selftest", "--args", "{nope"], 2, "not valid JSON"),
        (["jobs", "run", "jobs.selftest", "--args", "[1]"], 2, "JSON object"),
        (["jobs", "runs", "--status", "exploded"], 2, "--status"),
        (["jobs", "runs", "--job", "no.such"], 2, "no such job"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(
    store: Store, args: list[str], code: int, says: str
) -> None:
    done = runner.invoke(app, args)
    assert done.exit_code == code
    assert says in done.output


def test_market_sweep_runs_the_workers_job_and_records_it(store: Store) -> None:
    done = runner.invoke(app, ["market", "sweep", "--today", "2026-12-31"])
    assert done.exit_code == 0, done.output

    (run,) = _runs(store, "marketplace.sweep")
    assert (run.slot, run.args, run.requested_by, run.status) == (
        None,
        {"today": "2026-12-31"},
        "console",
        "succeeded",
    )
    assert _outcomes(store, run.id) == ["succeeded"]
    summary = run.summary
    assert summary is not None
    assert done.stdout.strip() == (
        f"超时 expired: {summary['expired']}  改派 reassigned: {summary['reassigned']}  "
        f"转入抢单池 pooled: {summary['pooled']}  提交平台协调 escalated: {summary['escalated']}"
    )
    refused = runner.invoke(app, ["market", "sweep", "--today", "2026-13-01"])
    assert refused.exit_code == 1
    assert "CB-JOB-ARGS" in refused.output


def test_collection_compute_runs_one_job_run_per_month(store: Store) -> None:
    done = runner.invoke(
        app, ["collection", "compute", "--month", "2026-09", "--last", "2", "--as-of", "2026-10-31"]
    )
    assert done.exit_code == 0, done.output

    runs = _runs(store, "collection.metrics")
    assert [run.args for run in runs] == [
        {"month": "2026-08", "as_of": "2026-10-31"},
        {"month": "2026-09", "as_of": "2026-10-31"},
    ]
    assert all(run.status == "succeeded" and run.requested_by == "console" for run in runs)
    lines = done.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["2026-08", "2026-09"]
    assert runs[1].summary is not None
    assert lines[1].startswith(f"2026-09: {runs[1].summary['rows']} 行指标")
    assert runner.invoke(app, ["collection", "compute", "--month", "2026/09"]).exit_code == 1


def _ping(store: Store, url: str) -> str:
    with store.sessions() as session, session.begin():
        bank = factories.institution(session)
        added = delivery_service.add_endpoint(
            session, CONSOLE, institution_id=bank.id, url=url, events=["*"],
            settings=get_settings(),
        )  # fmt: skip
        return delivery_service.queue_test_event(session, CONSOLE, added.endpoint.id).message_id


def test_send_notifications_delivers_what_is_due_in_the_outbox(store: Store) -> None:
    with Receiver() as receiver:
        message_id = _ping(store, receiver.url)
        done = runner.invoke(app, ["consent", "send-notifications"])
        assert done.exit_code == 0, done.output
        assert "已发送 sent: 1;" in done.stdout
        assert [r.webhook_id for r in receiver.requests] == [message_id]


def test_send_notifications_exits_1_when_a_delivery_failed(store: Store) -> None:
    with Receiver(default=Reply(500)) as receiver:
        _ping(store, receiver.url)
        done = runner.invoke(app, ["consent", "send-notifications"])
        assert done.exit_code == 1
        assert "待重试 retrying: 1" in done.stdout
    gone = runner.invoke(app, ["consent", "send-notifications", "--to", "x.jsonl"])
    assert gone.exit_code == 2  # the file and URL targets went with the old outbox


def test_worker_once_also_delivers(store: Store) -> None:
    _settle_schedule(store)
    with Receiver() as receiver:
        message_id = _ping(store, receiver.url)
        summary = _json("worker", "--once", "--json")
        assert summary["deliveries"]["sent"] == 1
        assert [r.webhook_id for r in receiver.requests] == [message_id]
    line = runner.invoke(app, ["worker", "--once"])
    assert line.exit_code == 0
    assert "作业 runs: 0" in line.stdout
