"""The trust layer's promise in a real browser: an institution asks, the enterprise approves, the
institution reads, the enterprise sees the read, revokes, and the next read is refused."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import People, Site, demo_logins, path_of, screenshot

pytestmark = pytest.mark.browser


def test_request_approve_read_log_revoke_refuse(site: Site, people: People) -> None:
    logins = demo_logins(site)
    bank, owner = logins["institution_officer"], logins["enterprise_user"]
    assert bank["totp_secret"], "the officer's role requires a second factor"
    uscc = owner["bound_to"].split()[-1]
    # Each its own browser; the institution's refused read (step 6) answers 403 on purpose.
    officer, enterprise = people.open(expected="status of 403"), people.open()

    # 1. The institution officer logs in (password + TOTP) and requests a consent.
    officer.login(bank, "/institution/consents/new")
    page = officer.page
    page.get_by_label("统一社会信用代码").fill(uscc)
    page.get_by_label("授权用途").select_option("loan_application")
    page.locator("#c-cat-tax").check()
    page.locator("#c-cat-social_insurance").check()
    page.get_by_label("最多查询次数").fill("3")
    page.get_by_label("申请说明").fill("流动资金贷款审查 <b>不是粗体</b>")
    screenshot(page, "consent-1-request-form")
    page.get_by_test_id("request-submit").click()
    expect(page.get_by_test_id("consent-status")).to_have_text("待企业确认")
    expect(page.get_by_test_id("consent-note")).to_have_text("流动资金贷款审查 <b>不是粗体</b>")
    consent_path = path_of(page)
    assert re.fullmatch(r"/consents/\d+", consent_path)
    screenshot(page, "consent-2-requested")

    # 2. The enterprise logs in and approves it from its list, pending requests first.
    enterprise.login(owner, "/enterprise/consents")
    mine = enterprise.page
    first = mine.get_by_test_id("consent-row").first
    expect(first.get_by_test_id("consent-status")).to_have_text("待企业确认")
    expect(first).to_contain_text(bank["bound_to"])
    screenshot(mine, "consent-3-enterprise-pending")
    first.get_by_test_id("approve").click()
    expect(mine).to_have_url(re.compile(re.escape(consent_path) + "$"))
    expect(mine.get_by_test_id("consent-status")).to_have_text("生效中")
    expect(mine.get_by_test_id("receipt")).to_be_visible()
    screenshot(mine, "consent-4-approved")

    # 3. The institution reads under the consent.
    page.goto(consent_path)
    expect(page.get_by_test_id("consent-status")).to_have_text("生效中")
    page.get_by_test_id("read-under-consent").click()
    expect(page.locator("#r-uscc")).to_have_value(uscc)
    page.get_by_test_id("read-submit").click()
    result = page.get_by_test_id("read-result")
    expect(result).to_be_visible()
    expect(page.get_by_test_id("read-consent")).to_be_visible()
    expect(result.locator('[data-category="registration"]')).to_be_visible()
    screenshot(page, "consent-5-read")

    # 4. The enterprise sees the read in its access log.
    mine.goto("/enterprise/access-log")
    row = mine.get_by_test_id("access-row").first
    expect(row).to_contain_text(bank["bound_to"])
    expect(row).to_contain_text("贷款申请审查")
    screenshot(mine, "consent-6-access-log")

    # 5. The enterprise revokes.
    mine.goto(consent_path)
    mine.locator("#reason-revoke").fill("贷款已结清")
    mine.get_by_test_id("revoke").click()
    expect(mine.get_by_test_id("consent-status")).to_have_text("已撤销")
    screenshot(mine, "consent-7-revoked")

    # 6. The institution's next read is refused, with the reason and the code.
    page.goto(consent_path.replace("/consents/", "/institution/read?consent_id="))
    page.get_by_test_id("read-submit").click()
    expect(page.get_by_test_id("error-page")).to_contain_text("授权已被企业撤销")
    expect(page.get_by_test_id("error-page")).to_contain_text("CB-CONSENT-REVOKED")
    expect(page.get_by_test_id("error-detail")).to_have_text("企业已撤销授权，不能查询")
    screenshot(page, "consent-8-refused")
