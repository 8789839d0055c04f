"""Journeys through the pages in headless Chromium, against ``creditbridge serve``."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creditbridge.catalog import service as catalog_service
from creditbridge.core.config import Settings
from creditbridge.ingest.models import Batch
from creditbridge.reference import divisions
from creditbridge.subjects.models import Subject

from .conftest import Console, Site, demo_logins, log_in, screenshot

pytestmark = pytest.mark.browser

CITY_NAMES = sorted(city.name for city in divisions.cities("340000"))


def _count(site: Site, model: type[Subject] | type[Batch]) -> int:
    with Session(site.engine) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _login_operator(page: Page, site: Site) -> None:
    """The operator's 数据看板 and menus are behind its login (issue 23: / is each role's home)."""
    log_in(page, site, demo_logins(site)["operator"])


def test_dashboard_shows_the_databases_figures_and_charts(page: Page, site: Site) -> None:
    _login_operator(page, site)
    page.goto("/operator/dashboard")

    expect(page.locator(".cb-brand-name")).to_have_text(Settings().node_name)
    expect(page.get_by_test_id("node-level")).to_have_text("省级节点")
    subjects = _count(site, Subject)
    assert subjects > 0
    expect(page.get_by_test_id("total-subjects").locator(".cb-stat-value")).to_have_text(
        f"{subjects:,}"
    )

    chart = page.locator('#chart-cities[data-chart-ready="true"]')
    expect(chart.locator("svg")).to_have_count(1)
    drawn = chart.locator("svg text").all_text_contents()
    for name in CITY_NAMES:
        assert name in drawn, f"{name} missing from the city chart"
    axis = page.evaluate(
        "() => echarts.getInstanceByDom(document.getElementById('chart-cities'))"
        ".getOption().yAxis[0].data"
    )
    assert sorted(axis) == CITY_NAMES
    expect(page.locator('#chart-sizes[data-chart-ready="true"] svg')).to_have_count(1)
    expect(page.locator('#chart-datasets[data-chart-ready="true"] svg')).to_have_count(1)

    rows = page.get_by_test_id("latest-batches").locator("tbody tr")
    expect(rows).to_have_count(min(10, _count(site, Batch)))
    expect(rows.first.locator("td").first).to_have_text(
        re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$")
    )
    screenshot(page, "e2e-dashboard-zh")


def test_from_the_menu_to_a_dataset_of_the_list(page: Page, site: Site) -> None:
    with Session(site.engine) as session:
        penalty = catalog_service.get_dataset_or_raise(session, code="penalty")
        labels = [field.label_zh for field in penalty.fields]
        datasets = len(catalog_service.list_datasets(session))

    _login_operator(page, site)
    page.goto("/")
    page.get_by_test_id("nav-group-collection").click()
    page.get_by_role("navigation", name="菜单").get_by_role("link", name="共享清单").click()
    expect(page).to_have_url(re.compile(r"/catalog$"))
    expect(page.locator("h1")).to_have_text("信用信息共享清单")
    expect(page.locator("tr[data-dataset]")).to_have_count(datasets)
    screenshot(page, "e2e-catalog-zh")

    # The search narrows the list in place (htmx) and keeps the address shareable.
    page.get_by_label("搜索信息项").fill("处罚")
    expect(page.get_by_test_id("search-summary")).to_be_visible()
    expect(page.locator('tr[data-dataset="penalty"]')).to_be_visible()
    expect(page.locator('tr[data-dataset="tax_payment"]')).to_have_count(0)
    expect(page).to_have_url(re.compile(r"q=%E5%A4%84%E7%BD%9A"))

    page.locator('tr[data-dataset="penalty"]').get_by_role(
        "link", name=penalty.name_zh, exact=True
    ).click()
    expect(page.get_by_test_id("dataset-name")).to_have_text(penalty.name_zh)
    cells = page.get_by_test_id("fields").locator("tbody tr td:nth-child(3)")
    expect(cells).to_have_text(labels)
    screenshot(page, "e2e-dataset-zh")


def test_english_is_one_click_away_and_remembered(page: Page, site: Site) -> None:
    _login_operator(page, site)
    page.goto("/operator/dashboard")
    page.get_by_role("link", name="English", exact=True).click()

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#chart-cities-title")).to_have_text("Enterprises by city")
    expect(page.locator('#chart-cities[data-chart-ready="true"] svg')).to_have_count(1)
    screenshot(page, "e2e-dashboard-en")

    page.goto("/catalog")
    expect(page.locator("h1")).to_have_text("Shared-data list")
    screenshot(page, "e2e-catalog-en")
    page.goto("/catalog/penalty")
    expect(page.get_by_test_id("fields")).to_contain_text("Decision number")
    screenshot(page, "e2e-dataset-en")

    page.get_by_role("link", name="中文", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")


def test_not_found_page_offers_a_search(page: Page, console: Console) -> None:
    # Chromium logs the 404 of the page itself; that one is expected here.
    console.expected = re.compile(r"status of 404 \(Not Found\)")
    response = page.goto("/catalog/no_such_dataset")

    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("searchbox")).to_have_value("no_such_dataset")
    page.get_by_role("searchbox").fill("纳税")
    page.get_by_role("button", name="搜索").click()
    expect(page.locator('tr[data-dataset="tax_payment"]')).to_be_visible()


def test_api_documentation_runs_from_our_own_files(page: Page) -> None:
    page.goto("/api/v1/docs")

    expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=15_000)
    expect(page.locator(".swagger-ui")).to_contain_text("/api/v1/catalog/datasets/{code}")
    screenshot(page, "e2e-api-docs")


def test_area_pages_are_honest_about_what_is_coming(page: Page) -> None:
    page.goto("/")
    page.get_by_test_id("nav-enterprise").click()

    expect(page.locator("h1")).to_have_text("企业服务")
    expect(page.locator("#repair")).to_contain_text("建设中")
    screenshot(page, "e2e-area-enterprise")


def test_dashboard_on_a_phone(phone: Page, site: Site) -> None:
    _login_operator(phone, site)
    phone.goto("/operator/dashboard")

    expect(phone.locator(".navbar-toggler")).to_be_visible()
    expect(phone.locator('#chart-cities[data-chart-ready="true"] svg')).to_have_count(1)
    phone.locator(".navbar-toggler").click()
    expect(phone.get_by_test_id("nav-group-collection")).to_be_visible()
    screenshot(phone, "e2e-dashboard-phone")
