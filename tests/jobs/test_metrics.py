"""``/metrics``: the Prometheus text of the worker's and the outbox's figures, read from the
database at scrape time, for the platform's staff or a scraper holding the configured token,
never cached; everyone else is refused."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import factories
from creditbridge.core.actors import CONSOLE, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings, WebhookSettings, WorkerSettings
from creditbridge.delivery import service as delivery_service
from creditbridge.delivery.models import Delivery, DeliveryAttempt
from creditbridge.jobs import metrics
from creditbridge.jobs import service as jobs_service
from web import conftest as web_fixtures
from web.conftest import LoggedIn, app_in_test_transaction

login_as = web_fixtures.login_as
TOKEN = "scrape-me-0123456789abcdef"
NAMES = (
    "creditbridge_jobs_attempts",
    "creditbridge_jobs_failed_runs",
    "creditbridge_outbox_depth",
    "creditbridge_outbox_oldest_pending_age_seconds",
    "creditbridge_delivery_first_attempt_latency_seconds",
)


def _app(engine: Engine, session: Session, *, token: str) -> FastAPI:
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        worker=WorkerSettings(metrics_token=token),
    )
    return app_in_test_transaction(settings, engine, session)


@pytest.fixture
def app(engine: Engine, session: Session) -> FastAPI:
    return _app(engine, session, token=TOKEN)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _families(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample of the scrape: family name → {sorted labels (with the sample's name): value}."""
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        samples = found.setdefault(family.name, {})
        for sample in family.samples:
            labels = tuple(sorted({**sample.labels, "__name__": sample.name}.items()))
            samples[labels] = sample.value
    return found


def _value(
    families: dict[str, dict[tuple[tuple[str, str], ...], float]],
    family: str,
    name: str,
    **labels: str,
) -> float:
    key = tuple(sorted({**labels, "__name__": name}.items()))
    return families[family][key]


class TestWhoMayScrape:
    def test_a_visitor_without_a_token_is_refused(self, client: TestClient) -> None:
        response = client.get("/metrics", follow_redirects=False)
        assert response.status_code == 401
        assert "creditbridge_" not in response.text

    @pytest.mark.security
    def test_a_wrong_token_is_refused_even_beside_a_session(
        self, client: TestClient, login_as: Callable[..., LoggedIn]
    ) -> None:
        login_as(Role.OPERATOR)
        response = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
        assert response.status_code == 401

    def test_the_configured_token_scrapes(self, client: TestClient) -> None:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain; version=")
        assert response.headers["cache-control"] == "no-store"
        assert set(NAMES) <= set(_families(response.text))

    @pytest.mark.security
    def test_no_token_configured_means_no_token_accepted(
        self, engine: Engine, session: Session
    ) -> None:
        with TestClient(_app(engine, session, token=""), raise_server_exceptions=False) as bare:
            assert bare.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401
            assert bare.get("/metrics", headers={"Authorization": "Bearer x"}).status_code == 401

    @pytest.mark.parametrize(
        "role", [Role.OPERATOR, Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN]
    )
    def test_the_platforms_staff_scrape_with_their_session(
        self, client: TestClient, login_as: Callable[..., LoggedIn], role: Role
    ) -> None:
        login_as(role)
        response = client.get("/metrics")
        assert response.status_code == 200
        assert "creditbridge_outbox_depth" in response.text

    @pytest.mark.security
    @pytest.mark.parametrize(
        "role", [Role.INSTITUTION_OFFICER, Role.ENTERPRISE_USER, Role.PROVIDER_USER]
    )
    def test_other_roles_are_forbidden(
        self, client: TestClient, login_as: Callable[..., LoggedIn], role: Role
    ) -> None:
        login_as(role)
        response = client.get("/metrics")
        assert response.status_code == 403
        assert "creditbridge_" not in response.text


