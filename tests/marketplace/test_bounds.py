"""Issue 22 finding 5: numbers and dates outside what the store or the calendar holds are refused
(422 naming the field, or a stable code), never a 500. Each case is one the fuzzer found."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creditbridge.core.actors import Role
from creditbridge.core.clock import local_today, utc_now
from creditbridge.core.errors import ValidationFailed
from creditbridge.marketplace import service
from creditbridge.marketplace.domain import WAN_FEN
from creditbridge.marketplace.models import Loan
from web import conftest as web_fixtures
from web.conftest import LoggedIn
from web.helpers import csrf_from

from .conftest import Market
from .test_api import _post, _signer

app = web_fixtures.app
client = web_fixtures.client
login_as = web_fixtures.login_as

LOANS = "/api/v1/market/loans"


def _loan(market: Market, **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "uscc": market.subject.uscc, "amount_fen": 80 * WAN_FEN, "rate_bp": 450,
        "term_months": 12, "security_type": "credit", "disbursement_date": "2026-01-02",
    }  # fmt: skip
    return {**body, **changes}


def _loans(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Loan)) or 0)


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"credit_line_fen": 2**63}, "credit_line_fen", "less_than_equal"),
        ({"amount_fen": 2**70}, "amount_fen", "less_than_equal"),
        ({"disbursement_date": "9999-12-31"}, "disbursement_date", "CB-DATE-RANGE"),
        ({"disbursement_date": "0096-01-25"}, "disbursement_date", "CB-DATE-RANGE"),
    ],
)
def test_a_loan_beyond_the_column_or_the_calendar_is_422(
    client: TestClient, session: Session, market: Market,
    changes: dict[str, object], field: str, code: str,
) -> None:  # fmt: skip
    signer = _signer(session, market.bank.id)
    before = _loans(session)
    response = _post(client, signer, LOANS, _loan(market, **changes))
    assert response.status_code == 422, response.text  # type: ignore[attr-defined]
    issues = response.json()["errors"]  # type: ignore[attr-defined]
    assert any(i["field"].endswith(field) and i["code"] == code for i in issues), issues
    assert _loans(session) == before


def test_a_loan_dated_years_ahead_is_refused_on_every_channel(
    session: Session, market: Market
) -> None:
    """The service refuses it too (CLI, uploads, pages), with a stable code."""
    for day in (date(96, 1, 25), local_today() + timedelta(days=3 * 366)):
        with pytest.raises(ValidationFailed) as refused:
            service.report_external_loan(
                session, market.officer, uscc=market.subject.uscc, amount_fen=WAN_FEN,
                credit_line_fen=None, rate_bp=450, term_months=12, security_type="credit",
                disbursement_date=day,
            )  # fmt: skip
        assert [i.code for i in refused.value.issues] == ["CB-MARKET-DATE-RANGE"]


@pytest.mark.parametrize(
    "path", [f"{LOANS}/{2**70}/events", f"/api/v1/market/demands/{2**63}/grab"]
)
def test_path_ids_beyond_2_62_are_422(
    client: TestClient, session: Session, market: Market, path: str
) -> None:
    signer = _signer(session, market.bank.id)
    response = _post(client, signer, path, {"event": "repayment", "amount_fen": 1})
    assert response.status_code == 422, response.text  # type: ignore[attr-defined]


def test_a_loan_event_dated_9999_is_422(
    client: TestClient, session: Session, market: Market
) -> None:
    signer = _signer(session, market.bank.id)
    created = _post(client, signer, LOANS, _loan(market))
    loan_id = created.json()["id"]  # type: ignore[attr-defined]
    response = _post(
        client, signer, f"{LOANS}/{loan_id}/events",
        {"event": "repayment", "amount_fen": 1, "event_date": "9999-12-31"},
    )  # fmt: skip
    assert response.status_code == 422, response.text  # type: ignore[attr-defined]


def test_a_huge_consent_id_is_422(client: TestClient, session: Session, market: Market) -> None:
    signer = _signer(session, market.bank.id)
    path = f"/api/v1/subjects/{market.subject.uscc}/records"
    query = "purpose=credit_review&categories=tax&consent_id=99999999999999999999"
    response = client.get(
        f"{path}?{query}", headers=signer.headers("GET", path, query=query, now=utc_now())
    )
    assert response.status_code == 422, response.text


def test_the_demand_form_refuses_1e30_wan(
    client: TestClient, market: Market, login_as: Callable[..., LoggedIn]
) -> None:
    login_as(Role.ENTERPRISE_USER)
    form = client.get("/market/demands/new")
    for amount in ("1E+30", "1E+999999"):
        page = client.post(
            "/market/demands",
            data={"csrf_token": csrf_from(form.text), "amount_wan": amount, "term_months": "12",
                  "purpose": "备货", "security_types": "credit", "mode": "choose"},
        )  # fmt: skip
        assert page.status_code == 422, page.text[:300]
        assert 'data-testid="error-amount"' in page.text
