"""`creditbridge consent …` and `creditbridge keys …`: receipts, expiry, the node's keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from creditbridge.catalog import service as catalog_service
from creditbridge.cli.context import engine, friendly_errors, transaction
from creditbridge.consent import service
from creditbridge.core.actors import CONSOLE
from creditbridge.core.config import get_settings
from creditbridge.core.crypto import InvalidKey, Sm2PublicKey
from creditbridge.core.db import make_sessionmaker
from creditbridge.delivery.sender import deliver_due
from creditbridge.jobs.worker import default_worker_id
from creditbridge.protection import service as protection

app = typer.Typer(help="授权 Consent.", no_args_is_help=True)
keys_app = typer.Typer(help="密钥 The node's keys.", no_args_is_help=True)


@app.command("verify")
def verify(
    receipt: Annotated[
        Path, typer.Argument(help="the receipt file (JSON)", exists=True, dir_okay=False)
    ],
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key", help="PEM of the platform's public key; this node's by default"
        ),
    ] = None,
) -> None:
    """Check a consent receipt's SM2 signature; exit 0 only when genuine. 验证授权回执。"""
    try:
        key = (
            Sm2PublicKey.from_pem(public_key.read_bytes())
            if public_key
            else protection.signing_public_key()
        )
    except InvalidKey as exc:
        typer.echo(f"公钥无效 invalid public key: {exc}", err=True)
        raise typer.Exit(2) from exc
    check = service.verify_receipt(receipt.read_bytes(), key)
    if check.ok:
        assert check.artefact is not None
        typer.echo(f"{check.message}: {check.artefact.get('reference')}")
        return
    typer.echo(f"验证失败 check failed [{check.failed_check}]: {check.message}", err=True)
    raise typer.Exit(1)


@app.command("expire")
@friendly_errors
def expire() -> None:
    """Mark consents past their validity window expired (run from cron). 处理到期授权。"""
    with transaction() as session:
        count = service.expire_due(session, CONSOLE)
    typer.echo(f"已到期 expired: {count}")


@app.command("send-notifications")
@friendly_errors
def send_notifications() -> None:
    """Deliver what is due in the node's one outbox now (consent notices, marketplace
    notifications and every other webhook), as the worker does all the time; exit 1 if a
    delivery failed (it is retried on the usual schedule). 发送发件箱中到期的消息。

    The old --to FILE and --webhook URL options are gone: receivers are the webhook endpoints
    institutions register (`creditbridge webhooks add`), and `creditbridge worker` sends
    without cron."""
    outcome = deliver_due(make_sessionmaker(engine()), get_settings(), worker=default_worker_id())
    typer.echo(
        f"已发送 sent: {outcome.sent}; 待重试 retrying: {outcome.retrying}; "
        f"已放弃 dead: {outcome.dead}"
    )
    if outcome.retrying or outcome.dead:
        raise typer.Exit(1)


@keys_app.command("rotate")
@friendly_errors
def rotate(
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 500,
) -> None:
    """Re-encrypt level-4+ fields with the current data key (CREDITBRIDGE_DATA_KEY_CURRENT).
    用当前数据密钥重新加密敏感字段。"""
    with transaction() as session:
        datasets = catalog_service.list_datasets(session)
        outcome = protection.rotate(session, CONSOLE, datasets=datasets, batch_size=batch_size)
    typer.echo(
        f"已检查 {outcome.examined} 条，重新加密 {outcome.reencrypted} 条 "
        f"examined {outcome.examined}, re-encrypted {outcome.reencrypted} with key {outcome.key_id}"
    )


@keys_app.command("public")
def public() -> None:
    """Print the node's public signing key (PEM) — what receipts are verified with."""
    typer.echo(protection.signing_public_key().to_pem(), nl=False)
