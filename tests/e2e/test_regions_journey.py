"""Issue 23 in a real browser, at a desktop's 1366 px and a phone's 390 px: the audit admin picks
an action by its Chinese name and finds an enterprise by name; the system admin creates a city
operator, first with a bad division code (the form comes back with what was typed and a message at
the field), then with a good one, and sees the division on the user's page. Screenshots
``audit-*.png`` and ``users-*.png``."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import People, Person, Screen, Site, demo_logins, screenshot

pytestmark = pytest.mark.browser


@pytest.fixture
def person(people: People, screen: Screen) -> Person:
    # The refused form answers 422 on purpose, and the browser logs the status: that alone is
    # expected.
    return people.open(screen, expected="status of 422")


def test_the_auditor_filters_by_chinese_action_and_enterprise_name(
    person: Person, site: Site
) -> None:
    owner = demo_logins(site)["enterprise_user"]
    name = owner["bound_to"].rsplit(" ", 1)[0]
    person.login(demo_logins(site, by="username")["demo-auditor"], "/audit")
    page = person.page

    page.get_by_label("操作", exact=True).select_option(label="企业用户注册（user.register）")
    page.get_by_test_id("audit-filter").click()
    expect(page).to_have_url(re.compile(r"action=user\.register"))
    rows = page.get_by_test_id("audit-events").locator("tbody tr")
    expect(rows.first).to_contain_text("企业用户注册")
    for row in rows.all():
        expect(row).to_contain_text("user.register")
    # The picker still shows the chosen action by name.
    expect(page.get_by_label("操作", exact=True)).to_have_value("user.register")

    page.get_by_label("企业（名称或统一社会信用代码）").fill(name)
    page.get_by_test_id("audit-filter").click()
    expect(page.get_by_test_id("audit-subject-matches")).to_contain_text(name)
    expect(rows.first).to_contain_text("企业用户注册")
    assert rows.count() >= 1
    expect(page.get_by_label("企业（名称或统一社会信用代码）")).to_have_value(name)
    # The export link carries the same filters.
    href = page.get_by_test_id("audit-export").get_attribute("href") or ""
    assert "action=user.register" in href
    assert "subject=" in href
    person.fits_the_screen()
    screenshot(page, f"audit-filters-{person.screen.name}")

    page.get_by_label("企业（名称或统一社会信用代码）").fill("没有这家企业")
    page.get_by_test_id("audit-filter").click()
    expect(page.get_by_test_id("audit-subject-none")).to_be_visible()
    expect(rows).to_have_count(0)


def test_the_system_admin_creates_a_city_operator(person: Person, site: Site) -> None:
    size = person.screen.name
    username = f"wuhu-op-{size}"
    person.login(demo_logins(site, by="username")["demo-sysadmin"], "/admin/users")
    page = person.page
    form = page.get_by_test_id("user-create")
    form.get_by_label("用户名").fill(username)
    form.get_by_label("姓名").fill("芜湖市运营")
    form.get_by_label("密码").fill("Anhui#Staff-2026x")
    form.get_by_label("角色").select_option("operator")
    form.get_by_label("所属行政区划").fill("3402")
    form.get_by_role("button", name="新建用户").click()

    # Refused: the same form, what was typed still there, the message at the field.
    expect(page.get_by_test_id("form-errors")).to_be_visible()
    expect(page.get_by_test_id("error-division_code")).to_contain_text("6 位数字")
    form = page.get_by_test_id("user-create")
    expect(form.get_by_label("用户名")).to_have_value(username)
    expect(form.get_by_label("姓名")).to_have_value("芜湖市运营")
    expect(form.get_by_label("所属行政区划")).to_have_value("3402")
    expect(form.get_by_label("所属行政区划")).to_have_class(re.compile("is-invalid"))
    person.fits_the_screen()
    screenshot(page, f"users-refused-{size}")

    form.get_by_label("所属行政区划").fill("340200")
    form.get_by_label("密码").fill("Anhui#Staff-2026x")
    form.get_by_role("button", name="新建用户").click()
    expect(page.get_by_test_id("user-division")).to_have_text("芜湖市（340200）")
    person.fits_the_screen()
    screenshot(page, f"users-created-{size}")

    # The list filters by role and shows the division.
    page.goto("/admin/users?role=operator")
    table = page.get_by_test_id("users")
    expect(table).to_contain_text(username)
    expect(table).to_contain_text("芜湖市（340200）")
    expect(table).to_contain_text("demo-operator-county")
    person.fits_the_screen()
    screenshot(page, f"users-list-{size}")
