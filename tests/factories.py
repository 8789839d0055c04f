"""Factories for test data: one function per thing a test needs, with sensible defaults and
keyword overrides.

Rows are made through the service that makes them in production where one exists (institutions
pass the admission workflow, products are submitted and reviewed), so a test sees what a real
deployment holds, audit trail and notifications included. Subjects, providers, batches and
records have no creating service outside a whole delivery; they are written as ingest writes
them (level-4 fields encrypted, keyed digest over the plaintext).

A value a test asserts on belongs in the test's call, not in a default here.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from creditbridge.access import domain as access_domain
from creditbridge.access import service as access_service
from creditbridge.access.models import Institution, User
from creditbridge.access.service.users import new_user
from creditbridge.catalog.service import bundled_catalog
from creditbridge.core.actors import CONSOLE, Actor, ActorKind, Role
from creditbridge.core.clock import utc_now
from creditbridge.ingest.models import Batch, Provider, ProviderDataset
from creditbridge.marketplace import service as market_service
from creditbridge.marketplace.domain import WAN_FEN
from creditbridge.marketplace.models import Product
from creditbridge.protection.service import protect_record, record_digest
from creditbridge.reference.uscc import check_character, org_check_character
from creditbridge.subjects.models import Record, Subject

_serial = itertools.count(1)

# The admission path to each status, from ``applied``.
_ADMISSION: dict[str, tuple[str, ...]] = {
    "applied": (),
    "assessing": ("assessing",),
    "approved": ("assessing", "approved"),
    "suspended": ("assessing", "approved", "suspended"),
    "revoked": ("revoked",),
}


def new_uscc(division_code: str = "340102", *, serial: int | None = None) -> str:
    """A valid unified social credit code (both check characters right) of an enterprise
    registered in ``division_code``."""
    body = f"MA{(serial if serial is not None else next(_serial)) % 1_000_000:06d}"
    first17 = f"91{division_code}{body}{org_check_character(body)}"
    return first17 + check_character(first17)


# --- access ----------------------------------------------------------------------------------


def institution(
    session: Session,
    *,
    code: str | None = None,
    name: str | None = None,
    kind: str = "bank",
    division_code: str = "340100",
    status: str = "approved",
) -> Institution:
    """An institution that applied and went through the admission workflow to ``status``
    (the security assessment fully checked on the way to ``approved``)."""
    n = next(_serial)
    made = access_service.apply_institution(
        session,
        CONSOLE,
        code=code or f"inst-{n}",
        name=name or f"测试银行{n}",
        kind=kind,
        division_code=division_code,
    )
    for target in _ADMISSION[status]:
        if target == "approved" and made.status == "assessing":
            for item in access_domain.ASSESSMENT_ITEMS:
                access_service.check_assessment_item(
                    session, CONSOLE, institution_id=made.id, item=item, checked=True, note=""
                )
        access_service.transition_institution(
            session, CONSOLE, institution_id=made.id, target=target
        )
    return made


def account(
    session: Session,
    role: Role,
    *,
    username: str,
    password: str,
    display_name: str = "测试用户",
    institution_id: int | None = None,
    provider_id: int | None = None,
    subject_id: int | None = None,
    division_code: str | None = None,
) -> User:
    """A user of ``role`` with its binding; an operator may belong to ``division_code`` (a GB/T
    2260 province, city or county; None is node-wide). Staff, provider and admin accounts are created by the
    console as in production. An enterprise user or an officer is written as a verified
    registration or an accepted invitation leaves it — no administrator can create one (issue 21);
    those paths themselves are tested in tests/access."""
    if role not in access_domain.BUSINESS_ROLES:
        return access_service.create_user(
            session,
            CONSOLE,
            username=username,
            display_name=display_name,
            password=password,
            role=role,
            provider_id=provider_id,
            division_code=division_code,
        )
    issues = access_domain.binding_issues(
        role, institution_id=institution_id, provider_id=provider_id, subject_id=subject_id
    )
    assert not issues, issues
    return new_user(
        session,
        username=username,
        display_name=display_name,
        password=password,
        role=role,
        institution_id=institution_id,
        subject_id=subject_id,
    )


# --- actors ----------------------------------------------------------------------------------


def officer(of: Institution, *, id: int, name: str | None = None, ip: str | None = None) -> Actor:
    """A loan officer of ``of`` (no user row: services take the actor as given)."""
    return Actor(
        kind=ActorKind.USER,
        id=id,
        name=name or f"{of.name}客户经理",
        role=Role.INSTITUTION_OFFICER,
        institution_id=of.id,
        ip=ip,
    )


def owner(of: Subject, *, id: int, name: str | None = None) -> Actor:
    """The enterprise user who speaks for ``of``."""
    return Actor(
        kind=ActorKind.USER,
        id=id,
        name=name or f"{of.name}用户",
        role=Role.ENTERPRISE_USER,
        subject_id=of.id,
    )


def operator(*, id: int = 301, name: str = "运营", division_code: str | None = None) -> Actor:
    """An operator, node-wide unless ``division_code`` (a province, city or county) limits it."""
    return Actor(
        kind=ActorKind.USER,
        id=id,
        name=name,
        role=Role.OPERATOR,
        division_code=division_code,
    )


# --- subjects and what providers deliver about them ------------------------------------------


def subject(
    session: Session,
    *,
    uscc: str | None = None,
    name: str | None = None,
    division_code: str = "340102",
    city_code: str | None = None,
    status: str = "active",
    created_at: datetime | None = None,
    **fields: Any,
) -> Subject:
    """An enterprise; ``fields`` sets any other column (size_class, industry_code…)."""
    n = next(_serial)
    made = Subject(
        uscc=uscc or new_uscc(division_code, serial=n),
        name=name or f"测试企业{n}",
        entity_type="91",
        division_code=division_code,
        city_code=city_code or division_code[:4] + "00",
        status=status,
        created_at=created_at or utc_now(),
        **fields,
    )
    session.add(made)
    session.flush()
    return made


def provider(
    session: Session,
    *,
    code: str | None = None,
    name: str | None = None,
    kind: str = "department",
    division_code: str = "340000",
    datasets: Iterable[str] = (),
    created_at: datetime | None = None,
    **fields: Any,
) -> Provider:
    """A data provider owing ``datasets``; ``fields`` sets the contact columns."""
    n = next(_serial)
    made = Provider(
        code=code or f"prov-{n}",
        name=name or f"测试部门{n}",
        kind=kind,
        division_code=division_code,
        created_at=created_at or utc_now(),
        **fields,
    )
    session.add(made)
    session.flush()
    for dataset in datasets:
        session.add(ProviderDataset(provider_id=made.id, dataset_code=dataset))
    session.flush()
    return made


def batch(
    session: Session,
    of: Provider,
    *,
    dataset: str = "tax_payment",
    key: str | None = None,
    channel: str = "file",
    status: str = "applied",
    received_at: datetime | None = None,
    **fields: Any,
) -> Batch:
    """A delivery of ``of`` already applied, for records to hang on."""
    made = Batch(
        provider_id=of.id,
        batch_key=key or f"b-{next(_serial)}",
        dataset_code=dataset,
        channel=channel,
        status=status,
        received_at=received_at or utc_now(),
        content_digest="0" * 64,
        **fields,
    )
    session.add(made)
    session.flush()
    return made


RECEIVED_AT = datetime(2025, 12, 1, tzinfo=UTC)


def record(
    session: Session,
    of: Subject,
    dataset: str,
    data: dict[str, Any],
    *,
    batch: Batch,
    key: str,
    event_date: date | None = None,
    version: int = 1,
    status: str = "current",
    received_at: datetime = RECEIVED_AT,
    source_row: int = 1,
) -> Record:
    """A record of ``of`` stored as ingest stores it; ``data`` gets the subject's uscc unless it
    names one. ``key`` is the natural key as stored."""
    spec = bundled_catalog().dataset(dataset)
    plain = {"uscc": of.uscc, **data}
    made = Record(
        subject_id=of.id,
        dataset_code=dataset,
        natural_key=key,
        version=version,
        status=status,
        event_date=event_date,
        data=protect_record(spec, plain),
        digest=record_digest(spec, plain),
        provider_id=batch.provider_id,
        batch_id=batch.id,
        source_row=source_row,
        received_at=received_at,
    )
    session.add(made)
    session.flush()
    return made


# --- marketplace -----------------------------------------------------------------------------


def product(
    session: Session,
    of: Institution,
    *,
    code: str,
    publish: bool = True,
    by: Actor | None = None,
    **overrides: Any,
) -> Product:
    """A product ``of`` submitted (by ``by``, an officer of ``of``) and, unless ``publish`` is
    false, approved by the operator.
    ``overrides`` are fields of :class:`~creditbridge.marketplace.service.ProductInput`."""
    values: dict[str, Any] = {
        "code": code,
        "name": f"{of.name}{code}",
        "product_type": "inclusive_credit",
        "security_type": "credit",
        "min_amount_fen": 10 * WAN_FEN,
        "max_amount_fen": 300 * WAN_FEN,
        "min_rate_bp": 380,
        "max_rate_bp": 520,
        "min_term_months": 6,
        "max_term_months": 12,
        "consent_categories": ["tax"],
    }
    values.update(overrides)
    submitter = by or officer(of, id=0, name=f"{of.name}产品经理")
    made = market_service.submit_product(session, submitter, market_service.ProductInput(**values))
    if publish:
        market_service.review_product(session, CONSOLE, product_id=made.id, approve=True)
    return made
