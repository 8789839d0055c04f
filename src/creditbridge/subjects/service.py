"""Use cases over subjects and their records.

The counts here feed the operator dashboard: each is one SQL aggregate, never rows loaded into
Python. Counts over subjects use the city and size indexes; counts over records read every record
and are kept out of the pages (see ``count_records``).
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creditbridge.subjects.models import Record, Subject

# Only the newest version of a record is what the platform holds about a subject today;
# superseded versions are history and withdrawn ones were retracted by their provider.
CURRENT = "current"


class CityCount(NamedTuple):
    city_code: str
    subjects: int


class SizeClassCount(NamedTuple):
    size_class: str | None
    subjects: int


class DatasetCount(NamedTuple):
    dataset_code: str
    records: int


def count_subjects(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Subject)) or 0


def count_subjects_by_city(session: Session) -> list[CityCount]:
    """Subjects per city-level division, most first (ties by code, so the order is stable)."""
    n = func.count().label("n")
    rows = session.execute(
        select(Subject.city_code, n)
        .group_by(Subject.city_code)
        .order_by(n.desc(), Subject.city_code)
    )
    return [CityCount(code, count) for code, count in rows]


def count_by_size_class(session: Session) -> list[SizeClassCount]:
    """Subjects per enterprise size class; ``None`` counts those not yet classified."""
    n = func.count().label("n")
    rows = session.execute(
        select(Subject.size_class, n).group_by(Subject.size_class).order_by(n.desc())
    )
    return [SizeClassCount(size, count) for size, count in rows]


def count_records(session: Session) -> int:
    """Current records held, over all datasets.

    Exact, but it reads every record: seconds at 100k enterprises (4.5M records). Pages show
    :func:`creditbridge.ingest.service.count_accepted_rows` instead."""
    return (
        session.scalar(select(func.count()).select_from(Record).where(Record.status == CURRENT))
        or 0
    )


def count_records_by_dataset(session: Session) -> list[DatasetCount]:
    """Current records per dataset code, most first. Reads every record, like
    :func:`count_records`; for batch work, not for pages."""
    n = func.count().label("n")
    rows = session.execute(
        select(Record.dataset_code, n)
        .where(Record.status == CURRENT)
        .group_by(Record.dataset_code)
        .order_by(n.desc(), Record.dataset_code)
    )
    return [DatasetCount(code, count) for code, count in rows]
