"""A signed-in user changes its own password on the account page."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.access import service
from creditbridge.access.models import User
from creditbridge.audit.models import AuditEvent
from creditbridge.core.actors import Role
from web import conftest as web_fixtures
from web.conftest import LOGIN_PASSWORD, LoggedIn

from .conftest import SETTINGS

app = web_fixtures.app
client = web_fixtures.client
login_as = web_fixtures.login_as

Login = Callable[..., LoggedIn]
NEW = "Brand-New-Pass-77"


def _change(client: TestClient, me: LoggedIn, current: str, new: str) -> object:
    return client.post(
        "/account/password",
        data={"current_password": current, "password": new, "csrf_token": me.csrf},
        follow_redirects=False,
    )


def _actions(session: Session, user: User) -> list[str]:
    return list(
        session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.object_type == "user", AuditEvent.object_id == str(user.id))
            .where(AuditEvent.action.startswith("password."))
            .order_by(AuditEvent.sequence)
        )
    )


def test_the_account_page_offers_the_form(client: TestClient, login_as: Login) -> None:
    login_as(Role.ENTERPRISE_USER)
    page = client.get("/account")
    assert 'data-testid="password-form"' in page.text
    assert 'name="csrf_token"' in page.text
    assert "修改密码" in page.text


def test_a_change_ends_every_session_and_the_new_password_works(
    client: TestClient, session: Session, login_as: Login
) -> None:
    me = login_as(Role.ENTERPRISE_USER)
    done = _change(client, me, LOGIN_PASSWORD, NEW)
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert done.headers["location"].endswith("/login?password_changed=1")  # type: ignore[attr-defined]
    assert client.get("/account", follow_redirects=False).status_code in (303, 401)
    assert _actions(session, me.user) == ["password.change"]
    session.refresh(me.user)
    opened = service.login_with_password(
        session, username=me.user.username, password=NEW, settings=SETTINGS
    )
    assert opened.token
    login = client.get("/login", params={"password_changed": 1})
    assert "密码已修改" in login.text


def test_a_wrong_current_password_is_refused_counted_and_audited(
    client: TestClient, session: Session, login_as: Login
) -> None:
    me = login_as(Role.ENTERPRISE_USER)
    refused = _change(client, me, "Not-The-Password-1", NEW)
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert "当前密码不正确" in refused.text  # type: ignore[attr-defined]
    session.refresh(me.user)
    assert me.user.failed_logins == 1
    assert _actions(session, me.user) == ["password.change_refused"]
    # Still signed in; the old password still works.
    assert client.get("/account").status_code == 200


def test_the_new_password_must_meet_the_policy(
    client: TestClient, session: Session, login_as: Login
) -> None:
    me = login_as(Role.ENTERPRISE_USER)
    for weak in ("short1A!", "alllowercaseletters", LOGIN_PASSWORD, me.user.username + "A1!xx"):
        response = _change(client, me, LOGIN_PASSWORD, weak)
        assert response.status_code == 422, weak  # type: ignore[attr-defined]
    assert _actions(session, me.user) == []
    assert client.get("/account").status_code == 200


def test_a_form_without_its_csrf_token_is_refused(client: TestClient, login_as: Login) -> None:
    login_as(Role.ENTERPRISE_USER)
    response = client.post(
        "/account/password",
        data={"current_password": LOGIN_PASSWORD, "password": NEW},
        follow_redirects=False,
    )
    assert response.status_code == 403


def test_script_and_sql_in_the_fields_are_just_wrong_passwords(
    client: TestClient, session: Session, login_as: Login
) -> None:
    me = login_as(Role.ENTERPRISE_USER)
    response = _change(client, me, "' OR '1'='1", "<script>alert(1)</script>Aa1")
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert "<script>alert(1)</script>" not in response.text  # type: ignore[attr-defined]
