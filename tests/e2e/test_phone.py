"""A phone is a first-class screen (issue 23, 政务"掌上办"): every page a role can open fits a
390 px wide screen without scrolling sideways, and a 1366 px desktop too.

Each role (and a visitor) logs in and opens every GET page of the web shell that takes no path
parameter, plus one detail page linked from each list, and the page's own width
(``document.documentElement.scrollWidth``) must not exceed the window's. Pages the role may not
open (403/404), downloads and machine endpoints are left out by looking at the response first.
A failure names the page and the elements that stick out, so it can be fixed where it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from playwright.sync_api import Page

from creditbridge.core.config import Settings
from creditbridge.web.app import create_app

from .conftest import (
    DOCS_MAX_HEIGHT,
    DOCS_MAX_WIDTH,
    OVERFLOW_JS,
    People,
    Person,
    Screen,
    Site,
    demo_logins,
    publish_screenshot,
)

pytestmark = pytest.mark.browser

ROLES = {
    # the name in screenshots → the demo login's role
    "enterprise": "enterprise_user",
    "officer": "institution_officer",
    "operator": "operator",
    "provider": "provider_user",
    "auditor": "audit_admin",
}
# Machine endpoints, downloads and steps of a login: not pages a person reads on a phone.
SKIP = re.compile(
    r"^/(healthz|metrics|\.well-known/|login|logout)|export|\.csv$|\.xlsx$|\.pdf$|\.json$|/template$|/status$"
)


def page_paths() -> list[str]:
    """Every GET path of the web shell without path parameters, API and downloads left out."""
    app = create_app(Settings(database_url="sqlite://"))
    paths: set[str] = set()
    for context in iter_route_contexts(app.routes):
        route, path = context.original_route, context.path_format
        if not isinstance(route, APIRoute) or path is None or "GET" not in (route.methods or ()):
            continue
        if "{" in path or path.startswith("/api") or SKIP.search(path):
            continue
        paths.add(path)
    return sorted(paths)


PATHS = page_paths()


@dataclass
class Misfit:
    path: str
    width: int
    culprits: list[str]

    def __str__(self) -> str:
        return f"{self.path}: {self.width} px — " + "; ".join(self.culprits)


class Walk:
    """A person's walk through the pages; each step gives up after 20 s, so no page can hang a
    walk of a hundred."""

    def __init__(self, person: Person) -> None:
        self.person = person
        self.page: Page = person.page
        self.width = person.screen.width
        person.context.set_default_timeout(20_000)

    def is_page(self, path: str) -> bool:
        """Whether ``path`` answers this person with an HTML page (not 403, 404, a download)."""
        response = self.page.request.get(path, fail_on_status_code=False, timeout=20_000)
        return (
            response.status == 200
            and urlsplit(response.url).path == path  # not sent elsewhere (login, own home)
            and response.headers.get("content-type", "").startswith("text/html")
        )

    def misfit(self, path: str) -> Misfit | None:
        self.page.goto(path)
        self.page.wait_for_load_state("load")
        width: int = self.page.evaluate("() => document.documentElement.scrollWidth")
        if width <= self.width:
            return None
        culprits: list[str] = self.page.evaluate(OVERFLOW_JS, self.width)
        return Misfit(path, width, culprits)

    def first_detail(self, path: str) -> str | None:
        """A detail page linked from the list at ``path`` (the first link below it with an id)."""
        for href in self.page.locator("main a[href]").evaluate_all(
            "links => links.map(a => a.getAttribute('href'))"
        ):
            target = urlsplit(href).path
            if (
                target.startswith(path.rstrip("/") + "/")
                and re.search(r"/\d+|/[A-Z0-9-]{8,}", target)
                and not SKIP.search(target)
            ):
                return target
        return None


def _walk(walk: Walk) -> tuple[list[Misfit], int]:
    """Open every page the walker may open and one detail page per list; the misfits and how
    many pages were measured."""
    misfits: list[Misfit] = []
    measured = 0
    seen: set[str] = set()
    for path in PATHS:
        print(f"{walk.width} px {path}", flush=True)  # where a slow walk is, with -s
        if not walk.is_page(path):
            continue
        found = walk.misfit(path)
        measured += 1
        if found:
            misfits.append(found)
        detail = walk.first_detail(path)
        if detail and detail not in seen and walk.is_page(detail):
            seen.add(detail)
            measured += 1
            found = walk.misfit(detail)
            if found:
                misfits.append(found)
    # The homes' screenshots (home-<role>-<device>) are test_homes.py's.
    return misfits, measured


@pytest.mark.parametrize("name", sorted(ROLES))
def test_every_page_of_a_role_fits_the_screen(
    people: People, screen: Screen, site: Site, name: str
) -> None:
    person = people.open(screen)
    person.login(demo_logins(site)[ROLES[name]])
    misfits, measured = _walk(Walk(person))
    assert measured >= 3, f"{name} could open only {measured} pages"
    assert misfits == [], (
        f"{name} at {screen.width} px, pages wider than the screen:\n"
        + "\n".join(str(m) for m in misfits)
    )


def test_public_pages_fit_the_screen(people: People, screen: Screen) -> None:
    walk = Walk(people.open(screen))
    misfits = [
        m
        for path in ("/login", "/register", "/verify", "/catalog", "/")
        if (m := walk.misfit(path))
    ]
    assert misfits == [], "\n".join(str(m) for m in misfits)


def test_published_screens_are_small_capped_and_reproducible(tmp_path: Path) -> None:
    from PIL import Image

    source = tmp_path / "shot.png"
    picture = Image.new("RGB", (1440, 5000), "white")
    for y in range(0, 5000, 50):
        picture.paste((10, 43, 99), (0, y, 1440, y + 10))
    picture.save(source)
    first = publish_screenshot(source, tmp_path / "a" / "home-operator-desktop.png")
    second = publish_screenshot(source, tmp_path / "b" / "home-operator-desktop.png")
    with Image.open(first) as small:
        assert small.mode == "P"
        assert small.width == DOCS_MAX_WIDTH
        assert small.height == DOCS_MAX_HEIGHT
    assert first.read_bytes() == second.read_bytes()
    assert first.stat().st_size < source.stat().st_size
