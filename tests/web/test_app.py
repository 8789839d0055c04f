"""The application shell: start-up checks, /healthz, the OpenAPI document and security headers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from creditbridge import __version__
from creditbridge.core.actors import Role
from creditbridge.core.config import Settings
from creditbridge.core.db import make_engine
from creditbridge.core.errors import DatabaseUnavailable
from creditbridge.web.app import VENDOR_FILES, AssetsMissing, check_assets, create_app

from .conftest import LoggedIn
from .helpers import parse

PAGES = (
    "/",
    "/operator",
    "/institution",
    "/enterprise",
    "/catalog",
    "/catalog/penalty",
    "/api/v1/docs",
)


class TestStartUp:
    def test_missing_vendor_assets_stop_the_start_with_the_fix(self, tmp_path: Path) -> None:
        with pytest.raises(AssetsMissing, match="make assets"):
            check_assets(tmp_path)

    def test_vendored_assets_are_present(self) -> None:
        check_assets()
        assert "echarts.min.js" in VENDOR_FILES

    def test_unreachable_database_stops_the_start(self, tmp_path: Path) -> None:
        # A directory is not a database file: SQLite cannot open it.
        with pytest.raises(DatabaseUnavailable):
            create_app(Settings(database_url=f"sqlite:///{tmp_path}"))


class TestHealth:
    def test_the_public_learns_only_that_the_node_is_ok(self, client: TestClient) -> None:
        response = client.get("/healthz")

        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        assert response.headers["cache-control"] == "no-store"

    def test_a_signed_in_operator_sees_version_and_database(
        self, client: TestClient, login_as: Callable[..., LoggedIn]
    ) -> None:
        login_as(Role.OPERATOR)

        response = client.get("/healthz")

        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ok"
        assert body["version"] == __version__
        assert body["node_code"] == "340000"
        assert body["database"]["reachable"] is True
        assert body["database"]["revision"] == body["database"]["head"]
        assert body["database"]["revision"]
        assert response.headers["cache-control"] == "no-store"

    def test_other_signed_in_users_see_only_the_status(
        self, client: TestClient, login_as: Callable[..., LoggedIn]
    ) -> None:
        login_as(Role.ENTERPRISE_USER)

        assert client.get("/healthz").json() == {"status": "ok"}

    def test_database_down_is_503(self, tmp_path: Path) -> None:
        broken = make_engine(f"sqlite:///{tmp_path}")
        settings = Settings(database_url=f"sqlite:///{tmp_path}")

        public = TestClient(create_app(settings, engine=broken)).get("/healthz")
        internal = TestClient(
            create_app(settings.model_copy(update={"health_details": True}), engine=broken)
        ).get("/healthz")

        assert public.status_code == internal.status_code == 503
        assert public.json() == {"status": "unavailable"}
        body = internal.json()
        assert body["status"] == "unavailable"
        assert body["database"]["reachable"] is False
        assert body["database"]["error"]

    def test_unmigrated_database_is_503(self, tmp_path: Path) -> None:
        empty = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
        settings = Settings(database_url="sqlite://", health_details=True)

        response = TestClient(create_app(settings, engine=empty)).get("/healthz")

        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "migrations_pending"
        assert body["database"]["revision"] is None


class TestOpenApi:
    def test_document_is_served_with_the_catalog_routes(self, client: TestClient) -> None:
        response = client.get("/api/v1/openapi.json")

        assert response.status_code == 200
        document = response.json()
        assert document["info"]["version"] == __version__
        assert "融资信用服务平台" in document["info"]["title"]
        assert "RFC 9457" in document["info"]["description"]
        paths = document["paths"]
        assert "/api/v1/catalog" in paths
        assert "/api/v1/catalog/datasets/{code}" in paths
        assert "/healthz" in paths
        # Pages are not part of the API.
        assert "/" not in paths
        assert "/catalog" not in paths

    def test_docs_page_uses_our_own_swagger_copy(self, client: TestClient) -> None:
        page = client.get("/api/v1/docs").text

        assert 'data-openapi-url="/api/v1/openapi.json"' in page
        assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page
        assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200
        assert client.get("/docs").status_code == 404
        assert client.get("/redoc").status_code == 404


class TestSecurity:
    @pytest.mark.parametrize(
        "path", ["/", "/api/v1/catalog", "/nope", "/static/css/app.css", "/healthz"]
    )
    def test_headers_on_every_kind_of_response(self, client: TestClient, path: str) -> None:
        headers = client.get(path).headers

        policy = headers["content-security-policy"]
        assert "default-src 'self'" in policy
        assert "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy
        assert "unsafe-eval" not in policy
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert headers["x-frame-options"] == "DENY"

    @pytest.mark.usefixtures("sample")
    def test_pages_have_no_inline_script_style_or_handler(self, client: TestClient) -> None:
        for path in PAGES:
            page = parse(client.get(path).text)
            for script in page.scripts:
                # Data blocks are not executed; everything else must come from a file.
                assert script.get("src") or script.get("type") == "application/json", path
            assert page.styled == [], path
            assert page.handlers == [], path

    @pytest.mark.usefixtures("sample")
    def test_pages_load_nothing_from_other_sites(self, client: TestClient) -> None:
        for path in PAGES:
            for url in parse(client.get(path).text).urls:
                assert url.startswith(("/", "#", "http://testserver/", "?")), (path, url)
