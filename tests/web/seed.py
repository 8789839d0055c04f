"""A small, fully known sample of a province, made with the test factories, for page tests.

Every figure a page shows can be computed back from :class:`Sample`, so a test can assert that
the page shows the database's numbers rather than numbers that merely look right.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session

import factories
from creditbridge.catalog import service as catalog_service
from creditbridge.ingest.models import Batch, Provider
from creditbridge.marketplace.models import Loan
from creditbridge.reference import divisions
from creditbridge.subjects.models import Subject

SIZES = ("micro", "micro", "small", "micro", "medium", "small", "large", None)
BASE_TIME = datetime(2026, 11, 20, 1, 30, tzinfo=UTC)

PROVIDERS = (
    ("amr", "安徽省市场监督管理局", "registration", "api"),
    ("tax", "国家税务总局安徽省税务局", "tax_payment", "file"),
    ("power", "国网安徽省电力有限公司", "utility_power", "pull"),
)


@dataclass
class Sample:
    subjects: int = 0
    records_by_dataset: dict[str, int] = field(default_factory=dict)
    rows_accepted_by_dataset: dict[str, int] = field(default_factory=dict)
    subjects_by_city: dict[str, int] = field(default_factory=dict)
    subjects_by_size: dict[str | None, int] = field(default_factory=dict)
    providers: int = 0
    batches: list[Batch] = field(default_factory=list)
    institutions: int = 0
    products: int = 0
    loans: int = 0

    @property
    def records(self) -> int:
        return sum(self.records_by_dataset.values())

    @property
    def rows_accepted(self) -> int:
        return sum(self.rows_accepted_by_dataset.values())


def seed_sample(session: Session, *, enterprises: int = 48) -> Sample:
    """Insert ``enterprises`` subjects over Anhui's cities (some cities on purpose left empty),
    a registration record each, tax and electricity records for some, three providers with
    batches, two institutions, three products and a few loans."""
    catalog_service.ensure_default_catalog(session)
    sample = Sample()
    now = BASE_TIME

    providers = [
        factories.provider(
            session,
            code=code,
            name=name,
            kind="department" if index < 2 else "utility",
            created_at=now - timedelta(days=30),
        )
        for index, (code, name, _, _) in enumerate(PROVIDERS)
    ]
    sample.providers = len(providers)

    batches: dict[str, Batch] = {}
    for index, (provider, (_, _, dataset, channel)) in enumerate(
        zip(providers, PROVIDERS, strict=True)
    ):
        batches[dataset] = factories.batch(
            session,
            provider,
            dataset=dataset,
            key=f"{dataset}-2026-11",
            channel=channel,
            received_at=now + timedelta(hours=index),
            rows_total=0,
            rows_accepted=0,
            rows_rejected=index,
        )
    refused = factories.batch(
        session,
        providers[1],
        dataset="tax_payment",
        key="tax-bad",
        status="refused",
        received_at=now + timedelta(hours=5),
        rows_total=7,
        rows_accepted=0,
        rows_rejected=7,
    )

    # Leave the last four cities empty so the dashboard must still show them, with zero.
    cities = [c.code for c in divisions.cities("340000")][:12]
    subjects = []
    for n in range(enterprises):
        city = cities[(n * 7) % len(cities)] if n % 3 else cities[0]
        size = SIZES[n % len(SIZES)]
        subject = factories.subject(
            session,
            uscc=f"91340{n:013d}",
            name=f"安徽样例{n:03d}有限公司",
            division_code=city[:4] + "02",
            city_code=city,
            industry_code="C13",
            industry_section="C",
            size_class=size,
            registration_date=date(2015, 1, 1) + timedelta(days=n * 40),
            registered_capital_fen=1_000_000 * (n + 1),
            legal_representative="张三",
            created_at=now - timedelta(days=10),
        )
        subjects.append(subject)
        sample.subjects_by_city[city] = sample.subjects_by_city.get(city, 0) + 1
        sample.subjects_by_size[size] = sample.subjects_by_size.get(size, 0) + 1
    sample.subjects = len(subjects)

    def record(
        subject: Subject,
        dataset: str,
        key: str,
        provider: Provider,
        row: int,
        status: str = "current",
        version: int = 1,
    ) -> None:
        batch = batches[dataset]
        assert batch.provider_id == provider.id
        factories.record(
            session,
            subject,
            dataset,
            {},
            batch=batch,
            key=key,
            event_date=date(2026, 10, 1),
            version=version,
            status=status,
            received_at=batch.received_at,
            source_row=row,
        )
        batch.rows_total += 1
        batch.rows_accepted += 1
        sample.rows_accepted_by_dataset[dataset] = (
            sample.rows_accepted_by_dataset.get(dataset, 0) + 1
        )
        if status == "current":
            sample.records_by_dataset[dataset] = sample.records_by_dataset.get(dataset, 0) + 1

    for n, subject in enumerate(subjects):
        record(subject, "registration", subject.uscc, providers[0], n + 1)
        if n % 2 == 0:
            # An older, superseded version: held as history, not counted as a current record.
            record(
                subject,
                "tax_payment",
                f"{subject.uscc}|2026-09",
                providers[1],
                n + 1,
                status="superseded",
            )
            record(
                subject, "tax_payment", f"{subject.uscc}|2026-09", providers[1], n + 1, version=2
            )
        if n % 5 == 0:
            record(subject, "utility_power", f"{subject.uscc}|2026-10", providers[2], n + 1)
    session.flush()
    sample.batches = [*batches.values(), refused]

    bank = factories.institution(session, code="bank-a", name="徽商银行")
    factories.institution(session, code="guar-a", name="安徽省信用融资担保集团", kind="guarantor")
    sample.institutions = 2
    products = [
        factories.product(
            session,
            bank,
            code=f"p{n}",
            name=f"税融通{n}",
            product_type="tax_finance",
            min_amount_fen=10_000_000,
            max_amount_fen=300_000_000,
            min_rate_bp=300,
            max_rate_bp=450,
            max_term_months=36,
        )
        for n in range(3)
    ]
    sample.products = len(products)
    for n in range(5):
        session.add(
            Loan(
                subject_id=subjects[n].id,
                institution_id=bank.id,
                product_id=products[n % 3].id,
                amount_fen=50_000_000,
                credit_line_fen=100_000_000,
                rate_bp=380,
                term_months=12,
                security_type="credit",
                disbursement_date=date(2026, 6, 1),
                maturity_date=date(2027, 6, 1),
                status="current",
                via_platform=True,
                created_at=now,
            )
        )
    session.flush()
    sample.loans = 5
    return sample
