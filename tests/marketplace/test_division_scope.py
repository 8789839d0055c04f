"""Operators by region (issue 23): an operator of a province, city or county sees the escalated
demands and the lending outcomes of the enterprises in its division only — on the page, in the
export and in the API — while the console and a node-wide operator keep the whole node's."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session

import factories
from creditbridge.core.actors import CONSOLE, Role
from creditbridge.core.clock import utc_now
from creditbridge.core.errors import Forbidden
from creditbridge.marketplace import analytics, service
from creditbridge.marketplace.domain import WAN_FEN
from creditbridge.marketplace.models import Application, Demand
from creditbridge.marketplace.service import workbench
from creditbridge.marketplace.service.demands import count_escalated
from creditbridge.subjects.models import Subject
from web import conftest as web_fixtures
from web.conftest import LoggedIn

from .conftest import Market

app = web_fixtures.app
client = web_fixtures.client
login_as = web_fixtures.login_as

# 瑶海区 and 庐阳区 of 合肥市, 镜湖区 of 芜湖市, all in 安徽省.
HEFEI, WUHU = "340100", "340200"
YAOHAI, LUYANG, JINGHU = "340102", "340103", "340202"


@dataclass
class Spread:
    """One enterprise in each of three counties (two of them in one city), each with an
    escalated demand, an application and a loan of its own size."""

    by_county: dict[str, Subject]
    demands: dict[str, int]


def _spread(session: Session, market: Market) -> Spread:
    luyang = factories.subject(
        session, division_code=LUYANG, industry_section="C", size_class="micro"
    )
    by_county = {YAOHAI: market.subject, LUYANG: luyang, JINGHU: market.other_subject}
    now = utc_now()
    demands: dict[str, int] = {}
    for n, (county, subject) in enumerate(by_county.items(), start=1):
        demand = Demand(
            subject_id=subject.id,
            amount_fen=n * 10 * WAN_FEN,
            term_months=12,
            purpose="周转",
            status="escalated",
            created_at=now,
            status_changed_at=now,
        )
        session.add(demand)
        session.flush()
        demands[county] = demand.id
        session.add(
            Application(
                demand_id=demand.id,
                subject_id=subject.id,
                product_id=market.credit_product.id,
                institution_id=market.bank.id,
                amount_fen=demand.amount_fen,
                term_months=12,
                channel="apply",
                status="approved",
                created_at=now,
                status_changed_at=now,
            )
        )
        service.report_external_loan(
            session,
            market.officer,
            uscc=subject.uscc,
            amount_fen=n * 100 * WAN_FEN,
            credit_line_fen=None,
            rate_bp=430,
            term_months=12,
            security_type="credit",
            disbursement_date=date(2026, 1, n),
        )
    session.flush()
    return Spread(by_county, demands)


# Who sees which counties' rows: the province (as a code or node-wide) both cities, a city its
# two counties, a county itself.
SCOPES = [
    (None, {YAOHAI, LUYANG, JINGHU}),
    ("340000", {YAOHAI, LUYANG, JINGHU}),
    (HEFEI, {YAOHAI, LUYANG}),
    (WUHU, {JINGHU}),
    (LUYANG, {LUYANG}),
]


@pytest.mark.parametrize(("division", "counties"), SCOPES)
def test_escalated_demands_are_those_of_the_operators_division(
    session: Session, market: Market, division: str | None, counties: set[str]
) -> None:
    spread = _spread(session, market)
    operator = factories.operator(division_code=division)

    listed = {d.id for d in service.list_escalated(session, operator)}

    assert listed == {spread.demands[c] for c in counties}
    assert count_escalated(session, operator) == len(counties)
    assert workbench.operator_desk(session, operator).escalated == len(counties)


def test_only_the_platform_lists_escalated_demands(session: Session, market: Market) -> None:
    _spread(session, market)
    with pytest.raises(Forbidden):
        service.list_escalated(session, market.officer)


def test_the_desk_counts_products_to_review_of_the_institutions_in_the_division(
    session: Session, market: Market
) -> None:
    # One product waits for review at each bank: 徽商银行 in 合肥, 扬子农商 in 芜湖.
    factories.product(session, market.bank, code="mk-wait-a", by=market.officer, publish=False)
    factories.product(
        session, market.other_bank, code="mk-wait-b", by=market.other_officer, publish=False
    )

    def waiting(division: str | None) -> int:
        return workbench.operator_desk(
            session, factories.operator(division_code=division)
        ).products_to_review

    assert waiting(None) == 2
    assert waiting("340000") == 2
    assert waiting(HEFEI) == 1
    assert waiting(WUHU) == 1


@pytest.mark.parametrize(("division", "counties"), SCOPES)
def test_outcomes_count_the_loans_demands_and_applications_of_the_division_only(
    session: Session, market: Market, division: str | None, counties: set[str]
) -> None:
    _spread(session, market)
    order = [YAOHAI, LUYANG, JINGHU]  # the n-th county's loan is n million yuan
    amount = sum((order.index(c) + 1) * 100 * WAN_FEN for c in counties)

    total = analytics.province_totals(session, division=division)
    by_city = {r.key: r for r in analytics.outcomes(session, by="city", division=division)}

    assert (total.loans, total.amount_fen) == (len(counties), amount)
    assert (total.demands, total.applications, total.approved) == (len(counties),) * 3
    assert set(by_city) == {c[:4] + "00" for c in counties}
    assert sum(r.loans for r in by_city.values()) == len(counties)
    by_size = analytics.outcomes(session, by="size", division=division)
    assert sum(r.loans for r in by_size) == len(counties)
    by_institution = analytics.outcomes(session, by="institution", division=division)
    assert sum(r.applications for r in by_institution) == len(counties)


def test_the_total_row_of_a_division_is_keyed_and_named_by_it(
    session: Session, market: Market
) -> None:
    _spread(session, market)
    assert analytics.province_totals(session, division=HEFEI).key == HEFEI
    assert analytics.province_totals(session, division=HEFEI).label == "合肥市"
    assert analytics.province_totals(session).key == "340000"
    # A division without loans, demands or applications still has its (empty) total row.
    empty = analytics.province_totals(session, division="340300")
    assert (empty.key, empty.label, empty.loans) == ("340300", "蚌埠市", 0)


def _as_division(session: Session, me: LoggedIn, division: str | None) -> None:
    # The actor is rebuilt from the account on every request: the next one is of this division.
    me.user.division_code = division
    session.flush()


def test_outcomes_page_export_and_api_of_a_city_operator_show_its_city_only(
    client: TestClient,
    session: Session,
    market: Market,
    login_as: Callable[..., LoggedIn],
) -> None:
    _spread(session, market)
    me = login_as(Role.OPERATOR)
    _as_division(session, me, WUHU)

    page = client.get("/market/outcomes?by=city")
    assert page.status_code == 200
    assert 'data-key="340200"' in page.text
    assert 'data-key="340100"' not in page.text
    assert 'data-loans="1"' in page.text  # the totals: 芜湖's one loan, not the node's three
    # The page, and every page's user menu, say which division the figures cover.
    assert re.search(r'data-testid="outcomes-division">[^<]*芜湖市', page.text)
    assert re.search(r'data-testid="user-division">[^<]*安徽省芜湖市', page.text)

    export = client.get("/market/outcomes.xlsx?by=city")
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.content)).active
    assert sheet is not None
    labels = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert labels == ["芜湖市"]

    by_city = client.get("/api/v1/market/outcomes?by=city").json()
    assert [r["key"] for r in by_city] == ["340200"]
    province = client.get("/api/v1/market/outcomes?by=province").json()
    assert [(r["key"], r["loans"], r["amount_fen"]) for r in province] == [
        ("340200", 1, 300 * WAN_FEN)
    ]
    # The JSON keeps its fields whatever the division.
    assert set(province[0]) == set(analytics.OutcomeRow(key="", label="").as_dict())

    home = client.get("/").text
    assert 'data-testid="card-escalated-value">1 项<' in home

    _as_division(session, me, None)
    node = client.get("/api/v1/market/outcomes?by=city").json()
    assert {r["key"] for r in node} == {"340100", "340200"}


def test_the_console_and_an_officer_see_the_whole_nodes_outcomes(
    client: TestClient,
    session: Session,
    market: Market,
    login_as: Callable[..., LoggedIn],
) -> None:
    _spread(session, market)
    assert CONSOLE.division_code is None  # what `creditbridge market outcomes` runs as
    assert analytics.province_totals(session).loans == 3
    login_as(Role.INSTITUTION_OFFICER, institution_id=market.bank.id)
    body = client.get("/api/v1/market/outcomes?by=province").json()
    assert body[0]["loans"] == 3
