"""An enterprise starts a consent in a real browser, at desktop and phone widths: a refused first
try keeps what it typed, the consent is born active, its 授权书 downloads as a PDF, and its signed
receipt checks out on /verify — while a tampered copy does not."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from creditbridge.consent import domain

from .conftest import Site, fresh_totp_code, screenshot

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": (1366, 900), "phone": (390, 844)}


def _demo_logins(site: Site) -> dict[str, dict[str, Any]]:
    env = {
        **os.environ,
        "CREDITBRIDGE_DATABASE_URL": site.engine.url.render_as_string(hide_password=False),
    }
    done = subprocess.run(
        [sys.executable, "-m", "creditbridge", "access", "demo-logins", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return {row["role"]: row for row in json.loads(done.stdout)}


class Tab:
    """One person's browser at one width; collects console errors (the refused form's 422 and
    the failed verification's answer are expected, nothing else is)."""

    def __init__(self, browser: Browser, site: Site, size: tuple[int, int]) -> None:
        self.context: BrowserContext = browser.new_context(
            viewport={"width": size[0], "height": size[1]},
            base_url=site.base_url,
            locale="zh-CN",
            accept_downloads=True,
        )
        self.page: Page = self.context.new_page()
        self.site = site
        self.problems: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.problems.append(m.text)
                if m.type == "error" and not re.search(r"status of 4(22|04)", m.text)
                else None
            ),
        )
        self.page.on("pageerror", lambda error: self.problems.append(str(error)))

    def login(self, login: dict[str, Any], next_path: str) -> None:
        page = self.page
        page.goto(next_path)
        expect(page).to_have_url(re.compile(r"/login\?next="))
        page.get_by_label("用户名").fill(login["username"])
        page.get_by_label("密码").fill(login["password"])
        page.get_by_role("button", name="登录").click()
        if login["totp_secret"]:
            page.get_by_label("动态口令").fill(fresh_totp_code(self.site, login))
            page.get_by_role("button", name="验证").click()
        expect(page).to_have_url(re.compile(re.escape(next_path) + "$"))

    def no_sideways_scroll(self) -> None:
        width = self.page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert width[0] <= width[1], f"{self.page.url} scrolls sideways: {width}"


@pytest.fixture(params=list(WIDTHS))
def tab(request: pytest.FixtureRequest, browser: Browser, site: Site) -> Iterator[Tab]:
    opened = Tab(browser, site, WIDTHS[request.param])
    yield opened
    opened.context.close()
    assert opened.problems == [], "the browser reported errors"


def test_enterprise_starts_prints_and_verifies_a_consent(
    site: Site, tab: Tab, browser: Browser, tmp_path: Path
) -> None:
    logins = _demo_logins(site)
    owner, bank = logins["enterprise_user"], logins["institution_officer"]
    bank_name = bank["bound_to"]
    width = tab.page.viewport_size["width"] if tab.page.viewport_size else 0
    page = tab.page

    # 1. From "my consents" the enterprise opens the form; every purpose is explained.
    tab.login(owner, "/enterprise/consents")
    page.get_by_test_id("grant-start").click()
    expect(page).to_have_url(re.compile(r"/enterprise/consents/new$"))
    expect(page.get_by_text("机构审查您的贷款申请时查询")).to_be_visible()
    tab.no_sideways_scroll()

    # 2. A first try asks for two years: refused, with the message at the field and the input kept.
    page.get_by_label("机构", exact=True).select_option(label=bank_name)
    page.locator("#g-purpose-loan_application").check()
    page.locator("#g-cat-tax").check()
    page.locator("#g-cat-social_insurance").check()
    page.get_by_label("授权截止日期").fill((date.today() + timedelta(days=730)).isoformat())
    page.get_by_label("最多查询次数").fill("4")
    page.get_by_label("备注（可选）").fill("流动资金贷款")
    page.get_by_test_id("grant-submit").click()
    expect(page.get_by_test_id("error-valid_until")).to_contain_text("一年")
    expect(page.get_by_label("机构", exact=True)).to_have_value(re.compile(r"\d+"))
    assert page.locator("#g-institution option:checked").inner_text() == bank_name
    expect(page.locator("#g-cat-tax")).to_be_checked()
    expect(page.locator("#g-cat-social_insurance")).to_be_checked()
    expect(page.get_by_label("最多查询次数")).to_have_value("4")
    expect(page.get_by_label("备注（可选）")).to_have_value("流动资金贷款")
    tab.no_sideways_scroll()
    screenshot(page, f"consent-grant-1-refused-{width}")

    # 3. Within a year it is accepted and born active.
    page.get_by_label("授权截止日期").fill((date.today() + timedelta(days=90)).isoformat())
    page.get_by_test_id("grant-submit").click()
    expect(page).to_have_url(re.compile(r"/consents/\d+$"))
    expect(page.get_by_test_id("consent-status")).to_have_text("生效中")
    expect(page.get_by_test_id("consent-terms")).to_contain_text(bank_name)
    tab.no_sideways_scroll()
    screenshot(page, f"consent-grant-2-active-{width}")

    # 4. The 授权书 downloads as a PDF; the signed receipt as its JSON file.
    with page.expect_download() as letter:
        page.get_by_test_id("letter").click()
    pdf = Path(letter.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    assert letter.value.suggested_filename.endswith(".pdf")
    with page.expect_download() as receipt:
        page.get_by_test_id("receipt").click()
    raw = Path(receipt.value.path()).read_bytes()
    artefact = orjson.loads(raw)["artefact"]
    assert artefact["institution"]["name"] == bank_name

    # 5. Anyone (a new browser, not logged in) checks the receipt on /verify: valid.
    visitor = Tab(browser, tab.site, (width, 844 if width < 500 else 900))
    try:
        check = visitor.page
        good = tmp_path / "receipt.json"
        good.write_bytes(raw)
        check.goto("/verify")
        check.locator("#verify-file").set_input_files(str(good))
        check.get_by_test_id("verify-form").get_by_role("button", name="核验", exact=True).click()
        result = check.get_by_test_id("receipt-result")
        expect(result).to_have_attribute("data-ok", "true")
        expect(check.get_by_test_id("receipt-terms")).to_contain_text(bank_name)
        visitor.no_sideways_scroll()
        screenshot(check, f"consent-grant-3-verified-{width}")

        # 6. A copy with more uses written in is invalid, and says why.
        tampered = tmp_path / "tampered.json"
        tampered.write_bytes(raw.replace(b'"max_uses": 4', b'"max_uses": 400'))
        assert tampered.read_bytes() != raw
        check.locator("#verify-file").set_input_files(str(tampered))
        check.get_by_test_id("verify-form").get_by_role("button", name="核验", exact=True).click()
        expect(result).to_have_attribute("data-ok", "false")
        expect(result).to_contain_text("无效")
        expect(result).to_contain_text("已被修改")
        visitor.no_sideways_scroll()
        screenshot(check, f"consent-grant-4-tampered-{width}")

        # 7. The letter's QR link: valid against the register, parties and period only.
        digest = domain.terms_digest(artefact)
        check.goto(f"/verify/receipt/{artefact['reference']}?d={digest}")
        expect(result).to_have_attribute("data-ok", "true")
        expect(check.get_by_test_id("in-force")).to_have_attribute("data-in-force", "true")
        expect(check.get_by_test_id("receipt-terms")).not_to_contain_text("纳税")
        visitor.no_sideways_scroll()
        screenshot(check, f"consent-grant-5-qr-{width}")
    finally:
        visitor.context.close()
    assert visitor.problems == [], "the visitor's browser reported errors"
