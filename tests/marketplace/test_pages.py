"""Marketplace pages through the real application: the enterprise publishes and applies, the
officer takes the application to disbursement, the enterprise sees its loan, the operator sees
the outcomes, reviews products and works the whitelist."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.core.actors import Role
from creditbridge.marketplace.models import Application, Demand, Loan
from web import conftest as web_fixtures
from web.conftest import LoggedIn
from web.helpers import csrf_from, table_rows

from .conftest import Market

app = web_fixtures.app
client = web_fixtures.client
login_as = web_fixtures.login_as


def _post(client: TestClient, url: str, csrf: str, **data: str) -> str:
    response = client.post(url, data={"csrf_token": csrf, **data}, follow_redirects=False)
    assert response.status_code == 303, response.text[:2000]
    return response.headers["location"]


def test_journey_through_the_pages(
    client: TestClient, session: Session, market: Market, login_as: Callable[..., LoggedIn]
) -> None:
    owner = login_as(Role.ENTERPRISE_USER)
    form = client.get("/market/demands/new")
    assert form.status_code == 200
    assert "发布融资需求" in form.text
    bad = client.post(
        "/market/demands",
        data={
            "csrf_token": csrf_from(form.text),
            "amount_wan": "abc",
            "term_months": "0",
            "purpose": "",
            "security_types": "credit",
            "mode": "choose",
        },
    )
    assert bad.status_code == 422
    assert 'data-testid="error-amount"' in bad.text
    where = _post(
        client,
        "/market/demands",
        csrf_from(form.text),
        amount_wan="50",
        term_months="12",
        purpose="采购原材料",
        security_types="credit",
        urgency="normal",
        mode="choose",
    )
    page = client.get(where)
    assert 'data-testid="recommendation"' in page.text
    demand = session.scalars(select(Demand).where(Demand.subject_id == owner.user.subject_id)).one()
    rows = re.findall(r'data-product-id="(\d+)" data-fits="yes"', page.text)
    assert str(market.credit_product.id) in rows
    where = _post(
        client,
        f"/market/demands/{demand.id}/apply/{market.credit_product.id}",
        csrf_from(page.text),
        consent="yes",
    )
    application = session.scalars(
        select(Application).where(Application.demand_id == demand.id)
    ).one()
    assert where.endswith(f"/market/applications/{application.id}")

    officer = login_as(Role.INSTITUTION_OFFICER, institution_id=market.bank.id)
    inbox = client.get("/market/inbox")
    assert inbox.status_code == 200
    assert any(f"#{application.id}" in row[0] for row in table_rows(inbox.text, "waiting"))
    url = f"/market/applications/{application.id}"
    for move, data in (
        ("accept", {}),
        ("review", {}),
        ("approve", {"amount_wan": "40", "rate_pct": "4.20", "term_months": "12"}),
        ("disburse", {"amount_wan": "40"}),
    ):
        _post(client, f"{url}/{move}", officer.csrf, **data)
    detail = client.get(url)
    assert 'data-testid="loan-card"' in detail.text
    assert "首贷户" in detail.text
    other = client.post(f"{url}/disburse", data={"csrf_token": officer.csrf, "amount_wan": "1"})
    assert other.status_code == 409

    login_as(Role.ENTERPRISE_USER)  # another enterprise: no access
    assert client.get(url).status_code == 404

    operator = login_as(Role.OPERATOR)
    outcomes = client.get("/market/outcomes?by=city")
    assert outcomes.status_code == 200
    assert 'data-testid="total-first-time"' in outcomes.text
    assert session.scalars(select(Loan)).one().first_loan_any_bank
    xlsx = client.get("/market/outcomes.xlsx?by=size")
    assert xlsx.status_code == 200
    assert xlsx.content[:2] == b"PK"
    assert client.get("/market/whitelist").status_code == 200
    _post(client, "/market/whitelist/propose", operator.csrf)
    assert client.get("/market/review").status_code == 200
    assert client.get("/market/notifications").status_code == 200


def test_institution_pages_render(
    client: TestClient, session: Session, market: Market, login_as: Callable[..., LoggedIn]
) -> None:
    officer = login_as(Role.INSTITUTION_OFFICER, institution_id=market.bank.id)
    products = client.get("/market/products")
    assert products.status_code == 200
    assert market.credit_product.name in products.text
    _post(
        client,
        "/market/products",
        officer.csrf,
        code="pg-new",
        name="页面科技贷",
        product_type="tech_loan",
        security_type="credit",
        min_amount_wan="50",
        max_amount_wan="1000",
        min_rate_pct="3.4",
        max_rate_pct="5",
        min_term_months="12",
        max_term_months="36",
        min_years="0",
    )
    assert "页面科技贷" in client.get("/market/products").text
    upload = client.get("/market/loans/upload")
    assert upload.status_code == 200
    bad = client.post(
        "/market/loans/upload",
        data={"csrf_token": officer.csrf},
        files={
            "file": ("e.csv", b"loan_id,event,amount_yuan,event_date\n999,repayment,1,2026-01-01\n")
        },
    )
    assert bad.status_code == 422
    assert "loan_id" in bad.text
    _post(client, "/market/whitelist/subscribe", officer.csrf)
    assert "已订阅" in client.get("/market/inbox").text
    assert client.get("/market/whitelist").status_code == 403
