"""Collection metrics (归集率): their definitions, the job that computes a month of them from the
analytics path, and the reads the dashboard, the CLI and the Excel export use.

Definitions (docs/collection-metrics.md explains them in full):

- **Timeliness** (及时率): for each delivery owed, was an applied batch of that month's data in by
  the deadline — the end of the data's period plus a window of working days (the dataset's
  ``sla_days`` for monthly, quarterly and yearly data; :data:`FREQUENCY_WINDOW_DAYS` otherwise).
  *Periodic* datasets (:data:`PERIODIC_DATASETS`) owe a delivery every month; for *event*
  datasets only the deliveries made are judged, and silence is caught by freshness.
- **Coverage** (覆盖率): subjects with a record ÷ subjects expected to have one, per
  :data:`COVERAGE_RULES`; N/A for datasets not listed there (events: penalties, judgments…).
- **Completeness** (完整率): records with every required field present ÷ records delivered.
- **Collection rate** (归集率): datasets on the list meeting :class:`CollectionBar` ÷ datasets on
  the list.

Services flush, never commit.
"""

from __future__ import annotations

import calendar as month_calendar
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from creditbridge.catalog import service as catalog_service
from creditbridge.core.clock import SHANGHAI, utc_now
from creditbridge.core.config import CollectionSettings, Settings
from creditbridge.core.errors import NotFound, ValidationFailed
from creditbridge.core.snapshot import month_seq
from creditbridge.ingest import analytics
from creditbridge.ingest.models import Batch, CollectionBatch, CollectionMetric, Provider
from creditbridge.presentation.exports import xlsx_row
from creditbridge.reference import calendar, divisions
from creditbridge.reference.errors import CalendarOutOfRange

if TYPE_CHECKING:
    from creditbridge.catalog.models import CatalogDataset


# ------------------------------------------------------------------ definitions (configuration)

PERIODIC_DATASETS: Final = frozenset(
    {"tax_payment", "social_insurance", "housing_fund", "customs_trade",
     "utility_power", "utility_water", "utility_gas"}
)  # fmt: skip
"""Datasets a provider owes every month, whether or not anything happened (a zero report is a
delivery); a month without a batch is overdue. Other datasets on the list report events."""

COVERAGE_RULES: Final[dict[str, tuple[str, str]]] = {
    # dataset: (who is expected, which records count)
    "registration": ("active_subjects", "stock"),
    "legal_rep_identity": ("active_subjects", "stock"),
    "tax_payment": ("active_subjects", "period"),
    "social_insurance": ("panel", "period"),
    "housing_fund": ("panel", "period"),
    "utility_power": ("panel", "period"),
    "utility_water": ("panel", "period"),
    "utility_gas": ("panel", "period"),
}
"""``active_subjects``: every active subject of the city registered by the month's end.
``panel``: the subjects the provider reported on in the previous ``panel_months`` months (its
known contributors or customers: not every firm has employees or a water account). Trade is
sporadic (a firm need not trade every month), so customs data are not coverage-measured.
``period``: a record about the month itself; ``stock``: any record about the month or earlier."""

FREQUENCY_WINDOW_DAYS: Final[dict[str, int]] = {
    "realtime": 10, "daily": 10, "weekly": 10, "on_change": 10,
    "monthly": 15, "quarterly": 15, "yearly": 30,
}  # fmt: skip
"""Working days after the period ends by which a month's data must be in. For data reported more
often than monthly the catalog's ``sla_days`` is per event; collection is reckoned monthly, so a
month's events must all be in within this window."""

SLA_FREQUENCIES: Final = frozenset({"monthly", "quarterly", "yearly"})
"""Frequencies whose catalog ``sla_days`` counts from the end of the period, used as the window."""


@dataclass(frozen=True)
class CollectionBar:
    timeliness: float = 0.95
    coverage: float = 0.90
    completeness: float = 0.98
    freshness_months: int = 3

    @classmethod
    def from_settings(cls, settings: CollectionSettings) -> CollectionBar:
        return cls(
            settings.bar_timeliness,
            settings.bar_coverage,
            settings.bar_completeness,
            settings.freshness_months,
        )


