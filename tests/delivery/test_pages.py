"""Webhook pages through the real application: the officer-administrator registers an endpoint and
sees its secret once, a refused address is explained beside the form, the endpoint page lists its
deliveries and works retry, replay, the test event, disable and enable; a plain officer only looks,
another institution's officer is told the endpoint does not exist."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import factories
from creditbridge.access.models import Institution
from creditbridge.audit.models import AuditEvent
from creditbridge.core.actors import Role
from creditbridge.core.clock import SHANGHAI, utc_now
from creditbridge.core.config import Settings, WebhookSettings
from creditbridge.delivery import service
from creditbridge.delivery.models import Delivery, OutboxMessage, WebhookEndpoint
from creditbridge.presentation import i18n
from web import conftest as web_fixtures
from web.conftest import LoggedIn, app_in_test_transaction
from web.helpers import table_rows, visible_text

login_as = web_fixtures.login_as
RECEIVER = "http://127.0.0.1:9/hook"  # never called: these tests stop before the worker sends


@pytest.fixture
def app(engine: Engine, session: Session) -> FastAPI:
    # Loopback receivers are allowed outside production when the setting says so (issue 13).
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        webhooks=WebhookSettings(allow_loopback=True),
    )
    return app_in_test_transaction(settings, engine, session)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def bank(session: Session) -> Institution:
    return factories.institution(session, code="wh-bank", name="页面测试银行")


def _org_admin(
    session: Session, login_as: Callable[..., LoggedIn], institution: Institution
) -> LoggedIn:
    """An officer of ``institution`` who is its officer-administrator."""
    officer = login_as(Role.INSTITUTION_OFFICER, institution_id=institution.id)
    officer.user.org_admin = True
    session.flush()
    return officer


def _endpoint(session: Session, institution: Institution, **kw: object) -> WebhookEndpoint:
    added = service.add_endpoint(
        session,
        factories.operator(),
        institution_id=institution.id,
        url=RECEIVER,
        events=["consent.*"],
        settings=Settings(webhooks=WebhookSettings(allow_loopback=True)),
        **kw,  # type: ignore[arg-type]
    )
    return added.endpoint


def _delivery(session: Session, institution: Institution, endpoint: WebhookEndpoint) -> Delivery:
    message = service.emit(
        session,
        event_type="consent.approve",
        payload={"consent_id": 1},
        institution_id=institution.id,
    )
    return session.scalars(
        select(Delivery).where(
            Delivery.message_id == message.id, Delivery.endpoint_id == endpoint.id
        )
    ).one()


def _post(client: TestClient, url: str, csrf: str, **data: str) -> str:
    response = client.post(url, data={"csrf_token": csrf, **data}, follow_redirects=False)
    assert response.status_code == 303, response.text[:3000]
    return str(response.headers["location"])


def _actions(session: Session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


class TestRegistering:
    def test_the_secret_is_shown_once_and_the_endpoint_listed(
        self,
        client: TestClient,
        session: Session,
        bank: Institution,
        login_as: Callable[..., LoggedIn],
    ) -> None:
        officer = _org_admin(session, login_as, bank)
        empty = client.get("/institution/webhooks")
        assert empty.status_code == 200
        assert 'data-testid="empty-state"' in empty.text
        assert 'data-testid="endpoint-form"' in empty.text
        # The institution's area lists the page in the navigation and on its area page.
        area = client.get("/institution")
        assert area.status_code == 200
        assert 'href="/institution/webhooks"' in area.text

        added = client.post(
            "/institution/webhooks",
            data={
                "csrf_token": officer.csrf,
                "url": RECEIVER,
                "topics": ["consent.*", "marketplace.*"],
                "patterns": "webhook.ping",
                "scheme": "hmac-sha256",
                "description": "贷前系统",
            },
        )

        assert added.status_code == 200, added.text[:3000]
        secret = re.search(r'data-testid="webhook-secret">([^<]+)<', added.text)
        assert secret is not None
        assert secret.group(1).startswith("whsec_")
        endpoint = session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.institution_id == bank.id)
        ).one()
        assert endpoint.event_types == ["consent.*", "marketplace.*", "webhook.ping"]
        assert endpoint.status == "active"
        # What is stored opens to the secret shown; it is never printed again.
        assert service.open_secret(endpoint) == secret.group(1)
        rows = table_rows(added.text, "endpoints")
        assert [row[0] for row in rows] == [f"#{endpoint.id}"]
        for later in (
            client.get("/institution/webhooks"),
            client.get(f"/institution/webhooks/{endpoint.id}"),
        ):
            assert later.status_code == 200
            assert secret.group(1) not in later.text
            assert 'data-testid="webhook-secret"' not in later.text
        assert [e.object_id for e in _actions(session, "webhook.add")] == [str(endpoint.id)]

    @pytest.mark.security
    def test_a_refused_address_is_explained_beside_the_form_and_nothing_is_kept(
        self,
        client: TestClient,
        session: Session,
        bank: Institution,
        login_as: Callable[..., LoggedIn],
    ) -> None:
        officer = _org_admin(session, login_as, bank)

        refused = client.post(
            "/institution/webhooks",
            data={
                "csrf_token": officer.csrf,
                "url": "http://10.0.0.1/hook",
                "topics": "consent.*",
                "description": "内网",
            },
        )

        assert refused.status_code == 422
        error = re.search(r'data-testid="form-error">([^<]+)<', refused.text)
        assert error is not None
        assert "10.0.0.1" in error.group(1)
        assert "内网地址" in error.group(1)
        assert 'value="http://10.0.0.1/hook"' in refused.text  # what was typed stays
        assert session.scalars(select(WebhookEndpoint)).all() == []

        english = client.post(
            "/institution/webhooks?lang=en",
            data={"csrf_token": officer.csrf, "url": RECEIVER, "patterns": "nothing.here"},
        )
        assert english.status_code == 422
        assert "belongs to no event feed" in visible_text(english.text)

    def test_a_plain_officer_sees_the_endpoints_without_the_forms(
        self,
        client: TestClient,
        session: Session,
        bank: Institution,
        login_as: Callable[..., LoggedIn],
    ) -> None:
        endpoint = _endpoint(session, bank)
        officer = login_as(Role.INSTITUTION_OFFICER, institution_id=bank.id)

        page = client.get("/institution/webhooks")
        assert page.status_code == 200
        assert f'data-endpoint-id="{endpoint.id}"' in page.text
        assert 'data-testid="endpoint-form"' not in page.text
        assert 'data-testid="view-only"' in page.text
        detail = client.get(f"/institution/webhooks/{endpoint.id}")
        assert 'data-testid="replay-form"' not in detail.text
        assert 'data-testid="send-test"' not in detail.text

        for url, data in (
            ("/institution/webhooks", {"url": RECEIVER, "topics": "consent.*"}),
            (f"/institution/webhooks/{endpoint.id}/test", {}),
            (f"/institution/webhooks/{endpoint.id}/disable", {"reason": "试试"}),
        ):
            refused = client.post(url, data={"csrf_token": officer.csrf, **data})
            assert refused.status_code == 403, url
        assert session.get(WebhookEndpoint, endpoint.id).status == "active"  # type: ignore[union-attr]

    @pytest.mark.security
    def test_another_institutions_officer_is_told_it_does_not_exist(
        self,
        client: TestClient,
        session: Session,
        bank: Institution,
        login_as: Callable[..., LoggedIn],
    ) -> None:
        endpoint = _endpoint(session, bank)
        delivery = _delivery(session, bank, endpoint)
        delivery.status = "failed"
        other = factories.institution(session, code="wh-other")
        stranger = _org_admin(session, login_as, other)

        assert client.get(f"/institution/webhooks/{endpoint.id}").status_code == 404
        listed = client.get("/institution/webhooks")
        assert f'data-endpoint-id="{endpoint.id}"' not in listed.text
        retry = client.post(
            f"/institution/webhooks/{endpoint.id}/deliveries/{delivery.id}/retry",
            data={"csrf_token": stranger.csrf},
        )
        assert retry.status_code == 404
        assert session.get(Delivery, delivery.id).status == "failed"  # type: ignore[union-attr]

    def test_an_enterprise_user_may_not_open_the_pages(
        self, client: TestClient, login_as: Callable[..., LoggedIn]
    ) -> None:
        login_as(Role.ENTERPRISE_USER)
        assert client.get("/institution/webhooks").status_code == 403

    def test_a_visitor_is_sent_to_login(self, client: TestClient) -> None:
        response = client.get("/institution/webhooks", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")


class TestOneEndpoint:
    def test_a_failed_delivery_shows_its_error_and_next_attempt_and_is_retried(
        self,
        client: TestClient,
        session: Session,
        bank: Institution,
        login_as: Callable[..., LoggedIn],
    ) -> None:
        endpoint = _endpoint(session, bank)
        delivery = _delivery(session, bank, endpoint)
        next_try = utc_now() + timedelta(minutes=5)
        delivery.status, delivery.attempts, delivery.last_status = "failed", 1, 500
        delivery.last_error = "HTTP 500"
        delivery.next_attempt_at = next_try
        session.flush()
        webhook_id = session.get(OutboxMessage, delivery.message_id).message_id  # type: ignore[union-attr]
        officer = _org_admin(session, login_as, bank)

        page = client.get(f"/institution/webhooks/{endpoint.id}")

        assert page.status_code == 200
        row = re.search(
            rf'<tr data-testid="delivery-row" data-delivery-id="{delivery.id}"'
            rf' data-webhook-id="{webhook_id}".*?</tr>',
            page.text,
            flags=re.DOTALL,
        )
        assert row is not None
        assert 'data-status="failed"' in row.group(0)
        assert "HTTP 500" in row.group(0)
        assert f"{next_try.astimezone(SHANGHAI):%Y-%m-%d %H:%M}" in row.group(0)
        assert 'data-testid="retry"' in row.group(0)

        where = _post(
            client,
            f"/institution/webhooks/{endpoint.id}/deliveries/{delivery.id}/retry",
            officer.csrf,
        )

        assert where == f"/institution/webhooks/{endpoint.id}?retried={delivery.id}"
        session.refresh(delivery)
        assert (delivery.status, delivery.attempts) == ("pending", 1)
        assert delivery.next_attempt_at <= utc_now()
        after = client.get(where)
        assert f"投递 #{delivery.id} 已重新排队" in after.text
        assert [e.object_id for e in _actions(session, "webhook.retry")] == [str(delivery.id)]

        filtered = client.get(f"/institution/webhooks/{endpoint.id}?status=sent")
        assert 'data-testid="deliveries-empty"' in filtered.text

    def test_a_replay_of_a_period_sends_again_under_the_same_webhook_id(
        self,
        client: TestClient,
        session: Session,
        bank: Institution,
        login_as: Callable[..., LoggedIn],
    ) -> None:
        endpoint = _endpoint(session, bank)
        delivery = _delivery(session, bank, endpoint)
        delivery.status, delivery.attempts, delivery.sent_at = "sent", 1, utc_now()
        session.flush()
        webhook_id = session.get(OutboxMessage, delivery.message_id).message_id  # type: ignore[union-attr]
        officer = _org_admin(session, login_as, bank)
        page = client.get(f"/institution/webhooks/{endpoint.id}")
        # The form offers today (Beijing) up to now.
        since = re.search(r'id="r-since" name="since" required value="([^"]+)"', page.text)
        until = re.search(r'id="r-until" name="until" required value="([^"]+)"', page.text)
        assert since is not None
        assert until is not None

        where = _post(
            client,
            f"/institution/webhooks/{endpoint.id}/replay",
            officer.csrf,
            since=since.group(1),
            until=until.group(1),
        )

        assert where == f"/institution/webhooks/{endpoint.id}?replayed=1"
        session.refresh(delivery)
        assert delivery.status == "pending"
        assert session.get(OutboxMessage, delivery.message_id).message_id == webhook_id  # type: ignore[union-attr]
        assert "已安排重新投递 1 条消息" in client.get(where).text
        [event] = _actions(session, "webhook.replay")
        assert event.object_id == str(endpoint.id)

        # A period before the message replays nothing; a typo is explained, not guessed.
        day_before = (utc_now() - timedelta(days=2)).astimezone(SHANGHAI)
        none = _post(
            client,
            f"/institution/webhooks/{endpoint.id}/replay",
            officer.csrf,
            since=f"{day_before:%Y-%m-%dT00:00}",
            until=f"{day_before:%Y-%m-%dT23:59}",
        )
        assert none.endswith("?replayed=0")
        bad = client.post(
            f"/institution/webhooks/{endpoint.id}/replay",
            data={"csrf_token": officer.csrf, "since": "昨天", "until": until.group(1)},
        )
        assert bad.status_code == 422
        assert "请填写有效的时间" in bad.text
        backwards = client.post(
            f"/institution/webhooks/{endpoint.id}/replay",
            data={"csrf_token": officer.csrf, "since": until.group(1), "until": since.group(1)},
        )
        assert backwards.status_code == 422

    def test_a_test_event_goes_through_the_outbox_to_this_endpoint_only(
        self,
        client: TestClient,
        session: Session,
        bank: Institution,
        login_as: Callable[..., LoggedIn],
    ) -> None:
        endpoint = _endpoint(session, bank)
        sibling = _endpoint(session, bank)
        officer = _org_admin(session, login_as, bank)

        where = _post(client, f"/institution/webhooks/{endpoint.id}/test", officer.csrf)

        assert where == f"/institution/webhooks/{endpoint.id}?done=test"
        ping = session.scalars(
            select(OutboxMessage).where(OutboxMessage.event_type == "webhook.ping")
        ).one()
        deliveries = session.scalars(select(Delivery).where(Delivery.message_id == ping.id)).all()
        assert [(d.endpoint_id, d.status) for d in deliveries] == [(endpoint.id, "pending")]
        assert sibling.id != endpoint.id
        page = client.get(where)
        assert "测试事件已排队" in page.text
        assert f'data-webhook-id="{ping.message_id}"' in page.text

    def test_disable_with_a_reason_then_enable(
        self,
        client: TestClient,
        session: Session,
        bank: Institution,
        login_as: Callable[..., LoggedIn],
    ) -> None:
        endpoint = _endpoint(session, bank)
        officer = _org_admin(session, login_as, bank)

        _post(
            client,
            f"/institution/webhooks/{endpoint.id}/disable",
            officer.csrf,
            reason="接收系统升级",
        )
        page = client.get(f"/institution/webhooks/{endpoint.id}")
        assert 'data-testid="endpoint-status" data-status="disabled"' in page.text
        assert "接收系统升级" in page.text
        assert 'data-testid="enable"' in page.text
        # Nothing is sent to a disabled endpoint, so a test event asks to enable it first.
        refused = client.post(
            f"/institution/webhooks/{endpoint.id}/test", data={"csrf_token": officer.csrf}
        )
        assert refused.status_code == 409

        _post(client, f"/institution/webhooks/{endpoint.id}/enable", officer.csrf)
        session.refresh(endpoint)
        assert (endpoint.status, endpoint.disabled_reason) == ("active", None)
        assert len(_actions(session, "webhook.disable")) == 1
        assert len(_actions(session, "webhook.enable")) == 1

    def test_the_platform_sees_every_institutions_endpoint_by_name(
        self,
        client: TestClient,
        session: Session,
        bank: Institution,
        login_as: Callable[..., LoggedIn],
    ) -> None:
        endpoint = _endpoint(session, bank)
        login_as(Role.OPERATOR)

        listed = client.get("/institution/webhooks")
        assert listed.status_code == 200
        assert "页面测试银行" in listed.text
        # Staff register endpoints at the console, for a named institution.
        assert 'data-testid="endpoint-form"' not in listed.text
        detail = client.get(f"/institution/webhooks/{endpoint.id}?lang=en")
        assert detail.status_code == 200
        assert f"Endpoint #{endpoint.id}" in detail.text
        assert "页面测试银行" in detail.text


def test_every_key_of_the_delivery_service_has_its_english(session: Session) -> None:
    """Every ``error.delivery.*`` key of the message tables has its English beside the Chinese."""
    keys = [key for key in i18n.MESSAGES if key.startswith("error.delivery.")]
    assert len(keys) > 20
    for key in keys:
        chinese, english = i18n.MESSAGES[key]
        assert english not in ("", chinese), key
