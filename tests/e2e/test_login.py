"""An institution officer's first login in a real browser: password, TOTP enrolment by QR code
(the code computed with pyotp, as an authenticator app would), the user menu, logout."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pyotp
from playwright.sync_api import Page, expect

from .conftest import Site, screenshot

PASSWORD = "Browser-Login-2026"


def _cli(site: Site, *args: str) -> str:
    env = {
        **os.environ,
        "CREDITBRIDGE_DATABASE_URL": site.engine.url.render_as_string(hide_password=False),
    }
    done = subprocess.run(
        [sys.executable, "-m", "creditbridge", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_officer_logs_in_with_password_and_totp_then_logs_out(page: Page, site: Site) -> None:
    institutions = json.loads(_cli(site, "institutions", "list", "--json"))
    bank = next(i for i in institutions if i["kind"] == "bank" and i["status"] == "approved")
    _cli(
        site,
        "users",
        "create",
        "e2e-officer",
        "--role",
        "institution_officer",
        "--name",
        "王经理",
        "--password",
        PASSWORD,
        "--institution-id",
        str(bank["id"]),
    )

    page.goto("/admin/users")
    expect(page).to_have_url(f"{site.base_url}/login?next=%2Fadmin%2Fusers")
    page.get_by_label("用户名").fill("e2e-officer")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()

    # First login: the role requires a second factor, so the page enrols one.
    expect(page.get_by_test_id("totp-qr").locator("svg")).to_be_visible()
    secret = page.get_by_test_id("totp-secret").inner_text()
    screenshot(page, "login-totp-enrol")
    page.get_by_label("动态口令").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="验证").click()

    expect(page).to_have_url(f"{site.base_url}/admin/users")
    menu = page.get_by_test_id("user-menu")
    expect(menu).to_contain_text("王经理")
    expect(menu).to_contain_text("金融机构用户")
    expect(page.get_by_test_id("users")).to_contain_text("e2e-officer")

    menu.get_by_role("button").first.click()
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(f"{site.base_url}/login")
    expect(page.get_by_test_id("login-link")).to_be_visible()
    page.goto("/admin/users")
    expect(page).to_have_url(f"{site.base_url}/login?next=%2Fadmin%2Fusers")
