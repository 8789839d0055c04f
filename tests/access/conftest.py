"""Factories for the trust layer's tests: institutions, providers, subjects and users."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pyotp
import pytest
from sqlalchemy.orm import Session

import factories
from creditbridge.access import service
from creditbridge.access.models import Institution, User
from creditbridge.core.actors import CONSOLE, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings
from creditbridge.ingest.models import Provider
from creditbridge.subjects.models import Subject

PASSWORD = "Correct-Horse-42"
# What an entry point would pass to the services (the master secret, lockout and session limits).
SETTINGS = Settings()
_counter = itertools.count(1)


def make_institution(
    session: Session, *, status: str = "approved", code: str | None = None
) -> Institution:
    return factories.institution(session, status=status, code=code)


def make_provider(session: Session) -> Provider:
    return factories.provider(session)


def make_subject(
    session: Session, *, legal_rep: str = "张三", id_number: str = "34010219800101123X"
) -> Subject:
    """An enterprise whose legal representative's identity was delivered (registration checks
    the applicant against it)."""
    subject = factories.subject(session, legal_representative=legal_rep)
    factories.record(
        session,
        subject,
        "legal_rep_identity",
        {"person_name": legal_rep, "id_number": id_number},
        batch=factories.batch(session, make_provider(session), dataset="legal_rep_identity"),
        key=subject.uscc,
    )
    return subject


def make_user(
    session: Session,
    role: Role,
    *,
    institution: Institution | None = None,
    username: str | None = None,
    enrol_totp: bool = True,
) -> tuple[User, str | None]:
    """A user of ``role`` with TOTP enrolled; returns (user, secret). Bound the way production
    binds: an officer accepts an invitation (the operator's for the institution's first
    officer-administrator, then that administrator's); an enterprise user registers with its
    legal representative's identity; other roles are created at the console."""
    name = username or f"user{next(_counter)}"
    if role is Role.INSTITUTION_OFFICER:
        user = make_officer(session, institution or make_institution(session), username=name)
    elif role is Role.ENTERPRISE_USER:
        subject = make_subject(session)
        user = service.register_enterprise_user(
            session,
            uscc=subject.uscc,
            legal_rep_name="张三",
            id_tail="01123X",
            username=name,
            display_name="测试用户",
            password=PASSWORD,
            settings=SETTINGS,
        )
    else:
        binding: dict[str, int | None] = {}
        if role is Role.PROVIDER_USER:
            binding["provider_id"] = make_provider(session).id
        user = service.create_user(
            session,
            CONSOLE,
            username=name,
            display_name="测试用户",
            password=PASSWORD,
            role=role,
            **binding,
        )
    secret = None
    if enrol_totp:
        secret = service.start_totp_enrolment(session, user, settings=SETTINGS)
        user.totp_enabled = True
        session.flush()
    return user, secret


def make_officer(
    session: Session, institution: Institution, *, username: str, org_admin: bool = False
) -> User:
    """An officer of ``institution``: the first accepts the operator's invitation and becomes its
    officer-administrator; the next accept that administrator's invitation."""
    admins = [u for u in service.members_of(session, institution_id=institution.id) if u.org_admin]
    if admins:
        issued = service.invite_member(
            session, service.actor_for_user(admins[0]), org_admin=org_admin
        )
    else:
        issued = service.invite_institution_admin(session, CONSOLE, institution_id=institution.id)
    return service.accept_invitation(
        session, token=issued.token, username=username, display_name="测试用户", password=PASSWORD
    )


def code_now(secret: str) -> str:
    return pyotp.TOTP(secret).at(utc_now())


def full_login(session: Session, user: User, secret: str | None) -> service.NewSession:
    opened = service.login_with_password(
        session, username=user.username, password=PASSWORD, settings=SETTINGS
    )
    if opened.row.mfa_passed:
        return opened
    assert secret is not None
    return service.verify_second_factor(
        session, token=opened.token, code=code_now(secret), settings=SETTINGS
    )


@pytest.fixture
def officer(session: Session) -> Callable[..., tuple[User, str | None]]:
    return lambda **kw: make_user(session, Role.INSTITUTION_OFFICER, **kw)
