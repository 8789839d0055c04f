"""The operator's dashboard (数据看板): the figures of several modules brought onto one page.

Only service calls and presentation here (names for codes, the order of bars); every figure is an
SQL aggregate computed by the module that owns the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy.orm import Session

from creditbridge.access import service as access_service
from creditbridge.catalog import service as catalog_service
from creditbridge.core.clock import utc_now
from creditbridge.core.config import Settings
from creditbridge.ingest import service as ingest_service
from creditbridge.ingest.service import BatchSummary
from creditbridge.marketplace import service as marketplace_service
from creditbridge.presentation import i18n
from creditbridge.presentation.i18n import Language
from creditbridge.reference import divisions
from creditbridge.subjects import service as subjects_service

if TYPE_CHECKING:
    from creditbridge.catalog.models import CatalogDataset


LATEST_BATCHES: Final = 10
# Bars beyond this are unreadable in the records chart; the table beside it lists them all.
DATASET_BARS: Final = 15
SIZE_ORDER: Final = ("large", "medium", "small", "micro", None)


@dataclass(frozen=True)
class Named:
    """A code with its Chinese and English name and a count: one bar, slice or table row."""

    code: str
    name_zh: str
    name_en: str
    value: int

    def name(self, lang: Language) -> str:
        return i18n.pick(lang, self.name_zh, self.name_en)


@dataclass(frozen=True)
class Totals:
    subjects: int
    records: int
    datasets: int
    providers: int
    institutions: int
    products: int
    loans: int


@dataclass(frozen=True)
class BatchRow:
    batch: BatchSummary
    dataset: Named


@dataclass(frozen=True)
class Dashboard:
    totals: Totals
    cities: list[Named]
    datasets: list[Named]
    sizes: list[Named]
    batches: list[BatchRow]
    catalog_version: str | None
    as_of: datetime

    @property
    def dataset_bars(self) -> list[Named]:
        return [d for d in self.datasets if d.value > 0][:DATASET_BARS]

    @property
    def is_empty(self) -> bool:
        return self.totals.subjects == 0 and self.totals.records == 0

    def charts(self, lang: Language) -> dict[str, Any]:
        """The data the chart script draws, named in the reader's language."""
        return {
            "cities": {
                "names": [c.name(lang) for c in self.cities],
                "values": [c.value for c in self.cities],
                "seriesName": i18n.translate(lang, "dashboard.total.subjects"),
            },
            "datasets": {
                "names": [d.name(lang) for d in self.dataset_bars],
                "values": [d.value for d in self.dataset_bars],
                "seriesName": i18n.translate(lang, "dashboard.total.records"),
            },
            "sizes": {
                "names": [s.name(lang) for s in self.sizes],
                "values": [s.value for s in self.sizes],
                "seriesName": i18n.translate(lang, "dashboard.by_size"),
            },
        }


def _city_name(code: str) -> tuple[str, str]:
    division = divisions.get(code)
    if division is None:
        return code, code
    # The reference data names divisions in Chinese only; English readers see the same name.
    name_en = getattr(division, "name_en", None) or division.name
    return division.name, name_en


def _cities(session: Session, settings: Settings) -> list[Named]:
    counts = dict(subjects_service.count_subjects_by_city(session))
    # A provincial node shows every one of its cities, an empty one included: a city missing
    # from the chart reads as a data problem, a zero bar does not.
    codes = list(counts)
    if settings.node_level == "provincial":
        codes += [c.code for c in divisions.cities(settings.node_code) if c.code not in counts]
    bars = [Named(code, *_city_name(code), value=counts.get(code, 0)) for code in codes]
    return sorted(bars, key=lambda bar: (-bar.value, bar.code))


def _sizes(session: Session) -> list[Named]:
    counts = dict(subjects_service.count_by_size_class(session))
    # Largest to smallest, then "not classified", then any class newer than this list.
    order = [*SIZE_ORDER, *(size for size in counts if size not in SIZE_ORDER)]
    slices = []
    for size in order:
        if size in counts:
            key = size if size is not None else "unknown"
            zh = i18n.label("zh", "size_class", key)
            en = i18n.label("en", "size_class", key)
            slices.append(Named(key, zh, en, counts[size]))
    return slices


def _datasets(session: Session, catalog: list[CatalogDataset]) -> list[Named]:
    # Collected rows come from the batches: counting records themselves takes seconds at
    # provincial scale (see ingest_service.count_accepted_rows_by_dataset).
    counts = dict(ingest_service.count_accepted_rows_by_dataset(session))
    # Every dataset of the list appears, an empty one included: the operator needs to see what
    # has not been delivered yet. Codes outside the list (an older version's) follow.
    rows = [Named(d.code, d.name_zh, d.name_en, counts.get(d.code, 0)) for d in catalog]
    listed = {d.code for d in catalog}
    rows += [Named(code, code, code, n) for code, n in counts.items() if code not in listed]
    position = {row.code: index for index, row in enumerate(rows)}
    return sorted(rows, key=lambda row: (-row.value, position[row.code]))


def build_dashboard(session: Session, *, settings: Settings) -> Dashboard:
    current = catalog_service.get_current_version(session)
    catalog = catalog_service.list_datasets(session)
    datasets = _datasets(session, catalog)
    by_code = {row.code: row for row in datasets}
    batches = [
        BatchRow(
            batch,
            by_code.get(
                batch.dataset_code,
                Named(batch.dataset_code, batch.dataset_code, batch.dataset_code, 0),
            ),
        )
        for batch in ingest_service.list_latest_batches(session, limit=LATEST_BATCHES)
    ]
    totals = Totals(
        subjects=subjects_service.count_subjects(session),
        records=sum(row.value for row in datasets),
        datasets=len(catalog),
        providers=ingest_service.count_providers(session),
        institutions=access_service.count_institutions(session),
        products=marketplace_service.count_products(session),
        loans=marketplace_service.count_loans(session),
    )
    return Dashboard(
        totals=totals,
        cities=_cities(session, settings),
        datasets=datasets,
        sizes=_sizes(session),
        batches=batches,
        catalog_version=current.version if current is not None else None,
        as_of=utc_now(),
    )
