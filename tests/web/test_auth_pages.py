"""Login pages and admin desks over HTTP: CSRF, lockout, IDOR, injection, role separation,
suspension with an open session, session expiry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

import factories
from creditbridge.access import service as access_service
from creditbridge.access.models import Institution, User
from creditbridge.core import crypto
from creditbridge.core.actors import CONSOLE, Role
from creditbridge.core.clock import FrozenClock, utc_now

from .conftest import LOGIN_PASSWORD, LoggedIn
from .helpers import csrf_from

Login = Callable[..., LoggedIn]
INJECTIONS = [
    "'; DROP TABLE access_user; --",
    "<script>alert('x')</script>",
    '" onmouseover="alert(1)',
]


def test_login_page_is_chinese_and_has_a_csrf_field(client: TestClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert "登录" in page.text
    assert 'name="csrf_token"' in page.text
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_institution_officer_logs_in_with_totp_sees_menu_and_logs_out(
    client: TestClient, login_as: Login
) -> None:
    me = login_as(Role.INSTITUTION_OFFICER)
    page = client.get("/")
    assert 'data-testid="user-menu"' in page.text
    assert "金融机构用户" in page.text
    cookie = client.cookies.get("cb_session")
    assert cookie
    assert crypto.sm3_hex(cookie.encode()) != cookie
    out = client.post("/logout", data={"csrf_token": me.csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_pages_without_session_redirect_to_login_with_next(client: TestClient) -> None:
    response = client.get("/admin/users?x=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fadmin%2Fusers%3Fx%3D1"


def test_open_redirect_after_login_is_refused(client: TestClient, session: Session) -> None:
    factories.account(
        session,
        Role.ENTERPRISE_USER,
        username="ent-redirect",
        display_name="企业",
        password=LOGIN_PASSWORD,
        subject_id=_subject_id(session),
    )
    form = client.get("/login")
    response = client.post(
        "/login",
        data={
            "username": "ent-redirect",
            "password": LOGIN_PASSWORD,
            "next": "//evil.example/",
            "csrf_token": csrf_from(form.text),
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def _subject_id(session: Session) -> int:
    from creditbridge.subjects.models import Subject

    subject = Subject(
        uscc="91340100RD0000001X",
        name="企业",
        entity_type="91",
        division_code="340102",
        city_code="340100",
        created_at=utc_now(),
    )
    session.add(subject)
    session.flush()
    return subject.id


# --- CSRF ------------------------------------------------------------------------------------


def test_form_without_or_with_wrong_csrf_token_is_refused(
    client: TestClient, login_as: Login
) -> None:
    me = login_as(Role.OPERATOR)
    data = {"code": "bank-csrf", "name": "银行", "kind": "bank", "division_code": "340100"}
    missing = client.post("/operator/institutions", data=data, follow_redirects=False)
    wrong = client.post(
        "/operator/institutions", data={**data, "csrf_token": "x" * 43}, follow_redirects=False
    )
    assert missing.status_code == 403
    assert "CB-CSRF" in missing.text
    assert wrong.status_code == 403
    right = client.post(
        "/operator/institutions", data={**data, "csrf_token": me.csrf}, follow_redirects=False
    )
    assert right.status_code == 303


def test_token_of_another_session_is_refused(client: TestClient, login_as: Login) -> None:
    first = login_as(Role.OPERATOR)
    login_as(Role.OPERATOR)
    data = {"code": "bank-csrf2", "name": "银行", "kind": "bank", "division_code": "340100"}
    response = client.post("/operator/institutions", data={**data, "csrf_token": first.csrf})
    assert response.status_code == 403


def test_login_form_itself_needs_its_token(client: TestClient) -> None:
    response = client.post("/login", data={"username": "a", "password": "b"})
    assert response.status_code == 403


def test_htmx_header_carries_the_token(client: TestClient, login_as: Login) -> None:
    me = login_as(Role.OPERATOR)
    page = client.get("/account").text
    assert f'"X-CSRF-Token": "{me.csrf}"' in page
    response = client.post(
        "/operator/institutions",
        data={"code": "bank-hx", "name": "银行", "kind": "bank", "division_code": "340100"},
        headers={"X-CSRF-Token": me.csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303


# --- Password guessing -----------------------------------------------------------------------


def test_password_guessing_locks_out_with_one_message(client: TestClient, session: Session) -> None:
    access_service.create_user(
        session,
        CONSOLE,
        username="guess-me",
        display_name="x",
        password=LOGIN_PASSWORD,
        role=Role.OPERATOR,
    )
    token = csrf_from(client.get("/login").text)

    def attempt(username: str, password: str) -> str:
        response = client.post(
            "/login", data={"username": username, "password": password, "csrf_token": token}
        )
        assert response.status_code == 401
        return response.text.split('data-testid="login-error">')[1].split("<")[0]

    messages = {attempt("guess-me", f"Wrong-guess-{n}") for n in range(5)}
    messages.add(attempt("guess-me", LOGIN_PASSWORD))  # locked now
    messages.add(attempt("no-such-user", LOGIN_PASSWORD))
    assert len(messages) == 1
    assert session.scalar(select(User.locked_until).where(User.username == "guess-me")) is not None


def test_wrong_and_reused_totp_codes_are_refused(
    client: TestClient, login_as: Login, session: Session
) -> None:
    me = login_as(Role.OPERATOR)
    client.cookies.clear()
    token = csrf_from(client.get("/login").text)
    client.post(
        "/login",
        data={"username": me.user.username, "password": LOGIN_PASSWORD, "csrf_token": token},
    )
    form = client.get("/login/totp").text
    wrong = client.post("/login/totp", data={"code": "000000", "csrf_token": csrf_from(form)})
    assert wrong.status_code == 401
    assert 'data-testid="totp-error"' in wrong.text
    # The code login_as used a moment ago is spent.
    spent = pyotp.TOTP(me.totp_secret or "").at(utc_now())
    reused = client.post("/login/totp", data={"code": spent, "csrf_token": csrf_from(form)})
    assert reused.status_code == 401


# --- IDOR ------------------------------------------------------------------------------------


def test_officer_guessing_user_ids_of_another_institution_gets_404(
    client: TestClient, login_as: Login, session: Session
) -> None:
    stranger = login_as(Role.INSTITUTION_OFFICER)
    me = login_as(Role.INSTITUTION_OFFICER)
    assert client.get(f"/admin/users/{me.user.id}").status_code == 200
    assert client.get(f"/admin/users/{stranger.user.id}").status_code == 404
    assert client.get("/admin/users/999999").status_code == 404
    listing = client.get("/admin/users").text
    assert stranger.user.username not in listing


@pytest.mark.parametrize(
    ("role", "method", "path"),
    [
        (Role.OPERATOR, "get", "/operator/institutions/999999"),
        (Role.OPERATOR, "post", "/operator/institutions/999999/transition"),
        (Role.OPERATOR, "post", "/operator/institutions/999999/assess"),
        (Role.SYSTEM_ADMIN, "get", "/admin/users/999999"),
        (Role.SYSTEM_ADMIN, "post", "/admin/users/999999/disable"),
        (Role.SECURITY_ADMIN, "post", "/admin/users/999999/role"),
        (Role.SECURITY_ADMIN, "post", "/security/clients/999999/status"),
        (Role.SECURITY_ADMIN, "post", "/security/flags/999999/resolve"),
    ],
)
def test_unknown_ids_are_404_on_every_id_route(
    client: TestClient, login_as: Login, role: Role, method: str, path: str
) -> None:
    me = login_as(role)
    data = {
        "csrf_token": me.csrf,
        "target": "approved",
        "item": "licence",
        "role": "operator",
        "status": "active",
    }
    response = client.get(path) if method == "get" else client.post(path, data=data)
    assert response.status_code == 404


# --- 三员分立 over HTTP ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "path", "allowed"),
    [
        (Role.SYSTEM_ADMIN, "/security/clients", False),
        (Role.SYSTEM_ADMIN, "/security/flags", False),
        (Role.SECURITY_ADMIN, "/security/clients", True),
        (Role.AUDIT_ADMIN, "/admin/users", False),
        (Role.AUDIT_ADMIN, "/security/clients", False),
        (Role.AUDIT_ADMIN, "/operator/institutions", False),
        (Role.ENTERPRISE_USER, "/admin/users", False),
        (Role.OPERATOR, "/operator/institutions", True),
        (Role.INSTITUTION_OFFICER, "/operator/institutions", False),
    ],
)
def test_each_role_reaches_only_its_own_desk(
    client: TestClient, login_as: Login, role: Role, path: str, allowed: bool
) -> None:
    login_as(role)
    assert client.get(path).status_code == (200 if allowed else 403)


def test_system_admin_cannot_grant_roles_and_security_admin_cannot_disable(
    client: TestClient, login_as: Login, session: Session
) -> None:
    target = access_service.create_user(
        session,
        CONSOLE,
        username="target-user",
        display_name="x",
        password=LOGIN_PASSWORD,
        role=Role.OPERATOR,
    )
    sysadmin = login_as(Role.SYSTEM_ADMIN)
    refused = client.post(
        f"/admin/users/{target.id}/role",
        data={"role": "security_admin", "csrf_token": sysadmin.csrf},
    )
    assert refused.status_code == 403
    own = client.post(
        f"/admin/users/{sysadmin.user.id}/role",
        data={"role": "security_admin", "csrf_token": sysadmin.csrf},
    )
    assert own.status_code == 403
    security = login_as(Role.SECURITY_ADMIN)
    assert (
        client.post(
            f"/admin/users/{target.id}/disable", data={"csrf_token": security.csrf}
        ).status_code
        == 403
    )
    # Making someone an administrator is a change another administrator approves (issue 21).
    alone = client.post(
        f"/admin/users/{target.id}/role",
        data={"role": "audit_admin", "csrf_token": security.csrf},
    )
    assert alone.status_code == 403
    assert "CB-SECOND-ADMIN" in alone.text
    proposed = client.post(
        f"/admin/users/{target.id}/changes",
        data={"action": "set_role", "role": "audit_admin", "csrf_token": security.csrf},
        follow_redirects=False,
    )
    assert proposed.status_code == 303
    session.refresh(target)
    assert target.role == "operator"


# --- Injection -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_strings_in_user_fields_are_stored_and_shown_escaped(
    client: TestClient, login_as: Login, session: Session, text: str
) -> None:
    me = login_as(Role.SYSTEM_ADMIN)
    created = client.post(
        "/admin/users",
        data={
            "username": "inj-user",
            "display_name": text,
            "password": LOGIN_PASSWORD,
            "role": "operator",
            "csrf_token": me.csrf,
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    page = client.get(created.headers["location"]).text
    assert text not in page
    assert "<script>alert" not in page
    assert session.scalar(select(User.display_name).where(User.username == "inj-user")) == text
    # As a username it is refused by the rules, not by an error.
    bad = client.post(
        "/admin/users",
        data={
            "username": text,
            "display_name": "x",
            "password": LOGIN_PASSWORD,
            "role": "operator",
            "csrf_token": me.csrf,
        },
    )
    assert bad.status_code == 422


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_strings_in_institution_and_login_fields(
    client: TestClient, login_as: Login, session: Session, text: str
) -> None:
    me = login_as(Role.OPERATOR)
    response = client.post(
        "/operator/institutions",
        data={
            "code": "inj-bank",
            "name": text,
            "kind": "bank",
            "division_code": "340100",
            "csrf_token": me.csrf,
        },
    )
    assert response.status_code == 200
    assert text not in response.text
    assert "<script>alert" not in response.text
    listing = client.get("/operator/institutions").text
    assert "<script>alert" not in listing
    assert session.scalar(select(Institution.name).where(Institution.code == "inj-bank")) == text
    client.cookies.clear()
    token = csrf_from(client.get("/login").text)
    login = client.post("/login", data={"username": text, "password": text, "csrf_token": token})
    assert login.status_code == 401
    assert "<script>alert" not in login.text


# --- Suspension and expiry with an open session ----------------------------------------------


def test_suspended_institution_with_an_open_session_is_refused_on_the_next_request(
    client: TestClient, login_as: Login, session: Session
) -> None:
    me = login_as(Role.INSTITUTION_OFFICER)
    assert client.get("/account").status_code == 200
    assert me.user.institution_id is not None
    access_service.transition_institution(
        session, CONSOLE, institution_id=me.user.institution_id, target="suspended"
    )
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_idle_and_absolute_expiry_over_http(
    client: TestClient, login_as: Login, frozen_clock: FrozenClock
) -> None:
    login_as(Role.ENTERPRISE_USER)
    frozen_clock.advance(timedelta(minutes=31))
    assert client.get("/account", follow_redirects=False).status_code == 303
    login_as(Role.ENTERPRISE_USER)
    for _ in range(26):
        frozen_clock.advance(timedelta(minutes=28))
        client.get("/account", follow_redirects=False)
    assert client.get("/account", follow_redirects=False).status_code == 303


# --- Admin desks work ------------------------------------------------------------------------


def test_security_admin_creates_an_hmac_client_and_sees_the_secret_once(
    client: TestClient, login_as: Login, session: Session
) -> None:
    institution = Institution(
        code="bank-c",
        name="银行",
        kind="bank",
        division_code="340100",
        status="approved",
        created_at=utc_now(),
    )
    session.add(institution)
    session.flush()
    me = login_as(Role.SECURITY_ADMIN)
    response = client.post(
        "/security/clients",
        data={
            "name": "信贷系统",
            "owner_kind": "institution",
            "algorithm": "hmac-sm3",
            "institution_id": str(institution.id),
            "csrf_token": me.csrf,
        },
    )
    assert response.status_code == 200
    assert 'data-testid="issued-secret"' in response.text
    assert 'data-testid="issued-secret"' not in client.get("/security/clients").text


def test_enterprise_registration_page(client: TestClient, session: Session) -> None:
    page = client.get("/register")
    assert "法定代表人" in page.text
    response = client.post(
        "/register",
        data={
            "uscc": "91340100XX0000000X",
            "legal_rep_name": "<b>x</b>",
            "id_tail": "123456",
            "username": "qiye1",
            "display_name": "x",
            "password": LOGIN_PASSWORD,
            "csrf_token": csrf_from(page.text),
        },
    )
    assert response.status_code == 422
    assert "法定代表人核验未通过" in response.text
