"""Reads over providers and batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

import factories
from creditbridge.ingest import service
from creditbridge.ingest.models import Batch, Provider

NOW = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def add_provider(session: Session, code: str, name: str) -> Provider:
    return factories.provider(session, code=code, name=name, created_at=NOW)


def add_batch(
    session: Session,
    provider: Provider,
    key: str,
    *,
    at: datetime,
    rejected: int = 0,
    dataset: str = "tax_payment",
) -> Batch:
    return factories.batch(
        session,
        provider,
        dataset=dataset,
        key=key,
        channel="api",
        received_at=at,
        rows_total=10,
        rows_accepted=10 - rejected,
        rows_rejected=rejected,
    )


def test_counts(session: Session) -> None:
    assert service.count_providers(session) == 0
    assert service.count_batches(session) == 0
    tax = add_provider(session, "tax", "税务局")
    add_provider(session, "amr", "市场监管局")
    add_batch(session, tax, "1", at=NOW)

    assert service.count_providers(session) == 2
    assert service.count_batches(session) == 1


def test_accepted_rows_over_applied_batches_only(session: Session) -> None:
    assert service.count_accepted_rows(session) == 0
    assert service.count_accepted_rows_by_dataset(session) == []
    tax = add_provider(session, "tax", "税务局")
    add_batch(session, tax, "1", at=NOW, rejected=2)
    add_batch(session, tax, "2", at=NOW)
    add_batch(session, tax, "3", at=NOW, dataset="penalty")
    refused = add_batch(session, tax, "4", at=NOW, dataset="penalty")
    refused.status = "refused"
    session.flush()

    assert service.count_accepted_rows(session) == 28
    assert service.count_accepted_rows_by_dataset(session) == [
        ("tax_payment", 18),
        ("penalty", 10),
    ]


def test_latest_batches_newest_first_with_provider_names(session: Session) -> None:
    tax = add_provider(session, "tax", "税务局")
    power = add_provider(session, "power", "电力公司")
    add_batch(session, tax, "old", at=NOW - timedelta(days=2))
    newest = add_batch(session, power, "new", at=NOW, rejected=3)
    # Same instant as the newest: the later id comes first.
    tie = add_batch(session, tax, "tie", at=NOW)

    batches = service.list_latest_batches(session, limit=2)

    assert [b.id for b in batches] == [tie.id, newest.id]
    assert batches[1].provider_name == "电力公司"
    assert batches[1].provider_code == "power"
    assert (batches[1].rows_accepted, batches[1].rows_rejected) == (7, 3)
    assert batches[1].received_at == NOW
    assert len(service.list_latest_batches(session)) == 3
