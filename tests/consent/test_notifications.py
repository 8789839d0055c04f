"""The outbox sender: consent moves are written to the outbox in their transaction and sent by a
job afterwards, each marked sent or retried."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from creditbridge.cli import context
from creditbridge.cli.app import app
from creditbridge.consent import service
from creditbridge.consent.models import ConsentOutbox
from creditbridge.core.config import get_settings

from .conftest import World, active


def _outbox(session: Session) -> list[ConsentOutbox]:
    return list(session.scalars(select(ConsentOutbox).order_by(ConsentOutbox.id)))


def test_each_move_is_sent_once_and_marked_sent(world: World, session: Session) -> None:
    grant = active(world, session)
    got: list[tuple[str, dict[str, Any]]] = []
    outcome = service.send_notifications(session, lambda t, p: got.append((t, p)))
    assert (outcome.sent, outcome.failed) == (2, 0)
    assert [topic for topic, _ in got] == ["consent.request", "consent.approve"]
    assert all(p["consent_id"] == grant.id and p["subject_id"] == grant.subject_id for _, p in got)
    assert [p["outbox_id"] for _, p in got] == [m.id for m in _outbox(session)]
    assert all(m.sent_at is not None and m.attempts == 1 for m in _outbox(session))
    again = service.send_notifications(session, lambda t, p: got.append((t, p)))
    assert (again.sent, again.failed) == (0, 0)
    service.revoke(session, world.owner, consent_id=grant.id)
    service.send_notifications(session, lambda t, p: got.append((t, p)))
    assert got[-1][0] == "consent.revoke"
    assert got[-1][1]["status"] == "revoked"


def test_a_failed_send_is_noted_and_retried_up_to_the_limit(world: World, session: Session) -> None:
    active(world, session)

    def down(topic: str, payload: dict[str, Any]) -> None:
        raise ConnectionError("gateway down")

    outcome = service.send_notifications(session, down)
    assert (outcome.sent, outcome.failed) == (0, 2)
    first = _outbox(session)[0]
    assert (first.sent_at, first.attempts) == (None, 1)
    assert first.last_error == "ConnectionError: gateway down"
    for _ in range(service.MAX_SEND_ATTEMPTS - 1):
        service.send_notifications(session, down)
    assert {m.attempts for m in _outbox(session)} == {service.MAX_SEND_ATTEMPTS}
    sent: list[str] = []
    # Given up: left unsent and visible, no longer handed to the sender.
    assert service.send_notifications(session, lambda t, p: sent.append(t)).sent == 0
    assert sent == []


def test_a_rolled_back_move_leaves_nothing_to_send(world: World, session: Session) -> None:
    savepoint = session.begin_nested()
    active(world, session)
    savepoint.rollback()
    assert service.send_notifications(session, lambda t, p: None).sent == 0


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Result]]:
    monkeypatch.setenv("CREDITBRIDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("CREDITBRIDGE_SIGNING_KEY_PATH", str(tmp_path / "node.pem"))

    def reset() -> None:
        if context.engine.cache_info().currsize:
            context.engine().dispose()
        context.engine.cache_clear()
        get_settings.cache_clear()

    reset()
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, list(args))

    assert run("db", "upgrade").exit_code == 0
    yield run
    reset()


def test_the_cli_appends_pending_messages_to_a_file(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    from creditbridge.core.clock import utc_now

    with context.transaction() as session:
        for n in range(3):
            session.add(
                ConsentOutbox(
                    topic="consent.approve", payload={"consent_id": n}, created_at=utc_now()
                )
            )
    target = tmp_path / "out" / "notes.jsonl"
    result = cli("consent", "send-notifications", "--to", str(target))
    assert result.exit_code == 0, result.output
    assert "sent: 3" in result.stdout
    lines = [orjson.loads(line) for line in target.read_bytes().splitlines()]
    assert [line["consent_id"] for line in lines] == [0, 1, 2]
    assert {line["topic"] for line in lines} == {"consent.approve"}
    again = cli("consent", "send-notifications", "--to", str(target))
    assert "sent: 0" in again.stdout
    assert len(target.read_bytes().splitlines()) == 3
    assert cli("consent", "send-notifications", "--webhook", "http://x").exit_code == 2
