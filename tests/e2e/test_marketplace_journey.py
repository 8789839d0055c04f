"""The marketplace's promise in a real browser: an enterprise posts a demand, sees recommended
products and applies; a bank officer accepts, reads the report and score under the consent the
application created, approves and disburses; the enterprise sees its loan; the outcomes page
counts it as a credit loan to a first-time borrower."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import People, Site, demo_logins, path_of, screenshot

pytestmark = pytest.mark.browser


def _counts(page: Page) -> dict[str, int]:
    page.goto("/market/outcomes?by=city")
    totals = page.get_by_test_id("total-counts")
    return {
        key: int(totals.get_attribute(f"data-{key}") or 0)
        for key in ("loans", "credit-loans", "first-time", "first-time-credit")
    }


def test_demand_to_disbursed_credit_loan_to_a_first_time_borrower(
    site: Site, people: People
) -> None:
    logins = demo_logins(site)
    bank, owner = logins["institution_officer"], logins["enterprise_user"]
    officer, enterprise = (
        people.open(expected="status of 403"),
        people.open(expected="status of 403"),
    )

    officer.login(bank, "/market/outcomes")
    desk = officer.page
    before = _counts(desk)

    # 1. The enterprise posts a demand and sees the recommended products with reasons.
    enterprise.login(owner, "/market/demands")
    mine = enterprise.page
    mine.get_by_test_id("new-demand").click()
    mine.get_by_label("金额（万元）").fill("50")
    mine.get_by_label("期限（月）").fill("12")
    mine.get_by_label("资金用途").fill("采购原材料")
    screenshot(mine, "market-1-demand-form")
    mine.get_by_test_id("publish-demand").click()
    expect(mine).to_have_url(re.compile(r"/market/demands/\d+$"))
    recommendations = mine.get_by_test_id("recommendation")
    expect(recommendations.first).to_be_visible()
    expect(mine.locator('[data-testid="recommendation"][data-fits="no"]').first).to_be_visible()
    screenshot(mine, "market-2-recommendations")

    # 2. It applies for a credit product of the demo bank that fits.
    ours = mine.locator(
        f'[data-testid="recommendation"][data-fits="yes"][data-security="credit"]'
        f'[data-institution="{bank["bound_to"]}"]'
    ).first
    expect(ours.get_by_test_id("fit-reasons")).to_contain_text("符合")
    ours.get_by_test_id("apply").click()
    # Applying shows the consent it creates and asks for it explicitly.
    mine.get_by_test_id("consent-checkbox").check()
    mine.get_by_test_id("apply-confirm").click()
    expect(mine).to_have_url(re.compile(r"/market/applications/\d+$"))
    expect(mine.get_by_test_id("application-status")).to_have_text("待受理")
    application_path = path_of(mine)

    # 3. The bank officer finds it waiting, accepts it, reads the report and the score.
    desk.goto("/market/inbox")
    desk.locator(f'[data-testid="inbox-row"] a[href="{application_path}"]').first.click()
    desk.get_by_test_id("accept").click()
    desk.get_by_test_id("confirm").click()
    expect(desk.get_by_test_id("application-status")).to_have_text("已受理")
    expect(desk.get_by_test_id("consent-link")).to_be_visible()
    panel = desk.get_by_test_id("credit-panel")
    with desk.expect_navigation():
        panel.get_by_test_id("report-link").click()
    # The report is read under the application's consent: the financing sections are there.
    expect(desk.get_by_test_id("credit-report")).to_be_visible()
    expect(desk.get_by_test_id("report-consent")).to_be_visible()
    screenshot(desk, "market-3-report")
    desk.goto(application_path)
    # The e2e site scores every enterprise (tests/e2e/conftest.py), so a grade is shown.
    desk.get_by_test_id("read-score").click()
    expect(desk.get_by_test_id("score")).to_be_visible()
    expect(desk.get_by_test_id("score-error")).to_have_count(0)
    screenshot(desk, "market-4-accepted")

    # 4. It reviews, approves and disburses.
    desk.get_by_test_id("review").click()
    expect(desk.get_by_test_id("application-status")).to_have_text("审查中")
    desk.get_by_test_id("approve").click()
    desk.get_by_test_id("confirm").click()
    expect(desk.get_by_test_id("application-status")).to_have_text("已审批")
    desk.get_by_test_id("disburse").click()
    desk.get_by_test_id("confirm").click()
    expect(desk.get_by_test_id("application-status")).to_have_text("已放款")
    expect(desk.get_by_test_id("loan-card")).to_contain_text("首贷户")
    screenshot(desk, "market-5-disbursed")

    # 5. The enterprise sees its loan.
    mine.goto("/market/loans")
    loan = mine.get_by_test_id("loan-row").first
    expect(loan).to_have_attribute("data-security", "credit")
    expect(loan).to_have_attribute("data-first", "yes")
    expect(loan).to_contain_text(bank["bound_to"])
    screenshot(mine, "market-6-my-loans")

    # 6. The outcomes page counts a credit loan to a first-time borrower.
    after = _counts(desk)
    assert after["loans"] == before["loans"] + 1
    assert after["credit-loans"] == before["credit-loans"] + 1
    assert after["first-time"] == before["first-time"] + 1
    assert after["first-time-credit"] == before["first-time-credit"] + 1
    expect(desk.locator("#chart-credit[data-chart-ready='true']")).to_be_visible()
    screenshot(desk, "market-7-outcomes")
