"""`creditbridge jobs …`: the worker's schedule, its runs, and one-off runs queued by hand."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
import typer

from creditbridge.cli.catalog import _table
from creditbridge.cli.context import fail, friendly_errors, transaction
from creditbridge.core.actors import CONSOLE
from creditbridge.core.clock import to_local, utc_now
from creditbridge.jobs import domain, service
from creditbridge.jobs.registry import REGISTRY

app = typer.Typer(help="作业 The worker's jobs: schedule, runs, run now.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def _when(moment: datetime | None) -> str:
    return "—" if moment is None else to_local(moment).strftime("%Y-%m-%d %H:%M:%S")


@app.command("list")
@friendly_errors
def list_jobs(json: JsonOption = False) -> None:
    """The jobs, their schedule (Beijing time), next fire time and last run. 作业及排程。"""
    with transaction() as session:
        rows = service.schedule_overview(session, REGISTRY, now=utc_now())
    if json:
        typer.echo(_json([row.as_dict() for row in rows]))
        return
    table = [
        [
            row.name,
            row.title_zh,
            row.schedule_zh,
            _when(row.next_fire_at),
            "—" if row.last_run is None else f"#{row.last_run.id} {row.last_run.status}",
            "—" if row.last_run is None else _when(row.last_run.finished_at),
        ]
        for row in rows
    ]
    typer.echo(
        _table(["作业 job", "名称", "排程", "下次 next", "上次 last", "结束 finished"], table)
    )


@app.command("runs")
@friendly_errors
def runs(
    job: Annotated[str | None, typer.Option("--job", help="only this job's runs")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help=" | ".join(domain.RUN_STATUSES))
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    json: JsonOption = False,
) -> None:
    """The latest runs, with their attempts (--json). 作业运行记录。"""
    if status is not None and status not in domain.RUN_STATUSES:
        raise fail(f"--status 须为 must be one of: {', '.join(domain.RUN_STATUSES)}", code=2)
    if job is not None and job not in REGISTRY:
        raise fail(f"没有这个作业 no such job: {job} ({', '.join(REGISTRY.names())})", code=2)
    with transaction() as session:
        found = service.list_runs(session, job=job, status=status, limit=limit)
        attempts = {run.id: service.list_attempts(session, run.id) for run in found} if json else {}
    if json:
        typer.echo(
            _json(
                [
                    {**run.as_dict(), "attempt_log": [a.as_dict() for a in attempts[run.id]]}
                    for run in found
                ]
            )
        )
        return
    table = [
        [
            str(run.id),
            run.job,
            _when(run.slot),
            run.status,
            f"{run.attempts}/{run.max_attempts}",
            run.requested_by,
            _when(run.finished_at),
            (run.last_error or "")[:60],
        ]
        for run in found
    ]
    typer.echo(
        _table(["#", "作业 job", "排程 slot", "状态", "尝试", "发起", "结束", "错误 error"], table)
    )


@app.command("run")
@friendly_errors
def run(
    name: Annotated[str, typer.Argument(help="the job, as `jobs list` names it")],
    args: Annotated[
        str | None,
        typer.Option("--args", help="JSON object of arguments, e.g. '{\"seconds\": 1}'"),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Queue a one-off run of a job; a running worker picks it up. 立即运行作业（排队）。"""
    try:
        parsed = orjson.loads(args) if args else {}
    except orjson.JSONDecodeError as exc:
        raise fail(f"--args 不是合法 JSON not valid JSON: {exc}", code=2) from exc
    if not isinstance(parsed, dict):
        raise fail("--args 须为 JSON 对象 must be a JSON object", code=2)
    with transaction() as session:
        queued = service.enqueue(session, CONSOLE, name, parsed)
        view = service.RunView.of(queued)
    if json:
        typer.echo(_json(view.as_dict()))
        return
    typer.echo(
        f"已排队 queued: run #{view.id} {view.job}；由工作进程执行 a worker runs it "
        "(`creditbridge worker` or `creditbridge worker --once`)"
    )
