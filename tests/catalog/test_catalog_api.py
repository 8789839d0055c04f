"""The JSON API of the list, on a small app around the catalog router, reading through the test's
rolled-back session. Errors are rendered as the platform does for the API (RFC 9457 bodies from
``DomainError.problem()``) without importing the whole web shell."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from creditbridge.catalog import service
from creditbridge.catalog.api import router
from creditbridge.core.actors import CONSOLE
from creditbridge.core.errors import DomainError
from creditbridge.web.deps import get_read_session


def problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return JSONResponse(
        exc.problem(), status_code=exc.status_code, media_type="application/problem+json"
    )


@pytest.fixture
def client(session: Session) -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(router)
    app.add_exception_handler(DomainError, problem)
    app.state.sessionmaker = sessionmaker(bind=session.connection())

    def test_session() -> Iterator[Session]:
        yield session

    app.dependency_overrides[get_read_session] = test_session
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def loaded(session: Session) -> None:
    service.load_catalog(session, CONSOLE, path=service.BUNDLED_CATALOG_PATH)


def test_overview_before_any_list_is_loaded_has_no_version(client: TestClient) -> None:
    response = client.get("/api/v1/catalog")

    assert response.status_code == 200
    assert response.json() == {"version": None, "categories": []}


@pytest.mark.usefixtures("loaded")
def test_overview_gives_the_current_version_and_categories(client: TestClient) -> None:
    body = client.get("/api/v1/catalog").json()

    assert body["version"]["version"] == "2021.1"
    assert body["version"]["basis"] == "国办发〔2021〕52号"
    assert body["version"]["is_current"] is True
    assert len(body["version"]["source_digest"]) == 64
    assert body["categories"][0] == {
        "code": "registration",
        "name_zh": "市场主体登记注册",
        "name_en": "Market entity registration",
        "dataset_count": 4,
    }


@pytest.mark.usefixtures("loaded")
def test_dataset_list_gives_every_dataset_of_the_version(client: TestClient) -> None:
    body = client.get("/api/v1/catalog/datasets").json()

    assert [d["code"] for d in body] == service.bundled_catalog().dataset_codes
    penalty = next(d for d in body if d["code"] == "penalty")
    assert penalty == {
        "version": "2021.1",
        "code": "penalty",
        "name_zh": "行政处罚信息",
        "name_en": "Administrative penalties",
        "category": "penalty",
        "provider_kind": "department",
        "provider_name": "各级行政执法部门（“双公示”）",
        "update_frequency": "daily",
        "disclosure_class": "public",
        "negative": True,
        "publication_period_class": "by_severity",
        "field_count": 12,
    }
    assert client.get("/api/v1/catalog/datasets", params={"version": "2021.1"}).json() == body


@pytest.mark.usefixtures("loaded")
def test_dataset_detail_gives_keys_and_fields(client: TestClient) -> None:
    body = client.get("/api/v1/catalog/datasets/penalty").json()

    assert body["natural_key"] == ["decision_no"]
    assert body["event_date_field"] == "decision_date"
    assert body["severity_field"] == "severity"
    assert body["sla_days"] == 7
    severity = next(f for f in body["fields"] if f["code"] == "severity")
    assert severity["enum_values"] == ["minor", "general", "serious"]
    assert severity["enum_labels"] == {"minor": "轻微", "general": "一般", "serious": "严重"}
    fine = next(f for f in body["fields"] if f["code"] == "fine_amount")
    assert (fine["type"], fine["unit"], fine["required"]) == ("amount", "yuan", False)


@pytest.mark.usefixtures("loaded")
def test_unknown_dataset_is_a_404_problem_with_a_stable_code(client: TestClient) -> None:
    response = client.get("/api/v1/catalog/datasets/loans")

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "CB-NOT-FOUND"
    assert "loans" in response.json()["detail"]


@pytest.mark.usefixtures("loaded")
def test_unknown_version_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/api/v1/catalog/datasets", params={"version": "1999.1"})

    assert response.status_code == 404
    assert response.json()["code"] == "CB-NOT-FOUND"


@pytest.mark.usefixtures("loaded")
def test_versions_lists_what_was_loaded(client: TestClient) -> None:
    body = client.get("/api/v1/catalog/versions").json()

    assert [(v["version"], v["is_current"]) for v in body] == [("2021.1", True)]


def test_openapi_documents_the_routes_in_english_and_chinese(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()

    assert {
        "/api/v1/catalog",
        "/api/v1/catalog/datasets",
        "/api/v1/catalog/datasets/{code}",
    } <= set(schema["paths"])
    fields = schema["components"]["schemas"]["FieldOut"]["properties"]
    assert "数据分级" in fields["classification_level"]["description"]


@pytest.mark.usefixtures("loaded")
def test_a_nul_in_a_text_parameter_is_422_not_a_database_error(client: TestClient) -> None:
    """Issue 22 finding 5 (found by the schemathesis run): PostgreSQL refuses NUL in text, and
    `?version=%00` answered 500 there."""
    for url in ("/api/v1/catalog/datasets?version=%00", "/api/v1/catalog/datasets/pen%00alty"):
        response = client.get(url)
        assert response.status_code == 422, (url, response.text)
