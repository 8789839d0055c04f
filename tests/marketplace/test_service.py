"""The marketplace's use cases on a real database: matching, applying, the application's life,
loans and their flags, deadlines, loan reporting, and every refusal the issue lists."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import factories
from creditbridge.audit.models import AuditEvent
from creditbridge.consent.models import ConsentGrant
from creditbridge.core.clock import FrozenClock
from creditbridge.core.errors import Forbidden, InvalidTransition, NotFound, ValidationFailed
from creditbridge.marketplace import analytics, service
from creditbridge.marketplace.domain import WAN_FEN, Level, Rule
from creditbridge.marketplace.errors import AboveApproved, DemandTaken, OutsideProductRange
from creditbridge.marketplace.models import Application, Demand, Loan, Notification

from .conftest import Market


def _demand(session: Session, market: Market, **kw: object) -> Demand:
    values: dict[str, object] = {
        "amount_fen": 50 * WAN_FEN,
        "term_months": 12,
        "purpose": "采购原材料",
        "security_types": ["credit"],
    }
    values.update(kw)
    return service.post_demand(session, market.owner, **values)  # type: ignore[arg-type]


def _approved(session: Session, market: Market) -> Application:
    demand = _demand(session, market)
    app = service.apply(
        session, market.owner, demand_id=demand.id, product_id=market.credit_product.id
    )
    service.accept(session, market.officer, application_id=app.id)
    service.start_review(session, market.officer, application_id=app.id)
    return service.approve(
        session, market.officer, application_id=app.id, amount_fen=40 * WAN_FEN, rate_bp=420
    )


def test_recommendations_put_fitting_products_first_with_reasons(
    session: Session, market: Market
) -> None:
    demand = _demand(session, market)
    recs = service.recommend(session, market.owner, demand_id=demand.id)
    by_product = {r.product.id: r for r in recs}
    assert recs[0].fits
    assert recs[0].product.id == market.credit_product.id
    assert by_product[market.other_credit_product.id].fits
    mortgage = by_product[market.mortgage_product.id]
    assert not mortgage.fits
    assert Rule.SECURITY in mortgage.failed


def test_apply_creates_an_active_consent_and_tells_the_institution(
    session: Session, market: Market
) -> None:
    demand = _demand(session, market)
    app = service.apply(
        session, market.owner, demand_id=demand.id, product_id=market.credit_product.id
    )
    consent = session.get(ConsentGrant, app.consent_id)
    assert consent is not None
    assert (consent.status, consent.purpose, consent.institution_id) == (
        "active",
        "loan_application",
        market.bank.id,
    )
    assert "tax" in consent.categories  # the product's scope, plus what the score needs
    assert demand.status == "dispatched"
    assert app.respond_by == date(2026, 1, 7)
    notes = session.scalars(
        select(Notification).where(
            Notification.recipient_kind == "institution",
            Notification.recipient_id == market.bank.id,
        )
    ).all()
    assert any(n.application_id == app.id for n in notes)


def test_full_life_makes_a_first_time_inclusive_credit_loan(
    session: Session, market: Market
) -> None:
    app = _approved(session, market)
    loan = service.disburse(session, market.officer, application_id=app.id, amount_fen=40 * WAN_FEN)
    assert app.status == "disbursed"
    assert app.loan_id == loan.id
    assert (loan.first_loan_any_bank, loan.first_loan_this_bank, loan.inclusive_micro) == (
        True,
        True,
        True,
    )
    assert loan.security_type == "credit"
    assert loan.rate_bp == 420
    assert loan.maturity_date == date(2027, 1, 5)
    actions = set(
        session.scalars(
            select(AuditEvent.action).where(AuditEvent.object_type == "marketplace_application")
        )
    )
    assert {"market.application.accept", "market.application.disburse"} <= actions

    # A second loan from another bank: no longer a first-time borrower, but first there.
    outside = service.report_external_loan(
        session,
        market.other_officer,
        uscc=market.subject.uscc,
        amount_fen=100 * WAN_FEN,
        credit_line_fen=None,
        rate_bp=450,
        term_months=12,
        security_type="credit",
        disbursement_date=date(2026, 1, 6),
    )
    assert (outside.first_loan_any_bank, outside.first_loan_this_bank) == (False, True)
    assert outside.via_platform is False


def test_amount_outside_product_range_is_refused(session: Session, market: Market) -> None:
    demand = _demand(session, market, amount_fen=500 * WAN_FEN)
    with pytest.raises(OutsideProductRange) as caught:
        service.apply(
            session, market.owner, demand_id=demand.id, product_id=market.credit_product.id
        )
    assert "amount_high" in {i.field for i in caught.value.issues}
    app = _approved(session, market)
    with pytest.raises(OutsideProductRange):
        service.approve(
            session, market.officer, application_id=app.id, amount_fen=1 * WAN_FEN, rate_bp=420
        )


def test_disbursement_above_approved_amount_is_refused(session: Session, market: Market) -> None:
    app = _approved(session, market)
    with pytest.raises(AboveApproved):
        service.disburse(
            session, market.officer, application_id=app.id, amount_fen=40 * WAN_FEN + 1
        )
    assert app.status == "approved"


def test_illegal_moves_are_refused(session: Session, market: Market) -> None:
    demand = _demand(session, market)
    app = service.apply(
        session, market.owner, demand_id=demand.id, product_id=market.credit_product.id
    )
    with pytest.raises(InvalidTransition):
        service.approve(
            session, market.officer, application_id=app.id, amount_fen=40 * WAN_FEN, rate_bp=420
        )
    with pytest.raises(InvalidTransition):
        service.disburse(session, market.officer, application_id=app.id, amount_fen=WAN_FEN)
    service.accept(session, market.officer, application_id=app.id)
    with pytest.raises(ValidationFailed):
        service.reject(session, market.officer, application_id=app.id, reason=" ")
    service.reject(session, market.officer, application_id=app.id, reason="经营流水不足")
    with pytest.raises(InvalidTransition):
        service.accept(session, market.officer, application_id=app.id)
    assert demand.status == "new"  # released: the enterprise may try another product


def test_institution_cannot_touch_another_institutions_application(
    session: Session, market: Market
) -> None:
    demand = _demand(session, market)
    app = service.apply(
        session, market.owner, demand_id=demand.id, product_id=market.credit_product.id
    )
    for act in (
        lambda: service.accept(session, market.other_officer, application_id=app.id),
        lambda: service.access_application(session, market.other_officer, app.id),
        lambda: service.access_application(session, market.other_owner, app.id),
        lambda: service.recommend(session, market.other_owner, demand_id=demand.id),
    ):
        with pytest.raises(NotFound):
            act()
    with pytest.raises(Forbidden):
        service.post_demand(session, market.officer, amount_fen=1, term_months=1, purpose="x")


def test_grab_of_a_claimed_demand_is_refused(session: Session, market: Market) -> None:
    demand = _demand(session, market, mode="pool")
    assert demand.status == "pool"
    app = service.grab(session, market.officer, demand_id=demand.id)
    assert app.status == "accepted"
    assert app.channel == "grab"
    assert demand.status == "claimed"
    assert demand.claimed_institution_id == market.bank.id
    with pytest.raises(DemandTaken):
        service.grab(session, market.other_officer, demand_id=demand.id)


def test_deadlines_reassign_then_pool_then_escalate(
    session: Session, market: Market, frozen_clock: FrozenClock
) -> None:
    demand = _demand(session, market, mode="dispatch")
    first = session.scalars(select(Application).where(Application.demand_id == demand.id)).one()
    assert first.institution_id == market.bank.id  # the lowest-rate fitting product
    result = service.sweep(session, today=date(2026, 1, 8))
    assert (result.expired, result.reassigned) == (1, 1)
    assert first.status == "expired"
    second = session.scalars(
        select(Application).where(
            Application.demand_id == demand.id, Application.status == "submitted"
        )
    ).one()
    assert second.institution_id == market.other_bank.id
    frozen_clock.advance(timedelta(days=3))
    result = service.sweep(session, today=date(2026, 1, 12))
    assert (result.expired, result.pooled) == (1, 1)
    assert demand.status == "pool"
    result = service.sweep(session, today=date(2026, 1, 30))
    assert result.escalated == 1
    assert demand.status == "escalated"
    operator_notes = session.scalars(
        select(Notification).where(Notification.recipient_kind == "operator")
    ).all()
    assert any(n.demand_id == demand.id for n in operator_notes)


def test_decline_reassigns_at_once(session: Session, market: Market) -> None:
    demand = _demand(session, market, mode="dispatch")
    app = session.scalars(select(Application).where(Application.demand_id == demand.id)).one()
    service.decline(session, market.officer, application_id=app.id, reason="不在服务区域")
    assert demand.assigned_institution_id == market.other_bank.id


def test_loan_events_by_upload_are_all_or_nothing(session: Session, market: Market) -> None:
    app = _approved(session, market)
    loan = service.disburse(session, market.officer, application_id=app.id, amount_fen=40 * WAN_FEN)
    bad = (
        "loan_id,event,amount_yuan,event_date\n"
        f"{loan.id},repayment,100000.00,2026-02-01\n"
        f"{loan.id},paid,1,2026-02-01\n"
        "abc,repayment,1.005,2026-13-01\n"
    ).encode()
    with pytest.raises(ValidationFailed) as caught:
        service.upload_loan_events(session, market.officer, filename="r.csv", content=bad)
    where = {(i.row, i.field) for i in caught.value.issues}
    assert {(3, "event"), (4, "loan_id"), (4, "amount_yuan"), (4, "event_date")} <= where
    assert loan.repaid_fen == 0
    good = (
        "loan_id,event,amount_yuan,event_date\n"
        f"{loan.id},repayment,150000.00,2026-02-01\n"
        f"{loan.id},repayment,250000.00,2026-03-01\n"
    ).encode()
    result = service.upload_loan_events(session, market.officer, filename="r.csv", content=good)
    assert result.rows == 2
    assert loan.status == "repaid"
    assert app.status == "repaid"
    with pytest.raises(NotFound):
        service.report_loan_event(session, market.other_officer, loan_id=loan.id, event="overdue")


def test_xlsx_upload_marks_overdue(session: Session, market: Market) -> None:
    import io

    from openpyxl import Workbook

    app = _approved(session, market)
    loan = service.disburse(session, market.officer, application_id=app.id, amount_fen=40 * WAN_FEN)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["loan_id", "event", "amount_yuan", "event_date"])
    sheet.append([loan.id, "overdue", 0, "2026-03-05"])
    raw = io.BytesIO()
    book.save(raw)
    service.upload_loan_events(
        session, market.officer, filename="events.xlsx", content=raw.getvalue()
    )
    assert loan.status == "overdue"
    assert app.status == "overdue"


def test_outcomes_count_credit_first_time_inclusive_and_platform_share(
    session: Session, market: Market
) -> None:
    app = _approved(session, market)
    service.disburse(session, market.officer, application_id=app.id, amount_fen=40 * WAN_FEN)
    service.report_external_loan(
        session,
        market.other_officer,
        uscc=market.other_subject.uscc,
        amount_fen=60 * WAN_FEN,
        credit_line_fen=None,
        rate_bp=450,
        term_months=12,
        security_type="credit",
        disbursement_date=date(2026, 1, 5),
    )
    total = analytics.province_totals(session)
    assert total.loans == 2
    assert total.credit_loans == 2
    assert total.first_time_borrowers == 2
    assert total.first_time_credit_borrowers == 2
    assert total.inclusive_loans == 1  # the medium-sized firm's loan is not 普惠小微
    assert total.inclusive_avg_rate_bp == 420
    assert float(total.platform_credit_share or 0) == pytest.approx(0.4)
    assert total.approval_rate == 1
    assert total.demands == 1
    by_city = {r.key: r for r in analytics.outcomes(session, by="city")}
    assert by_city["340100"].loans == 1
    assert by_city["340200"].loans == 1
    by_size = {r.key: r for r in analytics.outcomes(session, by="size")}
    assert by_size["small"].inclusive_loans == 1
    by_inst = {r.label: r for r in analytics.outcomes(session, by="institution")}
    assert by_inst["徽商银行"].approved == 1
    assert analytics.to_xlsx(analytics.outcomes(session, by="city"), by="city")[:2] == b"PK"


def test_products_are_published_only_after_review(session: Session, market: Market) -> None:
    spec = service.ProductInput(
        code="mk-new",
        name="新科技贷",
        product_type="tech_loan",
        security_type="credit",
        min_amount_fen=50 * WAN_FEN,
        max_amount_fen=1000 * WAN_FEN,
        min_rate_bp=340,
        max_rate_bp=500,
        min_term_months=12,
        max_term_months=36,
        required_tags=["high_tech"],
    )
    product = service.submit_product(session, market.officer, spec)
    assert product.status == "pending_review"
    assert product.id not in {p.id for p in service.list_products(session)}
    with pytest.raises(Forbidden):
        service.review_product(session, market.officer, product_id=product.id, approve=True)
    service.review_product(session, market.operator, product_id=product.id, approve=True)
    assert product.id in {p.id for p in service.list_products(session)}
    bad = service.ProductInput(
        code="mk-new",
        name="",
        product_type="nope",
        security_type="credit",
        min_amount_fen=10,
        max_amount_fen=5,
        min_rate_bp=300,
        max_rate_bp=400,
        min_term_months=1,
        max_term_months=12,
    )
    with pytest.raises(ValidationFailed) as caught:
        service.submit_product(session, market.officer, bad)
    assert {"code", "name", "product_type", "max_amount_fen"} <= {
        i.field for i in caught.value.issues
    }


def test_loans_are_visible_to_their_enterprise_only(session: Session, market: Market) -> None:
    app = _approved(session, market)
    loan = service.disburse(session, market.officer, application_id=app.id, amount_fen=WAN_FEN * 20)
    assert [x.id for x in service.list_loans_for_subject(session, market.owner)] == [loan.id]
    assert service.list_loans_for_subject(session, market.other_owner) == []
    assert session.get(Loan, loan.id) is not None


def test_whitelist_review_is_level_by_level_and_pushed_to_subscribers(
    session: Session, market: Market
) -> None:
    service.subscribe_whitelist(session, market.other_officer)
    entry = service.add_whitelist_candidate(
        session, market.operator, subject_id=market.subject.id, grade="AA", reasons=["grade"]
    )
    with pytest.raises(InvalidTransition):
        service.review_whitelist(
            session, market.operator, entry_id=entry.id, level=Level.PROVINCE, approve=True
        )
    with pytest.raises(Forbidden):
        service.review_whitelist(
            session, market.officer, entry_id=entry.id, level=Level.COUNTY, approve=True
        )
    for level in (Level.COUNTY, Level.CITY, Level.PROVINCE):
        service.review_whitelist(
            session, market.operator, entry_id=entry.id, level=level, approve=True
        )
    assert entry.status == "listed"
    pushed = service.list_notifications(session, market.other_officer)
    assert any("入选白名单" in n.message for n in pushed)
    with pytest.raises(ValidationFailed):
        service.remove_from_whitelist(session, market.operator, entry_id=entry.id, reason="")
    service.remove_from_whitelist(
        session, market.operator, entry_id=entry.id, reason="新增被执行人信息"
    )
    assert entry.status == "removed"
    assert any(
        "移出白名单" in n.message for n in service.list_notifications(session, market.other_officer)
    )


@pytest.mark.parametrize(("rating", "fits"), [("D", False), ("C", False), ("B", True), ("M", True)])
def test_tax_finance_is_eligible_only_with_tax_credit_rating_a_b_or_m(
    session: Session, market: Market, rating: str, fits: bool
) -> None:
    """Issue 22 finding 9: 税融通 was shown as 符合 to an enterprise rated D by the tax office."""
    tax_product = factories.product(
        session, market.bank, code="mk-tax", by=market.officer, product_type="tax_finance"
    )
    tax_office = factories.provider(session, datasets=["tax_credit_rating"])
    batch = factories.batch(session, tax_office, dataset="tax_credit_rating")
    for year, grade in ((2023, "A"), (2024, rating)):  # the latest year decides
        factories.record(
            session, market.subject, "tax_credit_rating",
            {"year": year, "rating": grade, "evaluation_date": f"{year + 1}-04-20"},
            batch=batch, key=f"{market.subject.uscc}|{year}", event_date=date(year + 1, 4, 20),
        )  # fmt: skip
    demand = _demand(session, market)
    recs = {r.product.id: r for r in service.recommend(session, market.owner, demand_id=demand.id)}
    assert recs[tax_product.id].fits is fits
    assert (Rule.TAX_GRADE in recs[tax_product.id].failed) is not fits
    assert recs[market.credit_product.id].fits  # other credit products do not look at it
    if not fits:
        with pytest.raises(OutsideProductRange):
            service.apply(session, market.owner, demand_id=demand.id, product_id=tax_product.id)
