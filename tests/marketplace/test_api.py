"""The marketplace JSON API: signed institution systems grab from the pool, report loan events and
loans made outside the platform; logged-in watchers read the outcomes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from creditbridge.access import service as access_service
from creditbridge.access.client import Signer
from creditbridge.core.actors import CONSOLE, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings
from creditbridge.marketplace import service
from creditbridge.marketplace.domain import WAN_FEN
from web import conftest as web_fixtures
from web.conftest import LoggedIn

from .conftest import Market

app = web_fixtures.app
client = web_fixtures.client
login_as = web_fixtures.login_as


def _signer(session: Session, institution_id: int) -> Signer:
    issued = access_service.create_client(
        session,
        CONSOLE,
        name="信贷系统",
        owner_kind="institution",
        algorithm="hmac-sm3",
        institution_id=institution_id,
        settings=Settings(),
    )
    return Signer(issued.client.key_id, secret=issued.secret)


def _post(client: TestClient, signer: Signer, path: str, body: dict[str, object]) -> object:
    raw = json.dumps(body).encode()
    headers = signer.headers("POST", path, body=raw, now=utc_now())
    return client.post(path, content=raw, headers={**headers, "Content-Type": "application/json"})


def test_signed_systems_grab_and_report(
    client: TestClient, session: Session, market: Market
) -> None:
    demand = service.post_demand(
        session, market.owner, amount_fen=50 * WAN_FEN, term_months=12, purpose="备货", mode="pool"
    )
    ours, theirs = _signer(session, market.bank.id), _signer(session, market.other_bank.id)
    path = "/api/v1/market/pool"
    listed = client.get(path, headers=ours.headers("GET", path, now=utc_now()))
    assert listed.status_code == 200
    assert [d["id"] for d in listed.json()] == [demand.id]
    won = _post(client, ours, f"/api/v1/market/demands/{demand.id}/grab", {})
    assert won.status_code == 200, won.text  # type: ignore[attr-defined]
    lost = _post(client, theirs, f"/api/v1/market/demands/{demand.id}/grab", {})
    assert lost.status_code == 409  # type: ignore[attr-defined]
    assert lost.json()["code"] == "CB-MARKET-DEMAND-TAKEN"  # type: ignore[attr-defined]

    reported = _post(
        client,
        theirs,
        "/api/v1/market/loans",
        {
            "uscc": market.subject.uscc,
            "amount_fen": 80 * WAN_FEN,
            "rate_bp": 450,
            "term_months": 12,
            "security_type": "credit",
            "disbursement_date": "2026-01-02",
        },
    )
    assert reported.status_code == 201, reported.text  # type: ignore[attr-defined]
    loan = reported.json()  # type: ignore[attr-defined]
    assert loan["via_platform"] is False
    assert loan["first_loan_any_bank"] is True
    event = _post(client, theirs, f"/api/v1/market/loans/{loan['id']}/events", {"event": "overdue"})
    assert event.json()["status"] == "overdue"  # type: ignore[attr-defined]
    idor = _post(client, ours, f"/api/v1/market/loans/{loan['id']}/events", {"event": "repaid"})
    assert idor.status_code == 404  # type: ignore[attr-defined]
    bad = _post(client, theirs, f"/api/v1/market/loans/{loan['id']}/events", {"event": "paid"})
    assert bad.status_code == 422  # type: ignore[attr-defined]


def test_outcomes_json_for_watchers(
    client: TestClient,
    session: Session,
    market: Market,
    login_as: Callable[..., LoggedIn],
) -> None:
    service.report_external_loan(
        session,
        market.officer,
        uscc=market.subject.uscc,
        amount_fen=60 * WAN_FEN,
        credit_line_fen=None,
        rate_bp=430,
        term_months=12,
        security_type="credit",
        disbursement_date=date(2026, 1, 2),
    )
    login_as(Role.ENTERPRISE_USER)
    assert client.get("/api/v1/market/outcomes").status_code == 403
    login_as(Role.OPERATOR)
    body = client.get("/api/v1/market/outcomes?by=province").json()
    assert body[0]["loans"] == 1
    assert body[0]["credit_share"] == 1.0
    assert body[0]["platform_credit_share"] == 0.0
    by_city = client.get("/api/v1/market/outcomes?by=city").json()
    assert {r["key"] for r in by_city} == {"340100"}