DEFAULT_BAR: Final = CollectionBar()
"""The bar when the node configures none (the settings' defaults)."""

TARGET_RATE: Final = 1.0
"""安徽省《...行动方案》(2022): 信用信息共享清单数据归集率 100%."""


def parse_month(text: str) -> date:
    """The first day of ``YYYY-MM``; ValidationFailed otherwise."""
    try:
        year, month = (int(part) for part in text.split("-"))
        if len(text) != 7:
            raise ValueError(text)
        return date(year, month, 1)
    except ValueError:
        raise ValidationFailed(f"月份须为 YYYY-MM 格式：{text!r}") from None


def month_text(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def shift_month(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def period_end(month: date, frequency: str) -> date:
    """Last day of the period of ``frequency`` that contains ``month``."""
    last_month = month.month
    if frequency == "quarterly":
        last_month = (month.month - 1) // 3 * 3 + 3
    elif frequency == "yearly":
        last_month = 12
    return date(month.year, last_month, month_calendar.monthrange(month.year, last_month)[1])


def window_days(frequency: str, sla_days: int | None) -> int:
    if frequency in SLA_FREQUENCIES and sla_days is not None:
        return sla_days
    return FREQUENCY_WINDOW_DAYS.get(frequency, FREQUENCY_WINDOW_DAYS["monthly"])


def add_working_days(day: date, n: int) -> date:
    """Working days with the official holidays; plain weekdays beyond the published years."""
    try:
        return calendar.add_working_days(day, n)
    except CalendarOutOfRange:
        current = day
        for _ in range(n):
            current += timedelta(days=1)
            while current.weekday() >= 5:
                current += timedelta(days=1)
        return current


def working_days_late(deadline: date, today: date) -> int:
    """Working days after ``deadline`` up to and including ``today`` (0 when not yet late)."""
    if today <= deadline:
        return 0
    try:
        return calendar.working_days_between(deadline, today)
    except CalendarOutOfRange:
        days, current = 0, deadline
        while current < today:
            current += timedelta(days=1)
            days += current.weekday() < 5
        return days


def deadline_for(month: date, frequency: str, sla_days: int | None) -> date:
    return add_working_days(period_end(month, frequency), window_days(frequency, sla_days))


def dataset_params(
    dataset_code: str, frequency: str, sla_days: int | None, required: Sequence[str], month: date
) -> analytics.DatasetParams:
    coverage = COVERAGE_RULES.get(dataset_code, ("none", "none"))
    periodic = dataset_code in PERIODIC_DATASETS
    return analytics.DatasetParams(
        code=dataset_code,
        cadence="periodic" if periodic else "event",
        coverage_basis=coverage[0],
        coverage_scope=coverage[1],
        deadline=deadline_for(month, frequency, sla_days),
        required_fields=tuple(required),
    )


def _sla_days(dataset: CatalogDataset) -> int | None:
    value = dataset.definition.get("sla_days")
    return value if isinstance(value, int) else None


# ------------------------------------------------------------------ the job


@dataclass(frozen=True)
class ComputeOutcome:
    month: str
    rows: int
    batches: int
    as_of: datetime
    snapshot_rows: dict[str, int]
    snapshot_folder: Path | None


def compute_collection_metrics(
    session: Session,
    *,
    month: str,
    settings: Settings,
    as_of: datetime | None = None,
    keep_snapshot: bool = False,
) -> ComputeOutcome:
    """Compute one month's metrics from a fresh snapshot (under ``settings.analytics_root``) and
    replace that month's rows.

    Batches received after ``as_of`` (default: now) are not counted, nor are deliveries about a
    later month. Flushes; the caller commits.
    """
    first = parse_month(month)
    cut = as_of or utc_now()
    datasets = catalog_service.list_datasets(session)
    params = analytics.MetricParams(
        month_seq=month_seq(first),
        as_of=cut,
        panel_months=settings.collection.panel_months,
        datasets=[
            dataset_params(
                d.code,
                d.update_frequency,
                _sla_days(d),
                [f.code for f in d.fields if f.required],
                first,
            )
            for d in datasets
        ],
    )
    session.flush()
    snapshot = analytics.export_snapshot(
        session.connection(), settings.analytics_root / "collection"
    )
    try:
        result = analytics.run_metrics(snapshot, params)
    finally:
        if not keep_snapshot:
            snapshot.remove()
    text = month_text(first)
    now = utc_now()
    session.execute(delete(CollectionMetric).where(CollectionMetric.month == text))
    session.execute(delete(CollectionBatch).where(CollectionBatch.month == text))
    if result.rows:
        session.execute(
            insert(CollectionMetric),
            [{**row, "month": text, "as_of_at": cut, "computed_at": now} for row in result.rows],
        )
    if result.batches:
        session.execute(
            insert(CollectionBatch),
            [
                {"month": text, "batch_id": b, "provider_id": p, "dataset_code": d}
                for b, p, d in result.batches
            ],
        )
    session.flush()
    return ComputeOutcome(
        text,
        len(result.rows),
        len(result.batches),
        cut,
        snapshot.rows,
        snapshot.folder if keep_snapshot else None,
    )


# ------------------------------------------------------------------ reading the figures


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class Figures:
    """Sums over some metric rows, and the ratios they give (None = not measured)."""

    due: int = 0
    made: int = 0
    on_time: int = 0
    expected: int = 0
    covered: int = 0
    coverage_rows: int = 0
    records: int = 0
    complete: int = 0
    applied: int = 0
    refused: int = 0
    rows: int = 0
    freshest: int | None = None

    def add(self, row: CollectionMetric) -> None:
        self.rows += 1
        self.due += row.deliveries_due
        self.made += row.deliveries_made
        self.on_time += row.deliveries_on_time
        if row.coverage_expected is not None:
            self.coverage_rows += 1
            self.expected += row.coverage_expected
            self.covered += row.coverage_covered or 0
        self.records += row.records_total
        self.complete += row.records_complete
        self.applied += row.batches_applied
        self.refused += row.batches_refused
        if row.months_since_delivery is not None:
            self.freshest = (
                row.months_since_delivery
                if self.freshest is None
                else min(self.freshest, row.months_since_delivery)
            )

    @property
    def timeliness(self) -> float | None:
        return _ratio(self.on_time, self.due)

    @property
    def coverage(self) -> float | None:
        return _ratio(self.covered, self.expected)

    @property
    def completeness(self) -> float | None:
        return _ratio(self.complete, self.records)

    @property
    def missing(self) -> int:
        return self.due - self.made

    def shortfalls(self, bar: CollectionBar) -> list[str]:
        """Why these rows fail the bar (empty when they meet it)."""
        if self.rows == 0:
            return ["no_provider"]
        found = []
        if self.freshest is None or self.freshest > bar.freshness_months:
            found.append("stale")
        if self.timeliness is not None and self.timeliness < bar.timeliness:
            found.append("timeliness")
        if self.coverage_rows and (self.coverage is None or self.coverage < bar.coverage):
            found.append("coverage")
        if self.completeness is not None and self.completeness < bar.completeness:
            found.append("completeness")
        return found

    def meets(self, bar: CollectionBar) -> bool:
        return not self.shortfalls(bar)

    def as_json(self, bar: CollectionBar) -> dict[str, Any]:
        return {
            "timeliness": self.timeliness,
            "coverage": self.coverage,
            "completeness": self.completeness,
            "deliveries_due": self.due,
            "deliveries_on_time": self.on_time,
            "deliveries_missing": self.missing,
            "coverage_expected": self.expected if self.coverage_rows else None,
            "coverage_covered": self.covered if self.coverage_rows else None,
            "records": self.records,
            "records_complete": self.complete,
            "batches_refused": self.refused,
            "meets_bar": self.meets(bar),
            "shortfalls": self.shortfalls(bar),
        }


SHORTFALL_ZH: Final = {
    "no_provider": "无提供单位或报送",
    "stale": "长期未报送",
    "timeliness": "及时率不达标",
    "coverage": "覆盖率不达标",
    "completeness": "完整率不达标",
}


@dataclass
class DatasetLine:
    code: str
    name_zh: str
    name_en: str
    frequency: str
    figures: Figures
    meets: bool
    shortfalls: list[str]


@dataclass
class CityLine:
    code: str
    name: str
    figures: Figures
    met: int
    list_size: int

    @property
    def rate(self) -> float | None:
        return _ratio(self.met, self.list_size)


@dataclass
class Overview:
    month: str
    bar: CollectionBar
    list_size: int
    datasets: list[DatasetLine]
    cities: list[CityLine]
    totals: Figures
    computed_at: datetime | None
    as_of: datetime | None
    target: float = TARGET_RATE

    @property
    def met(self) -> int:
        return sum(1 for d in self.datasets if d.meets)

    @property
    def rate(self) -> float | None:
        return _ratio(self.met, self.list_size)

    @property
    def is_empty(self) -> bool:
        return self.computed_at is None

    def as_json(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "collection_rate": self.rate,
            "target": self.target,
            "datasets_meeting_bar": self.met,
            "datasets_on_list": self.list_size,
            "bar": {
                "timeliness": self.bar.timeliness,
                "coverage": self.bar.coverage,
                "completeness": self.bar.completeness,
                "freshness_months": self.bar.freshness_months,
            },
            "computed_at": self.computed_at.isoformat() if self.computed_at else None,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "province": self.totals.as_json(self.bar),
            "datasets": [
                {"code": d.code, "name_zh": d.name_zh, **d.figures.as_json(self.bar)}
                for d in self.datasets
            ],
            "cities": [
                {
                    "code": c.code,
                    "name": c.name,
                    "collection_rate": c.rate,
                    "datasets_meeting_bar": c.met,
                }
                for c in self.cities
            ],
        }


def city_name(code: str) -> str:
    return divisions.name(code) or code


def list_months(session: Session) -> list[str]:
    """Months with computed metrics, newest first."""
    return list(
        session.scalars(
            select(CollectionMetric.month).distinct().order_by(CollectionMetric.month.desc())
        )
    )


def region_prefix(division_code: str | None) -> str | None:
    """The ``city_code`` prefix of the metric rows an operator of ``division_code`` sees (issue
    23): its province's or its city's; None for a node-wide operator (every row).

    Metrics are computed per city, the finest level providers report at, so a county operator
    sees the figures of the city it lies in: a county figure does not exist, and an empty
    dashboard would tell it less than the city's rate does. The rows are providers' deliveries,
    never an enterprise's data."""
    if division_code is None:
        return None
    if divisions.division_level(division_code) == "county":
        return division_code[:4]
    return divisions.division_prefix(division_code)


def _in_region(division_code: str | None) -> list[Any]:
    prefix = region_prefix(division_code)
    if prefix is None:
        return []
    return [CollectionMetric.city_code.startswith(prefix, autoescape=True)]


def _rows(
    session: Session, month: str, *conditions: Any, division_code: str | None = None
) -> list[CollectionMetric]:
    return list(
        session.scalars(
            select(CollectionMetric).where(
                CollectionMetric.month == month, *conditions, *_in_region(division_code)
            )
        )
    )


def _group(rows: Iterable[CollectionMetric], *keys: str) -> dict[tuple[Any, ...], Figures]:
    groups: dict[tuple[Any, ...], Figures] = defaultdict(Figures)
    for row in rows:
        groups[tuple(getattr(row, k) for k in keys)].add(row)
    return groups


def get_overview(
    session: Session,
    *,
    month: str,
    bar: CollectionBar = DEFAULT_BAR,
    division_code: str | None = None,
) -> Overview:
    """The month's collection rate for the province and per city, and each dataset's figures;
    only the cities of ``division_code`` when given (see :func:`region_prefix`)."""
    parse_month(month)
    catalog = catalog_service.list_datasets(session)
    rows = _rows(session, month, division_code=division_code)
    by_dataset = _group(rows, "dataset_code")
    datasets = []
    for d in catalog:
        figures = by_dataset.get((d.code,), Figures())
        datasets.append(
            DatasetLine(
                d.code,
                d.name_zh,
                d.name_en,
                d.update_frequency,
                figures,
                figures.meets(bar),
                figures.shortfalls(bar),
            )
        )
    listed = {d.code for d in catalog}
    by_city_dataset = _group(rows, "city_code", "dataset_code")
    by_city = _group(rows, "city_code")
    cities = []
    for (code,), figures in sorted(by_city.items()):
        met = sum(
            1
            for (city, dataset), f in by_city_dataset.items()
            if city == code and dataset in listed and f.meets(bar)
        )
        cities.append(CityLine(code, city_name(code), figures, met, len(catalog)))
    totals = Figures()
    for row in rows:
        totals.add(row)
    return Overview(
        month=month,
        bar=bar,
        list_size=len(catalog),
        datasets=datasets,
        cities=cities,
        totals=totals,
        computed_at=max((r.computed_at for r in rows), default=None),
        as_of=max((r.as_of_at for r in rows), default=None),
    )


def get_trend(
    session: Session, *, bar: CollectionBar = DEFAULT_BAR, division_code: str | None = None
) -> list[tuple[str, float]]:
    """(month, collection rate) for every computed month, oldest first."""
    out = []
    for month in reversed(list_months(session)):
        rate = get_overview(session, month=month, bar=bar, division_code=division_code).rate
        out.append((month, rate or 0.0))
    return out


@dataclass
class ProviderLine:
    provider_id: int
    provider_name: str
    city_code: str
    row: CollectionMetric
    figures: Figures


def get_dataset_by_city(
    session: Session,
    *,
    month: str,
    dataset_code: str,
    bar: CollectionBar = DEFAULT_BAR,
    division_code: str | None = None,
) -> tuple[CatalogDataset, list[CityLine]]:
    dataset = catalog_service.get_dataset_or_raise(session, code=dataset_code)
    rows = _rows(
        session, month, CollectionMetric.dataset_code == dataset_code, division_code=division_code
    )
    lines = []
    for (code,), figures in sorted(_group(rows, "city_code").items()):
        lines.append(CityLine(code, city_name(code), figures, int(figures.meets(bar)), 1))
    return dataset, lines


def get_city_providers(
    session: Session,
    *,
    month: str,
    dataset_code: str,
    city_code: str,
    division_code: str | None = None,
) -> list[ProviderLine]:
    """The providers' lines of one city; NotFound for a city outside ``division_code``."""
    rows = session.execute(
        select(CollectionMetric, Provider.name)
        .join(Provider, Provider.id == CollectionMetric.provider_id)
        .where(
            CollectionMetric.month == month,
            CollectionMetric.dataset_code == dataset_code,
            CollectionMetric.city_code == city_code,
            *_in_region(division_code),
        )
        .order_by(Provider.name)
    ).all()
    if not rows:
        raise NotFound(f"{month} {dataset_code} 在 {city_code} 没有归集指标")
    lines = []
    for row, name in rows:
        figures = Figures()
        figures.add(row)
        lines.append(ProviderLine(row.provider_id, name, city_code, row, figures))
    return lines


def list_month_batches(
    session: Session, *, month: str, dataset_code: str, provider_id: int
) -> list[Batch]:
    return list(
        session.scalars(
            select(Batch)
            .join(CollectionBatch, CollectionBatch.batch_id == Batch.id)
            .where(
                CollectionBatch.month == month,
                CollectionBatch.dataset_code == dataset_code,
                CollectionBatch.provider_id == provider_id,
            )
            .order_by(Batch.received_at)
        )
    )


@dataclass(frozen=True)
class OverdueItem:
    provider_id: int
    provider_name: str
    dataset_code: str
    dataset_name: str
    month: str
    deadline: date
    working_days_overdue: int
    cities: int


@dataclass
class ProviderOverdue:
    provider_id: int
    provider_name: str
    items: list[OverdueItem] = field(default_factory=list)


def list_overdue(
    session: Session, *, month: str, today: date | None = None, division_code: str | None = None
) -> list[ProviderOverdue]:
    """Deliveries owed for ``month`` and not made by the deadline, per provider, as of the last
    computation; days overdue in working days up to ``today`` (Beijing date by default)."""
    today = today or utc_now().astimezone(SHANGHAI).date()
    names = {d.code: d.name_zh for d in catalog_service.list_datasets(session)}
    rows = session.execute(
        select(
            CollectionMetric.provider_id,
            Provider.name,
            CollectionMetric.dataset_code,
            CollectionMetric.deadline_date,
            func.count(),
        )
        .join(Provider, Provider.id == CollectionMetric.provider_id)
        .where(
            CollectionMetric.month == month,
            CollectionMetric.deliveries_due == 1,
            CollectionMetric.deliveries_made == 0,
            CollectionMetric.deadline_date < today,
            *_in_region(division_code),
        )
        .group_by(
            CollectionMetric.provider_id,
            Provider.name,
            CollectionMetric.dataset_code,
            CollectionMetric.deadline_date,
        )
        .order_by(Provider.name, CollectionMetric.dataset_code)
    ).all()
    grouped: dict[int, ProviderOverdue] = {}
    for provider_id, name, dataset_code, deadline, cities in rows:
        entry = grouped.setdefault(provider_id, ProviderOverdue(provider_id, name))
        entry.items.append(
            OverdueItem(
                provider_id,
                name,
                dataset_code,
                names.get(dataset_code, dataset_code),
                month,
                deadline,
                working_days_late(deadline, today),
                cities,
            )
        )
    return list(grouped.values())


# ------------------------------------------------------------------ Excel export

EXPORT_HEADER: Final = (
    "月份", "数据项代码", "数据项", "城市代码", "城市", "提供单位", "报送方式", "截止日期",
    "应报", "已报", "按时", "首次入库日期", "入库批次", "退回批次", "应覆盖主体", "已覆盖主体",
    "记录数", "完整记录数", "及时率", "覆盖率", "完整率",
)  # fmt: skip


def export_xlsx(
    session: Session, *, months: Sequence[str], division_code: str | None = None
) -> bytes:
    """The metric rows of ``months`` as an Excel workbook (one sheet, Chinese headers); only the
    cities of ``division_code`` when given."""
    from openpyxl import Workbook

    names = {d.code: d.name_zh for d in catalog_service.list_datasets(session)}
    book = Workbook(write_only=True)
    sheet = book.create_sheet("归集指标")
    sheet.append(xlsx_row(sheet, EXPORT_HEADER))
    rows = session.execute(
        select(CollectionMetric, Provider.name)
        .join(Provider, Provider.id == CollectionMetric.provider_id)
        .where(CollectionMetric.month.in_(list(months)), *_in_region(division_code))
        .order_by(
            CollectionMetric.month,
            CollectionMetric.dataset_code,
            CollectionMetric.city_code,
            Provider.name,
        )
    )
    for row, provider_name in rows:
        f = Figures()
        f.add(row)
        sheet.append(
            xlsx_row(
                sheet,
                [
                    row.month,
                    row.dataset_code,
                    names.get(row.dataset_code, row.dataset_code),
                    row.city_code,
                    city_name(row.city_code),
                    provider_name,
                    "按月报送" if row.cadence == "periodic" else "按事件报送",
                    row.deadline_date,
                    row.deliveries_due,
                    row.deliveries_made,
                    row.deliveries_on_time,
                    row.first_received_date,
                    row.batches_applied,
                    row.batches_refused,
                    row.coverage_expected,
                    row.coverage_covered,
                    row.records_total,
                    row.records_complete,
                    f.timeliness,
                    f.coverage,
                    f.completeness,
                ],
            )
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def as_of_datetime(day: date) -> datetime:
    """The end of ``day`` in Beijing, as a UTC time: "as of" a date counts that whole day."""
    local = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI) + timedelta(days=1)
    return (local - timedelta(microseconds=1)).astimezone(UTC)
