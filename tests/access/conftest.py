"""Factories for the trust layer's tests: institutions, providers, subjects and users."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime

import orjson
import pyotp
import pytest
from sqlalchemy.orm import Session

from creditbridge.access import service
from creditbridge.access.models import Institution, User
from creditbridge.core.actors import CONSOLE, Role
from creditbridge.core.clock import utc_now
from creditbridge.ingest.models import Provider
from creditbridge.protection import service as protection
from creditbridge.subjects.models import Record, Subject

PASSWORD = "Correct-Horse-42"
CREATED = datetime(2026, 1, 1, tzinfo=UTC)
_counter = itertools.count(1)


def make_institution(
    session: Session, *, status: str = "approved", code: str | None = None
) -> Institution:
    n = next(_counter)
    institution = Institution(
        code=code or f"inst-{n}",
        name=f"测试银行{n}",
        kind="bank",
        division_code="340100",
        status=status,
        created_at=CREATED,
    )
    session.add(institution)
    session.flush()
    return institution


def make_provider(session: Session) -> Provider:
    n = next(_counter)
    provider = Provider(
        code=f"prov-{n}",
        name=f"测试部门{n}",
        kind="department",
        division_code="340000",
        created_at=CREATED,
    )
    session.add(provider)
    session.flush()
    return provider


def make_subject(
    session: Session, *, legal_rep: str = "张三", id_number: str = "34010219800101123X"
) -> Subject:
    n = next(_counter)
    uscc = f"91340100MA{n:07d}X"[:18]
    subject = Subject(
        uscc=uscc,
        name=f"测试企业{n}",
        entity_type="91",
        division_code="340102",
        city_code="340100",
        legal_representative=legal_rep,
        created_at=CREATED,
    )
    session.add(subject)
    session.flush()
    provider = make_provider(session)
    from creditbridge.ingest.models import Batch

    batch = Batch(
        provider_id=provider.id,
        batch_key=f"b-{n}",
        dataset_code="legal_rep_identity",
        channel="demo",
        status="applied",
        received_at=CREATED,
        content_digest="0" * 64,
    )
    session.add(batch)
    session.flush()
    sealer = protection.sealer("legal_rep_identity", ["id_number"])
    assert sealer is not None
    session.add(
        Record(
            subject_id=subject.id,
            dataset_code="legal_rep_identity",
            natural_key=uscc,
            # As ingest stores it: the level-4 identity number SM4-GCM encrypted.
            data=orjson.loads(
                sealer.seal({"uscc": uscc, "person_name": legal_rep, "id_number": id_number})
            ),
            digest="0" * 64,
            provider_id=provider.id,
            batch_id=batch.id,
            source_row=1,
            received_at=CREATED,
        )
    )
    session.flush()
    return subject


def make_user(
    session: Session,
    role: Role,
    *,
    institution: Institution | None = None,
    username: str | None = None,
    enrol_totp: bool = True,
) -> tuple[User, str | None]:
    """A user of ``role`` bound as the role needs, with TOTP enrolled; returns (user, secret)."""
    binding: dict[str, int | None] = {}
    if role is Role.INSTITUTION_OFFICER:
        binding["institution_id"] = (institution or make_institution(session)).id
    if role is Role.PROVIDER_USER:
        binding["provider_id"] = make_provider(session).id
    if role is Role.ENTERPRISE_USER:
        binding["subject_id"] = make_subject(session).id
    user = service.create_user(
        session,
        CONSOLE,
        username=username or f"user{next(_counter)}",
        display_name="测试用户",
        password=PASSWORD,
        role=role,
        **binding,
    )
    secret = None
    if enrol_totp:
        secret = service.start_totp_enrolment(session, user)
        user.totp_enabled = True
        session.flush()
    return user, secret


def code_now(secret: str) -> str:
    return pyotp.TOTP(secret).at(utc_now())


def full_login(session: Session, user: User, secret: str | None) -> service.NewSession:
    opened = service.login_with_password(session, username=user.username, password=PASSWORD)
    if opened.row.mfa_passed:
        return opened
    assert secret is not None
    return service.verify_second_factor(session, token=opened.token, code=code_now(secret))


@pytest.fixture
def officer(session: Session) -> Callable[..., tuple[User, str | None]]:
    return lambda **kw: make_user(session, Role.INSTITUTION_OFFICER, **kw)
