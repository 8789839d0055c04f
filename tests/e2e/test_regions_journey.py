"""Issue 23 in a real browser, at a desktop's 1366 px and a phone's 390 px: the audit admin picks
an action by its Chinese name and finds an enterprise by name; the system admin creates a city
operator, first with a bad division code (the form comes back with what was typed and a message at
the field), then with a good one, and sees the division on the user's page. Screenshots
``audit-*.png`` and ``users-*.png``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import Site, fresh_totp_code, screenshot

pytestmark = pytest.mark.browser

WIDTHS = {"desktop": (1366, 900), "phone": (390, 844)}


def _logins(site: Site) -> dict[str, dict[str, Any]]:
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
    # Keyed by username: the regional operators share the operator role.
    return {row["username"]: row for row in json.loads(done.stdout)}


@pytest.fixture(params=sorted(WIDTHS))
def tab(request: pytest.FixtureRequest, browser: Browser, site: Site) -> Iterator[Page]:
    width, height = WIDTHS[request.param]
    context = browser.new_context(
        viewport={"width": width, "height": height}, base_url=site.base_url, locale="zh-CN"
    )
    page = context.new_page()
    problems: list[str] = []
    # The refused form answers 422 on purpose, and the browser logs the status: that alone is
    # expected.
    page.on(
        "console",
        lambda m: (
            problems.append(m.text) if m.type == "error" and "status of 422" not in m.text else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page
    context.close()
    assert problems == [], "the browser reported errors"


def _size(page: Page) -> str:
    viewport = page.viewport_size
    assert viewport is not None
    return "desktop" if viewport["width"] > 600 else "phone"


def _login(page: Page, site: Site, login: dict[str, Any], path: str) -> None:
    page.context.clear_cookies()
    page.goto(path)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("用户名").fill(login["username"])
    page.get_by_label("密码").fill(login["password"])
    page.get_by_role("button", name="登录").click()
    if login["totp_secret"]:
        page.get_by_label("动态口令").fill(fresh_totp_code(site, login))
        page.get_by_role("button", name="验证").click()
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))


def _no_sideways_scroll(page: Page) -> None:
    wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert wide <= 1, f"the page scrolls sideways by {wide} px"


def test_the_auditor_filters_by_chinese_action_and_enterprise_name(tab: Page, site: Site) -> None:
    logins = _logins(site)
    owner = next(row for row in logins.values() if row["role"] == "enterprise_user")
    name = owner["bound_to"].rsplit(" ", 1)[0]
    _login(tab, site, logins["demo-auditor"], "/audit")

    tab.get_by_label("操作", exact=True).select_option(label="企业用户注册（user.register）")
    tab.get_by_test_id("audit-filter").click()
    expect(tab).to_have_url(re.compile(r"action=user\.register"))
    rows = tab.get_by_test_id("audit-events").locator("tbody tr")
    expect(rows.first).to_contain_text("企业用户注册")
    for row in rows.all():
        expect(row).to_contain_text("user.register")
    # The picker still shows the chosen action by name.
    expect(tab.get_by_label("操作", exact=True)).to_have_value("user.register")

    tab.get_by_label("企业（名称或统一社会信用代码）").fill(name)
    tab.get_by_test_id("audit-filter").click()
    expect(tab.get_by_test_id("audit-subject-matches")).to_contain_text(name)
    expect(rows.first).to_contain_text("企业用户注册")
    assert rows.count() >= 1
    expect(tab.get_by_label("企业（名称或统一社会信用代码）")).to_have_value(name)
    # The export link carries the same filters.
    href = tab.get_by_test_id("audit-export").get_attribute("href") or ""
    assert "action=user.register" in href
    assert "subject=" in href
    _no_sideways_scroll(tab)
    screenshot(tab, f"audit-filters-{_size(tab)}")

    tab.get_by_label("企业（名称或统一社会信用代码）").fill("没有这家企业")
    tab.get_by_test_id("audit-filter").click()
    expect(tab.get_by_test_id("audit-subject-none")).to_be_visible()
    expect(rows).to_have_count(0)


def test_the_system_admin_creates_a_city_operator(tab: Page, site: Site) -> None:
    logins = _logins(site)
    size = _size(tab)
    username = f"wuhu-op-{size}"
    _login(tab, site, logins["demo-sysadmin"], "/admin/users")
    form = tab.get_by_test_id("user-create")
    form.get_by_label("用户名").fill(username)
    form.get_by_label("姓名").fill("芜湖市运营")
    form.get_by_label("密码").fill("Anhui#Staff-2026x")
    form.get_by_label("角色").select_option("operator")
    form.get_by_label("所属行政区划").fill("3402")
    form.get_by_role("button", name="新建用户").click()

    # Refused: the same form, what was typed still there, the message at the field.
    expect(tab.get_by_test_id("form-errors")).to_be_visible()
    expect(tab.get_by_test_id("error-division_code")).to_contain_text("6 位数字")
    form = tab.get_by_test_id("user-create")
    expect(form.get_by_label("用户名")).to_have_value(username)
    expect(form.get_by_label("姓名")).to_have_value("芜湖市运营")
    expect(form.get_by_label("所属行政区划")).to_have_value("3402")
    expect(form.get_by_label("所属行政区划")).to_have_class(re.compile("is-invalid"))
    _no_sideways_scroll(tab)
    screenshot(tab, f"users-refused-{size}")

    form.get_by_label("所属行政区划").fill("340200")
    form.get_by_label("密码").fill("Anhui#Staff-2026x")
    form.get_by_role("button", name="新建用户").click()
    expect(tab.get_by_test_id("user-division")).to_have_text("芜湖市（340200）")
    _no_sideways_scroll(tab)
    screenshot(tab, f"users-created-{size}")

    # The list filters by role and shows the division.
    tab.goto("/admin/users?role=operator")
    table = tab.get_by_test_id("users")
    expect(table).to_contain_text(username)
    expect(table).to_contain_text("芜湖市（340200）")
    expect(table).to_contain_text("demo-operator-county")
    _no_sideways_scroll(tab)
    screenshot(tab, f"users-list-{size}")
