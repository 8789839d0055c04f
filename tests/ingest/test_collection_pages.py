"""The collection dashboard, drill-down, overdue list and Excel export, for operators only."""

from __future__ import annotations

import re
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from creditbridge.core.actors import Role
from creditbridge.core.config import Settings
from creditbridge.ingest import metrics

from .collection_data import AS_OF, MONTH, Province, build_province


@pytest.fixture
def computed(session: Session, tmp_path: Path) -> Province:
    province = build_province(session)
    metrics.compute_collection_metrics(
        session, month=MONTH, as_of=AS_OF, settings=Settings(analytics_dir=tmp_path)
    )
    return province


def test_dashboard_says_when_nothing_is_computed(
    client: TestClient, login_as: Callable[..., object]
) -> None:
    login_as(Role.OPERATOR)
    page = client.get("/collection")
    assert page.status_code == 200
    assert 'data-testid="collection-empty"' in page.text
    assert "creditbridge collection compute" in page.text


def test_dashboard_shows_rate_by_dataset_and_city(
    client: TestClient, login_as: Callable[..., object], computed: Province
) -> None:
    login_as(Role.OPERATOR)
    page = client.get("/collection")
    assert page.status_code == 200
    text = page.text
    assert "信用信息归集监测" in text
    assert re.search(r'data-testid="collection-rate" data-value="0\.0333', text)
    assert "3.3%" in text
    assert "1 / 30" in text
    assert 'data-city="340100"' in text
    assert "合肥市" in text
    assert "芜湖市" in text
    assert 'data-dataset="tax_payment"' in text
    assert "覆盖率不达标" in text
    charts = re.search(
        r'<script type="application/json" id="collection-charts">(.*?)</script>', text, re.S
    )
    assert charts is not None
    data = orjson.loads(charts.group(1))
    assert data["cities"]["values"] == [3.3, 3.3]
    assert data["trend"] == {
        "names": [MONTH],
        "values": [3.3],
        "seriesName": "归集率 %",
        "target": 100,
    }
    assert "<script>" not in text  # no inline script (CSP)


def test_drill_down_dataset_city_provider_batch(
    client: TestClient, login_as: Callable[..., object], computed: Province
) -> None:
    login_as(Role.OPERATOR)
    dataset = client.get(f"/collection/datasets/utility_water?month={MONTH}")
    assert dataset.status_code == 200
    assert f"/collection/datasets/utility_water/cities/340100?month={MONTH}" in dataset.text
    city = client.get(f"/collection/datasets/utility_water/cities/340100?month={MONTH}")
    assert city.status_code == 200
    assert "逾期报送" in city.text
    water = computed.batches["water-09"]
    assert f'href="/ingest/batches/{water}"' in city.text
    assert "water-09-refused" in city.text
    assert "已退回" in city.text


def test_unknown_drill_down_is_not_found(
    client: TestClient, login_as: Callable[..., object], computed: Province
) -> None:
    login_as(Role.OPERATOR)
    assert (
        client.get(f"/collection/datasets/no_such/cities/340100?month={MONTH}").status_code == 404
    )
    assert client.get("/collection?month=2026-13").status_code in (400, 422)


def test_overdue_list_per_provider(
    client: TestClient, login_as: Callable[..., object], computed: Province
) -> None:
    login_as(Role.OPERATOR)
    page = client.get(f"/collection/overdue?month={MONTH}")
    assert page.status_code == 200
    assert "测试hrss" in page.text
    assert 'data-dataset="social_insurance"' in page.text


def test_excel_export(
    client: TestClient, login_as: Callable[..., object], computed: Province
) -> None:
    login_as(Role.OPERATOR)
    response = client.get(f"/collection/export.xlsx?month={MONTH}")
    assert response.status_code == 200
    assert "spreadsheetml" in response.headers["content-type"]
    sheet = load_workbook(BytesIO(response.content)).active
    assert sheet is not None
    assert sheet.max_row == 8


@pytest.mark.parametrize("role", [Role.PROVIDER_USER, Role.INSTITUTION_OFFICER])
def test_only_operators_see_the_dashboard(
    client: TestClient, login_as: Callable[..., object], role: Role
) -> None:
    login_as(role)
    assert client.get("/collection", follow_redirects=False).status_code in (403, 404)


def test_anonymous_is_sent_to_login(client: TestClient) -> None:
    response = client.get("/collection", follow_redirects=False)
    assert response.status_code in (303, 307, 401)
