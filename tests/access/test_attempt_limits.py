"""Issue 21, finding 3: registration cannot be guessed, passwords cannot be sprayed.

Failed registration checks are limited per enterprise code (5 an hour) and per client address
(20), failed logins per address (20); past a limit the answer is 429 with ``Retry-After`` and the
code ``CB-TOO-MANY-ATTEMPTS``. Every failed check is audited. The counts are rows in the
database, so every worker of the node sees the same ones."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from creditbridge.access import service
from creditbridge.access.errors import LoginFailed, RegistrationRefused, TooManyAttempts
from creditbridge.access.models import Attempt, User
from creditbridge.audit.models import AuditEvent
from creditbridge.core.actors import Role
from creditbridge.core.clock import FrozenClock
from creditbridge.core.config import Settings
from creditbridge.core.errors import ValidationFailed
from creditbridge.subjects.models import Subject
from web import conftest as web_fixtures
from web.conftest import LoggedIn
from web.helpers import csrf_from

from .conftest import PASSWORD, SETTINGS, make_subject, make_user

# Regression trials of issue 21 (attack trial): `make audit-security` runs them.
pytestmark = pytest.mark.security

app = web_fixtures.app
client = web_fixtures.client
login_as = web_fixtures.login_as

Login = Callable[..., LoggedIn]


def _register(
    session: Session,
    subject: Subject,
    *,
    tail: str,
    username: str = "guesser",
    ip: str | None = None,
    settings: Settings = SETTINGS,
) -> User:
    return service.register_enterprise_user(
        session,
        uscc=subject.uscc,
        legal_rep_name="张三",
        id_tail=tail,
        username=username,
        display_name="猜测者",
        password=PASSWORD,
        ip=ip,
        settings=settings,
    )


def _events(session: Session, action: str) -> int:
    return session.scalar(select(func.count()).where(AuditEvent.action == action)) or 0


# --- Registration ----------------------------------------------------------------------------


def test_registration_checks_are_limited_per_enterprise_code(
    session: Session, frozen_clock: FrozenClock
) -> None:
    subject = make_subject(session)
    for n in range(5):
        # Five guesses from five addresses: the code's own limit bites.
        with pytest.raises(RegistrationRefused):
            _register(session, subject, tail=f"00000{n}", ip=f"198.51.100.{n}")
    with pytest.raises(TooManyAttempts) as refused:
        _register(session, subject, tail="01123X", ip="198.51.100.99")
    assert refused.value.code == "CB-TOO-MANY-ATTEMPTS"
    assert refused.value.status_code == 429
    assert 0 < refused.value.retry_after <= 3600 + 1
    assert refused.value.headers["Retry-After"] == str(refused.value.retry_after)
    # After the window the right answer goes through.
    frozen_clock.advance(timedelta(minutes=61))
    assert _register(session, subject, tail="01123X", ip="198.51.100.99").status == "active"


def test_registration_checks_are_limited_per_address(session: Session) -> None:
    subjects = [make_subject(session) for _ in range(5)]
    for n in range(20):
        with pytest.raises(RegistrationRefused):
            _register(session, subjects[n % 5], tail=f"9{n:05d}", ip="203.0.113.7")
    fresh = make_subject(session)
    with pytest.raises(TooManyAttempts):
        _register(session, fresh, tail="01123X", ip="203.0.113.7")
    # Another address may still register that enterprise.
    assert _register(session, fresh, tail="01123X", ip="203.0.113.8").status == "active"


def test_limits_come_from_settings(session: Session) -> None:
    strict = Settings(register_attempts_per_code=2)
    subject = make_subject(session)
    for tail in ("000001", "000002"):
        with pytest.raises(RegistrationRefused):
            _register(session, subject, tail=tail, settings=strict)
    with pytest.raises(TooManyAttempts):
        _register(session, subject, tail="01123X", settings=strict)


def test_every_failed_registration_check_is_audited(session: Session) -> None:
    subject = make_subject(session)
    before = _events(session, "register.failed")
    for tail in ("000001", "000002", "000003"):
        with pytest.raises(RegistrationRefused):
            _register(session, subject, tail=tail, ip="192.0.2.1")
    assert _events(session, "register.failed") == before + 3
    event = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "register.failed")
        .order_by(AuditEvent.sequence.desc())
        .limit(1)
    ).one()
    assert event.facts["detail"]["uscc"] == subject.uscc
    assert event.facts["ip"] == "192.0.2.1"


def test_a_malformed_form_is_not_a_counted_check(session: Session) -> None:
    subject = make_subject(session)
    for _ in range(6):
        with pytest.raises(ValidationFailed, match="注册信息有误"):
            service.register_enterprise_user(
                session,
                uscc=subject.uscc,
                legal_rep_name="张三",
                id_tail="000000",
                username="x",  # too short: refused before the representative is checked
                display_name="猜测者",
                password=PASSWORD,
                settings=SETTINGS,
            )
    assert _register(session, subject, tail="01123X").status == "active"


# --- Login -----------------------------------------------------------------------------------


def test_failed_logins_are_limited_per_address_across_accounts(session: Session) -> None:
    victims = [make_user(session, Role.OPERATOR)[0] for _ in range(3)]
    for n in range(20):
        with pytest.raises(LoginFailed):
            service.login_with_password(
                session,
                username=victims[n % 3].username if n % 2 else f"nobody{n}",
                password="Wrong-Password-1",
                ip="198.51.100.20",
                settings=SETTINGS,
            )
    with pytest.raises(TooManyAttempts):
        service.login_with_password(
            session,
            username=victims[0].username,
            password=PASSWORD,
            ip="198.51.100.20",
            settings=SETTINGS,
        )
    # The owner of an account, from its own address, is not locked out by the sprayer.
    opened = service.login_with_password(
        session,
        username=victims[1].username,
        password=PASSWORD,
        ip="198.51.100.21",
        settings=SETTINGS,
    )
    assert opened.token


# --- Across workers: the counts are in the database ------------------------------------------


@pytest.fixture
def committed(engine: Engine) -> Iterator[Callable[[], Session]]:
    """Sessions that commit, as two workers' would; their attempt rows are removed afterwards."""
    made: list[Session] = []

    def open_session() -> Session:
        made.append(Session(engine, expire_on_commit=False))
        return made[-1]

    yield open_session
    for opened in made:
        opened.close()
    with Session(engine) as cleaner:
        cleaner.execute(delete(Attempt).where(Attempt.key == "192.0.2.250"))
        cleaner.commit()


