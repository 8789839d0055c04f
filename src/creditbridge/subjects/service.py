"""Use cases over subjects and their records.

The counts here feed the operator dashboard: each is one SQL aggregate, never rows loaded into
Python. Counts over subjects use the city and size indexes; counts over records read every record
and are kept out of the pages (see ``count_records``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import NamedTuple

from sqlalchemy import ColumnElement, Subquery, func, or_, select, true
from sqlalchemy.orm import QueryableAttribute, Session

from creditbridge.core.errors import NotFound
from creditbridge.presentation.errors import keyed
from creditbridge.reference import divisions
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


# --- lookups for other modules ---------------------------------------------------------------
# Consent, access and the pages find subjects and their current records through these, so the
# subject tables are read in one module only.


def find_subject_by_uscc(session: Session, uscc: str) -> Subject | None:
    return session.scalar(select(Subject).where(Subject.uscc == uscc.strip().upper()))


def get_subject_by_uscc_or_raise(session: Session, uscc: str) -> Subject:
    subject = find_subject_by_uscc(session, uscc)
    if subject is None:
        raise keyed(NotFound, "error.subjects.no_uscc")
    return subject


def get_subject_or_raise(session: Session, subject_id: int) -> Subject:
    subject = session.get(Subject, subject_id)
    if subject is None:
        raise keyed(NotFound, "error.subjects.no_subject")
    return subject


def first_subject(session: Session) -> Subject | None:
    return session.scalar(select(Subject).order_by(Subject.id).limit(1))


def subject_names(session: Session, ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """(uscc, name) of each subject id, in one query."""
    wanted = set(ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(Subject.id, Subject.uscc, Subject.name).where(Subject.id.in_(wanted))
    )
    return {row.id: (row.uscc, row.name) for row in rows}


def list_subject_ids_in_sections(
    session: Session, sections: Iterable[str], *, limit: int
) -> list[int]:
    """Ids of the subjects in any of the industry ``sections``, lowest first, at most ``limit``."""
    return list(
        session.scalars(
            select(Subject.id)
            .where(Subject.industry_section.in_(sorted(sections)))
            .order_by(Subject.id)
            .limit(limit)
        )
    )


def industry_sections(session: Session, ids: Iterable[int]) -> dict[int, str | None]:
    """The industry section of each subject id, in one query."""
    rows = session.execute(
        select(Subject.id, Subject.industry_section).where(Subject.id.in_(set(ids)))
    )
    return {row.id: row.industry_section for row in rows}


def subject_dimensions() -> Subquery:
    """``id``, ``city_code``, ``industry_section`` and ``size_class`` of every subject, for other
    modules' SQL aggregates to join on and group by, without loading subjects into Python."""
    return select(
        Subject.id, Subject.city_code, Subject.industry_section, Subject.size_class
    ).subquery("subject_dimensions")


def subject_in_division(
    subject_id: QueryableAttribute[int] | QueryableAttribute[int | None] | ColumnElement[int],
    division_code: str | None,
) -> ColumnElement[bool]:
    """A SQL condition: the subject ``subject_id`` refers to lies in an operator's division, as
    :func:`creditbridge.reference.divisions.division_covers` decides (a province covers its cities
    and counties, a city its counties); always true for a node-wide operator (None), never for a
    row without a subject. For other modules' queries (escalated demands, outcomes,
    registrations) to filter in the database rather than load every row and ask in Python."""
    prefix = divisions.division_prefix(division_code)
    if prefix is None:
        return true()
    return subject_id.in_(
        select(Subject.id).where(Subject.division_code.startswith(prefix, autoescape=True))
    )


def list_current_records(
    session: Session,
    *,
    subject_id: int,
    public_datasets: Sequence[str],
    restricted_datasets: Sequence[str] = (),
    data_from: date | None = None,
    data_to: date | None = None,
) -> list[Record]:
    """Current records of the given datasets; the data range limits only the restricted ones
    (public information is public whatever its date)."""
    if not public_datasets and not restricted_datasets:
        return []
    in_window: ColumnElement[bool] = Record.dataset_code.in_(restricted_datasets)
    # Undated records (registration, licences in force) describe the present, not a period.
    if data_from is not None:
        in_window = in_window & or_(Record.event_date.is_(None), Record.event_date >= data_from)
    if data_to is not None:
        in_window = in_window & or_(Record.event_date.is_(None), Record.event_date <= data_to)
    query = select(Record).where(
        Record.subject_id == subject_id,
        Record.status == CURRENT,
        or_(Record.dataset_code.in_(public_datasets), in_window),
    )
    return list(session.scalars(query.order_by(Record.dataset_code, Record.event_date, Record.id)))


def search_subjects(session: Session, text: str, *, limit: int) -> dict[int, tuple[str, str]]:
    """(uscc, name) of the enterprises a search names, by name: the one with that USCC (18
    letters and digits, any case), or those whose name contains ``text`` (case-insensitive; ``%``
    and ``_`` are characters, not wildcards); at most ``limit``."""
    wanted = text.strip()
    if not wanted:
        return {}
    if len(wanted) == 18 and wanted.isalnum() and wanted.isascii():
        condition = Subject.uscc == wanted.upper()
    else:
        escaped = wanted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        condition = Subject.name.ilike(f"%{escaped}%", escape="\\")
    rows = session.execute(
        select(Subject.id, Subject.uscc, Subject.name)
        .where(condition)
        .order_by(Subject.name, Subject.id)
        .limit(limit)
    )
    return {row.id: (row.uscc, row.name) for row in rows}
