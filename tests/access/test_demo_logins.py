"""`creditbridge access demo-logins`: one login per role, idempotent, refused in production."""

from __future__ import annotations

import json
from pathlib import Path

import pyotp
import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from creditbridge.access import service
from creditbridge.cli import context
from creditbridge.cli.app import app
from creditbridge.core.actors import CONSOLE, Role
from creditbridge.core.config import InsecureConfiguration, Settings, get_settings
from creditbridge.core.errors import Forbidden
from creditbridge.demo.logins import ensure_demo_logins

from .conftest import SETTINGS, make_institution, make_subject


def test_one_login_per_role_created_once(session: Session) -> None:
    make_institution(session)
    make_subject(session)  # also makes a provider
    first = ensure_demo_logins(session, CONSOLE, settings=SETTINGS)
    again = ensure_demo_logins(session, CONSOLE, settings=SETTINGS)
    assert {login.role for login in first} == set(Role)
    assert [(login.username, login.totp_secret) for login in first] == [
        (login.username, login.totp_secret) for login in again
    ]
    for login in first:
        needs_totp = login.role is not Role.ENTERPRISE_USER
        assert (login.totp_secret is not None) == needs_totp
        opened = service.login_with_password(
            session, username=login.username, password=login.password, settings=SETTINGS
        )
        if needs_totp:
            assert login.totp_secret is not None
            service.verify_second_factor(
                session,
                token=opened.token,
                code=pyotp.TOTP(login.totp_secret).now(),
                settings=SETTINGS,
            )


def test_demo_logins_refused_in_production(session: Session) -> None:
    production = Settings(env="production", secret_key="x" * 40)
    with pytest.raises(Forbidden):
        ensure_demo_logins(session, CONSOLE, settings=production)


def test_development_secret_refused_in_production() -> None:
    with pytest.raises(InsecureConfiguration):
        Settings(env="production").secret_key_bytes()
    assert Settings(env="production", secret_key="k" * 40).secret_key_bytes()


def test_the_demo_logins_command_prints_each_login(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`creditbridge access demo-logins` against a fresh SQLite file: on an empty database only
    the roles bound to nothing get a login; a second run prints the same secrets."""
    monkeypatch.setenv("CREDITBRIDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    _reset_cli_caches()
    try:
        runner = CliRunner()
        assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
        first = runner.invoke(app, ["access", "demo-logins", "--json"])
        again = runner.invoke(app, ["access", "demo-logins", "--json"])
        table = runner.invoke(app, ["access", "demo-logins"])
    finally:
        _reset_cli_caches()
    assert first.exit_code == 0, first.output
    rows = json.loads(first.stdout)
    assert [row["role"] for row in rows] == [
        "system_admin",
        "security_admin",
        "audit_admin",
        "operator",
        "operator",
        "operator",
        "operator",
    ]
    # The three regional operators come first; the node-wide one stays last under "operator".
    assert [(row["username"], row["division_code"]) for row in rows[3:]] == [
        ("demo-operator-province", "340000"),
        ("demo-operator-city", "340100"),
        ("demo-operator-county", "340104"),
        ("demo-operator", None),
    ]
    assert {row["password"] for row in rows} == {"Demo-Login-2026"}
    assert all(row["totp_secret"] and len(row["current_code"]) == 6 for row in rows)
    assert [row["totp_secret"] for row in json.loads(again.stdout)] == [
        row["totp_secret"] for row in rows
    ]
    assert table.exit_code == 0
    assert "用户名 username" in table.stdout
    assert "demo-sysadmin" in table.stdout


def _reset_cli_caches() -> None:
    if context.engine.cache_info().currsize:
        context.engine().dispose()
    context.engine.cache_clear()
    get_settings.cache_clear()
