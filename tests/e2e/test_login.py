"""An institution officer's first login in a real browser: password, TOTP enrolment by QR code
(the code computed with pyotp, as an authenticator app would), the user menu, logout."""

from __future__ import annotations

import json
import re

import pyotp
from playwright.sync_api import Page, expect

from .conftest import Site, cli, screenshot

PASSWORD = "Browser-Login-2026"


def test_officer_opens_an_invited_account_logs_in_with_totp_then_logs_out(
    page: Page, site: Site
) -> None:
    # An institution's first officer-administrator comes from the operator's invitation (issue 21,
    # finding 2): the console prints the link once; the officer opens it and sets a password.
    institutions = json.loads(cli(site, "institutions", "list", "--json"))
    users = json.loads(cli(site, "users", "list", "--json"))
    staffed = {u["institution_id"] for u in users if u["institution_id"] is not None}
    bank = next(
        i
        for i in institutions
        if i["kind"] == "bank" and i["status"] == "approved" and i["id"] not in staffed
    )
    printed = cli(site, "institutions", "invite", bank["code"], "--note", "浏览器测试")
    link = re.search(r"/invitations/\S+", printed)
    assert link is not None, printed

    page.goto(link.group(0))
    expect(page.get_by_test_id("invitation-form")).to_be_visible()
    page.get_by_label("用户名").fill("e2e-officer")
    page.get_by_label("姓名").fill("王经理")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="开通账户").click()
    expect(page).to_have_url(f"{site.base_url}/login?registered=1")

    page.goto("/account")
    expect(page).to_have_url(f"{site.base_url}/login?next=%2Faccount")
    page.get_by_label("用户名").fill("e2e-officer")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()

    # First login: the role requires a second factor, so the page enrols one.
    expect(page.get_by_test_id("totp-qr").locator("svg")).to_be_visible()
    secret = page.get_by_test_id("totp-secret").inner_text()
    screenshot(page, "login-totp-enrol")
    page.get_by_label("动态口令").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="验证").click()

    expect(page).to_have_url(f"{site.base_url}/account")
    menu = page.get_by_test_id("user-menu")
    expect(menu).to_contain_text("王经理")
    expect(menu).to_contain_text("金融机构用户")

    # The officer-administrator sees its own institution's people, never the platform's staff or
    # another bank's officers.
    page.goto("/admin/users")
    listed = page.get_by_test_id("users")
    expect(listed).to_contain_text("e2e-officer")
    expect(listed).not_to_contain_text("demo-operator")
    expect(listed).not_to_contain_text("demo-bank")

    menu.get_by_role("button").first.click()
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(f"{site.base_url}/login")
    expect(page.get_by_test_id("login-link")).to_be_visible()
    page.goto("/account")
    expect(page).to_have_url(f"{site.base_url}/login?next=%2Faccount")
