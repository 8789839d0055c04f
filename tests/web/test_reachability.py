"""Every page a role may open is reachable from that role's menus or home (issue 23).

The pages come from the application itself: every GET route with who may open it, read from the
``require_roles`` (``dependency.roles``) or ``require_login`` the route depends on
(:func:`creditbridge.web.areas.page_routes`). For each role a user logs in, opens its home, and
the links of that page (menus, home cards, user menu, footer) are collected:

* a page without path parameters must be linked there;
* a page with path parameters, a download (CSV/XLSX/PDF/template) or a confirmation step cannot
  sit in a menu (it needs an id, or it belongs beside the data it exports): it is listed in
  :data:`REACHED_FROM` with the pages that link to it; one of those must be reachable by the role,
  and the link must exist in the code (the route's name in a template or page module);
* a public page (no login) must be linked from the visitor's landing page, or be listed.

So a new page fails here until it has a menu entry, a card, or a documented parent.
Not pages: ``/api/*`` (signed JSON, documented at /api/v1/docs), ``/static``, and the machine
endpoints in :data:`MACHINE`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Final

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

import creditbridge
from creditbridge.core.actors import Role
from creditbridge.web.areas import ANY_SIGNED_IN, RouteAccess, menu_routes, page_routes
from creditbridge.web.auth import require_roles

from .conftest import LoggedIn

SOURCE: Final = Path(creditbridge.__file__).parent

# Read by programs, not people: a probe, a scraper, the public key a verifier downloads.
MACHINE: Final = frozenset({"healthz", "jobs:metrics", "signing_key_pem"})

# Public pages a visitor reaches without a link on the landing page, and why.
PUBLIC_ELSEWHERE: Final = {
    "auth:totp": "the second step of /login, reached by its redirect",
    "auth:invitation": "the link in an invitation message, carrying its token",
}

# Pages reached from another page, not a menu: the pages that link to them.
REACHED_FROM: Final[dict[str, tuple[str, ...]]] = {
    # One thing of a list, by its id or code
    "exchange:peer": ("exchange:node",),
    "catalog:dataset": ("catalog:list",),
    "consent:detail": ("consent:mine", "consent:institution_list"),
    "access:user": ("access:users",),
    "access:institution": ("access:institutions",),
    "ingest:batch": ("ingest:batches", "ingest:upload"),
    "collection:dataset": ("collection:dashboard",),
    "collection:city": ("collection:dataset",),
    "reports:profile": ("reports:search",),
    "reports:report_form": ("reports:profile",),
    "reports:pdf_form": ("reports:profile",),
    "reports:verify": ("reports:verify_form",),
    "reports:verify_receipt": ("reports:verify_form",),
    "scoring:model": ("scoring:overview",),
    "marketplace:demand": (
        "marketplace:my_demands",
        "marketplace:inbox",
        "marketplace:pool",
        "marketplace:review",
    ),
    "marketplace:application": (
        "marketplace:my_demands",
        "marketplace:inbox",
        "marketplace:demand",
    ),
    "marketplace:product_detail": ("marketplace:products", "marketplace:review"),
    "marketplace:product_edit": ("marketplace:product_detail",),
    "marketplace:product_new": ("marketplace:products",),
    "delivery:endpoint": ("delivery:endpoints",),
    # Steps that ask for a confirmation before an irreversible move
    "exchange:confirm": ("exchange:peer",),
    "marketplace:apply_form": ("marketplace:demand",),
    "marketplace:withdraw_confirm": ("marketplace:application",),
    "marketplace:grab_confirm": ("marketplace:pool",),
    "marketplace:move_confirm": ("marketplace:application",),
    # Progress of a long job, polled by its page
    "reports:aggregates_status": ("reports:aggregates",),
    # Downloads, beside the data they export
    "catalog:template": ("catalog:dataset", "ingest:upload"),
    "audit:export": ("audit:events",),
    "access:institutions_csv": ("access:institutions",),
    "access:institutions_xlsx": ("access:institutions",),
    "ingest:batches_export": ("ingest:batches",),
    "ingest:rejects_csv": ("ingest:batch",),
    "collection:export": ("collection:dashboard",),
    "reports:rendered_pdf": ("reports:ready",),
    "reports:aggregates_xlsx": ("reports:aggregates",),
    "marketplace:my_demands_export": ("marketplace:my_demands",),
    "marketplace:my_loans_export": ("marketplace:my_loans",),
    "marketplace:inbox_export": ("marketplace:inbox",),
    "marketplace:pool_export": ("marketplace:pool",),
    "marketplace:upload_template": ("marketplace:upload",),
    "marketplace:products_export": ("marketplace:products",),
    "marketplace:whitelist_export": ("marketplace:whitelist",),
    "marketplace:outcomes_xlsx": ("marketplace:outcomes",),
}

_PARAM = re.compile(r"\{[^}]+\}")


def _pages(app: FastAPI) -> dict[str, RouteAccess]:
    return {
        name: access
        for name, access in page_routes(app).items()
        if not access.path.startswith(("/api/", "/static/")) and name not in MACHINE
    }


def _links(page: str) -> set[str]:
    """The paths this page links to, without query or fragment."""
    hrefs = re.findall(r'<a\b[^>]*\bhref="([^"]+)"', page)
    return {h.split("#")[0].split("?")[0] for h in hrefs if h.startswith("/")}


def _linked_names(app: FastAPI, links: set[str]) -> set[str]:
    by_path = {a.path: name for name, a in _pages(app).items() if not _PARAM.search(a.path)}
    return {by_path[link] for link in links if link in by_path}


@functools.cache
def _templates_and_page_modules() -> tuple[str, ...]:
    return tuple(
        path.read_text(encoding="utf-8")
        for path in [*SOURCE.rglob("*.html"), *SOURCE.rglob("*pages*.py")]
    )


def _linked_in_code(name: str) -> bool:
    """Some template or page module names the route (``url_for('name', …)``)."""
    quoted = (f"'{name}'", f'"{name}"')
    return any(q in text for text in _templates_and_page_modules() for q in quoted)


def _unreached(
    pages: dict[str, RouteAccess], allowed: set[str], linked: set[str]
) -> dict[str, str]:
    """The pages of ``allowed`` not reachable from ``linked``, each with the reason."""
    reached = set(linked & allowed)
    changed = True
    while changed:  # a page reached from a page reached from the home, and so on
        changed = False
        for name, parents in REACHED_FROM.items():
            if name in allowed and name not in reached and set(parents) & reached:
                reached.add(name)
                changed = True
    problems = {}
    for name in sorted(allowed - reached):
        if name in REACHED_FROM:
            problems[name] = f"none of its parents {REACHED_FROM[name]} is reachable"
        elif _PARAM.search(pages[name].path):
            problems[name] = "has path parameters: list the pages linking to it in REACHED_FROM"
        else:
            problems[name] = "not linked from the role's menus or home"
    return problems


@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
def test_every_page_a_role_may_open_is_reachable_from_its_menus_or_home(
    app: FastAPI, client: TestClient, login_as: Callable[..., LoggedIn], role: Role
) -> None:
    login_as(role)
    home = client.get("/")
    assert home.status_code == 200
    pages = _pages(app)
    allowed = {
        name for name, access in pages.items() if access.roles is not None and role in access.roles
    }
    linked = _linked_names(app, _links(home.text))

    problems = _unreached(pages, allowed, linked)

    assert not problems, f"{role.value} cannot reach: " + "; ".join(
        f"{pages[name].path} ({name}): {why}" for name, why in problems.items()
    )


def test_every_public_page_is_reachable_from_the_landing_page(
    app: FastAPI, client: TestClient
) -> None:
    landing = client.get("/")
    pages = _pages(app)
    public = {name for name, access in pages.items() if access.roles is None} - set(
        PUBLIC_ELSEWHERE
    )

    problems = _unreached(pages, public, _linked_names(app, _links(landing.text)))

    assert not problems, "a visitor cannot reach: " + "; ".join(
        f"{pages[name].path} ({name}): {why}" for name, why in problems.items()
    )


def test_pages_reached_from_another_page_are_linked_there_in_the_code(app: FastAPI) -> None:
    pages = _pages(app)
    stale = sorted(set(REACHED_FROM) - pages.keys())
    parents = {p for ps in REACHED_FROM.values() for p in ps}
    assert not stale, f"REACHED_FROM names routes that no longer exist: {stale}"
    assert not parents - pages.keys(), f"unknown parents: {sorted(parents - pages.keys())}"
    unlinked = [name for name in REACHED_FROM if not _linked_in_code(name)]
    assert not unlinked, f"no template or page links to: {unlinked}"


@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
def test_menus_offer_only_pages_the_role_may_open(app: FastAPI, role: Role) -> None:
    pages = page_routes(app)
    for name in menu_routes(app, role):
        roles = pages[name].roles
        assert roles is None or role in roles, f"{role.value}'s menu offers {name}"
    assert frozenset(Role) == ANY_SIGNED_IN


def test_a_new_page_without_a_menu_entry_or_parent_is_caught(app: FastAPI) -> None:
    @app.get("/operator/new-thing", dependencies=[Depends(require_roles(Role.OPERATOR))])
    def new_thing() -> str:
        return ""

    app.state.cb_page_routes = None  # the routes are read once per app; read them again
    pages = _pages(app)
    allowed = {n for n, a in pages.items() if a.roles is not None and Role.OPERATOR in a.roles}
    linked = set(menu_routes(app, Role.OPERATOR))

    problems = _unreached(pages, allowed, linked)

    assert problems.get("new_thing") == "not linked from the role's menus or home"
