"""Counts over subjects and records, as SQL aggregates on a real database."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy.orm import Session

import factories
from creditbridge.ingest.models import Batch
from creditbridge.subjects import service
from creditbridge.subjects.models import Record, Subject

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def add_subject(session: Session, *, city: str = "340100", size: str | None = "micro") -> Subject:
    return factories.subject(
        session, division_code=city[:4] + "02", city_code=city, size_class=size, created_at=NOW
    )


@pytest.fixture
def batch(session: Session) -> Batch:
    provider = factories.provider(session, code="p", name="提供单位", created_at=NOW)
    return factories.batch(session, provider, dataset="tax_payment", key="b", received_at=NOW)


def add_record(
    session: Session,
    batch: Batch,
    subject: Subject,
    dataset: str,
    *,
    key: str,
    version: int = 1,
    status: str = "current",
) -> None:
    session.add(
        Record(
            subject_id=subject.id,
            dataset_code=dataset,
            natural_key=key,
            version=version,
            status=status,
            event_date=date(2026, 10, 1),
            data={},
            digest="0" * 64,
            provider_id=batch.provider_id,
            batch_id=batch.id,
            source_row=1,
            received_at=NOW,
        )
    )
    session.flush()


def test_counts_on_an_empty_database(session: Session) -> None:
    assert service.count_subjects(session) == 0
    assert service.count_subjects_by_city(session) == []
    assert service.count_by_size_class(session) == []
    assert service.count_records(session) == 0
    assert service.count_records_by_dataset(session) == []


def test_subjects_by_city_most_first_ties_by_code(session: Session) -> None:
    for city in ("340200", "340100", "340100", "340300", "340100", "340300"):
        add_subject(session, city=city)

    assert service.count_subjects(session) == 6
    assert service.count_subjects_by_city(session) == [
        ("340100", 3),
        ("340300", 2),
        ("340200", 1),
    ]
    assert service.count_subjects_by_city(session)[0].city_code == "340100"


def test_size_classes_include_the_unclassified(session: Session) -> None:
    for size in ("micro", "micro", "small", None):
        add_subject(session, size=size)

    counts = dict(service.count_by_size_class(session))

    assert counts == {"micro": 2, "small": 1, None: 1}


def test_only_current_record_versions_count(session: Session, batch: Batch) -> None:
    first, second = add_subject(session), add_subject(session)
    add_record(session, batch, first, "tax_payment", key="a", version=1, status="superseded")
    add_record(session, batch, first, "tax_payment", key="a", version=2)
    add_record(session, batch, second, "tax_payment", key="b")
    add_record(session, batch, second, "penalty", key="c", status="withdrawn")
    add_record(session, batch, second, "registration", key="d")

    assert service.count_records(session) == 3
    assert service.count_records_by_dataset(session) == [("tax_payment", 2), ("registration", 1)]
