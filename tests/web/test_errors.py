"""One error handler: HTML pages in the reader's language, Problem Details for the API."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from creditbridge.catalog.errors import CatalogFileInvalid
from creditbridge.core.errors import Conflict, Issue, NotFound, ValidationFailed
from creditbridge.presentation.errors import keyed, keyed_issue

from .helpers import visible_text


@pytest.fixture
def failing_app(app: FastAPI) -> FastAPI:
    """The app with routes that fail in each way the handler must render."""

    def boom() -> None:
        raise RuntimeError("secret internal detail")

    def conflict() -> None:
        raise Conflict("申请已撤回，不能再次提交")

    def invalid() -> None:
        raise ValidationFailed(
            "文件有误", issues=[Issue(code="required", message="必填", field="uscc", row=3)]
        )

    def catalog_invalid() -> None:
        raise CatalogFileInvalid("清单文件有误")

    def keyed_missing() -> None:
        raise keyed(NotFound, "error.catalog.no_version", version="2099.1")

    def keyed_invalid() -> None:
        issue = keyed_issue("encoding", "error.catalog.encoding", location="list.yaml")
        raise keyed(
            CatalogFileInvalid,
            "error.catalog.file_invalid",
            issues=[issue],
            name="list.yaml",
            n=1,
        )

    def database_down() -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    for prefix in ("/test", "/api/v1/test"):
        app.add_api_route(f"{prefix}/boom", boom)
        app.add_api_route(f"{prefix}/conflict", conflict)
        app.add_api_route(f"{prefix}/invalid", invalid)
        app.add_api_route(f"{prefix}/database", database_down)
        app.add_api_route(f"{prefix}/catalog-invalid", catalog_invalid)
        app.add_api_route(f"{prefix}/keyed-missing", keyed_missing)
        app.add_api_route(f"{prefix}/keyed-invalid", keyed_invalid)
    return app


@pytest.fixture
def failing(failing_app: FastAPI) -> TestClient:
    return TestClient(failing_app, raise_server_exceptions=False)


class TestApi:
    def test_not_found_is_problem_json(self, client: TestClient) -> None:
        response = client.get("/api/v1/catalog/datasets/nope")

        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["code"] == "CB-NOT-FOUND"
        assert body["status"] == 404
        assert body["type"] == "urn:creditbridge:error:CB-NOT-FOUND"
        assert body["instance"] == "/api/v1/catalog/datasets/nope"

    def test_unknown_api_route_is_problem_json(self, client: TestClient) -> None:
        response = client.get("/api/v1/no/such/route")

        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "CB-NOT-FOUND"

    def test_request_validation_is_problem_json_naming_the_parameter(
        self, client: TestClient
    ) -> None:
        response = client.get("/api/v1/catalog/datasets", params={"version": "x" * 40})

        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["code"] == "CB-VALIDATION"
        assert body["errors"][0]["location"] == "query"
        assert body["errors"][0]["field"] == "version"

    def test_wrong_method_is_problem_json(self, client: TestClient) -> None:
        response = client.post("/api/v1/catalog")

        assert response.status_code == 405
        assert response.json()["code"] == "CB-METHOD-NOT-ALLOWED"
        assert "GET" in response.headers["allow"]

    def test_domain_error_issues_are_listed(self, failing: TestClient) -> None:
        body = failing.get("/api/v1/test/invalid").json()

        assert body["status"] == 422
        assert body["errors"] == [
            {"code": "required", "message": "必填", "field": "uscc", "row": 3}
        ]

    def test_a_keyed_error_keeps_its_chinese_detail_and_adds_key_and_params(
        self, failing: TestClient
    ) -> None:
        body = failing.get("/api/v1/test/keyed-missing?lang=en").json()

        assert body["detail"] == "没有版本为 2099.1 的共享清单"
        assert body["key"] == "error.catalog.no_version"
        assert body["params"] == {"version": "2099.1"}

    def test_unknown_route_detail_is_chinese_whatever_the_language(
        self, client: TestClient
    ) -> None:
        body = client.get("/api/v1/no/such/route?lang=en").json()

        assert body["detail"] == "页面不存在：/api/v1/no/such/route"
        assert body["params"] == {"path": "/api/v1/no/such/route"}

    def test_unexpected_error_is_a_500_problem_without_details(
        self, failing: TestClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.ERROR, logger="creditbridge.web.errors"):
            response = failing.get("/api/v1/test/boom")

        assert response.status_code == 500
        assert response.json()["code"] == "CB-INTERNAL"
        assert "secret internal detail" not in response.text
        assert any("secret internal detail" in (r.exc_text or "") for r in caplog.records)

    def test_database_down_is_503_with_retry_after(self, failing: TestClient) -> None:
        response = failing.get("/api/v1/test/database")

        assert response.status_code == 503
        assert response.headers["retry-after"] == "30"
        assert response.json()["code"] == "CB-DATABASE-UNAVAILABLE"


class TestPages:
    def test_unknown_page_is_a_not_found_page_with_search(self, client: TestClient) -> None:
        response = client.get("/no/such/page")

        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        text = visible_text(response.text)
        assert "未找到" in text
        assert "页面不存在：/no/such/page" in text
        assert 'role="search"' in response.text

    def test_not_found_page_in_english(self, client: TestClient) -> None:
        text = visible_text(client.get("/no/such/page?lang=en").text)

        assert "Not found" in text
        assert "No page at /no/such/page" in text

    def test_validation_error_page_names_the_parameter(self, client: TestClient) -> None:
        response = client.get("/catalog", params={"version": "x" * 40})

        assert response.status_code == 422
        text = visible_text(response.text)
        assert "输入有误" in text
        assert "query.version" in text

    def test_conflict_page_in_the_readers_language(self, failing: TestClient) -> None:
        zh = failing.get("/test/conflict")
        en = failing.get("/test/conflict?lang=en")

        assert zh.status_code == en.status_code == 409
        assert "状态冲突" in visible_text(zh.text)
        assert "申请已撤回，不能再次提交" in visible_text(zh.text)
        assert "Conflict" in visible_text(en.text)

    def test_error_of_a_domain_module_is_titled_in_both_languages(
        self, failing: TestClient
    ) -> None:
        zh = failing.get("/test/catalog-invalid")
        en = failing.get("/test/catalog-invalid?lang=en")

        assert zh.status_code == en.status_code == 422
        assert "共享清单文件有误" in visible_text(zh.text)
        assert "Invalid shared-data list file" in visible_text(en.text)

    def test_a_keyed_error_is_explained_in_english(self, failing: TestClient) -> None:
        en = visible_text(failing.get("/test/keyed-missing?lang=en").text)
        zh = visible_text(failing.get("/test/keyed-missing?lang=zh").text)

        assert "There is no shared-data list of version 2099.1" in en
        assert "没有版本为" not in en
        assert "没有版本为 2099.1 的共享清单" in zh

    def test_keyed_issues_are_listed_in_english(self, failing: TestClient) -> None:
        en = visible_text(failing.get("/test/keyed-invalid?lang=en").text)

        assert "The shared-data list file list.yaml has 1 error" in en
        assert "The file must be encoded in UTF-8" in en
        assert "UTF-8 编码" not in en

    def test_a_missing_dataset_page_in_english(self, client: TestClient, sample: object) -> None:
        response = client.get("/catalog/no-such-dataset?lang=en")

        assert response.status_code == 404
        assert "has no dataset no-such-dataset" in visible_text(response.text)

    def test_unexpected_error_page_shows_no_traceback(self, failing: TestClient) -> None:
        response = failing.get("/test/boom")

        assert response.status_code == 500
        assert response.headers["content-type"].startswith("text/html")
        assert "系统内部错误" in visible_text(response.text)
        assert "secret internal detail" not in response.text
        assert "Traceback" not in response.text

    def test_database_down_page(self, failing: TestClient) -> None:
        response = failing.get("/test/database")

        assert response.status_code == 503
        assert "数据库暂时不可用" in visible_text(response.text)

    def test_missing_static_file_is_plain(self, client: TestClient) -> None:
        response = client.get("/static/vendor/nothing.js")

        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/plain")
