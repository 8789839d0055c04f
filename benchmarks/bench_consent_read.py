"""What the consent check and the audit write add to an authorized read.

Claim (issue 4): ≤ 5 ms at the median. Measured in the same run against the same read without them,
each read in its own committed transaction, on SQLite and — when CREDITBRIDGE_BENCH_DATABASE_URL is
set — PostgreSQL. "The same read without them" = the subject lookup, the catalog datasets, the
records query, decryption and masking. "Them" = the throttle check, the consent lookup and its
use count, the audit event (chain head lock + insert + head update), the access-log row, the abuse
tally upsert, and the cost of committing a write transaction instead of a read-only one.

    .venv/bin/python benchmarks/bench_consent_read.py [--reads 300]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from creditbridge import migrations
from creditbridge.access.models import Institution
from creditbridge.catalog import service as catalog_service
from creditbridge.consent import service
from creditbridge.consent.service.reads import _views
from creditbridge.core.actors import Actor, ActorKind, Role
from creditbridge.core.crypto import content_digest
from creditbridge.core.db import make_engine
from creditbridge.ingest.models import Batch, Provider
from creditbridge.protection.service import protect_record
from creditbridge.subjects import service as subjects_service
from creditbridge.subjects.models import Record, Subject


def seed(factory: sessionmaker[Session]) -> tuple[Actor, int, int]:
    now = datetime.now(UTC)
    with factory() as session, session.begin():
        catalog_service.ensure_default_catalog(session)
        bank = Institution(
            code="bank",
            name="银行",
            kind="bank",
            division_code="340100",
            status="approved",
            created_at=now,
        )
        provider = Provider(
            code="tax", name="税务", kind="department", division_code="340000", created_at=now
        )
        subject = Subject(
            uscc="91340100MA2N0001XA",
            name="样例",
            entity_type="91",
            division_code="340102",
            city_code="340100",
            created_at=now,
        )
        session.add_all([bank, provider, subject])
        session.flush()
        batch = Batch(
            provider_id=provider.id,
            batch_key="b",
            dataset_code="tax_payment",
            channel="file",
            status="applied",
            received_at=now,
            content_digest="0" * 64,
        )
        session.add(batch)
        session.flush()
        spec = catalog_service.get_dataset_or_raise(session, code="tax_payment")
        for month in range(1, 25):
            period = f"{2024 + (month - 1) // 12}-{(month - 1) % 12 + 1:02d}"
            data = {"uscc": subject.uscc, "period": period, "total_tax_paid": f"{month * 1000}.00"}
            session.add(
                Record(
                    subject_id=subject.id,
                    dataset_code="tax_payment",
                    natural_key=period,
                    version=1,
                    status="current",
                    event_date=date.fromisoformat(period + "-28"),
                    data=protect_record(spec, data),
                    digest=content_digest(data),
                    provider_id=provider.id,
                    batch_id=batch.id,
                    source_row=month,
                    received_at=now,
                )
            )
        officer = Actor(
            kind=ActorKind.USER,
            id=1,
            name="客户经理",
            role=Role.INSTITUTION_OFFICER,
            institution_id=bank.id,
        )
        owner = Actor(
            kind=ActorKind.USER, id=2, name="企业", role=Role.ENTERPRISE_USER, subject_id=subject.id
        )
        grant = service.request_consent(
            session,
            officer,
            uscc=subject.uscc,
            purpose="loan_application",
            categories=["tax"],
            valid_until=now + timedelta(days=300),
            max_uses=1000,
        )
        service.approve(session, owner, consent_id=grant.id)
        return officer, subject.id, grant.id


def timed(factory: sessionmaker[Session], fn, reads: int) -> list[float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(reads):
        started = time.perf_counter()
        with factory() as session, session.begin():
            fn(session)
        samples.append(time.perf_counter() - started)
    return samples


def run(label: str, engine: Engine, reads: int) -> None:
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    officer, subject_id, consent_id = seed(factory)

    def full(session: Session) -> None:
        result = service.read_records(
            session,
            officer,
            subject_id=subject_id,
            purpose="loan_application",
            categories=["tax"],
            consent_id=consent_id,
        )
        assert len(result.records) == 24

    def bare(session: Session) -> None:
        assert session.get(Subject, subject_id) is not None
        datasets = [
            d
            for d in catalog_service.list_datasets(session)
            if d.category == "tax" and d.disclosure_class != "verification_only"
        ]
        records = subjects_service.list_current_records(
            session,
            subject_id=subject_id,
            public_datasets=[d.code for d in datasets if d.disclosure_class == "public"],
            restricted_datasets=[d.code for d in datasets if d.disclosure_class != "public"],
        )
        views = _views(datasets, records, None)
        assert len(views) == 24

    timed(factory, full, 20)  # warm-up
    timed(factory, bare, 20)
    full_runs, bare_runs = [], []
    for _ in range(3):  # interleaved, so drift in machine load hits both alike
        bare_runs += timed(factory, bare, reads // 3)
        full_runs += timed(factory, full, reads // 3)
    full_ms = statistics.median(full_runs) * 1000
    bare_ms = statistics.median(bare_runs) * 1000
    print(
        f"{label}: authorized read (consent check + use + audit + access log) median {full_ms:.2f} ms"
    )
    print(
        f"{label}: same read without them                                   median {bare_ms:.2f} ms"
    )
    loads = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{label}: load average {loads}; {len(full_runs)} reads each")
    print(
        f"RESULT consent_read_overhead_ms={full_ms - bare_ms:.2f} store={label} with_ms={full_ms:.2f} baseline_ms={bare_ms:.2f} ratio={full_ms / bare_ms:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reads", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        migrations.upgrade(engine)
        run("sqlite", engine, args.reads)
        engine.dispose()
    pg_url = os.environ.get("CREDITBRIDGE_BENCH_DATABASE_URL", "").strip()
    if pg_url:
        engine = make_engine(pg_url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        migrations.upgrade(engine)
        run("postgresql", engine, args.reads)
        engine.dispose()


if __name__ == "__main__":
    main()
