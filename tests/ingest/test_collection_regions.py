"""Issue 23, "Operators by region": a city or county operator's collection pages and export show
only its city; a province or node-wide operator sees every city."""

from __future__ import annotations

import re
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from creditbridge.core.actors import Role
from creditbridge.core.config import Settings
from creditbridge.ingest import metrics
from web.conftest import LoggedIn

from .collection_data import AS_OF, MONTH, Province, build_province

Login = Callable[..., LoggedIn]


@pytest.fixture
def computed(session: Session, tmp_path: Path) -> Province:
    province = build_province(session)
    metrics.compute_collection_metrics(
        session, month=MONTH, as_of=AS_OF, settings=Settings(analytics_dir=tmp_path)
    )
    return province


def _operator_of(session: Session, login_as: Login, division_code: str | None) -> LoggedIn:
    logged = login_as(Role.OPERATOR)
    # Set on the row as the system admin's change leaves it; the actor is rebuilt per request.
    logged.user.division_code = division_code
    session.flush()
    return logged


def _cities(text: str) -> set[str]:
    return set(re.findall(r'data-city="(\d{6})"', text))


def test_the_service_limits_every_figure_to_the_division(
    session: Session, computed: Province
) -> None:
    everything = metrics.get_overview(session, month=MONTH)
    assert {c.code for c in everything.cities} == {"340100", "340200"}
    wuhu = metrics.get_overview(session, month=MONTH, division_code="340200")
    assert [c.code for c in wuhu.cities] == ["340200"]
    assert 0 < wuhu.totals.rows < everything.totals.rows
    province = metrics.get_overview(session, month=MONTH, division_code="340000")
    assert {c.code for c in province.cities} == {"340100", "340200"}
    # A county operator sees its city's figures: metrics are kept per city.
    county = metrics.get_overview(session, month=MONTH, division_code="340104")
    assert [c.code for c in county.cities] == ["340100"]
    elsewhere = metrics.get_overview(session, month=MONTH, division_code="320100")
    assert elsewhere.cities == []
    assert elsewhere.is_empty


def test_a_city_operator_sees_only_its_city(
    client: TestClient, session: Session, login_as: Login, computed: Province
) -> None:
    _operator_of(session, login_as, "340200")
    page = client.get(f"/collection?month={MONTH}")
    assert page.status_code == 200
    assert _cities(page.text) == {"340200"}
    assert 'data-testid="collection-region" data-division="340200"' in page.text
    assert "芜湖市" in page.text
    for code in ("utility_water", "tax_payment"):
        dataset = client.get(f"/collection/datasets/{code}?month={MONTH}")
        assert dataset.status_code == 200
        assert "/cities/340100?month" not in dataset.text
    assert "/cities/340200?month" in dataset.text
    # Another city's drill-down is not there for it.
    other = client.get(f"/collection/datasets/utility_water/cities/340100?month={MONTH}")
    assert other.status_code == 404
    export = client.get(f"/collection/export.xlsx?month={MONTH}")
    sheet = load_workbook(BytesIO(export.content)).active
    assert sheet is not None
    cities = {row[3] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert cities == {"340200"}


def test_a_county_operator_is_told_the_figures_are_its_citys(
    client: TestClient, session: Session, login_as: Login, computed: Province
) -> None:
    _operator_of(session, login_as, "340104")
    page = client.get(f"/collection?month={MONTH}")
    assert _cities(page.text) == {"340100"}
    assert "归集指标按地市统计" in page.text
    overdue = client.get(f"/collection/overdue?month={MONTH}")
    assert overdue.status_code == 200
    assert 'data-division="340104"' in overdue.text


def test_a_node_wide_operator_sees_every_city_without_a_notice(
    client: TestClient, session: Session, login_as: Login, computed: Province
) -> None:
    _operator_of(session, login_as, None)
    page = client.get(f"/collection?month={MONTH}")
    assert _cities(page.text) == {"340100", "340200"}
    assert 'data-testid="collection-region"' not in page.text
    export = client.get(f"/collection/export.xlsx?month={MONTH}")
    sheet = load_workbook(BytesIO(export.content)).active
    assert sheet is not None
    assert sheet.max_row == 8
