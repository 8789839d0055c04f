"""Fixtures for page tests: the real application around the test's rolled-back transaction.

The app's sessions are bound to the test's connection and open savepoints inside the test's
transaction, so the app sees rows the test inserted and nothing survives the test, on SQLite and
PostgreSQL alike. ``/healthz`` uses the app's engine directly, as in production.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

import factories
from creditbridge.access.models import User
from creditbridge.core.actors import Role
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings
from creditbridge.web.app import create_app

from .helpers import csrf_from
from .seed import Sample, seed_sample


def settings_for(engine: Engine) -> Settings:
    return Settings(database_url=engine.url.render_as_string(hide_password=False))


def app_in_test_transaction(settings: Settings, engine: Engine, session: Session) -> FastAPI:
    """The app with its request sessions joined to the test's transaction (savepoints), so each
    request sees the test's rows and the test's rollback undoes the requests' writes."""
    built = create_app(settings, engine=engine)
    built.state.sessionmaker = sessionmaker(
        bind=session.connection(),
        join_transaction_mode="create_savepoint",
        expire_on_commit=False,
        autoflush=False,
    )
    return built


@pytest.fixture
def app(engine: Engine, session: Session) -> FastAPI:
    return app_in_test_transaction(settings_for(engine), engine, session)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # Unexpected errors must reach the error handler as they would in production, not the test.
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def sample(session: Session) -> Sample:
    return seed_sample(session)


# --- Logging in (access module) --------------------------------------------------------------

LOGIN_PASSWORD = "Correct-Horse-42"


@dataclass
class LoggedIn:
    """A user the test logged in through the real pages; ``csrf`` is its session's form token."""

    user: User
    csrf: str
    totp_secret: str | None


def _bind(session: Session, role: Role, institution_id: int | None) -> dict[str, int | None]:
    if role is Role.INSTITUTION_OFFICER:
        if institution_id is None:
            institution_id = factories.institution(session).id
        return {"institution_id": institution_id}
    if role is Role.PROVIDER_USER:
        return {"provider_id": factories.provider(session).id}
    if role is Role.ENTERPRISE_USER:
        return {"subject_id": factories.subject(session).id}
    return {}


@pytest.fixture
def login_as(client: TestClient, session: Session) -> Callable[..., LoggedIn]:
    """``login_as(Role.OPERATOR)`` creates a user of that role (bound to a new institution,
    provider or subject when the role needs one, or to ``institution_id``) and logs the test
    client in through /login and /login/totp. Each call is a new user; the client holds one
    session at a time."""
    counter = itertools.count(1)

    def login(
        role: Role, *, institution_id: int | None = None, username: str | None = None
    ) -> LoggedIn:
        name = username or f"{role.value.replace('_', '')}{next(counter)}"
        user = factories.account(
            session,
            role,
            username=name,
            display_name=f"测试{role.label_zh}",
            password=LOGIN_PASSWORD,
            **_bind(session, role, institution_id),
        )
        client.cookies.clear()
        form = client.get("/login")
        response = client.post(
            "/login",
            data={
                "username": name,
                "password": LOGIN_PASSWORD,
                "next": "/account",
                "csrf_token": csrf_from(form.text),
            },
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        secret = None
        if "/login/totp" in response.headers["location"]:
            enrol = client.get("/login/totp")
            secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', enrol.text).group(1)  # type: ignore[union-attr]
            done = client.post(
                "/login/totp",
                data={
                    "code": pyotp.TOTP(secret).at(utc_now()),
                    "next": "/account",
                    "csrf_token": csrf_from(enrol.text),
                },
                follow_redirects=False,
            )
            assert done.status_code == 303, done.text
        account = client.get("/account")
        assert account.status_code == 200
        session.refresh(user)
        return LoggedIn(user, csrf_from(account.text), secret)

    return login
