"""`creditbridge audit verify|purge` and `creditbridge consent verify` from the command line."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from creditbridge.audit import service
from creditbridge.audit.models import AuditEvent
from creditbridge.cli import context
from creditbridge.cli.app import app
from creditbridge.consent.domain import sign_receipt
from creditbridge.core.actors import CONSOLE
from creditbridge.core.config import get_settings
from creditbridge.core.crypto import Sm2PrivateKey


def _reset_caches() -> None:
    if context.engine.cache_info().currsize:
        context.engine().dispose()
    context.engine.cache_clear()
    get_settings.cache_clear()


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Result]]:
    monkeypatch.setenv("CREDITBRIDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("CREDITBRIDGE_SIGNING_KEY_PATH", str(tmp_path / "node.pem"))
    _reset_caches()
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, list(args))

    assert run("db", "upgrade").exit_code == 0
    yield run
    _reset_caches()


def test_audit_verify_passes_then_names_an_edited_event(cli: Callable[..., Result]) -> None:
    with Session(context.engine()) as session, session.begin():
        for n in range(5):
            service.record(session, CONSOLE, action="data.read", object_type="subject", object_id=n)
    ok = cli("audit", "verify", "--json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["checked"] == 5
    with context.engine().begin() as connection:
        connection.execute(
            update(AuditEvent)
            .where(AuditEvent.sequence == 3)
            .values(chained=func.replace(AuditEvent.chained, '"act":"data.read"', '"act":"x"'))
        )
    broken = cli("audit", "verify")
    assert broken.exit_code == 1
    assert "序号 sequence 3" in broken.stdout
    assert "事件ID event id" in broken.stdout


def test_audit_purge_refuses_less_than_180_days(cli: Callable[..., Result]) -> None:
    result = cli("audit", "purge", "--older-than-days", "30")
    assert result.exit_code != 0


def test_consent_verify_exit_codes(cli: Callable[..., Result], tmp_path: Path) -> None:
    key = Sm2PrivateKey.generate()
    public = tmp_path / "platform.pem"
    public.write_text(key.public_key.to_pem())
    receipt = tmp_path / "receipt.json"
    receipt.write_bytes(sign_receipt({"reference": "CB1", "max_uses": 3}, key))
    good = cli("consent", "verify", str(receipt), "--public-key", str(public))
    assert good.exit_code == 0, good.output
    receipt.write_bytes(receipt.read_bytes().replace(b'"max_uses": 3', b'"max_uses": 4'))
    altered = cli("consent", "verify", str(receipt), "--public-key", str(public))
    assert altered.exit_code == 1
    assert "[signature]" in altered.output
    receipt.write_bytes(sign_receipt({"reference": "CB1"}, key))
    # Without --public-key the node's own key is used: a receipt from another key is refused.
    wrong = cli("consent", "verify", str(receipt))
    assert wrong.exit_code == 1
    assert "[key]" in wrong.output
