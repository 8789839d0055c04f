"""Values for people on every page (issue 23): the consent, marketplace, catalog, ingest and audit
pages show moments in Beijing time in Chinese form, never as the ISO 8601 text they are stored
or carried in (2026-01-05T02:00:00+00:00)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

import factories
from consent.conftest import World, active, world
from creditbridge.access.service.users import actor_for_user
from creditbridge.core.actors import Role
from creditbridge.marketplace import service as market_service
from creditbridge.marketplace.domain import WAN_FEN
from creditbridge.marketplace.models import Application
from marketplace.conftest import Market, market
from web import conftest as web_fixtures
from web.conftest import LoggedIn
from web.helpers import csrf_from

app = web_fixtures.app
client = web_fixtures.client
login_as = web_fixtures.login_as
__all__ = ["market", "world"]  # fixtures of the consent and marketplace tests, used here

Login = Callable[..., LoggedIn]

RAW_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:|[+-]00:00\b")


def assert_no_raw_moment(client: TestClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.text[:2000])
    # Attributes (hx-get, data-*) may carry machine values: only what a person reads counts.
    text = re.sub(r"<(script|style)\b.*?</\1>", "", response.text, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    found = RAW_MOMENT.search(text)
    assert found is None, (url, text[max(0, found.start() - 120) : found.end() + 120])
    return text


def test_consent_and_audit_pages_show_no_raw_moments(
    client: TestClient, session: Session, world: World, login_as: Login
) -> None:
    grant = active(world, session)
    officer = login_as(Role.INSTITUTION_OFFICER, institution_id=world.bank.id)
    for url in ("/institution/consents", f"/consents/{grant.id}", "/institution/read"):
        assert_no_raw_moment(client, url)
    read = client.post(
        "/institution/read",
        data={
            "csrf_token": officer.csrf,
            "uscc": world.subject.uscc,
            "purpose": "loan_application",
            "consent_id": str(grant.id),
            "categories": "tax",
        },
    )
    assert read.status_code == 200, read.text[:2000]
    # The tax record's period and amount as people read them, not 2025-06 and 12345.60.
    assert "2025年6月" in read.text
    assert "1.23万元" in read.text
    assert RAW_MOMENT.search(re.sub(r"<[^>]+>", " ", read.text)) is None

    factories.account(
        session,
        Role.ENTERPRISE_USER,
        username="values-owner",
        display_name="企业经办人",
        password=web_fixtures.LOGIN_PASSWORD,
        subject_id=world.subject.id,
    )
    client.cookies.clear()
    form = client.get("/login")
    done = client.post(
        "/login",
        data={
            "username": "values-owner",
            "password": web_fixtures.LOGIN_PASSWORD,
            "csrf_token": csrf_from(form.text),
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    for url in ("/enterprise/consents", f"/consents/{grant.id}", "/enterprise/access-log"):
        assert_no_raw_moment(client, url)
    assert_no_raw_moment(client, "/notifications")

    login_as(Role.AUDIT_ADMIN)
    # The consent's events carry its terms (valid_until …) as ISO text in their detail.
    events = assert_no_raw_moment(client, "/audit")
    assert "consent." in events


def test_marketplace_pages_show_no_raw_moments(
    client: TestClient, session: Session, market: Market, login_as: Login
) -> None:
    owner = login_as(Role.ENTERPRISE_USER)
    demand = market_service.post_demand(
        session,
        actor_for_user(owner.user),
        amount_fen=50 * WAN_FEN,
        term_months=12,
        purpose="采购原材料",
        security_types=["credit"],
    )
    applied = client.post(
        f"/market/demands/{demand.id}/apply/{market.credit_product.id}",
        data={"csrf_token": owner.csrf, "consent": "yes"},
        follow_redirects=False,
    )
    assert applied.status_code == 303, applied.text[:2000]
    application = session.scalars(
        select(Application).where(Application.demand_id == demand.id)
    ).one()
    for url in ("/market/demands", f"/market/demands/{demand.id}", "/market/notifications"):
        assert_no_raw_moment(client, url)
    page = assert_no_raw_moment(client, f"/market/applications/{application.id}")
    assert "50.00万元 · 12个月" in page  # a loan term as lenders quote it, in months
    assert "4.00%" in page  # the product's rate from basis points

    login_as(Role.INSTITUTION_OFFICER, institution_id=market.bank.id)
    for url in (
        "/market/inbox",
        "/market/products",
        f"/market/products/{market.credit_product.id}",
        f"/market/applications/{application.id}",
    ):
        assert_no_raw_moment(client, url)

    login_as(Role.OPERATOR)
    for url in ("/market/review", "/market/outcomes"):
        assert_no_raw_moment(client, url)


@pytest.mark.usefixtures("world")
def test_catalog_and_ingest_pages_show_no_raw_moments(
    client: TestClient, session: Session, login_as: Login
) -> None:
    login_as(Role.OPERATOR)
    assert_no_raw_moment(client, "/catalog")
    assert_no_raw_moment(client, "/catalog/tax_payment")
    batches = assert_no_raw_moment(client, "/ingest/batches")
    link = re.search(r'href="(/ingest/batches/\d+)"', client.get("/ingest/batches").text)
    assert link is not None, batches[:2000]
    assert_no_raw_moment(client, link.group(1))
