"""`creditbridge feeds …`: read an event feed at the console, write the nightly feed files, purge
what is past retention.

Commands run as the operator at the server's console (``core.actors.CONSOLE``), who may read every
institution's feed. ``export`` and ``purge`` are also jobs of the worker (``delivery.feed_files``
at 01:30 for the day before, ``delivery.retention`` at 03:00); these commands run the same
functions, for cron users and for a day the worker missed.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any

import orjson
import typer

from creditbridge.cli.catalog import _table
from creditbridge.cli.context import fail, friendly_errors, transaction
from creditbridge.core.actors import CONSOLE
from creditbridge.core.config import get_settings
from creditbridge.delivery import service

app = typer.Typer(
    help="事件流 Event feeds: read one, write the nightly files, purge past retention.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


class FileFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


class FileEncoding(StrEnum):
    UTF8 = "utf-8"
    GBK = "gbk"


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


@app.command("read")
@friendly_errors
def read(
    topic: Annotated[str, typer.Argument(help="consent | marketplace | webhook | system")],
    institution: Annotated[
        int | None,
        typer.Option("--institution", help="the institution's id; every institution's if absent"),
    ] = None,
    after: Annotated[
        str | None, typer.Option("--after", help="the cursor to read after (next_cursor)")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=service.MAX_FEED_LIMIT, help="events per page")
    ] = 100,
    json: JsonOption = False,
) -> None:
    """Read the next page of a feed, as the institution's API client would. 读取事件流。

    The cursors printed are the institution's own: its system may resume the API feed from them."""
    with transaction() as session:
        page = service.read_feed(
            session,
            CONSOLE,
            topic=topic,
            after=after or None,
            limit=limit,
            settings=get_settings(),
            institution_id=institution,
        )
    if json:
        typer.echo(
            _json(
                {"events": page.events, "next_cursor": page.next_cursor, "has_more": page.has_more}
            )
        )
        return
    typer.echo(
        _table(
            ["id", "type", "created_at", "data"],
            [
                [
                    str(event["id"]),
                    str(event["type"]),
                    str(event["created_at"]),
                    orjson.dumps(event["data"]).decode()[:80],
                ]
                for event in page.events
            ],
        )
    )
    typer.echo(f"next_cursor: {page.next_cursor}")
    typer.echo(f"has_more: {'yes' if page.has_more else 'no'}")


@app.command("export")
@friendly_errors
def export(
    day: Annotated[str, typer.Option("--day", help="the Beijing day, YYYY-MM-DD")],
    fmt: Annotated[FileFormat, typer.Option("--format", help="jsonl | csv")] = FileFormat.JSONL,
    encoding: Annotated[
        FileEncoding, typer.Option("--encoding", help="utf-8 | gbk")
    ] = FileEncoding.UTF8,
) -> None:
    """Write the day's feed files, one per institution and topic; prints their paths.
    写出某日的事件文件（每个机构每个事件流一个）。

    Files go under CREDITBRIDGE_WORKER_FEED_FILES_DIR (default <data dir>/feeds); writing the
    same day again replaces them whole."""
    try:
        wanted = date.fromisoformat(day)
    except ValueError:
        raise fail(f"--day 须为 YYYY-MM-DD (a date): {day}") from None
    settings = get_settings()
    with transaction() as session:
        paths = service.write_feed_files(
            session,
            settings,
            day=wanted,
            fmt="csv" if fmt is FileFormat.CSV else "jsonl",
            encoding="gbk" if encoding is FileEncoding.GBK else "utf-8",
            actor=CONSOLE,
        )
    for path in paths:
        typer.echo(str(path))
    if not paths:
        typer.echo(
            f"{wanted:%Y-%m-%d} 没有机构的事件 (no institution had events that day)", err=True
        )


@app.command("purge")
@friendly_errors
def purge() -> None:
    """Delete the messages past retention whose webhooks are all done; prints how many.
    清除超过保留期且已投递完毕的消息。"""
    settings = get_settings()
    with transaction() as session:
        count = service.purge_expired(session, settings, actor=CONSOLE)
    typer.echo(
        f"已清除 purged: {count} (保留 retention {settings.worker.feed_retention_days} 天 days)"
    )
