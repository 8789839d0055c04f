"""A small province with known collection figures for 2026-09, shared by the metric, analytics
and page tests.

Hefei (340100): subjects H1–H4 active, H5 deregistered. Wuhu (340200): W1, W2 active.

- tax (province-wide, owes tax_payment, periodic, coverage = all active subjects): the 2026-09
  batch arrives on 2026-10-12 (on time: deadline 2026-11-03) with H1, H2, H3 (H2's vat_paid is
  blank: incomplete) and W1. A batch arriving 2026-12-01, after the as-of date, adds H4: ignored.
- Hefei water company (owes utility_water, periodic, coverage = its panel): August data for H1 and
  H2; for September a refused batch on 2026-10-10, then a late one on 2026-11-10 (deadline
  2026-10-27) with H1 only.
- samr (province-wide, penalty, an event dataset): one on-time penalty about W1.
- hrss (province-wide, owes social_insurance): never delivers: overdue in both cities.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

import factories
from creditbridge.catalog import service as catalog_service
from creditbridge.ingest.models import Batch
from creditbridge.subjects.models import Record

MONTH = "2026-09"
AS_OF = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
TAX_DEADLINE = date(2026, 11, 3)
WATER_DEADLINE = date(2026, 10, 27)

USCC = {
    "H1": "91340100MA0000001A", "H2": "91340100MA0000002A", "H3": "91340100MA0000003A",
    "H4": "91340100MA0000004A", "H5": "91340100MA0000005A", "W1": "91340200MA0000001A",
    "W2": "91340200MA0000002A",
}  # fmt: skip


@dataclass
class Province:
    subjects: dict[str, int]
    providers: dict[str, int]
    batches: dict[str, int]


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=2, tzinfo=UTC)


def build_province(session: Session) -> Province:
    catalog_service.ensure_default_catalog(session)
    subjects: dict[str, int] = {}
    for key, code in USCC.items():
        city = "340100" if key.startswith("H") else "340200"
        subject = factories.subject(
            session, uscc=code, name=f"测试企业{key}", division_code=city[:4] + "02",
            registration_date=date(2020, 1, 1), created_at=_at("2020-01-01"),
            status="deregistered" if key == "H5" else "active",
        )  # fmt: skip
        subjects[key] = subject.id
    providers: dict[str, int] = {}
    for key, division, owes in [
        ("tax", "340000", "tax_payment"),
        ("water", "340100", "utility_water"),
        ("samr", "340000", "penalty"),
        ("hrss", "340000", "social_insurance"),
    ]:
        provider = factories.provider(
            session, code=f"t-{key}", name=f"测试{key}", division_code=division, datasets=[owes],
            created_at=_at("2020-01-01"),
        )  # fmt: skip
        providers[key] = provider.id

    batches: dict[str, int] = {}
    rows = 0

    def deliver(
        name: str,
        provider: str,
        dataset: str,
        received: str,
        records: list[tuple[str, date, dict[str, Any]]],
        *,
        status: str = "applied",
    ) -> None:
        nonlocal rows
        at = _at(received)
        batch = Batch(
            provider_id=providers[provider], batch_key=name, dataset_code=dataset, channel="file",
            status=status, received_at=at, rows_total=len(records) or 10,
            rows_accepted=len(records), rows_rejected=0 if records else 10, content_digest="0" * 64,
        )  # fmt: skip
        session.add(batch)
        session.flush()
        batches[name] = batch.id
        for i, (subject, event, data) in enumerate(records, start=1):
            rows += 1
            session.add(
                Record(
                    subject_id=subjects[subject],
                    dataset_code=dataset,
                    natural_key=f"{name}-{i}",
                    version=1,
                    status="current",
                    event_date=event,
                    data=data,
                    digest=f"{rows:064d}",
                    provider_id=providers[provider],
                    batch_id=batch.id,
                    source_row=i,
                    received_at=at,
                )
            )
        session.flush()

    def tax(subject: str, *, vat: str = "10") -> tuple[str, date, dict[str, Any]]:
        return subject, date(2026, 9, 1), {
            "uscc": USCC[subject], "period": "2026-09", "declared": True,
            "taxable_revenue": "100", "vat_paid": vat, "income_tax_paid": "1",
            "total_tax_paid": "11",
        }  # fmt: skip

    def water(subject: str, month: int) -> tuple[str, date, dict[str, Any]]:
        return subject, date(2026, month, 1), {
            "uscc": USCC[subject], "period": f"2026-{month:02d}", "consumption": "5",
            "amount_billed": "20", "amount_paid": "20", "payment_on_time": True,
        }  # fmt: skip

    deliver("tax-09", "tax", "tax_payment", "2026-10-12",
            [tax("H1"), tax("H2", vat=""), tax("H3"), tax("W1")])  # fmt: skip
    deliver("tax-09-late", "tax", "tax_payment", "2026-12-01", [tax("H4")])
    deliver("water-08", "water", "utility_water", "2026-09-05", [water("H1", 8), water("H2", 8)])
    deliver("water-09-refused", "water", "utility_water", "2026-10-10", [], status="refused")
    deliver("water-09", "water", "utility_water", "2026-11-10", [water("H1", 9)])
    penalty = {
        "uscc": USCC["W1"], "decision_no": "芜市监罚〔2026〕1号", "decision_date": "2026-09-15",
        "violation_type": "广告", "legal_basis": "广告法", "penalty_type": "罚款",
        "severity": "general", "authority": "芜湖市市场监督管理局",
    }  # fmt: skip
    deliver("samr-09", "samr", "penalty", "2026-10-09", [("W1", date(2026, 9, 15), penalty)])
    return Province(subjects, providers, batches)
