"""`creditbridge webhooks …`: institutions' webhook endpoints and the delivery log, at the console.

Commands run as the operator at the server's console (``core.actors.CONSOLE``), for any
institution. The URL rules are the node's settings: https only and no inside addresses in
production; ``CREDITBRIDGE_WEBHOOKS_ALLOW_LOOPBACK=1`` lets tests and the demo use 127.0.0.1.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
import typer

from creditbridge.cli.catalog import _table
from creditbridge.cli.context import fail, friendly_errors, transaction
from creditbridge.core.actors import CONSOLE
from creditbridge.core.clock import SHANGHAI
from creditbridge.core.config import get_settings
from creditbridge.delivery import service

app = typer.Typer(
    help="回调 Webhook endpoints, test events and the delivery log.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
EndpointOption = Annotated[int, typer.Option("--endpoint", help="the endpoint's id")]


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _endpoint_row(endpoint: Any) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "institution_id": endpoint.institution_id,
        "url": endpoint.url,
        "events": list(endpoint.event_types),
        "scheme": endpoint.scheme,
        "status": endpoint.status,
        "disabled_reason": endpoint.disabled_reason,
        "description": endpoint.description,
        "created_by": endpoint.created_by,
        "created_at": _when(endpoint.created_at),
    }


def _moment(text: str, option: str) -> datetime:
    """An ISO date or date-time; without a zone it is Beijing time, as the screens show."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise fail(
            f"{option} 须为 ISO 日期时间 (an ISO date-time, e.g. 2026-12-05T08:00): {text}"
        ) from None
    return moment.replace(tzinfo=SHANGHAI) if moment.tzinfo is None else moment


@app.command("add")
@friendly_errors
def add(
    institution: Annotated[int, typer.Option("--institution", help="the institution's id")],
    url: Annotated[str, typer.Option("--url", help="https:// address the events are POSTed to")],
    events: Annotated[
        str,
        typer.Option(
            "--events", help="comma-separated: *, consent.*, marketplace.*, or exact types"
        ),
    ],
    secret: Annotated[
        str | None,
        typer.Option("--secret", help="the institution's own whsec_… secret; default: generated"),
    ] = None,
    scheme: Annotated[str, typer.Option("--scheme", help="hmac-sha256 | hmac-sm3")] = "hmac-sha256",
    description: Annotated[str, typer.Option("--description")] = "",
    json: JsonOption = False,
) -> None:
    """Register an endpoint; prints it and, once, its signing secret. 登记回调地址。"""
    with transaction() as session:
        added = service.add_endpoint(
            session,
            CONSOLE,
            institution_id=institution,
            url=url,
            events=events.split(","),
            secret=secret,
            scheme=scheme,
            description=description,
            settings=get_settings(),
        )
        row = _endpoint_row(added.endpoint) | {"secret": added.secret}
    if json:
        typer.echo(_json(row))
        return
    typer.echo(f"已登记 added endpoint {row['id']} → {row['url']} ({', '.join(row['events'])})")
    typer.echo(f"signing secret (shown once, 仅显示一次): {row['secret']}")


@app.command("list")
@friendly_errors
def list_(
    institution: Annotated[int | None, typer.Option("--institution")] = None,
    json: JsonOption = False,
) -> None:
    """List endpoints. 列出回调地址。"""
    with transaction() as session:
        rows = [
            _endpoint_row(e)
            for e in service.list_endpoints(session, CONSOLE, institution_id=institution)
        ]
    if json:
        typer.echo(_json(rows))
        return
    typer.echo(
        _table(
            ["id", "institution", "status", "scheme", "events", "url"],
            [
                [
                    str(r["id"]),
                    str(r["institution_id"]),
                    str(r["status"]),
                    str(r["scheme"]),
                    ",".join(r["events"]),
                    str(r["url"]),
                ]
                for r in rows
            ],
        )
    )


@app.command("test")
@friendly_errors
def test(endpoint: EndpointOption) -> None:
    """Queue a webhook.ping to the endpoint through the outbox; prints its webhook-id.
    发送测试事件（由 worker 投递）。"""
    with transaction() as session:
        message = service.queue_test_event(session, CONSOLE, endpoint)
        message_id = message.message_id
    typer.echo(message_id)


@app.command("deliveries")
@friendly_errors
def deliveries(
    endpoint: Annotated[int | None, typer.Option("--endpoint")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="pending | sending | sent | failed | dead")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 100,
    json: JsonOption = False,
) -> None:
    """List deliveries, newest first. 投递记录。"""
    with transaction() as session:
        views = service.list_deliveries(
            session, CONSOLE, endpoint_id=endpoint, status=status, limit=limit
        )
    rows = [
        {
            "id": v.id,
            "webhook_id": v.webhook_id,
            "event_type": v.event_type,
            "endpoint_id": v.endpoint_id,
            "institution_id": v.institution_id,
            "url": v.url,
            "status": v.status,
            "attempts": v.attempts,
            "next_attempt_at": _when(v.next_attempt_at),
            "last_status": v.last_status,
            "last_error": v.last_error,
            "created_at": _when(v.created_at),
            "sent_at": _when(v.sent_at),
        }
        for v in views
    ]
    if json:
        typer.echo(_json(rows))
        return
    typer.echo(
        _table(
            ["id", "webhook-id", "event", "endpoint", "status", "attempts", "last"],
            [
                [
                    str(r["id"]),
                    str(r["webhook_id"]),
                    str(r["event_type"]),
                    str(r["endpoint_id"]),
                    str(r["status"]),
                    str(r["attempts"]),
                    str(r["last_status"] or r["last_error"] or ""),
                ]
                for r in rows
            ],
        )
    )


@app.command("disable")
@friendly_errors
def disable(
    endpoint: EndpointOption,
    reason: Annotated[str, typer.Option(help="why (kept with the endpoint and audited)")] = "",
) -> None:
    """Stop sending to an endpoint. 停用回调地址。"""
    with transaction() as session:
        service.disable_endpoint(session, CONSOLE, endpoint, reason=reason)
    typer.echo(f"已停用 disabled endpoint {endpoint}")


@app.command("enable")
@friendly_errors
def enable(endpoint: EndpointOption) -> None:
    """Send to an endpoint again. 启用回调地址。"""
    with transaction() as session:
        service.enable_endpoint(session, CONSOLE, endpoint)
    typer.echo(f"已启用 enabled endpoint {endpoint}")


@app.command("replay")
@friendly_errors
def replay(
    endpoint: EndpointOption,
    since: Annotated[str, typer.Option("--since", help="ISO date-time (Beijing time if no zone)")],
    until: Annotated[str, typer.Option("--until", help="ISO date-time, exclusive")],
) -> None:
    """Send again what the endpoint got from messages created in [since, until), with the same
    webhook-ids. 重放时间段内的投递。"""
    start, end = _moment(since, "--since"), _moment(until, "--until")
    with transaction() as session:
        count = service.replay(session, CONSOLE, endpoint_id=endpoint, since=start, until=end)
    typer.echo(f"已重新排队 queued {count} deliveries")


@app.command("retry")
@friendly_errors
def retry(delivery: Annotated[int, typer.Option("--delivery", help="the delivery's id")]) -> None:
    """Retry one failed or dead delivery now. 立即重试一次投递。"""
    with transaction() as session:
        view = service.retry_delivery(session, CONSOLE, delivery)
    typer.echo(f"已重新排队 queued delivery {view.id} ({view.webhook_id})")
