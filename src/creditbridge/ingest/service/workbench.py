"""Read-only figures of collection for the provider's home (工作台): the datasets it owes, what is
due and late by the last computed collection metrics, and its latest deliveries with their rejects.

Scoped to the provider the user belongs to; the operator's view of every provider stays on the
collection pages (/collection).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creditbridge.core.actors import Actor
from creditbridge.core.errors import Forbidden
from creditbridge.ingest.models import CollectionMetric, Provider, ProviderDataset
from creditbridge.ingest.service.batches import BatchFilter, list_batches
from creditbridge.ingest.service.delivery import BatchSummary

SHOWN = 5


@dataclass(frozen=True)
class Owed:
    """One delivery the provider owes for ``month``: due by ``deadline``, late once it passed."""

    dataset_code: str
    month: str
    deadline: date
    cities: int
    overdue: bool


@dataclass(frozen=True)
class ProviderDesk:
    provider_name: str
    datasets: list[str]
    month: str | None
    owed: list[Owed]
    batches: list[BatchSummary]
    rejected_rows: int
    """Rows refused over the batches shown."""

    @property
    def overdue(self) -> list[Owed]:
        return [o for o in self.owed if o.overdue]

    @property
    def due(self) -> list[Owed]:
        return [o for o in self.owed if not o.overdue]


def provider_desk(session: Session, actor: Actor, *, today: date) -> ProviderDesk:
    if actor.provider_id is None:
        raise Forbidden("只有数据提供单位用户有本单位工作台")
    provider_id = actor.provider_id
    provider = session.get(Provider, provider_id)
    datasets = list(
        session.scalars(
            select(ProviderDataset.dataset_code)
            .where(ProviderDataset.provider_id == provider_id)
            .order_by(ProviderDataset.dataset_code)
        )
    )
    month = session.scalar(
        select(func.max(CollectionMetric.month)).where(CollectionMetric.provider_id == provider_id)
    )
    owed: list[Owed] = []
    if month is not None:
        rows = session.execute(
            select(
                CollectionMetric.dataset_code,
                CollectionMetric.deadline_date,
                func.count(),
            )
            .where(
                CollectionMetric.provider_id == provider_id,
                CollectionMetric.month == month,
                CollectionMetric.deliveries_due == 1,
                CollectionMetric.deliveries_made == 0,
            )
            .group_by(CollectionMetric.dataset_code, CollectionMetric.deadline_date)
            .order_by(CollectionMetric.deadline_date, CollectionMetric.dataset_code)
        ).all()
        owed = [Owed(code, month, deadline, int(n), deadline < today) for code, deadline, n in rows]
    batches = list_batches(session, actor, where=BatchFilter(provider_id=provider_id), limit=SHOWN)
    return ProviderDesk(
        provider_name=provider.name if provider is not None else "",
        datasets=datasets,
        month=month,
        owed=owed,
        batches=batches,
        rejected_rows=sum(b.rows_rejected for b in batches),
    )
