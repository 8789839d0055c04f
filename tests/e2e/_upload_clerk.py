"""A provider's clerk of the tax department (the provider the list assigns tax_payment), logged in
on the upload page: shared by the upload journeys."""

from __future__ import annotations

from playwright.sync_api import Page
from sqlalchemy import select

from creditbridge.access import service as access_service
from creditbridge.core.actors import CONSOLE, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.db import make_sessionmaker, session_scope
from creditbridge.ingest.models import Provider, ProviderDataset

from .conftest import Site, log_in

PASSWORD = "Upload-Journey-42"
DATASET = "tax_payment"


def tax_clerk(site: Site, username: str, display_name: str) -> tuple[int, str]:
    """A clerk of the first provider assigned tax_payment (made when the site has none); the
    provider's id and name. A clerk delivers only the datasets the list assigns its provider."""
    with session_scope(make_sessionmaker(site.engine)) as session:
        provider = session.scalars(
            select(Provider)
            .join(ProviderDataset, ProviderDataset.provider_id == Provider.id)
            .where(ProviderDataset.dataset_code == DATASET)
            .order_by(Provider.id)
        ).first()
        if provider is None:
            provider = Provider(code="e2e-tax", name="国家税务总局安徽省税务局", kind="department",
                                division_code="340000", created_at=utc_now())  # fmt: skip
            session.add(provider)
            session.flush()
            session.add(ProviderDataset(provider_id=provider.id, dataset_code=DATASET))
        access_service.create_user(
            session, CONSOLE, username=username, display_name=display_name, password=PASSWORD,
            role=Role.PROVIDER_USER, provider_id=provider.id,
        )  # fmt: skip
        return provider.id, provider.name


def login_to_upload(page: Page, site: Site, username: str) -> None:
    """Log the clerk in from the upload page, landing back on it."""
    log_in(page, site, {"username": username, "password": PASSWORD}, "/ingest/upload")
