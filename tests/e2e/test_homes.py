"""Each of the five roles logs in and lands on its own home (工作台), at 1366 px and at 390 px:
its cards are there, the page does not scroll sideways, and its menu holds only its own items
(the ones :func:`creditbridge.web.areas.menu_for` derives from the routes' roles)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from creditbridge.core.config import Settings
from creditbridge.web.app import create_app
from creditbridge.web.areas import menu_for

from .conftest import People, Screen, Site, demo_logins, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.both_stores]

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
    return demo_logins(site)


def _expected_menu(role: str) -> tuple[set[str], set[str]]:
    """The groups and the items (built ones) of ``role``'s menu, from the routes."""
    groups = menu_for(create_app(Settings(database_url="sqlite://")), role)
    items = {item.key for group in groups for item in group.items if item.available}
    return {group.key for group in groups}, items


@pytest.mark.parametrize("name", list(ROLES))
def test_each_role_lands_on_its_home_with_its_cards_and_only_its_menu(
    people: People, screen: Screen, logins: dict[str, dict[str, Any]], name: str
) -> None:
    role, cards = ROLES[name]
    person = people.open(screen)
    page = person.page
    device = screen.name

    person.login(logins[role])
    page.goto("/")

    expect(page.get_by_test_id(f"home-{role}")).to_be_visible()
    for card in cards:
        expect(page.get_by_test_id(card)).to_be_visible()
    person.fits_the_screen()

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
        person.fits_the_screen()
        page.get_by_role("button", name="菜单").click()
