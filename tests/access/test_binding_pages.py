"""Issue 21, finding 2 over HTTP: the system admin's desk mints no enterprise user or officer;
an enterprise invites through its account page; a change among administrators waits for a second
one; the operator reviews waiting registrations."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import factories
from creditbridge.access.models import AdminChange, User
from creditbridge.core.actors import Role
from web import conftest as web_fixtures
from web.conftest import LOGIN_PASSWORD, LoggedIn
from web.helpers import csrf_from

# Regression trials of issue 21 (attack trial): `make audit-security` runs them.
pytestmark = pytest.mark.security

app = web_fixtures.app
client = web_fixtures.client
login_as = web_fixtures.login_as

Login = Callable[..., LoggedIn]


def test_the_system_admin_cannot_bind_an_account_to_an_enterprise_or_a_bank(
    client: TestClient, login_as: Login, session: Session
) -> None:
    """The attack of the trial: ``POST /admin/users`` with an enterprise user bound to any
    enterprise, or an officer of any bank, with a password the admin chose."""
    subject, bank = factories.subject(session), factories.institution(session)
    admin = login_as(Role.SYSTEM_ADMIN)
    page = client.get("/admin/users").text
    # The list's role filter names every role; the create form offers none of these.
    form = page[page.index('data-testid="user-create"') :]
    assert 'name="subject_id"' not in form
    assert 'name="institution_id"' not in form
    assert 'value="enterprise_user"' not in form
    assert 'value="institution_officer"' not in form
    for role, field, value in (
        ("enterprise_user", "subject_id", subject.id),
        ("institution_officer", "institution_id", bank.id),
    ):
        forged = client.post(
            "/admin/users",
            data={
                "username": f"forged-{role}",
                "display_name": "冒名",
                "password": LOGIN_PASSWORD,
                "role": role,
                field: str(value),
                "csrf_token": admin.csrf,
            },
            follow_redirects=False,
        )
        assert forged.status_code == 403
        assert "CB-BINDING-REFUSED" in forged.text
    bound = select(func.count()).where(
        (User.subject_id == subject.id) | (User.institution_id == bank.id)
    )
    assert session.scalar(bound) == 0


def test_an_enterprise_invites_a_colleague_who_opens_the_account_and_the_owner_is_told(
    client: TestClient, login_as: Login, session: Session
) -> None:
    owner = login_as(Role.ENTERPRISE_USER)
    page = client.post("/account/invitations", data={"note": "财务", "csrf_token": owner.csrf}).text
    link = re.search(r'data-testid="invitation-link">([^<]+)<', page)
    assert link is not None
    path = "/" + link.group(1).split("/", 3)[3]
    assert path.startswith("/invitations/")
    client.cookies.clear()
    form = client.get(path)
    assert form.status_code == 200
    accepted = client.post(
        path,
        data={
            "username": "colleague-1",
            "display_name": "同事",
            "password": LOGIN_PASSWORD,
            "csrf_token": csrf_from(form.text),
        },
        follow_redirects=False,
    )
    assert accepted.status_code == 303
    colleague = session.scalars(select(User).where(User.username == "colleague-1")).one()
    assert colleague.subject_id == owner.user.subject_id
    assert client.get(path).status_code == 404  # used once
    login_as_owner = client.post(
        "/login",
        data={
            "username": owner.user.username,
            "password": LOGIN_PASSWORD,
            "next": "/account",
            "csrf_token": csrf_from(client.get("/login").text),
        },
    )
    assert 'data-testid="notifications"' in login_as_owner.text
    assert "colleague-1" in login_as_owner.text


def test_an_admin_change_is_proposed_then_approved_by_another_admin(
    client: TestClient, login_as: Login, session: Session
) -> None:
    security = login_as(Role.SECURITY_ADMIN)
    target = login_as(Role.AUDIT_ADMIN).user
    system = login_as(Role.SYSTEM_ADMIN)
    direct = client.post(f"/admin/users/{target.id}/disable", data={"csrf_token": system.csrf})
    assert direct.status_code == 403
    assert "CB-SECOND-ADMIN" in direct.text
    proposed = client.post(
        f"/admin/users/{target.id}/changes",
        data={"action": "disable", "reason": "离岗", "csrf_token": system.csrf},
        follow_redirects=False,
    )
    assert proposed.status_code == 303
    change = session.scalars(select(AdminChange)).one()
    own = client.post(
        f"/admin/changes/{change.id}/decide", data={"approve": "1", "csrf_token": system.csrf}
    )
    assert own.status_code == 403
    session.refresh(target)
    assert target.status == "active"
    approver = login_as(Role.SECURITY_ADMIN, username=security.user.username + "-2")
    listing = client.get("/admin/changes").text
    assert f'data-change="{change.id}"' in listing
    decided = client.post(
        f"/admin/changes/{change.id}/decide",
        data={"approve": "1", "csrf_token": approver.csrf},
        follow_redirects=False,
    )
    assert decided.status_code == 303
    session.refresh(target)
    assert target.status == "disabled"


def test_the_operator_reviews_a_waiting_registration_with_evidence(
    client: TestClient, login_as: Login, session: Session
) -> None:
    owner = login_as(Role.ENTERPRISE_USER)
    waiting = factories.account(
        session,
        Role.ENTERPRISE_USER,
        username="waiting-1",
        password=LOGIN_PASSWORD,
        subject_id=owner.user.subject_id,
    )
    waiting.status = "pending"
    session.flush()
    operator = login_as(Role.OPERATOR)
    queue = client.get("/operator/registrations").text
    assert "waiting-1" in queue
    missing = client.post(
        f"/operator/registrations/{waiting.id}",
        data={"approve": "1", "evidence": "", "csrf_token": operator.csrf},
    )
    assert missing.status_code == 422
    done = client.post(
        f"/operator/registrations/{waiting.id}",
        data={"approve": "1", "evidence": "营业执照已核", "csrf_token": operator.csrf},
        follow_redirects=False,
    )
    assert done.status_code == 303
    session.refresh(waiting)
    assert waiting.status == "active"


def test_pages_of_binding_speak_english(
    client: TestClient, login_as: Login, session: Session
) -> None:
    login_as(Role.ENTERPRISE_USER)
    page = client.get("/account?lang=en").text
    assert "Invite a colleague" in page
    assert "Register an enterprise account" in client.get("/register?lang=en").text
