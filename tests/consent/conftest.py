"""A small world for consent tests: the bundled list, two banks, two enterprises with records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

import factories
from creditbridge.access.models import Institution
from creditbridge.catalog import service as catalog_service
from creditbridge.consent import service
from creditbridge.consent.models import ConsentGrant
from creditbridge.core.actors import Actor
from creditbridge.core.clock import FrozenClock
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


@pytest.fixture
def world(session: Session, frozen_clock: FrozenClock) -> World:
    catalog_service.ensure_default_catalog(session)
    bank = factories.institution(session, code="bank-a", name="徽商银行")
    other = factories.institution(session, code="bank-b", name="合肥科技农商行")
    provider = factories.provider(session, code="tax", name="税务局")
    subject, other_subject = (
        factories.subject(
            session, uscc=uscc, name=name, division_code="340102", legal_representative="王五"
        )
        for uscc, name in (
            ("91340100MA2N0001XA", "合肥样例科技有限公司"),
            ("91340100MA2N0002XB", "芜湖样例制造有限公司"),
        )
    )
    batch = factories.batch(session, provider, dataset="tax_payment", key="b1")
    uscc = subject.uscc

    def record(
        of: Subject, dataset: str, key: str, data: dict[str, Any], event_date: date
    ) -> Record:
        return factories.record(
            session, of, dataset, data, batch=batch, key=key, event_date=event_date
        )

    records = {
        "registration": record(
            subject,
            "registration",
            uscc,
            {
                "name": subject.name,
                "legal_representative": "王五",
                "registration_date": "2015-03-01",
            },
            date(2015, 3, 1),
        ),
        "tax_2025_06": record(
            subject,
            "tax_payment",
            f"{uscc}|2025-06",
            {"period": "2025-06", "total_tax_paid": "12345.60"},
            date(2025, 6, 30),
        ),
        "tax_2023_01": record(
            subject,
            "tax_payment",
            f"{uscc}|2023-01",
            {"period": "2023-01", "total_tax_paid": "100.00"},
            date(2023, 1, 31),
        ),
        "identity": record(
            subject,
            "legal_rep_identity",
            f"{uscc}|id",
            {"person_name": "王五", "id_number": "340102198001011234", "mobile": "13800138000"},
            date(2020, 1, 1),
        ),
        "other_tax": record(
            other_subject,
            "tax_payment",
            f"{other_subject.uscc}|2025-06",
            {"period": "2025-06", "total_tax_paid": "1.00"},
            date(2025, 6, 30),
        ),
    }
    return World(
        bank=bank,
        other_bank=other,
        subject=subject,
        other_subject=other_subject,
        officer=factories.officer(bank, id=101, ip="10.1.1.1"),
        other_officer=factories.officer(other, id=102, ip="10.1.1.1"),
        owner=factories.owner(subject, id=201),
        other_owner=factories.owner(other_subject, id=202),
        operator=factories.operator(),
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
