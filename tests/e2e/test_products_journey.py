"""A bank's product in a real browser, on a desktop and on a phone: the officer submits a product
with a bad rate (the form comes back with what was typed and the message at the field), fixes it;
the operator approves it after a confirmation; the officer edits it (the change waits for review
while the approved terms stay live) and pauses it."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from .conftest import People, Screen, Site, demo_logins, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.both_stores]


def test_submit_fix_approve_edit_and_pause_a_product(
    site: Site, people: People, screen: Screen
) -> None:
    device = screen.name
    # The refused form answers 422 on purpose; any other console error fails the test.
    officer = people.open(screen, expected="status of 422")
    operator = people.open(screen, expected="status of 422")
    logins = demo_logins(site)
    code = f"e2e-{device}-{int(time.time())}"
    name = f"浏览器测试信用贷{device}"

    # 1. The officer submits a product with a rate that is not a number: refused, input kept.
    officer.login(logins["institution_officer"], "/market/products")
    desk = officer.page
    desk.get_by_test_id("product-new").click()
    expect(desk).to_have_url(re.compile(r"/market/products/new$"))
    desk.locator("#p-code").fill(code)
    desk.locator("#p-name").fill(name)
    desk.locator("#p-a1").fill("10")
    desk.locator("#p-a2").fill("300")
    desk.locator("#p-r1").fill("3.8")
    desk.locator("#p-r2").fill("五点二")
    desk.locator("#p-t1").fill("6")
    desk.locator("#p-t2").fill("24")
    desk.locator("#p-size-small").check()
    desk.locator("#p-region-340100").check()
    desk.get_by_test_id("product-submit").click()
    expect(desk.get_by_test_id("form-errors")).to_be_visible()
    expect(desk.get_by_test_id("error-max_rate_bp")).to_contain_text("请输入利率")
    expect(desk.locator("#p-name")).to_have_value(name)
    expect(desk.locator("#p-r2")).to_have_value("五点二")
    expect(desk.locator("#p-size-small")).to_be_checked()
    expect(desk.locator("#p-region-340100")).to_be_checked()
    officer.fits_the_screen()
    screenshot(desk, f"products-1-refused-{device}")

    # 2. Fixed, it is submitted and waits for review.
    desk.locator("#p-r2").fill("5.2")
    desk.get_by_test_id("product-submit").click()
    expect(desk).to_have_url(re.compile(r"/market/products/\d+$"))
    detail_url = desk.url
    expect(desk.get_by_test_id("product-status")).to_have_attribute("data-status", "pending_review")
    officer.fits_the_screen()

    # 3. The operator approves it, after a confirmation that says what will happen.
    operator.login(logins["operator"], "/market/review")
    queue = operator.page
    row = queue.locator(f'[data-testid="review-row"][data-code="{code}"]')
    expect(row).to_be_visible()
    approve = row.get_by_test_id("approve")
    approve.locator("summary").click()
    expect(approve).to_contain_text("通过后产品立即上架")
    operator.fits_the_screen()
    screenshot(queue, f"products-2-approve-{device}")
    approve.get_by_test_id("approve-submit").click()
    expect(queue).to_have_url(re.compile(r"/market/review$"))
    expect(queue.locator(f'[data-testid="review-row"][data-code="{code}"]')).to_have_count(0)

    # 4. The officer lowers the rate: the change waits for review, the approved terms stay live.
    desk.goto(detail_url)
    expect(desk.get_by_test_id("product-status")).to_have_attribute("data-status", "published")
    desk.get_by_test_id("product-edit").first.click()
    expect(desk.locator("#p-code")).to_have_value(code)
    desk.locator("#p-r1").fill("3.5")
    desk.get_by_test_id("product-submit").click()
    expect(desk).to_have_url(re.compile(r"/market/products/\d+$"))
    expect(desk.get_by_test_id("pending-change")).to_be_visible()
    expect(desk.get_by_test_id("change-min_rate_bp")).to_contain_text("3.50%")
    expect(desk.get_by_test_id("term-min_rate_bp")).to_have_text("3.80%")
    expect(desk.get_by_test_id("product-status")).to_have_attribute("data-status", "published")
    officer.fits_the_screen()
    screenshot(desk, f"products-3-change-pending-{device}")

    # 5. The officer pauses it: no longer recommended nor open to applications.
    pause = desk.get_by_test_id("product-pause")
    pause.locator("summary").click()
    expect(pause).to_contain_text("不再向企业推荐")
    pause.get_by_test_id("product-pause-submit").click()
    expect(desk.get_by_test_id("product-status")).to_have_attribute("data-status", "paused")
    expect(desk.get_by_test_id("product-history")).to_contain_text("暂停")
    officer.fits_the_screen()
    screenshot(desk, f"products-4-paused-{device}")

    desk.goto("/market/products?status=paused")
    expect(desk.locator(f'[data-testid="product-row"][data-code="{code}"]')).to_be_visible()
    officer.fits_the_screen()
    screenshot(desk, f"products-5-list-{device}")
