"""Region/industry aggregates on the analytics path: DuckDB over a Parquet snapshot, with small
cells suppressed, the Excel export and the JSON API."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session

import factories
from creditbridge.core.actors import CONSOLE, Role
from creditbridge.reports import analytics
from creditbridge.subjects.models import Subject
from web import conftest as web_fixtures
from web.conftest import LoggedIn

from .conftest import NOW, World, add_record

app = web_fixtures.app
client = web_fixtures.client
login_as = web_fixtures.login_as
Login = Callable[..., LoggedIn]


def _more_hefei(session: Session, world: World, n: int) -> list[Subject]:
    subjects = [
        factories.subject(
            session,
            name=f"合肥企业{i}",
            division_code="340104",
            industry_section="I",
            industry_code="65",
            size_class="micro",
            created_at=NOW,
        )
        for i in range(n)
    ]
    for i, subject in enumerate(subjects[:2]):
        add_record(
            session,
            world.batch,
            subject,
            "penalty",
            f"px{i}",
            {
                "decision_no": f"X{i}",
                "decision_date": "2025-10-01",
                "severity": "general",
                "penalty_type": "罚款",
                "authority": "局",
            },
            date(2025, 10, 1),
        )
    add_record(
        session,
        world.batch,
        subjects[0],
        "tax_payment",
        "2025-11",
        {"period": "2025-11", "total_tax_paid": "250000.00"},
        date(2025, 11, 30),
    )
    return subjects


class TestAggregates:
    def test_counts_rates_and_suppression(self, session: Session, world: World) -> None:
        _more_hefei(session, world, 5)

        run = analytics.refresh(session, CONSOLE)

        assert run.enterprises == 7
        city = {c["key"]: c for c in run.tables["city"]}
        hefei = city["340100"]
        assert hefei["enterprises"] == 6
        # The last 12 complete months: the world's recent and minor penalties and the two new ones.
        assert hefei["penalties"] == 4
        assert hefei["dishonest_bp"] == 10_000 // 6
        assert city["340200"]["suppressed"] is True
        assert city["340200"]["enterprises"] is None
        bands = {c["key"]: c for c in run.tables["tax_band"]}
        assert bands["none"]["enterprises"] == 5
        assert bands["100k_1m"]["suppressed"] is True
        (total,) = run.tables["total"]
        assert total["enterprises"] == 7

    def test_excel_has_a_sheet_per_dimension(self, session: Session, world: World) -> None:
        _more_hefei(session, world, 5)
        run = analytics.refresh(session, CONSOLE)
        book = load_workbook(io.BytesIO(analytics.to_excel(run)))
        assert book.sheetnames[:3] == ["按市", "按县区", "按行业门类"]
        rows = list(book["按市"].iter_rows(values_only=True))
        assert rows[0][2] == "企业数"
        assert ("340200", "芜湖市", "<5") in [r[:3] for r in rows]

    def test_page_charts_excel_and_api(
        self, client: TestClient, session: Session, world: World, login_as: Login
    ) -> None:
        _more_hefei(session, world, 5)
        login_as(Role.OPERATOR)
        empty = client.get("/aggregates")
        assert 'data-testid="agg-empty"' in empty.text
        analytics.refresh(session, CONSOLE)

        page = client.get("/aggregates")
        assert page.status_code == 200
        assert 'id="agg-charts"' in page.text
        assert 'data-testid="chart-city"' in page.text
        assert 'data-suppressed="true"' in page.text
        xlsx = client.get("/aggregates.xlsx")
        assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
        api = client.get("/api/v1/aggregates/city")
        assert api.status_code == 200
        body = api.json()
        assert body["min_cell"] == 5
        assert {c["key"] for c in body["cells"]} == {"340100", "340200"}

    def test_enterprises_may_not_see_the_figures(
        self, client: TestClient, world: World, login_as: Login
    ) -> None:
        login_as(Role.ENTERPRISE_USER)
        assert client.get("/aggregates").status_code == 403
