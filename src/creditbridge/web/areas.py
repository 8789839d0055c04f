"""The menus of each role and the three public area pages.

The menus are derived from the routes: an item names a route, and a signed-in user sees it only
when the route's ``require_roles`` admits the user's role (``dependency.roles``), so a page is
never offered to a role it would refuse, and who may open a page is declared once, on the route.
An item without a route is a feature not built yet ("建设中"); it names the roles it will serve.

The area pages (/operator, /institution, /enterprise) are public: they tell a visitor what the
platform offers each party. A feature with a ``route`` works today; one without is announced
there as coming, with no placeholder data, until the issue that builds it gives it a route.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal

import jinja2
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy.orm import Session

from creditbridge.access import service as access_service
from creditbridge.catalog import service as catalog_service
from creditbridge.core.actors import Role
from creditbridge.ingest import service as ingest_service
from creditbridge.marketplace import service as marketplace_service
from creditbridge.presentation.templating import environment
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
            Feature("dashboard", "home:operator_dashboard"),
            Feature("catalog", "catalog:list"),
            Feature("providers"),
            Feature("batches", "ingest:upload"),
            Feature("collection_rate", "collection:dashboard"),
            Feature("scoring_overview", "scoring:overview"),
            Feature("aggregates", "reports:aggregates"),
            Feature("institutions_admin", "access:institutions"),
            Feature("nodes", "exchange:node"),
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
            Feature("my_credit", "reports:self"),
            Feature("scoring_mine", "scoring:mine"),
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


# --- Menus per role ---------------------------------------------------------------------------

# Only for items whose route does not name its roles: coming features and public pages.
ENT, OPS, PROV, INST = (
    Role.ENTERPRISE_USER,
    Role.OPERATOR,
    Role.PROVIDER_USER,
    Role.INSTITUTION_OFFICER,
)


@dataclass(frozen=True)
class MenuItem:
    """One entry of a menu: ``menu.<key>`` on screen, opening ``route``.

    ``only`` narrows a route every role may open (a public page, a page for any signed-in user)
    to the roles whose work it is; for a route with ``require_roles`` the route's roles decide.
    An item without a route is coming and shows to the roles in ``only``.
    """

    key: str
    route: str | None = None
    only: frozenset[Role] = frozenset()

    @property
    def available(self) -> bool:
        return self.route is not None


@dataclass(frozen=True)
class MenuGroup:
    key: str
    items: tuple[MenuItem, ...]


def _item(key: str, route: str | None = None, *only: Role) -> MenuItem:
    return MenuItem(key, route, frozenset(only))


MENU: Final = (
    MenuGroup(
        "credit",
        (
            _item("my_credit", "reports:self"),
            _item("my_score", "scoring:mine"),
            _item("access_log", "consent:access_log"),
            _item("enterprise_search", "reports:search"),
            _item("score_lookup", "scoring:lookup"),
            _item("read", "consent:read_form"),
            _item("report_files", "reports:ready"),
            _item("aggregates", "reports:aggregates"),
            _item("scoring_overview", "scoring:overview"),
            _item("verification", None, INST),
            _item("alerts", None, INST, ENT),
            _item("objections", None, ENT),
            _item("repair", None, ENT),
        ),
    ),
    MenuGroup(
        "consent",
        (
            _item("my_consents", "consent:mine"),
            _item("grant_consent", "consent:grant_form"),
            _item("request_consent", "consent:request_form"),
            _item("institution_consents", "consent:institution_list"),
            _item("consent_notifications", "consent:notifications"),
        ),
    ),
    MenuGroup(
        "market",
        (
            _item("my_demands", "marketplace:my_demands"),
            _item("demand_new", "marketplace:demand_new"),
            _item("my_loans", "marketplace:my_loans"),
            _item("inbox", "marketplace:inbox"),
            _item("pool", "marketplace:pool"),
            _item("products", "marketplace:products"),
            _item("loan_upload", "marketplace:upload"),
            _item("review", "marketplace:review"),
            _item("whitelist", "marketplace:whitelist"),
            _item("outcomes", "marketplace:outcomes"),
            _item("market_notifications", "marketplace:notifications"),
        ),
    ),
    MenuGroup(
        "collection",
        (
            _item("upload", "ingest:upload"),
            _item("batches", "ingest:batches"),
            _item("collection_rate", "collection:dashboard"),
            _item("collection_overdue", "collection:overdue"),
            _item("catalog", "catalog:list", OPS, PROV),
            _item("providers", None, OPS),
        ),
    ),
    MenuGroup(
        "platform",
        (
            _item("dashboard", "home:operator_dashboard"),
            _item("institutions", "access:institutions"),
            _item("registrations", "access:registrations"),
            _item("webhooks", "delivery:endpoints"),
            _item("jobs", "jobs:overview"),
            _item("deliveries", "jobs:deliveries"),
            _item("nodes", "exchange:node"),
        ),
    ),
    MenuGroup(
        "admin",
        (
            _item("users", "access:users"),
            _item("admin_changes", "access:admin_changes"),
            _item("clients", "access:clients"),
            _item("flags", "access:flags"),
            _item("audit", "audit:events"),
            _item("audit_verify", "audit:verify_form"),
        ),
    ),
)

ANY_SIGNED_IN: Final = frozenset(Role)
"""Who may open a route that asks only for a login."""


@dataclass(frozen=True)
class RouteAccess:
    """Who may open a GET page: ``None`` for anyone (no login), else the roles admitted."""

    path: str
    roles: frozenset[Role] | None


def _declared_roles(route: APIRoute) -> frozenset[Role] | None:
    # Imported here: the auth module renders through the templating that imports this module.
    from creditbridge.web.auth import require_login

    roles: set[Role] = set()
    login = False
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        declared = getattr(dependency.call, "roles", None)
        if declared is not None:
            roles.update(declared)
        if dependency.call is require_login:
            login = True
        pending.extend(dependency.dependencies)
    if roles:
        return frozenset(roles)
    return ANY_SIGNED_IN if login else None


def page_routes(app: FastAPI) -> dict[str, RouteAccess]:
    """Every GET route of ``app`` by name with who may open it (computed once per app)."""
    cached: dict[str, RouteAccess] | None = getattr(app.state, "cb_page_routes", None)
    if cached is not None:
        return cached
    found: dict[str, RouteAccess] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path_format
        if isinstance(route, APIRoute) and "GET" in (route.methods or ()) and context.name and path:
            found[context.name] = RouteAccess(path, _declared_roles(route))
    app.state.cb_page_routes = found
    return found


def _shown(item: MenuItem, role: Role, routes: dict[str, RouteAccess]) -> bool:
    if item.route is None:
        return role in item.only
    access = routes.get(item.route)
    if access is None:
        return False
    admitted = access.roles if access.roles is not None else ANY_SIGNED_IN
    return role in admitted and (not item.only or role in item.only)


def menu_for(app: FastAPI, role: Role | str) -> list[MenuGroup]:
    """The groups and items ``role`` may use, in menu order; empty groups left out."""
    role = Role(role)
    routes = page_routes(app)
    groups = []
    for group in MENU:
        items = tuple(item for item in group.items if _shown(item, role, routes))
        if items:
            groups.append(MenuGroup(group.key, items))
    return groups


def menu_routes(app: FastAPI, role: Role | str) -> Iterable[str]:
    """The route names the menus of ``role`` link to."""
    for group in menu_for(app, role):
        for item in group.items:
            if item.route is not None:
                yield item.route


@jinja2.pass_context
def _role_menu(context: jinja2.runtime.Context, role: str) -> list[MenuGroup]:
    app: Any = context["request"].app
    return menu_for(app, role)


environment.globals.update(role_menu=_role_menu)
