"""An enterprise starts a consent in a real browser, at desktop and phone widths: a refused first
try keeps what it typed, the consent is born active, its 授权书 downloads as a PDF, and its signed
receipt checks out on /verify — while a tampered copy does not."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import orjson
import pytest
from playwright.sync_api import expect

from creditbridge.consent import domain

from .conftest import People, Screen, Site, demo_logins, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.both_stores]

# The refused form's 422 and the failed verification's answer are expected, nothing else is.
EXPECTED_ERRORS = r"status of 4(22|04)"


def test_enterprise_starts_prints_and_verifies_a_consent(
    site: Site, people: People, screen: Screen, tmp_path: Path
) -> None:
    logins = demo_logins(site)
    owner, bank = logins["enterprise_user"], logins["institution_officer"]
    bank_name = bank["bound_to"]
    width = screen.width
    tab = people.open(screen, expected=EXPECTED_ERRORS, accept_downloads=True)
    page = tab.page

    # 1. From "my consents" the enterprise opens the form; every purpose is explained.
    tab.login(owner, "/enterprise/consents")
    page.get_by_test_id("grant-start").click()
    expect(page).to_have_url(re.compile(r"/enterprise/consents/new$"))
    expect(page.get_by_text("机构审查您的贷款申请时查询")).to_be_visible()
    tab.fits_the_screen()

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
    tab.fits_the_screen()
    screenshot(page, f"consent-grant-1-refused-{width}")

    # 3. Within a year it is accepted and born active.
    page.get_by_label("授权截止日期").fill((date.today() + timedelta(days=90)).isoformat())
    page.get_by_test_id("grant-submit").click()
    expect(page).to_have_url(re.compile(r"/consents/\d+$"))
    expect(page.get_by_test_id("consent-status")).to_have_text("生效中")
    expect(page.get_by_test_id("consent-terms")).to_contain_text(bank_name)
    tab.fits_the_screen()
    screenshot(page, f"consent-grant-2-active-{width}")

    # 4. The 授权书 downloads as a PDF; the signed receipt as its JSON file.
    # The PDF renders in a pool at a lower CPU priority (reports/rendering.py): on a busy machine
    # it may take longer than a page, so the click waits for its download longer too.
    with page.expect_download(timeout=90_000) as letter:
        page.get_by_test_id("letter").click(timeout=90_000)
    pdf = Path(letter.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    assert letter.value.suggested_filename.endswith(".pdf")
    with page.expect_download() as receipt:
        page.get_by_test_id("receipt").click()
    raw = Path(receipt.value.path()).read_bytes()
    artefact = orjson.loads(raw)["artefact"]
    assert artefact["institution"]["name"] == bank_name

    # 5. Anyone (a new browser, not logged in) checks the receipt on /verify: valid.
    visitor = people.open(screen, expected=EXPECTED_ERRORS)
    check = visitor.page
    good = tmp_path / "receipt.json"
    good.write_bytes(raw)
    check.goto("/verify")
    check.locator("#verify-file").set_input_files(str(good))
    check.get_by_test_id("verify-form").get_by_role("button", name="核验", exact=True).click()
    result = check.get_by_test_id("receipt-result")
    expect(result).to_have_attribute("data-ok", "true")
    expect(check.get_by_test_id("receipt-terms")).to_contain_text(bank_name)
    visitor.fits_the_screen()
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
    visitor.fits_the_screen()
    screenshot(check, f"consent-grant-4-tampered-{width}")

    # 7. The letter's QR link: valid against the register, parties and period only.
    digest = domain.terms_digest(artefact)
    check.goto(f"/verify/receipt/{artefact['reference']}?d={digest}")
    expect(result).to_have_attribute("data-ok", "true")
    expect(check.get_by_test_id("in-force")).to_have_attribute("data-in-force", "true")
    expect(check.get_by_test_id("receipt-terms")).not_to_contain_text("纳税")
    visitor.fits_the_screen()
    screenshot(check, f"consent-grant-5-qr-{width}")
