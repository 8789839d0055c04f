"""Each role lands on its own home (工作台) after login, with menus of its own pages only; a
visitor gets the public landing page."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

import factories
from creditbridge.catalog import service as catalog_service
from creditbridge.consent import service as consent_service
from creditbridge.core.actors import CONSOLE, Role
from creditbridge.core.clock import local_today, utc_now
from creditbridge.ingest.models import CollectionMetric, Provider
from creditbridge.marketplace.models import Application, Demand, Loan, WhitelistEntry
from creditbridge.marketplace.service import workbench
from creditbridge.subjects import service as subjects_service

from .conftest import LoggedIn
from .helpers import visible_text

Login = Callable[..., LoggedIn]

GROUPS = ("credit", "consent", "market", "collection", "platform", "admin")
# The menu groups each role sees: derived from the routes' roles, checked here as the user sees it.
EXPECTED_GROUPS = {
    Role.ENTERPRISE_USER: {"credit", "consent", "market"},
    Role.INSTITUTION_OFFICER: {"credit", "consent", "market", "platform", "admin"},
    Role.OPERATOR: {"credit", "market", "collection", "platform"},
    Role.PROVIDER_USER: {"collection"},
    Role.AUDIT_ADMIN: {"admin"},
    Role.SECURITY_ADMIN: {"admin"},
    Role.SYSTEM_ADMIN: {"platform", "admin"},
}


def _groups(page: str) -> set[str]:
    return set(re.findall(r'data-testid="nav-group-([a-z]+)"', page))


def _items(page: str) -> set[str]:
    return set(re.findall(r'data-testid="nav-item-([a-z_]+)"', page))


def _demand(
    session: Session, subject_id: int, *, status: str, amount_fen: int, months: int, purpose: str
) -> None:
    now = utc_now()
    session.add(
        Demand(
            subject_id=subject_id,
            amount_fen=amount_fen,
            term_months=months,
            purpose=purpose,
            status=status,
            created_at=now,
            status_changed_at=now,
        )
    )
    session.flush()


def test_a_visitor_gets_the_public_landing_not_the_operators_dashboard(
    client: TestClient, session: Session
) -> None:
    factories.subject(session)
    page = client.get("/")

    assert page.status_code == 200
    text = visible_text(page.text)
    assert 'data-testid="landing-login"' in page.text
    assert 'href="/register"' in page.text
    assert 'href="/verify"' in page.text
    # Public totals only: no deliveries, providers or records of the operator's dashboard.
    assert 'data-testid="total-subjects"' in page.text
    assert "latest-batches" not in page.text
    assert "最新归集批次" not in text
    # A visitor's menu is the three public area pages.
    assert _groups(page.text) == set()
    for area in ("operator", "institution", "enterprise"):
        assert f'data-testid="nav-{area}"' in page.text


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_each_role_lands_on_its_own_home_with_only_its_menus(
    client: TestClient, login_as: Login, role: Role
) -> None:
    login_as(role)
    page = client.get("/")

    assert page.status_code == 200
    assert f'data-testid="home-{role.value}"' in page.text
    assert "工作台" in visible_text(page.text)
    assert _groups(page.text) == EXPECTED_GROUPS[role]
    # The area menus of other parties are gone (an enterprise once saw 运营管理 and 金融机构).
    assert 'data-testid="nav-operator"' not in page.text
    assert 'data-testid="nav-institution"' not in page.text


def test_enterprise_menu_links_its_pages_and_marks_only_unbuilt_features(
    client: TestClient, login_as: Login
) -> None:
    login_as(Role.ENTERPRISE_USER)
    page = client.get("/").text

    items = _items(page)
    assert {"my_credit", "my_score", "my_consents", "my_demands", "my_loans"} <= items
    assert not items & {"inbox", "review", "whitelist", "upload", "collection_rate", "users"}
    coming = set(re.findall(r'data-testid="nav-coming-([a-z_]+)"', page))
    assert coming == {"alerts", "objections", "repair"}
    assert "运营管理" not in visible_text(page)


def test_operator_menu_links_the_collection_dashboard(client: TestClient, login_as: Login) -> None:
    login_as(Role.OPERATOR)
    page = client.get("/").text

    assert 'data-testid="nav-item-collection_rate" href' not in page  # the testid follows href
    assert re.search(r'href="/collection" data-testid="nav-item-collection_rate"', page)
    assert 'href="/operator/dashboard"' in page
    assert client.get("/operator/dashboard").status_code == 200


def test_enterprise_home_shows_consents_waiting_and_its_demands_with_their_stage(
    client: TestClient, session: Session, login_as: Login
) -> None:
    me = login_as(Role.ENTERPRISE_USER)
    subject_id = me.user.subject_id
    assert subject_id is not None
    catalog_service.load_catalog(session, CONSOLE, path=catalog_service.BUNDLED_CATALOG_PATH)
    bank = factories.institution(session, name="徽商银行测试支行")
    subject = subjects_service.get_subject_or_raise(session, subject_id)
    consent_service.request_consent(
        session,
        factories.officer(bank, id=901),
        uscc=subject.uscc,
        purpose="loan_application",
        categories=["tax"],
        valid_until=utc_now() + timedelta(days=30),
        max_uses=3,
        data_from=date(2024, 1, 1),
        data_to=date(2025, 12, 31),
    )
    _demand(
        session,
        subject_id,
        status="pool",
        amount_fen=5_000_000 * 100,
        months=12,
        purpose="购置设备",
    )

    page = client.get("/").text
    text = visible_text(page)

    assert "徽商银行测试支行 申请授权" in text
    assert 'data-testid="consent-waiting"' in page
    assert "500.00万元 · 12 个月" in text
    assert "抢单中" in text
    assert "进行中 1 项" in text
    assert "本企业尚无信用评价结果" in text


def test_officer_home_marks_answers_due_today_and_overdue_and_sums_this_months_loans(
    client: TestClient, session: Session, login_as: Login
) -> None:
    bank = factories.institution(session)
    login_as(Role.INSTITUTION_OFFICER, institution_id=bank.id)
    product = factories.product(session, bank, code="home-p1")
    subject = factories.subject(session)
    today = local_today()
    now = utc_now()

    def application(respond_by_days: int, status: str = "submitted") -> Application:
        made = Application(
            subject_id=subject.id,
            product_id=product.id,
            institution_id=bank.id,
            amount_fen=1_000_000 * 100,
            term_months=12,
            channel="apply",
            status=status,
            respond_by=today + timedelta(days=respond_by_days),
            created_at=now,
            status_changed_at=now,
        )
        session.add(made)
        return made

    late, due, later = application(-2), application(0), application(5)
    application(-9, status="approved")  # decided: its deadline no longer counts
    session.add(
        Loan(
            subject_id=subject.id,
            institution_id=bank.id,
            product_id=product.id,
            amount_fen=2_500_000 * 100,
            credit_line_fen=2_500_000 * 100,
            rate_bp=400,
            term_months=12,
            security_type="credit",
            disbursement_date=today,
            maturity_date=today + timedelta(days=365),
            status="current",
            created_at=now,
        )
    )
    session.flush()

    page = client.get("/").text

    overdue = re.findall(r'data-testid="deadline-overdue">(.*?)</li>', page, re.S)
    due_today = re.findall(r'data-testid="deadline-today">(.*?)</li>', page, re.S)
    assert len(overdue) == 1
    assert f"#{late.id}" in overdue[0]
    assert "已逾期" in overdue[0]
    assert len(due_today) == 1
    assert f"#{due.id}" in due_today[0]
    assert "今日到期" in due_today[0]
    assert f"#{later.id}" not in page
    assert 'data-testid="card-loans-month-value">1 笔<' in page
    assert 'data-testid="loans-month-amount">250.00万元<' in page
    assert re.search(r'data-testid="stage-submitted">3 条<', page)


def test_operator_reviews_the_whitelist_at_its_own_level(session: Session) -> None:
    # In the county whose operator is asked: the desk counts only its division's enterprises.
    subject = factories.subject(session, division_code="340103")
    now = utc_now()
    for status in ("proposed", "proposed", "county_passed", "city_passed", "listed"):
        session.add(
            WhitelistEntry(
                subject_id=subject.id,
                status=status,
                grade="A",
                reasons=[],
                proposed_at=now,
                status_changed_at=now,
            )
        )
    session.flush()

    def waiting(division: str | None) -> dict[str, int]:
        operator = factories.operator(division_code=division)
        return workbench.operator_desk(session, operator).whitelist_to_review

    assert waiting("340103") == {"county": 2}
    assert waiting("340100") == {"city": 1}
    assert waiting("340000") == {"province": 1}
    assert waiting(None) == {"county": 2, "city": 1, "province": 1}


def test_operator_home_shows_health_with_links_to_each_full_page(
    client: TestClient, session: Session, login_as: Login
) -> None:
    login_as(Role.OPERATOR)
    subject = factories.subject(session)
    _demand(session, subject.id, status="escalated", amount_fen=100, months=6, purpose="周转")

    page = client.get("/").text

    assert 'data-testid="card-escalated-value">1 项<' in page
    assert "尚未计算归集指标" in visible_text(page)
    for testid, href in (
        ("card-collection", "/collection"),
        ("card-deliveries", "/operator/deliveries"),
        ("card-escalated", "/market/review"),
        ("card-whitelist", "/market/whitelist"),
        ("card-registrations", "/operator/registrations"),
    ):
        assert f'href="{href}" data-testid="{testid}-link"' in page, testid


def test_provider_home_shows_its_batches_rejects_and_what_is_overdue(
    client: TestClient, session: Session, login_as: Login
) -> None:
    me = login_as(Role.PROVIDER_USER)
    provider_id = me.user.provider_id
    assert provider_id is not None
    provider = session.get(Provider, provider_id)
    assert provider is not None
    catalog_service.load_catalog(session, CONSOLE, path=catalog_service.BUNDLED_CATALOG_PATH)
    factories.batch(session, provider, rows_total=10, rows_accepted=7, rows_rejected=3)
    today = local_today()
    now = utc_now()
    for code, deadline in (("tax_payment", today - timedelta(days=3)), ("penalty", today)):
        session.add(
            CollectionMetric(
                month=f"{today:%Y-%m}",
                dataset_code=code,
                city_code="340100",
                provider_id=provider_id,
                cadence="periodic",
                deadline_date=deadline,
                deliveries_due=1,
                deliveries_made=0,
                deliveries_on_time=0,
                batches_applied=0,
                batches_refused=0,
                records_total=0,
                records_complete=0,
                as_of_at=now,
                computed_at=now,
            )
        )
    session.flush()

    page = client.get("/").text

    assert len(re.findall('data-testid="provider-batch"', page)) == 1
    assert "退回 3 行" in visible_text(page)
    overdue = re.findall(r'data-testid="owed-overdue">(.*?)</li>', page, re.S)
    due = re.findall(r'data-testid="owed-due">(.*?)</li>', page, re.S)
    assert len(overdue) == 1
    assert "纳税信息" in overdue[0]
    assert "已逾期" in overdue[0]
    assert len(due) == 1
    assert "已逾期" not in due[0]


def test_auditor_home_shows_the_chain_head_and_the_last_verification(
    client: TestClient, login_as: Login
) -> None:
    auditor = login_as(Role.AUDIT_ADMIN)
    first = client.get("/").text
    assert 'data-testid="chain-head"' in first
    assert "尚未核验" in visible_text(first)

    verified = client.post("/audit/verify", data={"csrf_token": auditor.csrf})
    assert verified.status_code == 200

    page = client.get("/").text
    check = re.search(r'data-testid="chain-last-check">(.*?)</span>\s*</div>', page, re.S)
    assert check is not None
    assert "完整" in check.group(1)
    # The logins of the test are sensitive actions (a role's account created, sessions opened).
    assert 'href="/audit" data-testid="card-sensitive-link"' in page


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_homes_render_in_both_languages(client: TestClient, login_as: Login, lang: str) -> None:
    for role in (Role.ENTERPRISE_USER, Role.INSTITUTION_OFFICER, Role.OPERATOR):
        login_as(role)
        page = client.get(f"/?lang={lang}")
        assert page.status_code == 200
        assert ("工作台" if lang == "zh" else "My desk") in visible_text(page.text)
