"""The pages of the shared-data list: the list by category, versions, search, one dataset."""

from __future__ import annotations

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from creditbridge.catalog import service as catalog_service
from creditbridge.core.actors import CONSOLE
from web import conftest as web_fixtures
from web.helpers import table_rows, visible_text

app = web_fixtures.app
client = web_fixtures.client

OLD_LIST = {
    "version": "2019.1",
    "title": "旧版共享清单",
    "basis": "旧依据",
    "effective_date": "2019-06-01",
    "categories": {"registration": {"zh": "登记", "en": "Registration"}},
    "datasets": [
        {
            "code": "registration",
            "name_zh": "旧版登记信息",
            "name_en": "Old registration",
            "category": "registration",
            "provider_kind": "department",
            "provider_name": "工商局",
            "update_frequency": "monthly",
            "subject_key": "uscc",
            "natural_key": ["uscc"],
            "event_date_field": "registration_date",
            "disclosure_class": "public",
            "negative": False,
            "fields": [
                {
                    "code": "uscc",
                    "label_zh": "代码",
                    "label_en": "Code",
                    "type": "uscc",
                    "required": True,
                    "classification_level": 1,
                },
                {
                    "code": "registration_date",
                    "label_zh": "成立日期",
                    "label_en": "Founded",
                    "type": "date",
                    "required": True,
                    "classification_level": 1,
                },
            ],
        }
    ],
}


@pytest.fixture
def two_versions(session: Session) -> None:
    """The old list loaded first, then the bundled one, which becomes current."""
    catalog_service.load_catalog(
        session, CONSOLE, text=yaml.safe_dump(OLD_LIST, allow_unicode=True)
    )
    catalog_service.load_catalog(session, CONSOLE, path=catalog_service.BUNDLED_CATALOG_PATH)


class TestList:
    def test_no_list_loaded_says_how_to_load_one(self, client: TestClient) -> None:
        response = client.get("/catalog")

        assert response.status_code == 200
        assert "creditbridge catalog load" in visible_text(response.text)

    @pytest.mark.usefixtures("two_versions")
    def test_datasets_grouped_by_category_with_their_properties(self, client: TestClient) -> None:
        page = client.get("/catalog").text
        text = visible_text(page)

        assert "信用信息共享清单" in text
        for category in ("市场主体登记注册", "行政处罚", "水电气", "纳税"):
            assert category in text
        row = page[page.index('data-dataset="penalty"') :]
        row = row[: row.index("</tr>")]
        assert "行政处罚信息" in row
        assert "Administrative penalties" in row
        assert "每日" in row
        assert "cb-disclosure-public" in row
        assert "失信" in row
        assert "按失信程度" in row
        verify = page[page.index('data-dataset="legal_rep_identity"') :]
        assert "仅核验" in verify[: verify.index("</tr>")]
        assert "变更时" in verify[: verify.index("</tr>")]

    @pytest.mark.usefixtures("two_versions")
    def test_older_version_is_kept_and_can_be_chosen(self, client: TestClient) -> None:
        current = client.get("/catalog").text
        assert '<option value="2019.1"' in current
        assert '<option value="2021.1" selected' in current

        old = client.get("/catalog?version=2019.1").text
        text = visible_text(old)
        assert "旧版登记信息" in text
        assert "行政处罚信息" not in text
        assert "您正在查看历史版本，现行版本为 2021.1" in text
        # Links from a past version stay on it.
        assert "/catalog/registration?version=2019.1" in old

    @pytest.mark.usefixtures("two_versions")
    def test_unknown_version_is_not_found(self, client: TestClient) -> None:
        response = client.get("/catalog?version=1999.9")

        assert response.status_code == 404
        assert "1999.9" in visible_text(response.text)

    @pytest.mark.usefixtures("two_versions")
    def test_search_narrows_the_list(self, client: TestClient) -> None:
        page = client.get("/catalog?q=税").text
        text = visible_text(page)

        assert "纳税信息" in text
        assert "欠税信息" in text or "tax_arrears" in page
        assert "行政处罚信息" not in text
        assert "“税” 的搜索结果" in text

    @pytest.mark.usefixtures("two_versions")
    def test_search_matches_english_names_and_codes(self, client: TestClient) -> None:
        assert 'data-dataset="utility_power"' in client.get("/catalog?q=ELECTRICITY").text
        assert 'data-dataset="penalty"' in client.get("/catalog?q=penal").text

    @pytest.mark.usefixtures("two_versions")
    def test_search_with_no_match_says_so(self, client: TestClient) -> None:
        assert "没有匹配的信息项" in client.get("/catalog?q=不存在的东西").text

    @pytest.mark.usefixtures("two_versions")
    def test_htmx_search_returns_the_results_without_the_layout(self, client: TestClient) -> None:
        partial = client.get("/catalog?q=tax", headers={"HX-Request": "true"}).text

        assert 'id="catalog-results"' in partial
        assert "<html" not in partial

    @pytest.mark.usefixtures("two_versions")
    def test_english_list(self, client: TestClient) -> None:
        text = visible_text(client.get("/catalog?lang=en").text)

        assert "Shared-data list" in text
        assert "Administrative penalties" in text
        assert "Verification only" in text
        assert "On change" in text
        assert "1 dataset" in text


