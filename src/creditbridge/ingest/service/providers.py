"""Providers: lookups, counts and the lists of providers an actor may deliver for."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creditbridge.core.actors import Actor
from creditbridge.core.errors import NotFound
from creditbridge.ingest.models import Provider, ProviderDataset
from creditbridge.ingest.service._common import is_operator
from creditbridge.reference import divisions


def count_providers(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Provider)) or 0


def get_provider_or_raise(session: Session, ref: int | str) -> Provider:
    """A provider by id or code."""
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        provider = session.get(Provider, int(ref))
    else:
        provider = session.scalar(select(Provider).where(Provider.code == ref))
    if provider is None:
        raise NotFound(f"数据提供单位 {ref} 不存在")
    return provider


def list_assigned_providers(session: Session, *, dataset_code: str) -> list[Provider]:
    """The providers the shared-data list assigns ``dataset_code`` to, by code."""
    return list(
        session.scalars(
            select(Provider)
            .join(ProviderDataset, ProviderDataset.provider_id == Provider.id)
            .where(ProviderDataset.dataset_code == dataset_code)
            .order_by(Provider.code)
        )
    )


def list_assigned_datasets(session: Session, *, provider_id: int) -> list[str]:
    """The codes of the datasets ``provider_id`` is assigned (owes), sorted."""
    return list(
        session.scalars(
            select(ProviderDataset.dataset_code)
            .where(ProviderDataset.provider_id == provider_id)
            .order_by(ProviderDataset.dataset_code)
        )
    )


@dataclass(frozen=True)
class ProviderView:
    id: int
    code: str
    name: str
    kind: str
    division_code: str
    region: str
    contact_name: str | None
    contact_phone: str | None
    datasets: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def list_providers(session: Session) -> list[ProviderView]:
    """Every provider with the datasets it owes under the list, by code."""
    owed: dict[int, list[str]] = {}
    for provider_id, code in session.execute(
        select(ProviderDataset.provider_id, ProviderDataset.dataset_code).order_by(
            ProviderDataset.dataset_code
        )
    ):
        owed.setdefault(provider_id, []).append(code)
    return [
        ProviderView(
            id=p.id,
            code=p.code,
            name=p.name,
            kind=p.kind,
            division_code=p.division_code,
            region=divisions.name(p.division_code) or p.division_code,
            contact_name=p.contact_name,
            contact_phone=p.contact_phone,
            datasets=owed.get(p.id, []),
        )
        for p in session.scalars(select(Provider).order_by(Provider.code))
    ]


def list_providers_for(session: Session, actor: Actor) -> list[ProviderView]:
    """The providers the actor may deliver for."""
    everyone = list_providers(session)
    if is_operator(actor):
        return everyone
    return [p for p in everyone if p.id == actor.provider_id]
