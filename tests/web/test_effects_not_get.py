"""Reads with effects are not GETs (issue 21, finding 7).

``GET /reports/{uscc}?consent_id=`` issued a report and spent a consent use; ``/audit/verify`` and
``/consents/{id}/receipt`` wrote to the trail. The session cookie is SameSite=Lax, so a top-level
link from another site carried it: a cross-site link could burn a bank's consent uses. Now every
GET of these pages changes nothing (counted before and after), and the act is a POST that works
with the page's CSRF token and is refused without it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import factories
from creditbridge.audit.models import AuditEvent
from creditbridge.consent.models import ConsentGrant
from creditbridge.core.actors import Role
from creditbridge.marketplace import service as market_service
from creditbridge.marketplace.domain import WAN_FEN
from creditbridge.reports.models import ReportIssuance
from marketplace.conftest import Market, market
from reports.conftest import World, grant_consent, world

from .conftest import LOGIN_PASSWORD, LoggedIn
from .helpers import csrf_from

# Regression trials of issue 21 (attack trial): `make audit-security` runs them.
pytestmark = pytest.mark.security

__all__ = ["market", "world"]  # fixtures used by the tests below

Login = Callable[..., LoggedIn]


@dataclass(frozen=True)
class State:
    """What an effect would change: reports issued, consent uses, audit events."""

    issuances: int
    uses: int
    events: int
    actions: tuple[str, ...]


def state(session: Session) -> State:
    session.expire_all()
    actions = tuple(session.scalars(select(AuditEvent.action).order_by(AuditEvent.sequence)))
    return State(
        issuances=session.scalar(select(func.count()).select_from(ReportIssuance)) or 0,
        uses=session.scalar(select(func.coalesce(func.sum(ConsentGrant.uses), 0))) or 0,
        events=len(actions),
        actions=actions,
    )


def new_actions(before: State, after: State) -> list[str]:
    return list(after.actions[before.events :])


def login_enterprise(client: TestClient, session: Session, subject_id: int) -> str:
    """Log in a user of the enterprise ``subject_id``; returns the session's CSRF token."""
    factories.account(
        session,
        Role.ENTERPRISE_USER,
        username="owner-s4",
        display_name="企业经办人",
        password=LOGIN_PASSWORD,
        subject_id=subject_id,
    )
    client.cookies.clear()
    form = client.get("/login")
    done = client.post(
        "/login",
        data={
            "username": "owner-s4",
            "password": LOGIN_PASSWORD,
            "csrf_token": csrf_from(form.text),
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    return csrf_from(client.get("/account").text)


# --- the report --------------------------------------------------------------------------------


def test_a_report_link_issues_nothing_and_spends_no_use(
    client: TestClient, session: Session, world: World, login_as: Login
) -> None:
    grant = grant_consent(session, world)
    officer = login_as(Role.INSTITUTION_OFFICER, institution_id=world.bank.id)
    uscc = world.subject.uscc
    before = state(session)
    for path in (f"/reports/{uscc}", f"/reports/{uscc}/pdf"):
        page = client.get(f"{path}?consent_id={grant.id}&purpose=loan_application")
        # The link lands on a page that says what issuing would do, with its buttons.
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert 'data-testid="issue-confirm-html"' in page.text
        assert 'data-testid="issue-confirm-pdf"' in page.text
        assert grant.reference in page.text
        assert f'name="consent_id" value="{grant.id}"' in page.text
    assert state(session) == before

    refused = client.post(f"/reports/{uscc}", data={"consent_id": str(grant.id)})
    assert refused.status_code == 403
    assert state(session) == before

    issued = client.post(
        f"/reports/{uscc}/pdf", data={"consent_id": str(grant.id), "csrf_token": officer.csrf}
    )
    assert issued.status_code == 200
    assert issued.content.startswith(b"%PDF")
    after = state(session)
    assert (after.issuances, after.uses) == (before.issuances + 1, before.uses + 1)
    assert "report.issue" in new_actions(before, after)


def test_the_profile_uses_a_consent_only_on_a_post(
    client: TestClient, session: Session, world: World, login_as: Login
) -> None:
    grant = grant_consent(session, world)
    officer = login_as(Role.INSTITUTION_OFFICER, institution_id=world.bank.id)
    uscc = world.subject.uscc
    before = state(session)
    linked = client.get(f"/enterprises/{uscc}?consent_id={grant.id}")
    assert linked.status_code == 200
    after_link = state(session)
    # Browsing writes its page-view audit only; the consent is untouched.
    assert (after_link.issuances, after_link.uses) == (before.issuances, before.uses)
    assert set(new_actions(before, after_link)) <= {"report.profile", "data.read"}
    # The issue buttons of the profile are forms with the CSRF token, not links.
    assert f'href="/reports/{uscc}' not in linked.text
    assert f'<form method="post" action="/reports/{uscc}"' in linked.text

    refused = client.post(f"/enterprises/{uscc}", data={"consent_id": str(grant.id)})
    assert refused.status_code == 403
    assert state(session).uses == before.uses

    cited = client.post(
        f"/enterprises/{uscc}", data={"consent_id": str(grant.id), "csrf_token": officer.csrf}
    )
    assert cited.status_code == 200
    assert "tax" in re.findall(r'data-category="([a-z_]+)"', cited.text)
    assert state(session).uses == before.uses + 1


def test_the_self_query_pdf_is_issued_on_a_post_only(
    client: TestClient, session: Session, world: World
) -> None:
    csrf = login_enterprise(client, session, world.subject.id)
    page = client.get("/me/report")
    assert page.status_code == 200
    assert 'href="/me/report/pdf"' not in page.text
    before = state(session)
    assert client.get("/me/report/pdf").status_code == 405
    assert client.post("/me/report/pdf").status_code == 403
    assert state(session).issuances == before.issuances

    pdf = client.post("/me/report/pdf", data={"csrf_token": csrf})
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    assert state(session).issuances == before.issuances + 1


# --- the consent receipt -----------------------------------------------------------------------


def test_the_receipt_is_handed_out_on_a_post_only(
    client: TestClient, session: Session, world: World
) -> None:
    grant = grant_consent(session, world)
    csrf = login_enterprise(client, session, world.subject.id)
    detail = client.get(f"/consents/{grant.id}")
    assert f'<form method="post" action="/consents/{grant.id}/receipt">' in detail.text
    before = state(session)
    assert client.get(f"/consents/{grant.id}/receipt").status_code == 405
    assert client.post(f"/consents/{grant.id}/receipt").status_code == 403
    assert state(session) == before

    receipt = client.post(f"/consents/{grant.id}/receipt", data={"csrf_token": csrf})
    assert receipt.status_code == 200
    assert "attachment" in receipt.headers["content-disposition"]
    assert new_actions(before, state(session)) == ["consent.receipt"]


# --- the audit chain check ---------------------------------------------------------------------


def test_the_chain_check_runs_on_a_post_only(
    client: TestClient, session: Session, login_as: Login
) -> None:
    admin = login_as(Role.AUDIT_ADMIN)
    before = state(session)
    page = client.get("/audit/verify")
    assert page.status_code == 200
    assert 'data-testid="verify-result"' not in page.text
    assert '<form method="post" action="/audit/verify"' in page.text
    assert state(session) == before
    assert client.post("/audit/verify").status_code == 403
    assert state(session) == before

    checked = client.post("/audit/verify", data={"csrf_token": admin.csrf})
    assert checked.status_code == 200
    assert 'data-ok="true"' in checked.text
    assert new_actions(before, state(session)) == ["audit.verify"]


# --- the score and report on an application ----------------------------------------------------


def test_the_application_score_is_read_on_a_post_only(
    client: TestClient, session: Session, market: Market, login_as: Login
) -> None:
    demand = market_service.post_demand(
        session,
        market.owner,
        amount_fen=50 * WAN_FEN,
        term_months=12,
        purpose="采购原材料",
        security_types=["credit"],
    )
    app = market_service.apply(
        session, market.owner, demand_id=demand.id, product_id=market.credit_product.id
    )
    officer = login_as(Role.INSTITUTION_OFFICER, institution_id=market.bank.id)
    path = f"/market/applications/{app.id}"
    before = state(session)
    page = client.get(f"{path}?score=1")
    assert page.status_code == 200
    assert 'data-testid="score"' not in page.text
    assert 'data-testid="score-error"' not in page.text
    # Reading the report under the application's consent is a form too.
    uscc = market.subject.uscc
    assert f'<form method="post" action="/reports/{uscc}"' in page.text
    assert f'name="consent_id" value="{app.consent_id}"' in page.text
    assert f'<form method="post" action="{path}/score">' in page.text
    assert 'href="?score=1"' not in page.text
    assert state(session) == before

    assert client.post(f"{path}/score").status_code == 403
    assert state(session) == before

    read = client.post(f"{path}/score", data={"csrf_token": officer.csrf})
    assert read.status_code == 200
    # No score has been computed here: the read is still a use of the consent, on record.
    assert 'data-testid="score-error"' in read.text
    assert state(session).uses == before.uses + 1
