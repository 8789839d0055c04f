"""An operator opens the collection dashboard after the demo's data and the metrics job, and sees
the collection rate by dataset and by city, the charts drawn, and can drill down to a batch."""

from __future__ import annotations

import os
import subprocess
import sys

import pyotp
import pytest
from playwright.sync_api import Page, expect

from .conftest import Site, screenshot

pytestmark = pytest.mark.browser

PASSWORD = "Collection-Board-42"
MONTH = "2026-09"  # the demo's last complete month for its default as-of date, 2026-10-31


def _cli(site: Site, *args: str) -> str:
    env = {
        **os.environ,
        "CREDITBRIDGE_DATABASE_URL": site.engine.url.render_as_string(hide_password=False),
        "CREDITBRIDGE_ANALYTICS_DIR": str(site.engine.url.database) + "-analytics",
    }
    done = subprocess.run(
        [sys.executable, "-m", "creditbridge", *args],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_operator_sees_collection_rate_by_dataset_and_city(page: Page, site: Site) -> None:
    _cli(site, "collection", "compute", "--month", MONTH, "--last", "3", "--as-of", "2026-10-31")
    _cli(site, "users", "create", "e2e-collection", "--role", "operator", "--name", "归集管理员",
         "--password", PASSWORD)  # fmt: skip

    page.goto("/collection")
    page.get_by_label("用户名").fill("e2e-collection")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    if "/login/totp" in page.url:
        secret = page.get_by_test_id("totp-secret").inner_text()
        page.get_by_label("动态口令").fill(pyotp.TOTP(secret).now())
        page.get_by_role("button", name="验证").click()
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
