"""`creditbridge webhooks …` as the checks use it: JSON with the documented keys, the secret once,
a ping queued through the outbox, the delivery log, replay, and refusals as one line and exit 1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from standardwebhooks import Webhook
from typer.testing import CliRunner

import factories
from creditbridge.access.models import Institution
from creditbridge.cli import webhooks as cli
from creditbridge.core.clock import SHANGHAI, FrozenClock
from creditbridge.core.config import get_settings
from creditbridge.delivery import service, signing
from creditbridge.delivery.models import Delivery, WebhookEndpoint

runner = CliRunner()
URL = "http://127.0.0.1:9/hooks"


@pytest.fixture(autouse=True)
def in_test_transaction(session: Session, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each command runs in the test's rolled-back session, with loopback receivers allowed."""

    @contextmanager
    def transaction() -> Iterator[Session]:
        yield session
        session.flush()

    monkeypatch.setattr(cli, "transaction", transaction)
    monkeypatch.setenv("CREDITBRIDGE_ENV", "test")
    monkeypatch.setenv("CREDITBRIDGE_WEBHOOKS_ALLOW_LOOPBACK", "1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def bank(session: Session) -> Institution:
    return factories.institution(session)


def _run(*args: str) -> Any:
    done = runner.invoke(cli.app, list(args))
    assert done.exit_code == 0, done.output
    return orjson.loads(done.stdout) if "--json" in args else done.stdout


def _add(bank: Institution, *extra: str) -> dict[str, Any]:
    added: dict[str, Any] = _run(
        "add",
        "--institution",
        str(bank.id),
        "--url",
        URL,
        "--events",
        "consent.*",
        "--json",
        *extra,
    )
    return added


class TestAdd:
    def test_prints_the_endpoint_and_the_generated_secret(self, bank: Institution) -> None:
        added = _run(
            "add",
            "--institution",
            str(bank.id),
            "--url",
            URL,
            "--events",
            "consent.*, marketplace.*",
            "--json",
        )

        assert {"id", "institution_id", "url", "events", "scheme", "status", "secret"} <= set(added)
        assert added["institution_id"] == bank.id
        assert added["url"] == URL
        assert added["events"] == ["consent.*", "marketplace.*"]
        assert (added["scheme"], added["status"]) == ("hmac-sha256", "active")
        assert signing.is_valid_secret(added["secret"])

    def test_the_secret_it_prints_signs_what_the_endpoint_gets(
        self, session: Session, bank: Institution
    ) -> None:
        added = _add(bank)
        endpoint = session.get(WebhookEndpoint, added["id"])
        assert endpoint is not None

        headers = signing.sign_headers(
            secret=service.open_secret(endpoint),
            scheme=endpoint.scheme,
            message_id="msg_x",
            timestamp=datetime.now(SHANGHAI),
            body=b'{"a":1}',
        )
        Webhook(added["secret"]).verify(b'{"a":1}', headers)

    def test_a_given_secret_and_scheme(self, bank: Institution) -> None:
        secret = signing.new_secret()

        added = _add(bank, "--secret", secret, "--scheme", "hmac-sm3")

        assert (added["secret"], added["scheme"]) == (secret, "hmac-sm3")

    def test_without_json_the_secret_is_shown_once(self, bank: Institution) -> None:
        out = _run("add", "--institution", str(bank.id), "--url", URL, "--events", "*")

        assert "仅显示一次" in out
        assert "whsec_" in out

    @pytest.mark.security
    @pytest.mark.parametrize(
        ("url", "named"),
        [("http://10.0.0.1/hooks", "10.0.0.1"), ("http://169.254.169.254/", "169.254.169.254")],
    )
    def test_a_refused_url_is_one_line_and_exit_1(
        self, session: Session, bank: Institution, url: str, named: str
    ) -> None:
        done = runner.invoke(
            cli.app, ["add", "--institution", str(bank.id), "--url", url, "--events", "*"]
        )

        assert done.exit_code == 1
        assert "CB-WEBHOOK-URL-REFUSED" in done.output
        assert named in done.output
        assert "Traceback" not in done.output
        assert session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.url == url)) is None

    @pytest.mark.security
    def test_production_refuses_loopback_even_with_the_setting(
        self, bank: Institution, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("CREDITBRIDGE_ENV", "production")
        monkeypatch.setenv("CREDITBRIDGE_SECRET_KEY", "p" * 40)
        monkeypatch.setenv("CREDITBRIDGE_DATA_KEYS", "k1:" + "A" * 22 + "==")
        get_settings.cache_clear()

        done = runner.invoke(
            cli.app,
            ["add", "--institution", str(bank.id), "--url", "https://127.0.0.1/h", "--events", "*"],
        )

        assert done.exit_code == 1
        assert "CB-WEBHOOK-URL-REFUSED" in done.output
        assert "127.0.0.1" in done.output

    def test_bad_events_are_named(self, bank: Institution) -> None:
        done = runner.invoke(
            cli.app, ["add", "--institution", str(bank.id), "--url", URL, "--events", "loans.*"]
        )

        assert done.exit_code == 1
        assert "CB-WEBHOOK-EVENTS" in done.output
        assert "loans.*" in done.output


class TestListAndStatus:
    def test_list_disable_enable(self, bank: Institution) -> None:
        added = _add(bank)

        listed = _run("list", "--institution", str(bank.id), "--json")
        assert [(e["id"], e["status"]) for e in listed] == [(added["id"], "active")]
        assert "secret" not in listed[0]

        assert "disabled" in _run("disable", "--endpoint", str(added["id"]), "--reason", "升级")
        listed = _run("list", "--institution", str(bank.id), "--json")
        assert (listed[0]["status"], listed[0]["disabled_reason"]) == ("disabled", "升级")

        assert "enabled" in _run("enable", "--endpoint", str(added["id"]))
        assert _run("list", "--json")[0]["status"] == "active"

    def test_an_unknown_endpoint_is_not_found(self) -> None:
        done = runner.invoke(cli.app, ["disable", "--endpoint", "987654"])

        assert done.exit_code == 1
        assert "CB-NOT-FOUND" in done.output


class TestDeliveries:
    def test_a_ping_is_queued_and_listed(self, session: Session, bank: Institution) -> None:
        added = _add(bank)

        message_id = _run("test", "--endpoint", str(added["id"])).strip()
        listed = _run("deliveries", "--endpoint", str(added["id"]), "--json")

        assert message_id.startswith("msg_")
        [row] = listed
        assert {
            "id",
            "webhook_id",
            "event_type",
            "endpoint_id",
            "status",
            "attempts",
            "last_status",
            "last_error",
            "created_at",
            "sent_at",
        } <= set(row)
        assert (row["webhook_id"], row["event_type"], row["endpoint_id"]) == (
            message_id,
            "webhook.ping",
            added["id"],
        )
        assert (row["status"], row["attempts"], row["sent_at"]) == ("pending", 0, None)
        assert _run("deliveries", "--status", "sent", "--json") == []

    def test_replay_and_retry(
        self, session: Session, bank: Institution, frozen_clock: FrozenClock
    ) -> None:
        added = _add(bank)
        start = frozen_clock.now()
        service.emit(session, event_type="consent.granted", payload={}, institution_id=bank.id)
        delivery = session.scalars(
            select(Delivery).where(Delivery.endpoint_id == added["id"])
        ).one()
        delivery.status, delivery.attempts = "dead", 10
        session.flush()
        frozen_clock.advance(timedelta(hours=1))
        # Beijing wall-clock bounds, as an operator types them.
        since = start.astimezone(SHANGHAI).replace(tzinfo=None).isoformat()
        until = (start + timedelta(minutes=1)).astimezone(SHANGHAI).replace(tzinfo=None).isoformat()

        out = _run("replay", "--endpoint", str(added["id"]), "--since", since, "--until", until)

        assert "queued 1" in out
        [row] = _run("deliveries", "--json")
        assert (row["status"], row["attempts"]) == ("pending", 10)

        delivery.status = "failed"
        session.flush()
        assert "queued delivery" in _run("retry", "--delivery", str(delivery.id))
        assert _run("deliveries", "--status", "pending", "--json")[0]["id"] == delivery.id

    def test_a_bad_time_is_named(self, bank: Institution) -> None:
        added = _add(bank)

        done = runner.invoke(
            cli.app,
            ["replay", "--endpoint", str(added["id"]), "--since", "yesterday", "--until", "now"],
        )

        assert done.exit_code == 1
        assert "--since" in done.output
        assert "yesterday" in done.output
