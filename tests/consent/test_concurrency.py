"""Concurrent reads under one consent, each in its own committed transaction (PostgreSQL, in a
schema of its own): the maximum number of uses is never exceeded, every read — granted or
refused — is audited, and the audit chain stays one unbroken line."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

import factories
from creditbridge import migrations
from creditbridge.audit import service as audit_service
from creditbridge.audit.models import AuditEvent
from creditbridge.catalog import service as catalog_service
from creditbridge.consent import service
from creditbridge.consent.errors import ConsentRefused
from creditbridge.consent.models import AccessLogEntry, ConsentGrant
from creditbridge.core.actors import Actor
from creditbridge.core.db import make_engine

PG_URL = os.environ.get("CREDITBRIDGE_TEST_DATABASE_URL", "").strip()
SCHEMA = "cb_consent_concurrency"
MAX_USES = 3
READERS = 8


pytestmark = pytest.mark.postgres_only


@pytest.fixture
def committed() -> Iterator[Engine]:
    admin = make_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={SCHEMA}"})
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        migrations.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        admin.dispose()


def _seed(factory: sessionmaker[Session]) -> tuple[Actor, int, int]:
    now = datetime.now(UTC)
    with factory() as session, session.begin():
        catalog_service.ensure_default_catalog(session)
        bank = factories.institution(session, code="bank", name="银行")
        provider = factories.provider(session, code="tax", name="税务")
        subject = factories.subject(session, uscc="91340100MA2N0001XA", name="样例")
        factories.record(
            session,
            subject,
            "tax_payment",
            {"period": "2025-06", "total_tax_paid": "100.00"},
            batch=factories.batch(session, provider, dataset="tax_payment", key="b"),
            key="2025-06",
            event_date=date(2025, 6, 30),
            received_at=now,
        )
        officer = factories.officer(bank, id=1, name="客户经理")
        owner = factories.owner(subject, id=2, name="企业")
        grant = service.request_consent(
            session, officer, uscc=subject.uscc, purpose="loan_application", categories=["tax"],
            valid_until=now + timedelta(days=30), max_uses=MAX_USES,
        )  # fmt: skip
        service.approve(session, owner, consent_id=grant.id)
        return officer, subject.id, grant.id


def test_concurrent_reads_never_exceed_the_maximum_and_are_all_audited(
    committed: Engine,
) -> None:
    factory = sessionmaker(bind=committed, expire_on_commit=False)
    officer, subject_id, consent_id = _seed(factory)
    start = threading.Barrier(READERS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def read() -> None:
        start.wait()
        with factory() as session:
            try:
                service.read_records(
                    session, officer, subject_id=subject_id, purpose="loan_application",
                    categories=["tax"], consent_id=consent_id,
                )  # fmt: skip
                outcome = "read"
            except ConsentRefused as refusal:
                outcome = refusal.reason.value
            session.commit()  # a refusal stays on record, as the web entry points do
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=read) for _ in range(READERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["read"] * MAX_USES + ["uses_exhausted"] * (READERS - MAX_USES)
    with factory() as session:
        grant = session.get(ConsentGrant, consent_id)
        assert grant is not None
        assert grant.uses == MAX_USES
        assert session.scalar(select(func.count()).select_from(AccessLogEntry)) == MAX_USES
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.sequence)).all()
        assert actions.count("data.read") == MAX_USES
        assert actions.count("data.read_refused") == READERS - MAX_USES
        report = audit_service.verify(session)
        assert report.ok, report.message()
        assert report.checked == len(actions)
