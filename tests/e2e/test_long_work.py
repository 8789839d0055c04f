"""Long work shows progress (issue 23): an operator presses "重新计算" on the aggregates, sees the
recomputation queued by the button, and — once a worker has run it — the status turn to done and
the figures appear, at desktop and phone widths."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import People, Screen, Site, cli, run_report_jobs, screenshot

pytestmark = pytest.mark.browser

PASSWORD = "Long-Work-Shows-42"


def test_operator_refresh_runs_as_a_job_and_the_status_moves_to_done(
    site: Site, people: People, screen: Screen
) -> None:
    width = screen.width
    username = f"e2e-longwork-{width}"
    cli(site, "users", "create", username, "--role", "operator", "--name", "统计运营",
        "--password", PASSWORD, timeout=300)  # fmt: skip
    person = people.open(screen)
    tab = person.page
    # A first login: the operator enrols the second factor the page shows.
    person.login({"username": username, "password": PASSWORD}, "/aggregates")
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
