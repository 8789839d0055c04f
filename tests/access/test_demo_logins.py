"""`creditbridge access demo-logins`: one login per role, idempotent, refused in production."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy.orm import Session

from creditbridge.access import service
from creditbridge.core.actors import CONSOLE, Role
from creditbridge.core.config import InsecureConfiguration, Settings
from creditbridge.core.errors import Forbidden

from .conftest import make_institution, make_subject


def test_one_login_per_role_created_once(session: Session) -> None:
    make_institution(session)
    make_subject(session)  # also makes a provider
    first = service.ensure_demo_logins(session, CONSOLE)
    again = service.ensure_demo_logins(session, CONSOLE)
    assert {login.role for login in first} == set(Role)
    assert [(login.username, login.totp_secret) for login in first] == [
        (login.username, login.totp_secret) for login in again
    ]
    for login in first:
        needs_totp = login.role is not Role.ENTERPRISE_USER
        assert (login.totp_secret is not None) == needs_totp
        opened = service.login_with_password(
            session, username=login.username, password=login.password
        )
        if needs_totp:
            assert login.totp_secret is not None
            service.verify_second_factor(
                session, token=opened.token, code=pyotp.TOTP(login.totp_secret).now()
            )


def test_demo_logins_refused_in_production(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        service, "_settings", lambda: Settings(env="production", secret_key="x" * 40)
    )
    with pytest.raises(Forbidden):
        service.ensure_demo_logins(session, CONSOLE)


def test_development_secret_refused_in_production() -> None:
    with pytest.raises(InsecureConfiguration):
        Settings(env="production").secret_key_bytes()
    assert Settings(env="production", secret_key="k" * 40).secret_key_bytes()
