"""`creditbridge worker [--once]`: the process that runs the platform's timed and queued jobs and
sends its outbox (webhooks). Registered on the root app as one command."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Annotated, Any

import orjson
import typer

from creditbridge.cli.context import engine, friendly_errors
from creditbridge.core.actors import CONSOLE
from creditbridge.core.config import get_settings
from creditbridge.jobs.worker import Worker


def _configure_logging() -> None:
    # One line per run on stderr, which systemd or the container runtime collects.
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO,
            stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )


def _summary_line(summary: dict[str, Any]) -> str:
    runs = summary["runs"]
    failed = sum(1 for run in runs if run["outcome"] != "succeeded")
    sent = summary["deliveries"].get("sent", 0)
    return (
        f"作业 runs: {len(runs)} (失败 failed: {failed}); 新排程 scheduled: {summary['scheduled']}; "
        f"已投递 delivered: {sent}"
    )


@friendly_errors
def worker(
    once: Annotated[
        bool,
        typer.Option("--once", help="run what is due now, send what is due, and exit"),
    ] = False,
    json: Annotated[bool, typer.Option("--json", help="with --once: print the summary as JSON")] = (
        False
    ),
) -> None:
    """Run scheduled and queued jobs and deliver the outbox until stopped (SIGTERM/SIGINT
    finish what is in flight, then exit 0). 作业与投递工作进程。

    Start as many as you like against PostgreSQL: each schedule slot and each queued run is
    executed by one of them. `--once` suits cron and tests; it exits 0 also when nothing is due
    and when a run failed (the failure is recorded and retried with back-off)."""
    settings = get_settings()
    _configure_logging()
    process = Worker(settings, engine=engine())
    try:
        if once:
            summary = process.run_once()
            if json:
                typer.echo(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
            else:
                typer.echo(_summary_line(summary))
            return
        asyncio.run(process.run_forever())
    finally:
        process.close()


def run_job_now(job: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run ``job`` here and now as the console's one-off run (recorded and shown like the
    worker's runs) and return its summary; a failed run ends the command with exit 1 (the run
    is retried by the worker after its back-off). The old cron-style commands use this, so
    they and the worker call the same job function."""
    process = Worker(get_settings(), engine=engine())
    try:
        outcome = process.run_now(job, args, actor=CONSOLE)
    finally:
        process.close()
    if outcome.outcome != "succeeded" or outcome.summary is None:
        typer.echo(
            f"错误 error: 作业 {job} 运行失败 run #{outcome.run_id} failed: {outcome.error}；"
            f"状态 status: {outcome.status}",
            err=True,
        )
        raise typer.Exit(1)
    return outcome.summary
