"""The operator's dashboard, the area pages and the language switch, through the application."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from creditbridge.core.actors import Role
from creditbridge.reference import divisions

from .conftest import LoggedIn
from .helpers import json_block, stat_value, table_rows, visible_text
from .seed import Sample

ANHUI_CITIES = divisions.cities("340000")


DASHBOARD = "/operator/dashboard"


class TestDashboard:
    """The operator's 数据看板, moved from / (now each role's home) to its own page."""

    @pytest.fixture(autouse=True)
    def _operator(self, login_as: Callable[..., LoggedIn]) -> None:
        login_as(Role.OPERATOR)

    def test_empty_database_shows_how_to_get_data_not_an_error(self, client: TestClient) -> None:
        response = client.get(DASHBOARD)

        assert response.status_code == 200
        text = visible_text(response.text)
        assert "尚无数据" in text
        assert "make demo" in text
        assert "creditbridge demo generate" in text
        assert stat_value(response.text, "total-subjects") == 0
        assert "dashboard-charts" not in response.text

    def test_totals_are_the_database_counts(self, client: TestClient, sample: Sample) -> None:
        page = client.get(DASHBOARD).text

        assert stat_value(page, "total-subjects") == sample.subjects
        assert stat_value(page, "total-records") == sample.rows_accepted
        assert stat_value(page, "total-providers") == sample.providers
        assert stat_value(page, "total-institutions") == sample.institutions
        assert stat_value(page, "total-products") == sample.products
        assert stat_value(page, "total-loans") == sample.loans
        assert stat_value(page, "total-datasets") == 30
        assert "尚无数据" not in visible_text(page)

    def test_records_by_dataset_are_the_rows_collected(
        self, client: TestClient, sample: Sample
    ) -> None:
        rows = {
            row[0]: row[1] for row in table_rows(client.get(DASHBOARD).text, "records-by-dataset")
        }

        # Every accepted version counts: the corrected tax records count twice.
        accepted = sample.rows_accepted_by_dataset["tax_payment"]
        assert accepted == 2 * sample.records_by_dataset["tax_payment"]
        assert rows["纳税信息"] == f"{accepted:,}"
        assert rows["市场主体登记信息"] == f"{sample.subjects:,}"
        # Datasets of the list with nothing delivered yet are listed too, with zero.
        assert rows["行政处罚信息"] == "0"

    def test_city_chart_names_all_sixteen_cities_largest_first(
        self, client: TestClient, sample: Sample
    ) -> None:
        charts = json_block(client.get(DASHBOARD).text, "dashboard-charts")
        names, values = charts["cities"]["names"], charts["cities"]["values"]

        assert len(ANHUI_CITIES) == 16
        assert sorted(names) == sorted(city.name for city in ANHUI_CITIES)
        assert values == sorted(values, reverse=True)
        by_name = dict(zip(names, values, strict=True))
        for city in ANHUI_CITIES:
            assert by_name[city.name] == sample.subjects_by_city.get(city.code, 0)
        assert sum(values) == sample.subjects

    def test_size_chart_counts_each_class_and_the_unclassified(
        self, client: TestClient, sample: Sample
    ) -> None:
        charts = json_block(client.get(DASHBOARD).text, "dashboard-charts")
        sizes = dict(zip(charts["sizes"]["names"], charts["sizes"]["values"], strict=True))

        assert sizes == {
            "大型": sample.subjects_by_size["large"],
            "中型": sample.subjects_by_size["medium"],
            "小型": sample.subjects_by_size["small"],
            "微型": sample.subjects_by_size["micro"],
            "未划型": sample.subjects_by_size[None],
        }

    def test_latest_deliveries_newest_first_in_shanghai_time(
        self, client: TestClient, sample: Sample
    ) -> None:
        rows = table_rows(client.get(DASHBOARD).text, "latest-batches")

        assert len(rows) == len(sample.batches)
        newest = rows[0]
        # Received 06:30 UTC, shown as 14:30 in Asia/Shanghai.
        assert newest[0] == "2026-11-20 14:30"
        assert newest[1] == "国家税务总局安徽省税务局"
        assert newest[2] == "纳税信息"
        assert newest[3:] == ["0", "7", "文件", "已拒收"]
        assert rows[-1][1] == "安徽省市场监督管理局"
        assert rows[-1][5:] == ["接口", "已入库"]

    def test_english_dashboard_names_datasets_and_sizes_in_english(
        self, client: TestClient, sample: Sample
    ) -> None:
        page = client.get(DASHBOARD + "?lang=en").text

        assert "Enterprises by city" in page
        assert "Latest deliveries" in page
        charts = json_block(page, "dashboard-charts")
        assert "Market entity registration" in charts["datasets"]["names"]
        assert "Micro" in charts["sizes"]["names"]
        rows = table_rows(page, "latest-batches")
        assert rows[0][5:] == ["File", "Refused"]

    def test_charts_load_echarts_from_our_static_files(
        self, client: TestClient, sample: Sample
    ) -> None:
        page = client.get(DASHBOARD).text

        assert '<script src="/static/vendor/echarts.min.js"></script>' in page
        assert client.get("/static/vendor/echarts.min.js").status_code == 200
        assert client.get("/static/js/charts.js").status_code == 200


class TestAreas:
    def test_each_area_says_what_is_here_and_what_is_coming(self, client: TestClient) -> None:
        for path, title in (
            ("/operator", "运营管理"),
            ("/institution", "金融机构"),
            ("/enterprise", "企业服务"),
        ):
            response = client.get(path)
            assert response.status_code == 200, path
            text = visible_text(response.text)
            assert title in text
            assert "即将提供" in text
            assert "目前不展示任何模拟数据" in text

    def test_operator_area_links_the_features_that_work(self, client: TestClient) -> None:
        text = client.get("/operator").text

        assert "现已提供" in text
        assert 'href="/catalog"' in text

    def test_institution_area_shows_real_counts(self, client: TestClient, sample: Sample) -> None:
        page = client.get("/institution?lang=en").text

        assert "Institutions" in page
        assert stat_value(page, "figure-dashboard.total.institutions") == sample.institutions
        assert stat_value(page, "figure-dashboard.total.products") == sample.products

    def test_navigation_offers_the_three_areas(self, client: TestClient) -> None:
        page = client.get("/catalog").text

        for area in ("operator", "institution", "enterprise"):
            assert f'data-testid="nav-{area}"' in page


class TestLanguage:
    def test_chinese_is_the_default(self, client: TestClient) -> None:
        page = client.get("/").text

        assert '<html lang="zh-CN">' in page
        assert "融资信用服务平台" in page

    def test_lang_parameter_switches_and_is_remembered(self, client: TestClient) -> None:
        first = client.get("/?lang=en")
        assert '<html lang="en">' in first.text
        assert "cb_lang=en" in first.headers["set-cookie"]

        # The cookie keeps English on the next page, with no parameter.
        later = client.get("/catalog")
        assert '<html lang="en">' in later.text
        assert "Shared-data list" in later.text

        back = client.get("/catalog?lang=zh")
        assert '<html lang="zh-CN">' in back.text
        assert "信用信息共享清单" in back.text

    def test_unknown_language_falls_back_without_error(self, client: TestClient) -> None:
        response = client.get("/?lang=fr")

        assert response.status_code == 200
        assert '<html lang="zh-CN">' in response.text
        assert "set-cookie" not in response.headers

    def test_switch_links_keep_the_current_page_and_query(self, client: TestClient) -> None:
        page = client.get("/catalog?q=tax").text

        assert "/catalog?q=tax&amp;lang=en" in page


class TestHtmx:
    def test_htmx_request_gets_only_the_page_content(self, client: TestClient) -> None:
        full = client.get("/operator").text
        partial = client.get("/operator", headers={"HX-Request": "true"}).text

        assert full.startswith("<!doctype html>")
        assert "<html" not in partial
        assert "cb-topbar" not in partial
        assert "即将提供" in partial

    def test_boosted_htmx_request_gets_the_whole_page(self, client: TestClient) -> None:
        page = client.get("/operator", headers={"HX-Request": "true", "HX-Boosted": "true"}).text

        assert "<html" in page
