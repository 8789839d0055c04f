"""A small world for consent tests: the bundled list, two banks, two enterprises with records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from creditbridge.access.models import Institution
from creditbridge.catalog import service as catalog_service
from creditbridge.consent import service
from creditbridge.consent.models import ConsentGrant
from creditbridge.core.actors import Actor, ActorKind, Role
from creditbridge.core.clock import FrozenClock
from creditbridge.ingest.models import Batch, Provider
from creditbridge.protection.service import protect_record, record_digest
from creditbridge.subjects.models import Record, Subject


@dataclass
class World:
    bank: Institution
    other_bank: Institution
    subject: Subject
    other_subject: Subject
    officer: Actor
    other_officer: Actor
    owner: Actor
    other_owner: Actor
    operator: Actor
    records: dict[str, Record]


def _record(
    session: Session,
    subject: Subject,
    dataset: str,
    key: str,
    data: dict[str, Any],
    event_date: date | None,
    batch: Batch,
) -> Record:
    spec = catalog_service.get_dataset_or_raise(session, code=dataset)
    row = Record(
        subject_id=subject.id,
        dataset_code=dataset,
        natural_key=key,
        version=1,
        status="current",
        event_date=event_date,
        data=protect_record(spec, data),
        digest=record_digest(spec, data),
        provider_id=batch.provider_id,
        batch_id=batch.id,
        source_row=1,
        received_at=datetime(2025, 12, 1, tzinfo=UTC),
    )
    session.add(row)
    return row


@pytest.fixture
def world(session: Session, frozen_clock: FrozenClock) -> World:
    catalog_service.ensure_default_catalog(session)
    now = frozen_clock.now()
    bank = Institution(
        code="bank-a",
        name="徽商银行",
        kind="bank",
        division_code="340100",
        status="approved",
        created_at=now,
    )
    other = Institution(
        code="bank-b",
        name="合肥科技农商行",
        kind="bank",
        division_code="340100",
        status="approved",
        created_at=now,
    )
    provider = Provider(
        code="tax", name="税务局", kind="department", division_code="340000", created_at=now
    )
    session.add_all([bank, other, provider])
    subjects = [
        Subject(
            uscc=uscc,
            name=name,
            entity_type="91",
            division_code="340102",
            city_code="340100",
            status="active",
            legal_representative="王五",
            created_at=now,
        )
        for uscc, name in (
            ("91340100MA2N0001XA", "合肥样例科技有限公司"),
            ("91340100MA2N0002XB", "芜湖样例制造有限公司"),
        )
    ]
    session.add_all(subjects)
    session.flush()
    batch = Batch(
        provider_id=provider.id,
        batch_key="b1",
        dataset_code="tax_payment",
        channel="file",
        status="applied",
        received_at=now,
        content_digest="0" * 64,
    )
    session.add(batch)
    session.flush()
    subject = subjects[0]
    records = {
        "registration": _record(
            session,
            subject,
            "registration",
            subject.uscc,
            {
                "uscc": subject.uscc,
                "name": subject.name,
                "legal_representative": "王五",
                "registration_date": "2015-03-01",
            },
            date(2015, 3, 1),
            batch,
        ),
        "tax_2025_06": _record(
            session,
            subject,
            "tax_payment",
            f"{subject.uscc}|2025-06",
            {"uscc": subject.uscc, "period": "2025-06", "total_tax_paid": "12345.60"},
            date(2025, 6, 30),
            batch,
        ),
        "tax_2023_01": _record(
            session,
            subject,
            "tax_payment",
            f"{subject.uscc}|2023-01",
            {"uscc": subject.uscc, "period": "2023-01", "total_tax_paid": "100.00"},
            date(2023, 1, 31),
            batch,
        ),
        "identity": _record(
            session,
            subject,
            "legal_rep_identity",
            f"{subject.uscc}|id",
            {
                "uscc": subject.uscc,
                "person_name": "王五",
                "id_number": "340102198001011234",
                "mobile": "13800138000",
            },
            date(2020, 1, 1),
            batch,
        ),
        "other_tax": _record(
            session,
            subjects[1],
            "tax_payment",
            f"{subjects[1].uscc}|2025-06",
            {"uscc": subjects[1].uscc, "period": "2025-06", "total_tax_paid": "1.00"},
            date(2025, 6, 30),
            batch,
        ),
    }
    session.flush()

    def officer(institution: Institution, user_id: int) -> Actor:
        return Actor(
            kind=ActorKind.USER,
            id=user_id,
            name=f"{institution.name}客户经理",
            role=Role.INSTITUTION_OFFICER,
            institution_id=institution.id,
            ip="10.1.1.1",
        )

    def owner(subj: Subject, user_id: int) -> Actor:
        return Actor(
            kind=ActorKind.USER,
            id=user_id,
            name=f"{subj.name}用户",
            role=Role.ENTERPRISE_USER,
            subject_id=subj.id,
        )

    return World(
        bank=bank,
        other_bank=other,
        subject=subject,
        other_subject=subjects[1],
        officer=officer(bank, 101),
        other_officer=officer(other, 102),
        owner=owner(subject, 201),
        other_owner=owner(subjects[1], 202),
        operator=Actor(kind=ActorKind.USER, id=301, name="运营", role=Role.OPERATOR),
        records=records,
    )


def request(world: World, session: Session, **overrides: Any) -> ConsentGrant:
    now = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
    args: dict[str, Any] = {
        "uscc": world.subject.uscc,
        "purpose": "loan_application",
        "categories": ["tax"],
        "valid_until": now + timedelta(days=90),
        "max_uses": 3,
        "data_from": date(2024, 1, 1),
        "data_to": date(2025, 12, 31),
    }
    args.update(overrides)
    actor = args.pop("actor", world.officer)
    return service.request_consent(session, actor, **args)


def active(world: World, session: Session, **overrides: Any) -> ConsentGrant:
    grant = request(world, session, **overrides)
    return service.approve(session, world.owner, consent_id=grant.id)
