"""The lending journey as the enterprise and the bank officer walk it, on a desktop (1366 px) and
a phone (390 px): a demand refused for a bad amount keeps what was typed and says why at the
field; applying shows the consent it gives and needs it ticked; the officer accepts, approves and
disburses, each step confirmed on a page that says what it will do; the enterprise then sees its
demand as 已放款 and the application's stepper complete."""

# Named to sort after test_marketplace_journey.py: both walk the demo enterprise, and that journey
# checks the first loan it is disbursed is counted 首贷户, which a loan disbursed here first would not be.

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import People, Screen, Site, demo_logins, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.both_stores]


def test_refused_form_keeps_input_consent_is_explicit_steps_are_confirmed(
    site: Site, people: People, screen: Screen
) -> None:
    # The refused forms of the journey answer 422 on purpose; any other console error fails it.
    officer = people.open(screen, expected="status of 422")
    enterprise = people.open(screen, expected="status of 422")
    logins = demo_logins(site)
    bank, owner = logins["institution_officer"], logins["enterprise_user"]

    def shot(page: Page, name: str) -> None:
        screenshot(page, f"market-{screen.name}-{name}")

    # 1. A demand with a bad amount comes back with what was typed and a message at the field.
    enterprise.login(owner, "/market/demands")
    mine = enterprise.page
    mine.get_by_test_id("new-demand").click()
    mine.get_by_label("金额（万元）").fill("五十万")
    mine.get_by_label("期限（月）").fill("12")
    mine.get_by_label("资金用途").fill("采购原材料（旺季备货）")
    mine.get_by_test_id("publish-demand").click()
    expect(mine.get_by_test_id("error-amount")).to_be_visible()
    expect(mine.get_by_test_id("error-amount")).to_contain_text("金额")
    expect(mine.get_by_label("金额（万元）")).to_have_value("五十万")
    expect(mine.get_by_label("资金用途")).to_have_value("采购原材料（旺季备货）")
    enterprise.fits_the_screen()
    shot(mine, "1-demand-refused")
    mine.get_by_label("金额（万元）").fill("50")
    mine.get_by_test_id("publish-demand").click()
    expect(mine).to_have_url(re.compile(r"/market/demands/\d+$"))
    demand_path = re.sub(r"^https?://[^/]+", "", mine.url)

    # 2. Applying shows the consent it gives and refuses until it is ticked.
    ours = mine.locator(
        f'[data-testid="recommendation"][data-fits="yes"][data-security="credit"]'
        f'[data-institution="{bank["bound_to"]}"]'
    ).first
    ours.get_by_test_id("apply").click()
    expect(mine.get_by_test_id("consent-institution")).to_have_text(bank["bound_to"])
    expect(mine.get_by_test_id("consent-purpose")).to_contain_text("贷款申请审查")
    expect(mine.get_by_test_id("consent-period")).to_contain_text("天")
    mine.get_by_test_id("apply-confirm").click()
    expect(mine.get_by_test_id("error-consent")).to_be_visible()
    enterprise.fits_the_screen()
    shot(mine, "2-consent-required")
    mine.get_by_test_id("consent-checkbox").check()
    mine.get_by_test_id("apply-confirm").click()
    expect(mine).to_have_url(re.compile(r"/market/applications/\d+$"))
    expect(mine.get_by_test_id("application-status")).to_have_text("待受理")
    expect(mine.get_by_test_id("respond-by")).to_have_count(0)  # the bank's deadline, not ours
    application_path = re.sub(r"^https?://[^/]+", "", mine.url)

    # 3. The officer accepts, reviews, approves and disburses, confirming each step.
    officer.login(bank, "/market/inbox")
    desk = officer.page
    desk.goto(application_path)
    desk.get_by_test_id("accept").click()
    expect(desk.get_by_test_id("consequences")).to_contain_text("其他机构不再收到派单")
    officer.fits_the_screen()
    shot(desk, "3-confirm-accept")
    desk.get_by_test_id("confirm").click()
    expect(desk.get_by_test_id("application-status")).to_have_text("已受理")
    desk.get_by_test_id("review").click()
    expect(desk.get_by_test_id("application-status")).to_have_text("审查中")
    desk.get_by_label("年利率（%）").fill("百分之四")
    desk.get_by_test_id("approve").click()
    expect(desk.get_by_test_id("error-rate_bp")).to_be_visible()
    expect(desk.get_by_label("年利率（%）")).to_have_value("百分之四")
    desk.get_by_label("年利率（%）").fill(_min_rate(desk))
    desk.get_by_test_id("approve").click()
    expect(desk.get_by_test_id("confirm-terms")).to_contain_text("万元")
    shot(desk, "4-confirm-approve")
    desk.get_by_test_id("confirm").click()
    expect(desk.get_by_test_id("application-status")).to_have_text("已审批")
    desk.get_by_test_id("disburse").click()
    expect(desk.get_by_test_id("consequences")).to_contain_text("生成贷款记录")
    officer.fits_the_screen()
    shot(desk, "5-confirm-disburse")
    desk.get_by_test_id("confirm").click()
    expect(desk.get_by_test_id("application-status")).to_have_text("已放款")
    expect(desk.get_by_test_id("loan-card")).to_be_visible()

    # The officer's lists: filters, sort headers, export and overdue marks, and the upload with
    # its loans and templates, all within the screen's width.
    for path, testid, name in (
        ("/market/inbox", "filter-bar", "8-inbox"),
        ("/market/pool", "pool", "9-pool"),
        ("/market/loans/upload", "institution-loans", "10-upload"),
    ):
        desk.goto(path)
        expect(desk.get_by_test_id(testid)).to_be_visible()
        officer.fits_the_screen()
        shot(desk, name)
    # Still on the upload page: its CSV and XLSX templates are offered.
    expect(desk.get_by_test_id("template-csv")).to_be_visible()
    desk.goto("/market/pool")
    expect(desk.get_by_test_id("pool-grade").first).to_be_visible()

    # 4. The enterprise sees 已放款 on its demand and the stepper complete.
    mine.goto(application_path)
    steps = mine.get_by_test_id("step")
    expect(steps).to_have_count(5)
    for i in range(5):
        expect(steps.nth(i)).to_have_attribute("data-state", "done")
    enterprise.fits_the_screen()
    shot(mine, "6-stepper-done")
    mine.goto(demand_path)
    expect(mine.get_by_test_id("demand-status")).to_have_text("已放款")
    mine.goto("/market/demands")
    demand_id = demand_path.rsplit("/", 1)[-1]
    row = mine.locator(f'[data-testid="demand-row"][data-demand-id="{demand_id}"]')
    expect(row.get_by_test_id("demand-status")).to_have_text("已放款")
    enterprise.fits_the_screen()
    shot(mine, "7-my-demands")


def _min_rate(page: Page) -> str:
    """The product's lowest rate, as the approve form's hint shows it (always within range)."""
    hint = page.get_by_test_id("approve-form").inner_text()
    found = re.search(r"年利率 (\d+\.\d+)%", hint)
    assert found, hint
    return found.group(1)
