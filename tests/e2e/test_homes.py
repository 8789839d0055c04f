"""Each of the five roles logs in and lands on its own home (工作台), at 1366 px and at 390 px:
its cards are there, the page does not scroll sideways, and its menu holds only its own items
(the ones :func:`creditbridge.web.areas.menu_for` derives from the routes' roles)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from creditbridge.core.config import Settings
from creditbridge.web.app import create_app
from creditbridge.web.areas import menu_for

from .conftest import Site, fresh_totp_code, screenshot
from .test_consent_journey import _demo_logins

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": 1366, "phone": 390}
ROLES = {
    # name in the screenshots → (demo login's role, cards its home must show)
    "enterprise": (
        "enterprise_user",
        ("card-score", "card-consents", "card-demands", "card-applications", "card-messages"),
    ),
    "officer": (
        "institution_officer",
        ("card-dispatched", "card-pool", "card-stages", "card-deadlines", "card-loans-month"),
    ),
    "operator": (
        "operator",
        ("card-collection", "card-deliveries", "card-escalated", "card-products", "card-whitelist"),
    ),
    "provider": ("provider_user", ("card-datasets", "card-owed", "card-batches")),
    "auditor": ("audit_admin", ("card-chain", "card-sensitive")),
}


@pytest.fixture(scope="module")
def logins(site: Site) -> dict[str, dict[str, Any]]:
    return _demo_logins(site)


def _expected_menu(role: str) -> tuple[set[str], set[str]]:
    """The groups and the items (built ones) of ``role``'s menu, from the routes."""
    groups = menu_for(create_app(Settings(database_url="sqlite://")), role)
    items = {item.key for group in groups for item in group.items if item.available}
    return {group.key for group in groups}, items


@pytest.fixture
def tab(browser: Browser, site: Site, request: pytest.FixtureRequest) -> Iterator[Page]:
    width = WIDTHS[request.param]
    context: BrowserContext = browser.new_context(
        viewport={"width": width, "height": 844 if width < 500 else 900},
        base_url=site.base_url,
        locale="zh-CN",
    )
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    yield page
    context.close()
    assert problems == [], "the browser reported errors"


@pytest.mark.parametrize("tab", list(WIDTHS), indirect=True)
@pytest.mark.parametrize("name", list(ROLES))
def test_each_role_lands_on_its_home_with_its_cards_and_only_its_menu(
    tab: Page, site: Site, logins: dict[str, dict[str, Any]], name: str
) -> None:
    role, cards = ROLES[name]
    login = logins[role]
    page = tab
    device = "phone" if page.viewport_size and page.viewport_size["width"] < 500 else "desktop"

    page.goto("/login")
    page.get_by_label("用户名").fill(login["username"])
    page.get_by_label("密码").fill(login["password"])
    page.get_by_role("button", name="登录").click()
    if login["totp_secret"]:
        page.get_by_label("动态口令").fill(fresh_totp_code(site, login))
        page.get_by_role("button", name="验证").click()
    expect(page).not_to_have_url(re.compile(r"/login"))
    page.goto("/")

    expect(page.get_by_test_id(f"home-{role}")).to_be_visible()
    for card in cards:
        expect(page.get_by_test_id(card)).to_be_visible()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    inner = page.evaluate("() => window.innerWidth")
    assert width <= inner, f"{name} home is {width} px wide in a {inner} px window"

    groups, items = _expected_menu(role)
    shown_groups = set(
        page.locator("[data-testid^=nav-group-]").evaluate_all(
            "els => els.map(e => e.dataset.testid.slice('nav-group-'.length))"
        )
    )
    shown_items = set(
        page.locator("[data-testid^=nav-item-]").evaluate_all(
            "els => els.map(e => e.dataset.testid.slice('nav-item-'.length))"
        )
    )
    assert shown_groups == groups
    assert shown_items == items
    if role == "enterprise_user":
        assert not shown_groups & {"platform", "collection"}
        expect(page.get_by_text("运营管理")).to_have_count(0)

    screenshot(page, f"home-{name}-{device}")

    if device == "phone":
        # The menu folds behind the toggler and opens on a tap, still inside the window.
        page.get_by_role("button", name="菜单").click()
        first = sorted(groups)[0]
        expect(page.get_by_test_id(f"nav-group-{first}")).to_be_visible()
        assert page.evaluate("() => document.documentElement.scrollWidth") <= inner
        page.get_by_role("button", name="菜单").click()
