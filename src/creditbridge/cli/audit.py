"""`creditbridge audit …`: verify the SM3 chain of the audit trail and purge past retention."""

from __future__ import annotations

import os
from datetime import UTC, timedelta
from typing import Annotated

import orjson
import typer

from creditbridge.audit import service
from creditbridge.audit.domain import RETENTION_DAYS
from creditbridge.cli.context import friendly_errors, transaction
from creditbridge.core.actors import CONSOLE
from creditbridge.core.clock import utc_now
from creditbridge.core.config import get_settings

app = typer.Typer(help="审计日志 The audit trail.", no_args_is_help=True)


@app.command("verify")
@friendly_errors
def verify(
    json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    workers: Annotated[
        int, typer.Option("--workers", min=0, help="processes to hash with (0: one per CPU)")
    ] = 0,
) -> None:
    """Recompute the SM3 chain; exit 1 and name the first broken link if it does not hold.
    重新计算审计链，指出第一处断裂。"""
    with transaction() as session:
        report = service.verify(
            session,
            workers=workers or os.cpu_count() or 1,
            database_url=get_settings().database_url,
        )
    if json:
        typer.echo(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        typer.echo(report.message())
        typer.echo(f"{report.checked} events in {report.seconds:.3f} s", err=True)
    if not report.ok:
        raise typer.Exit(1)


@app.command("purge")
@friendly_errors
def purge(
    older_than_days: Annotated[
        int,
        typer.Option("--older-than-days", help=f"at least {RETENTION_DAYS}", min=RETENTION_DAYS),
    ] = 365,
) -> None:
    """Delete events older than N days (never fewer than 180); the purge itself is recorded.
    清理超过保存期的审计事件（至少保留 180 天）。"""
    before = utc_now() - timedelta(days=older_than_days)
    with transaction() as session:
        deleted = service.purge(session, CONSOLE, before=before.astimezone(UTC))
    typer.echo(f"已清理 {deleted} 条审计事件 deleted {deleted} events older than {before:%Y-%m-%d}")
