"""Applications: applying, the institution's answers, disbursement, the score under consent."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from creditbridge.consent.domain import Purpose
from creditbridge.core.actors import Actor, Role
from creditbridge.core.clock import local_today, utc_now
from creditbridge.core.errors import InvalidTransition, NotFound, ValidationFailed
from creditbridge.marketplace import domain
from creditbridge.marketplace.domain import AppMove, DemandMove, DemandStatus
from creditbridge.marketplace.errors import AboveApproved, DemandTaken, OutsideProductRange
from creditbridge.marketplace.models import Application, Demand, Loan, Product
from creditbridge.marketplace.service._common import (
    RESPONSE_DAYS,
    _institution_of,
    _party_to,
    _require_operator,
    _subject_of,
)
from creditbridge.marketplace.service._transitions import _demand_move, _demand_of, _move
from creditbridge.marketplace.service.demands import (
    _dispatch_next,
    _open_application,
    applicant_for,
    rule_key,
)
from creditbridge.marketplace.service.loans import _new_loan
from creditbridge.marketplace.service.products import get_product_or_raise, rules_of
from creditbridge.presentation.errors import keyed, keyed_issue
from creditbridge.scoring import service as scoring_service
from creditbridge.subjects import service as subjects_service


def apply(
    session: Session,
    actor: Actor,
    *,
    demand_id: int,
    product_id: int,
    amount_fen: int | None = None,
    term_months: int | None = None,
    response_days: int = RESPONSE_DAYS,
) -> Application:
    """The enterprise applies for a product for one of its demands; the institution has
    ``response_days`` working days to answer."""
    subject_id = _subject_of(actor)
    demand = session.get(Demand, demand_id)
    if demand is None or demand.subject_id != subject_id:
        raise keyed(NotFound, "error.marketplace.no_demand")
    product = session.get(Product, product_id)
    if product is None or product.status != "published":
        raise keyed(NotFound, "error.marketplace.no_product")
    amount = amount_fen or demand.amount_fen
    term = term_months or demand.term_months
    who = applicant_for(session, demand)
    who = replace(who, amount_fen=amount, term_months=term)
    failed = domain.check(rules_of(product), who)
    if failed:
        raise keyed(
            OutsideProductRange,
            "error.marketplace.outside_product",
            issues=[
                keyed_issue(f"CB-MARKET-RULE-{rule.code.upper()}", rule_key(rule), field=rule.code)
                for rule in failed
            ],
        )
    if demand.status != DemandStatus.NEW.value:
        raise keyed(InvalidTransition, "error.marketplace.demand_in_progress")
    return _open_application(
        session,
        actor,
        demand,
        product,
        channel="apply",
        amount_fen=amount,
        term_months=term,
        response_days=response_days,
    )


def access_application(session: Session, actor: Actor, application_id: int) -> Application:
    """The application if ``actor`` is its enterprise, its institution or the platform;
    NotFound otherwise (an institution guessing another's ids learns nothing)."""
    app = session.get(Application, application_id)
    if app is None or not _party_to(actor, app.subject_id, app.institution_id):
        raise keyed(NotFound, "error.marketplace.no_application")
    return app


def list_applications(
    session: Session, actor: Actor, *, statuses: Iterable[str] | None = None, limit: int = 200
) -> list[Application]:
    query = select(Application)
    if actor.role is Role.ENTERPRISE_USER:
        query = query.where(Application.subject_id == _subject_of(actor))
    elif actor.institution_id is not None:
        query = query.where(Application.institution_id == _institution_of(actor))
    else:
        _require_operator(actor)
    if statuses is not None:
        query = query.where(Application.status.in_(list(statuses)))
    return list(session.scalars(query.order_by(Application.id.desc()).limit(limit)))


def _institution_app(session: Session, actor: Actor, application_id: int) -> Application:
    _institution_of(actor)
    return access_application(session, actor, application_id)


def accept(session: Session, actor: Actor, *, application_id: int) -> Application:
    app = _institution_app(session, actor, application_id)
    domain.transition(app.status, AppMove.ACCEPT)
    if app.demand_id is not None:
        _claim(session, app)
    return _move(session, actor, app, AppMove.ACCEPT)


def _claim(session: Session, app: Application) -> None:
    now = utc_now()
    claimed = session.execute(
        update(Demand)
        .where(
            Demand.id == app.demand_id,
            Demand.status == DemandStatus.DISPATCHED.value,
            Demand.assigned_institution_id == app.institution_id,
        )
        .values(
            status=DemandStatus.CLAIMED.value,
            claimed_institution_id=app.institution_id,
            claimed_at=now,
            status_changed_at=now,
            respond_by=None,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        raise keyed(DemandTaken, "error.marketplace.no_longer_dispatched")
    demand = session.get(Demand, app.demand_id)
    if demand is not None:
        session.refresh(demand)


def decline(
    session: Session,
    actor: Actor,
    *,
    application_id: int,
    reason: str,
    response_days: int = RESPONSE_DAYS,
) -> Application:
    """The institution declines; a dispatched demand goes to the next institution, which has
    ``response_days`` working days to answer."""
    app = _institution_app(session, actor, application_id)
    _move(session, actor, app, AppMove.DECLINE, reason=reason)
    demand = _demand_of(session, app)
    if demand is not None and demand.status == DemandStatus.DISPATCHED.value:
        _dispatch_next(session, actor, demand, response_days=response_days)
    return app


def withdraw(session: Session, actor: Actor, *, application_id: int) -> Application:
    _subject_of(actor)
    app = access_application(session, actor, application_id)
    _move(session, actor, app, AppMove.WITHDRAW)
    demand = _demand_of(session, app)
    if demand is not None and demand.status in (DemandStatus.DISPATCHED, DemandStatus.CLAIMED):
        _demand_move(session, actor, demand, DemandMove.CLOSE)
    return app


def start_review(session: Session, actor: Actor, *, application_id: int) -> Application:
    app = _institution_app(session, actor, application_id)
    return _move(session, actor, app, AppMove.REVIEW)


def approve(
    session: Session,
    actor: Actor,
    *,
    application_id: int,
    amount_fen: int,
    rate_bp: int,
    term_months: int | None = None,
) -> Application:
    app = _institution_app(session, actor, application_id)
    product = get_product_or_raise(session, app.product_id)
    term = term_months or app.term_months
    issues = []
    if not product.min_amount_fen <= amount_fen <= product.max_amount_fen:
        issues.append(
            keyed_issue(
                "CB-MARKET-AMOUNT-RANGE", "error.marketplace.approved_amount_range", field="amount"
            )
        )
    if not product.min_rate_bp <= rate_bp <= product.max_rate_bp:
        issues.append(
            keyed_issue("CB-MARKET-RATE-RANGE", "error.marketplace.rate_range", field="rate_bp")
        )
    if not product.min_term_months <= term <= product.max_term_months:
        issues.append(
            keyed_issue("CB-MARKET-TERM-RANGE", "error.marketplace.term_range", field="term_months")
        )
    if issues:
        raise keyed(
            OutsideProductRange, "error.marketplace.approval_outside_product", issues=issues
        )
    domain.transition(app.status, AppMove.APPROVE)
    app.approved_amount_fen = amount_fen
    app.approved_rate_bp = rate_bp
    app.approved_term_months = term
    return _move(
        session,
        actor,
        app,
        AppMove.APPROVE,
        detail={"amount_fen": amount_fen, "rate_bp": rate_bp, "term_months": term},
    )


def reject(session: Session, actor: Actor, *, application_id: int, reason: str) -> Application:
    app = _institution_app(session, actor, application_id)
    _move(session, actor, app, AppMove.REJECT, reason=reason)
    demand = _demand_of(session, app)
    if demand is not None and demand.status == DemandStatus.CLAIMED.value:
        # The enterprise may try another product with the same demand.
        _demand_move(session, actor, demand, DemandMove.RELEASE)
    return app


def disburse(
    session: Session,
    actor: Actor,
    *,
    application_id: int,
    amount_fen: int,
    disbursement_date: date | None = None,
    credit_line_fen: int | None = None,
) -> Loan:
    """放款: the loan at the approved rate and term, for at most the approved amount, with its
    statistical flags computed from the loan history."""
    app = _institution_app(session, actor, application_id)
    domain.transition(app.status, AppMove.DISBURSE)
    approved = app.approved_amount_fen or 0
    if amount_fen <= 0:
        raise keyed(
            ValidationFailed,
            "error.marketplace.disbursement_amount",
            issues=[keyed_issue("CB-MARKET-AMOUNT", "error.marketplace.positive", field="amount")],
        )
    if amount_fen > approved:
        raise keyed(
            AboveApproved,
            "error.marketplace.above_approved",
            issues=[
                keyed_issue(
                    "CB-MARKET-ABOVE-APPROVED", "error.marketplace.above_approved", field="amount"
                )
            ],
        )
    product = get_product_or_raise(session, app.product_id)
    day = disbursement_date or local_today()
    loan = _new_loan(
        session,
        subject_id=app.subject_id,
        institution_id=app.institution_id,
        product_id=product.id,
        amount_fen=amount_fen,
        credit_line_fen=credit_line_fen or approved,
        rate_bp=app.approved_rate_bp or product.min_rate_bp,
        term_months=app.approved_term_months or app.term_months,
        security_type=product.security_type,
        disbursement_date=day,
        via_platform=True,
        application_id=app.id,
    )
    app.loan_id = loan.id
    _move(
        session, actor, app, AppMove.DISBURSE, detail={"loan_id": loan.id, "amount_fen": amount_fen}
    )
    demand = _demand_of(session, app)
    if demand is not None and demand.status == DemandStatus.CLAIMED.value:
        _demand_move(session, actor, demand, DemandMove.CLOSE)
    return loan


def read_score_for_application(
    session: Session, actor: Actor, *, application_id: int
) -> scoring_service.ScoreView:
    """The score the officer may see under the application's consent."""
    app = access_application(session, actor, application_id)
    return scoring_service.read_score(
        session,
        actor,
        subject_id=app.subject_id,
        consent_id=app.consent_id,
        purpose=Purpose.LOAN_APPLICATION.value,
    )


@dataclass(frozen=True)
class Party:
    """An enterprise as the lists of applications show and filter it."""

    uscc: str
    name: str
    division_code: str
    industry_section: str | None


def parties(
    session: Session, actor: Actor, applications: Iterable[Application]
) -> dict[int, Party]:
    """The enterprises of ``applications`` the actor is party to, by subject id: registration
    facts (name, region, industry) for the inbox's columns and filters."""
    out: dict[int, Party] = {}
    for app in applications:
        if app.subject_id in out or not _party_to(actor, app.subject_id, app.institution_id):
            continue
        subject = subjects_service.get_subject_or_raise(session, app.subject_id)
        out[app.subject_id] = Party(
            subject.uscc, subject.name, subject.division_code, subject.industry_section
        )
    return out