def test_the_limit_holds_across_workers(committed: Callable[[], Session]) -> None:
    first, second = committed(), committed()
    for n in range(20):
        with pytest.raises(LoginFailed):
            service.login_with_password(
                (first, second)[n % 2],
                username=f"nobody-{n}",
                password="Wrong-Password-1",
                ip="192.0.2.250",
                settings=SETTINGS,
            )
        (first, second)[n % 2].commit()
    third = committed()
    with pytest.raises(TooManyAttempts):
        service.login_with_password(
            third, username="nobody", password="x", ip="192.0.2.250", settings=SETTINGS
        )


# --- Over HTTP: 429 with Retry-After, and the failures stay on record ------------------------


def _register_form(client: TestClient, subject: Subject, tail: str) -> Response:
    token = csrf_from(client.get("/register").text)
    return client.post(
        "/register",
        data={
            "uscc": subject.uscc,
            "legal_rep_name": "张三",
            "id_tail": tail,
            "username": "web-guesser",
            "display_name": "猜测者",
            "password": PASSWORD,
            "csrf_token": token,
        },
        follow_redirects=False,
    )


def test_register_page_answers_429_with_retry_after(client: TestClient, session: Session) -> None:
    subject = make_subject(session)
    for n in range(5):
        wrong = _register_form(client, subject, f"00000{n}")
        assert wrong.status_code == 422
    # The failures were counted although each request rolled back.
    counted = select(func.count()).where(Attempt.key == subject.uscc)
    assert session.scalar(counted) == 5
    assert _events(session, "register.failed") >= 5
    refused = _register_form(client, subject, "01123X")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "CB-TOO-MANY-ATTEMPTS" in refused.text
    assert session.scalar(select(func.count()).where(User.subject_id == subject.id)) == 0


def test_login_page_answers_429_to_a_sprayer(client: TestClient, session: Session) -> None:
    token = csrf_from(client.get("/login").text)
    for n in range(20):
        failed = client.post(
            "/login",
            data={"username": f"user-{n}", "password": "Spray-Pass-2026", "csrf_token": token},
        )
        assert failed.status_code == 401
    refused = client.post(
        "/login", data={"username": "user-0", "password": "Spray-Pass-2026", "csrf_token": token}
    )
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "CB-TOO-MANY-ATTEMPTS" in refused.text
    assert _events(session, "login.throttled") >= 1


def test_a_second_registration_is_told_it_waits_for_approval(
    client: TestClient, session: Session
) -> None:
    subject = make_subject(session)
    _register(session, subject, tail="01123X", username="first-owner")
    done = _register_form(client, subject, "01123X")
    assert done.status_code == 303
    assert done.headers["location"].endswith("?registered=pending")
    page = client.get(done.headers["location"])
    assert 'data-testid="registered-pending"' in page.text