class TestDataset:
    @pytest.mark.usefixtures("two_versions")
    def test_fields_with_labels_types_levels_and_masking(
        self, client: TestClient, session: Session
    ) -> None:
        response = client.get("/catalog/penalty")

        assert response.status_code == 200
        dataset = catalog_service.get_dataset_or_raise(session, code="penalty")
        rows = {row[1].split()[0]: row for row in table_rows(response.text, "fields")}
        assert list(rows) == [field.code for field in dataset.fields]
        for field in dataset.fields:
            row = rows[field.code]
            assert row[2:4] == [field.label_zh, field.label_en]
            assert row[5] == ("元" if field.unit == "yuan" else row[5])
            assert row[6] == ("是" if field.required else "否")
            assert row[8].startswith(f"{field.classification_level} · ")
        assert rows["decision_no"][1] == "decision_no 记录标识"
        assert rows["decision_no"][4] == "字符串"
        assert rows["uscc"][1] == "uscc 主体标识"
        assert rows["fine_amount"][4:6] == ["金额", "元"]
        assert "minor 轻微" in rows["severity"][7]

    @pytest.mark.usefixtures("two_versions")
    def test_dataset_facts(self, client: TestClient) -> None:
        text = visible_text(client.get("/catalog/penalty").text)

        assert "行政处罚信息" in text
        assert "Administrative penalties" in text
        assert "各级行政执法部门" in text
        assert "按失信程度" in text
        assert "一般：3个月至1年" in text
        assert "decision_no" in text

    @pytest.mark.usefixtures("two_versions")
    def test_masking_and_high_levels_are_shown(self, client: TestClient) -> None:
        rows = {
            row[1].split()[0]: row
            for row in table_rows(client.get("/catalog/legal_rep_identity").text, "fields")
        }
        levels = {row[8] for row in rows.values()}
        maskings = {row[9] for row in rows.values()}

        assert any(level.startswith(("3", "4", "5")) for level in levels)
        assert maskings - {"不脱敏"}

    @pytest.mark.usefixtures("two_versions")
    def test_past_version_of_a_dataset(self, client: TestClient) -> None:
        text = visible_text(client.get("/catalog/registration?version=2019.1").text)

        assert "旧版登记信息" in text
        assert "您正在查看历史版本" in text

    @pytest.mark.usefixtures("two_versions")
    def test_unknown_code_is_a_not_found_page_with_a_search_box(self, client: TestClient) -> None:
        response = client.get("/catalog/no_such_dataset")

        assert response.status_code == 404
        assert 'name="q" value="no_such_dataset"' in response.text
        assert 'action="/catalog"' in response.text
        assert "CB-NOT-FOUND" in response.text

    @pytest.mark.usefixtures("two_versions")
    def test_htmx_dataset_page_is_only_the_content(self, client: TestClient) -> None:
        partial = client.get("/catalog/penalty", headers={"HX-Request": "true"}).text

        assert "<html" not in partial
        assert 'data-testid="fields"' in partial

    @pytest.mark.usefixtures("two_versions")
    def test_english_dataset_page(self, client: TestClient) -> None:
        text = visible_text(client.get("/catalog/penalty?lang=en").text)

        assert "Administrative penalties" in text
        assert "Field code" in text
        assert "Decision number" in text
        assert "General: 3 months to 1 year" in text