def test_the_figures_are_read_from_the_database_at_scrape_time(
    client: TestClient, session: Session
) -> None:
    scraped = _families(client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text)
    assert _value(scraped, "creditbridge_jobs_failed_runs", "creditbridge_jobs_failed_runs") == 0
    assert (
        _value(
            scraped,
            "creditbridge_outbox_oldest_pending_age_seconds",
            "creditbridge_outbox_oldest_pending_age_seconds",
        )
        == 0
    )

    # A job that failed on every try; a succeeded one.
    failing = jobs_service.enqueue(session, "tests", "jobs.selftest", {"fail": True})
    for attempt in range(1, failing.max_attempts + 1):
        claimed = jobs_service.claim(
            session,
            worker="w",
            now=utc_now() + timedelta(hours=attempt),
            lease=timedelta(minutes=5),
            run_id=failing.id,
        )
        assert claimed is not None
        jobs_service.finish(session, claimed, worker="w", error="boom")
    passing = jobs_service.enqueue(session, "tests", "jobs.selftest")
    claimed = jobs_service.claim(
        session, worker="w", now=utc_now(), lease=timedelta(minutes=5), run_id=passing.id
    )
    assert claimed is not None
    jobs_service.finish(session, claimed, worker="w", summary={})
    # Three deliveries: one queued for ten minutes, one failed, one sent whose first try came
    # 0.4 s after its commit.
    bank = factories.institution(session)
    delivery_service.add_endpoint(
        session,
        CONSOLE,
        institution_id=bank.id,
        url="http://127.0.0.1:9/hook",
        events=["*"],
        settings=Settings(webhooks=WebhookSettings(allow_loopback=True)),
    )
    made = []
    for event in ("consent.grant", "consent.approve", "consent.revoke"):
        message = delivery_service.emit(
            session, event_type=event, payload={}, institution_id=bank.id
        )
        made.append(
            session.scalars(select(Delivery).where(Delivery.message_id == message.id)).one()
        )
    queued, failed, sent = made
    queued.next_attempt_at = utc_now() - timedelta(minutes=10)
    failed.status, failed.attempts = "failed", 1
    failed.next_attempt_at = utc_now() + timedelta(hours=1)
    sent.status, sent.attempts = "sent", 1
    session.add(
        DeliveryAttempt(
            delivery_id=sent.id,
            attempt=1,
            started_at=sent.created_at + timedelta(seconds=0.4),
            duration_ms=12,
            status_code=200,
            worker="w",
        )
    )
    session.flush()

    scraped = _families(client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text)

    attempts = "creditbridge_jobs_attempts"
    total = "creditbridge_jobs_attempts_total"
    assert _value(scraped, attempts, total, job="jobs.selftest", outcome="failed") == (
        failing.max_attempts
    )
    assert _value(scraped, attempts, total, job="jobs.selftest", outcome="succeeded") == 1
    assert _value(scraped, "creditbridge_jobs_failed_runs", "creditbridge_jobs_failed_runs") == 1
    depth = "creditbridge_outbox_depth"
    assert {
        status: _value(scraped, depth, depth, status=status)
        for status in ("pending", "sending", "failed", "dead")
    } == {"pending": 1, "sending": 0, "failed": 1, "dead": 0}
    age = _value(
        scraped,
        "creditbridge_outbox_oldest_pending_age_seconds",
        "creditbridge_outbox_oldest_pending_age_seconds",
    )
    assert 600 <= age < 3600
    latency = "creditbridge_delivery_first_attempt_latency_seconds"
    assert _value(scraped, latency, latency + "_count") == 1
    assert _value(scraped, latency, latency + "_sum") == pytest.approx(0.4, abs=0.01)
    assert _value(scraped, latency, latency + "_bucket", le="0.25") == 0
    assert _value(scraped, latency, latency + "_bucket", le="0.5") == 1
    assert _value(scraped, latency, latency + "_bucket", le="+Inf") == 1


def test_latency_buckets_are_cumulative() -> None:
    buckets = dict(metrics._buckets([0.05, 0.3, 0.3, 2.0, 4000.0]))

    assert buckets["0.1"] == 1
    assert buckets["0.5"] == 3
    assert buckets["2.5"] == 4
    assert buckets["1800.0"] == 4
    assert buckets["+Inf"] == 5
