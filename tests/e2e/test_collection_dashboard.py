"""An operator opens the collection dashboard after the demo's data and the metrics job, and sees
the collection rate by dataset and by city, the charts drawn, and can drill down to a batch."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .conftest import Site, cli, log_in, screenshot

pytestmark = pytest.mark.browser

PASSWORD = "Collection-Board-42"
MONTH = "2026-09"  # the demo's last complete month for its default as-of date, 2026-10-31


def test_operator_sees_collection_rate_by_dataset_and_city(page: Page, site: Site) -> None:
    analytics = {"CREDITBRIDGE_ANALYTICS_DIR": str(site.workdir / "analytics")}
    cli(site, "collection", "compute", "--month", MONTH, "--last", "3", "--as-of", "2026-10-31",
        env=analytics)  # fmt: skip
    cli(site, "users", "create", "e2e-collection", "--role", "operator", "--name", "归集管理员",
        "--password", PASSWORD)  # fmt: skip

    # A new operator: its first login enrols the second factor its role requires.
    log_in(page, site, {"username": "e2e-collection", "password": PASSWORD}, "/collection")
    expect(page).to_have_url(f"{site.base_url}/collection")

    expect(page.get_by_test_id("collection-rate")).to_contain_text("%")
    datasets = page.get_by_test_id("dataset-table")
    expect(datasets).to_contain_text("纳税信息")
    expect(datasets.locator("tbody tr")).to_have_count(30)
    cities = page.get_by_test_id("city-table")
    expect(cities).to_contain_text("合肥市")
    expect(cities.locator("tbody tr")).to_have_count(16)
    for chart in ("cities", "trend", "datasets"):
        expect(page.locator(f"#chart-collection-{chart}")).to_have_attribute(
            "data-chart-ready", "true"
        )
    expect(page.locator("#chart-collection-cities svg")).to_contain_text("合肥市")
    screenshot(page, "collection-dashboard")

    # list → dataset → city → provider → batch
    datasets.locator('tr[data-dataset="tax_payment"] a').click()
    page.get_by_test_id("city-table").locator('tr[data-city="340100"] a').click()
    batch = page.get_by_test_id("batches").locator("a").first
    expect(batch).to_be_visible()
    batch.click()
    expect(page.get_by_test_id("batch-status")).to_be_visible()
