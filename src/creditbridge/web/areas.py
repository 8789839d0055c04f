"""The three areas of the platform and their features, for the navigation and the area pages.

A feature with a ``route`` works today; one without is announced on its area's page as coming,
with no placeholder data, until the issue that builds it gives it a route.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from sqlalchemy.orm import Session

from creditbridge.access import service as access_service
from creditbridge.catalog import service as catalog_service
from creditbridge.ingest import service as ingest_service
from creditbridge.marketplace import service as marketplace_service
from creditbridge.subjects import service as subjects_service

AreaKey = Literal["operator", "institution", "enterprise"]


@dataclass(frozen=True)
class Feature:
    key: str
    route: str | None = None

    @property
    def available(self) -> bool:
        return self.route is not None


@dataclass(frozen=True)
class Area:
    key: AreaKey
    route: str
    icon: str
    features: tuple[Feature, ...]


AREAS: Final = (
    Area(
        "operator",
        "area:operator",
        "operator",
        (
            Feature("dashboard", "home:dashboard"),
            Feature("catalog", "catalog:list"),
            Feature("providers"),
            Feature("batches", "ingest:upload"),
            Feature("collection_rate"),
            Feature("scoring_overview", "scoring:overview"),
            Feature("aggregates", "reports:aggregates"),
            Feature("institutions_admin", "access:institutions"),
            Feature("nodes"),
            Feature("whitelist", "marketplace:whitelist"),
            Feature("audit", "audit:events"),
            Feature("jobs", "jobs:overview"),
            Feature("deliveries", "jobs:deliveries"),
        ),
    ),
    Area(
        "institution",
        "area:institution",
        "institution",
        (
            Feature("products", "marketplace:products"),
            Feature("demands", "marketplace:inbox"),
            Feature("reports", "reports:search"),
            Feature("verification"),
            Feature("scoring_lookup", "scoring:lookup"),
            Feature("alerts"),
            Feature("outcomes", "marketplace:outcomes"),
            Feature("webhooks", "delivery:endpoints"),
        ),
    ),
    Area(
        "enterprise",
        "area:enterprise",
        "enterprise",
        (
            Feature("enterprise_search", "reports:search"),
            Feature("my_credit"),
            Feature("scoring_mine", "scoring:mine"),
            Feature("self_query", "reports:self"),
            Feature("consents", "consent:mine"),
            Feature("publish_demand", "marketplace:my_demands"),
            Feature("my_loans", "marketplace:my_loans"),
            Feature("objections"),
            Feature("repair"),
        ),
    ),
)
AREAS_BY_KEY: Final = {area.key: area for area in AREAS}


@dataclass(frozen=True)
class Figure:
    """One real count shown on an area page, with the message key of its label."""

    label_key: str
    value: int


def area_figures(session: Session, area: AreaKey) -> list[Figure]:
    """What the node already holds that the area's coming features will work on."""
    if area == "operator":
        current = catalog_service.get_current_version(session)
        datasets = len(catalog_service.list_datasets(session)) if current is not None else 0
        return [
            Figure("dashboard.total.datasets", datasets),
            Figure("dashboard.total.providers", ingest_service.count_providers(session)),
            Figure("area.figure.batches", ingest_service.count_batches(session)),
        ]
    if area == "institution":
        return [
            Figure("dashboard.total.institutions", access_service.count_institutions(session)),
            Figure("dashboard.total.products", marketplace_service.count_products(session)),
            Figure("dashboard.total.loans", marketplace_service.count_loans(session)),
        ]
    return [
        Figure("dashboard.total.subjects", subjects_service.count_subjects(session)),
        Figure("dashboard.total.records", ingest_service.count_accepted_rows(session)),
    ]
