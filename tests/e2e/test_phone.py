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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from playwright.sync_api import Browser, BrowserContext, Page, expect

from creditbridge.core.config import Settings
from creditbridge.web.app import create_app

from .conftest import (
    DOCS_MAX_HEIGHT,
    DOCS_MAX_WIDTH,
    Site,
    fresh_totp_code,
    publish_screenshot,
)
from .test_consent_journey import _demo_logins

pytestmark = pytest.mark.browser

PHONE = 390
DESKTOP = 1366
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

# Elements that stick out of the window (deepest first), for the failure message.
OVERFLOW_JS = """
(limit) => {
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.right <= limit + 1) continue;
    // Content inside a box that scrolls sideways does not widen the page.
    let scrolled = false;
    for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if ((o === 'auto' || o === 'scroll' || o === 'hidden') && p.getBoundingClientRect().right <= limit + 1) { scrolled = true; break; }
    }
    if (scrolled) continue;
    if ([...el.children].some(c => c.getBoundingClientRect().right > limit + 1)) continue;
    const id = el.id ? '#' + el.id : '';
    const cls = el.classList.length ? '.' + [...el.classList].slice(0, 3).join('.') : '';
    const tid = el.dataset.testid ? `[data-testid=${el.dataset.testid}]` : '';
    out.push(`${el.tagName.toLowerCase()}${id}${cls}${tid} right=${Math.round(box.right)} "${(el.textContent || '').trim().slice(0, 30)}"`);
    if (out.length >= 4) break;
  }
  return out;
}
"""


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


class Person:
    """One role's browser at one width; console errors fail the test (as in conftest)."""

    def __init__(self, browser: Browser, site: Site, width: int) -> None:
        self.context: BrowserContext = browser.new_context(
            viewport={"width": width, "height": 844 if width == PHONE else 900},
            base_url=site.base_url,
            locale="zh-CN",
        )
        # No step may hang a walk of a hundred pages: each gives up after 20 s.
        self.context.set_default_timeout(20_000)
        self.page: Page = self.context.new_page()
        self.width = width
        self.site = site
        self.problems: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.problems.append(f"{self.page.url}: {m.text}") if m.type == "error" else None
            ),
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"{self.page.url}: {e}"))

    def login(self, login: dict[str, Any]) -> None:
        page = self.page
        page.goto("/login")
        page.get_by_label("用户名").fill(login["username"])
        page.get_by_label("密码").fill(login["password"])
        page.get_by_role("button", name="登录").click()
        if login["totp_secret"]:
            page.get_by_label("动态口令").fill(fresh_totp_code(self.site, login))
            page.get_by_role("button", name="验证").click()
        expect(page).not_to_have_url(re.compile(r"/login"))

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


@pytest.fixture
def person(browser: Browser, site: Site, request: pytest.FixtureRequest) -> Iterator[Person]:
    who = Person(browser, site, request.param)
    yield who
    who.context.close()


def _walk(person: Person) -> tuple[list[Misfit], int]:
    """Open every page ``person`` may open and one detail page per list; the misfits and how
    many pages were measured."""
    misfits: list[Misfit] = []
    measured = 0
    seen: set[str] = set()
    for path in PATHS:
        print(f"{person.width} px {path}", flush=True)  # where a slow walk is, with -s
        if not person.is_page(path):
            continue
        found = person.misfit(path)
        measured += 1
        if found:
            misfits.append(found)
        detail = person.first_detail(path)
        if detail and detail not in seen and person.is_page(detail):
            seen.add(detail)
            measured += 1
            found = person.misfit(detail)
            if found:
                misfits.append(found)
    # The homes' screenshots (home-<role>-<device>) are test_homes.py's.
    return misfits, measured


@pytest.mark.parametrize("person", [PHONE, DESKTOP], indirect=True, ids=["phone", "desktop"])
@pytest.mark.parametrize("name", sorted(ROLES))
def test_every_page_of_a_role_fits_the_screen(person: Person, site: Site, name: str) -> None:
    person.login(_demo_logins(site)[ROLES[name]])
    misfits, measured = _walk(person)
    assert measured >= 3, f"{name} could open only {measured} pages"
    assert misfits == [], (
        f"{name} at {person.width} px, pages wider than the screen:\n"
        + "\n".join(str(m) for m in misfits)
    )
    assert person.problems == [], "the browser reported errors"


@pytest.mark.parametrize("person", [PHONE, DESKTOP], indirect=True, ids=["phone", "desktop"])
def test_public_pages_fit_the_screen(person: Person) -> None:
    misfits = [
        m
        for path in ("/login", "/register", "/verify", "/catalog", "/")
        if (m := person.misfit(path))
    ]
    assert misfits == [], "\n".join(str(m) for m in misfits)
    assert person.problems == [], "the browser reported errors"


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
