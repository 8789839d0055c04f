"""The list of deliveries (批次列表): filtered, sorted and paged for the one who reads it.

The read rule is :func:`~.delivery.access_batch`'s: operators see every provider's batches, a
provider's users only their own — here as a condition of the query, so that a page count or an
export never counts another provider's batches either."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, func, select, true
from sqlalchemy.orm import Session

from creditbridge.core.actors import Actor
from creditbridge.core.clock import SHANGHAI
from creditbridge.ingest import metrics
from creditbridge.ingest.metrics import OverdueItem
from creditbridge.ingest.models import Batch, Provider
from creditbridge.ingest.service._common import is_operator
from creditbridge.ingest.service.delivery import BatchSummary, select_batch_summaries

SORTS: Final[dict[str, Any]] = {
    "received_at": Batch.received_at,
    "dataset": Batch.dataset_code,
    "provider": Provider.name,
    "status": Batch.status,
    "rows_total": Batch.rows_total,
    "rows_rejected": Batch.rows_rejected,
}
"""Columns a list may be sorted on (a link's ``sort=`` is checked against these keys)."""
DEFAULT_SORT: Final = "-received_at"
EXPORT_LIMIT: Final = 100_000


@dataclass(frozen=True)
class BatchFilter:
    """What the list holds: every criterion optional; dates are Beijing calendar days, inclusive."""

    dataset_code: str | None = None
    provider_id: int | None = None
    status: str | None = None
    received_from: date | None = None
    received_to: date | None = None


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=SHANGHAI)


def _conditions(actor: Actor, where: BatchFilter) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if not is_operator(actor):
        # Neither an operator nor a provider's user: an empty list, never someone else's batches.
        found.append(Batch.provider_id == actor.provider_id if actor.provider_id else ~true())
    if where.provider_id is not None:
        found.append(Batch.provider_id == where.provider_id)
    if where.dataset_code:
        found.append(Batch.dataset_code == where.dataset_code)
    if where.status:
        found.append(Batch.status == where.status)
    if where.received_from is not None:
        found.append(Batch.received_at >= _start_of(where.received_from))
    if where.received_to is not None:
        found.append(Batch.received_at < _start_of(where.received_to + timedelta(days=1)))
    return found


def count_batches_for(session: Session, actor: Actor, *, where: BatchFilter) -> int:
    query = select(func.count()).select_from(Batch).where(*_conditions(actor, where))
    return session.scalar(query) or 0


def _ordered(
    actor: Actor, where: BatchFilter, sort: str, descending: bool
) -> Select[*tuple[Any, ...]]:
    column = SORTS.get(sort, Batch.received_at)
    order = column.desc() if descending else column.asc()
    # id breaks ties (batches received in the same instant, equal counts) the same way each time.
    tie = Batch.id.desc() if descending else Batch.id.asc()
    return select_batch_summaries().where(*_conditions(actor, where)).order_by(order, tie)


def list_batches(
    session: Session,
    actor: Actor,
    *,
    where: BatchFilter,
    sort: str = "received_at",
    descending: bool = True,
    offset: int = 0,
    limit: int = 20,
) -> list[BatchSummary]:
    """One page of the batches ``actor`` may read, by ``sort`` (a key of :data:`SORTS`)."""
    rows = session.execute(_ordered(actor, where, sort, descending).offset(offset).limit(limit))
    return [BatchSummary(**row._asdict()) for row in rows]


def iter_batches(
    session: Session, actor: Actor, *, where: BatchFilter, sort: str, descending: bool
) -> Iterator[BatchSummary]:
    """Every batch of the list, in its order, for an export (at most :data:`EXPORT_LIMIT`)."""
    query = _ordered(actor, where, sort, descending).limit(EXPORT_LIMIT)
    for row in session.execute(query.execution_options(yield_per=1000)):
        yield BatchSummary(**row._asdict())


OVERDUE_MONTHS: Final = 3
"""How many of the latest computed months the list's overdue panel looks back over."""


def list_overdue_for(
    session: Session, actor: Actor, *, today: date | None = None
) -> list[OverdueItem]:
    """Deliveries owed and not made by their deadline over the latest computed months (the
    collection schedule's, :func:`creditbridge.ingest.metrics.list_overdue`), most overdue
    first; a provider's user sees only its own provider's, an operator of a division its
    region's (as on the collection pages)."""
    items = [
        item
        for month in metrics.list_months(session)[:OVERDUE_MONTHS]
        for owed in metrics.list_overdue(
            session, month=month, today=today, division_code=actor.division_code
        )
        for item in owed.items
        if is_operator(actor) or item.provider_id == actor.provider_id
    ]
    return sorted(items, key=lambda i: (-i.working_days_overdue, i.provider_name, i.dataset_code))
