"""Long work shows progress (issue 23): an operator presses "重新计算" on the aggregates, sees the
recomputation queued by the button, and — once a worker has run it — the status turn to done and
the figures appear, at desktop and phone widths."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import Console, Site, run_report_jobs, screenshot

pytestmark = pytest.mark.browser

PASSWORD = "Long-Work-Shows-42"


def _cli(site: Site, *args: str) -> str:
    env = {
        **os.environ,
        "CREDITBRIDGE_DATABASE_URL": site.engine.url.render_as_string(hide_password=False),
    }
    done = subprocess.run(
        [sys.executable, "-m", "creditbridge", *args],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(params=[(1366, 900), (390, 844)], ids=["desktop", "phone"])
def tab(request: pytest.FixtureRequest, browser: Browser, site: Site) -> Iterator[Page]:
    width, height = request.param
    console = Console()
    context = browser.new_context(
        viewport={"width": width, "height": height}, base_url=site.base_url, locale="zh-CN"
    )
    page = context.new_page()
    page.on("console", console.on_message)
    page.on("pageerror", lambda error: console.problems.append(f"page error: {error}"))
    yield page
    context.close()
    assert console.problems == [], "the browser reported errors"


def _login(page: Page, username: str) -> None:
    page.goto("/aggregates")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    if "/login/totp" in page.url:
        secret = page.get_by_test_id("totp-secret").inner_text()
        page.get_by_label("动态口令").fill(pyotp.TOTP(secret).now())
        page.get_by_role("button", name="验证").click()


def test_operator_refresh_runs_as_a_job_and_the_status_moves_to_done(tab: Page, site: Site) -> None:
    width = tab.viewport_size["width"] if tab.viewport_size else 0
    username = f"e2e-longwork-{width}"
    _cli(site, "users", "create", username, "--role", "operator", "--name", "统计运营",
         "--password", PASSWORD)  # fmt: skip
    _login(tab, username)
    expect(tab).to_have_url(f"{site.base_url}/aggregates")

    tab.get_by_test_id("agg-refresh").click()
    status = tab.get_by_test_id("agg-status")
    expect(status).to_have_attribute("data-status", "queued")
    expect(status).to_contain_text("已排队")
    # At a phone's width the page never scrolls sideways.
    assert tab.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(tab, f"longwork-1-queued-{width}")

    run_report_jobs(site)
    # The fragment polls every 2 s; once done, the page reloads with the new figures.
    expect(status).to_have_attribute("data-status", "succeeded", timeout=15_000)
    expect(tab.get_by_test_id("agg-status")).to_contain_text("已完成 于")
    expect(tab.get_by_test_id("chart-city").locator("svg")).to_be_visible(timeout=15_000)
    expect(tab.get_by_test_id("agg-table-city")).to_contain_text("合肥市")
    assert tab.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(tab, f"longwork-2-done-{width}")
