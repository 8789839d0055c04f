"""Demands: posting, matching to products, and reaching an institution: dispatch, pool, grab."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.orm import Session

from creditbridge.audit import service as audit
from creditbridge.consent import service as consent_service
from creditbridge.consent.domain import Purpose
from creditbridge.core.actors import SYSTEM, Actor, Role
from creditbridge.core.clock import local_today, utc_now
from creditbridge.core.errors import Issue, NotFound, ValidationFailed
from creditbridge.marketplace import domain
from creditbridge.marketplace.domain import (
    Applicant,
    AppMove,
    AppStatus,
    DemandMove,
    DemandStatus,
    Rule,
)
from creditbridge.marketplace.errors import DemandTaken, NoEligibleProduct
from creditbridge.marketplace.models import Application, Demand, Product
from creditbridge.marketplace.service._common import (
    CONSENT_DAYS,
    CONSENT_USES,
    DEFAULT_CONSENT_CATEGORIES,
    MAX_AMOUNT_FEN,
    RESPONSE_DAYS,
    _institution_of,
    _is_platform,
    _require_operator,
    _subject_of,
    current_grade,
    deadline,
)
from creditbridge.marketplace.service._transitions import _demand_move, _move
from creditbridge.marketplace.service.notifications import _notify
from creditbridge.marketplace.service.products import published_matrix
from creditbridge.presentation.errors import keyed, keyed_issue
from creditbridge.presentation.i18n import translate
from creditbridge.protection import service as protection
from creditbridge.scoring import service as scoring_service
from creditbridge.subjects import service as subjects_service


def subject_tags(session: Session, subject_id: int) -> frozenset[str]:
    """高新技术企业 / 专精特新 from the subject's current tech_enterprise records."""
    records = subjects_service.list_current_records(
        session, subject_id=subject_id, public_datasets=["tech_enterprise"]
    )
    tags = set()
    for record in records:
        data = protection.reveal_record(record.dataset_code, record.data)
        tag = domain.CERTIFICATION_TAGS.get(str(data.get("certification", "")))
        if tag:
            tags.add(tag)
    return frozenset(tags)


def applicant_for(session: Session, demand: Demand) -> Applicant:
    subject = subjects_service.get_subject_or_raise(session, demand.subject_id)
    return Applicant(
        amount_fen=demand.amount_fen,
        term_months=demand.term_months,
        division_code=subject.division_code,
        industry_section=subject.industry_section,
        size_class=subject.size_class,
        years_in_business=domain.years_between(subject.registration_date, local_today()),
        grade=current_grade(session, subject.id),
        tags=subject_tags(session, subject.id),
        security_types=frozenset(demand.security_types or domain.SECURITY_TYPES),
        max_rate_bp=demand.max_rate_bp,
        tax_grade=tax_grade(session, subject.id),
    )


def tax_grade(session: Session, subject_id: int) -> str | None:
    """The 纳税信用级别 of the latest evaluation year among the subject's current records."""
    records = subjects_service.list_current_records(
        session, subject_id=subject_id, public_datasets=["tax_credit_rating"]
    )
    latest: tuple[int, str] | None = None
    for record in records:
        data = protection.reveal_record(record.dataset_code, record.data)
        try:
            year, rating = int(data.get("year") or 0), str(data.get("rating") or "")
        except (TypeError, ValueError):
            continue
        if rating and (latest is None or year > latest[0]):
            latest = (year, rating)
    return latest[1] if latest else None


def post_demand(
    session: Session,
    actor: Actor,
    *,
    amount_fen: int,
    term_months: int,
    purpose: str,
    security_types: Sequence[str] = domain.SECURITY_TYPES,
    urgency: str = "normal",
    max_rate_bp: int | None = None,
    mode: str = "choose",
    response_days: int = RESPONSE_DAYS,
) -> Demand:
    """An enterprise posts a demand. ``mode``: ``choose`` (it picks a recommended product),
    ``dispatch`` (精准派单 by the rules) or ``pool`` (自由抢单); ``response_days`` is the
    working days an institution (or the pool) has to answer."""
    subject_id = _subject_of(actor)
    issues: list[Issue] = []
    if not 0 < amount_fen <= MAX_AMOUNT_FEN:
        issues.append(
            keyed_issue("CB-MARKET-AMOUNT", "error.marketplace.demand_amount", field="amount")
        )
    if not 1 <= term_months <= 360:
        issues.append(
            keyed_issue("CB-MARKET-TERM", "error.marketplace.demand_term", field="term_months")
        )
    if not purpose.strip() or len(purpose) > 200:
        issues.append(
            keyed_issue("CB-MARKET-PURPOSE", "error.marketplace.demand_purpose", field="purpose")
        )
    kinds = sorted(set(security_types))
    if not kinds or any(k not in domain.SECURITY_TYPES for k in kinds):
        issues.append(
            keyed_issue(
                "CB-MARKET-SECURITY", "error.marketplace.demand_security", field="security_types"
            )
        )
    if urgency not in ("normal", "urgent"):
        issues.append(
            keyed_issue("CB-MARKET-URGENCY", "error.marketplace.demand_urgency", field="urgency")
        )
    if max_rate_bp is not None and not 0 < max_rate_bp <= 3600:
        issues.append(
            keyed_issue("CB-MARKET-RATE", "error.marketplace.demand_rate", field="max_rate_bp")
        )
    if mode not in ("choose", "dispatch", "pool"):
        issues.append(keyed_issue("CB-MARKET-MODE", "error.marketplace.demand_mode", field="mode"))
    if issues:
        raise keyed(ValidationFailed, "error.marketplace.demand_invalid", issues=issues)
    now = utc_now()
    demand = Demand(
        subject_id=subject_id,
        amount_fen=amount_fen,
        term_months=term_months,
        purpose=purpose.strip(),
        security_types=kinds,
        urgency=urgency,
        max_rate_bp=max_rate_bp,
        status=DemandStatus.NEW.value,
        tried_institutions=[],
        created_at=now,
        status_changed_at=now,
    )
    session.add(demand)
    session.flush()
    audit.record(
        session,
        actor,
        action="market.demand.post",
        object_type="marketplace_demand",
        object_id=demand.id,
        subject_id=subject_id,
        detail={"amount_fen": amount_fen, "term_months": term_months, "mode": mode},
    )
    _notify(
        session, "subject", subject_id, "demand.posted", f"融资需求 #{demand.id} 已发布", demand
    )
    if mode == "dispatch":
        dispatch(session, actor, demand_id=demand.id, response_days=response_days)
    elif mode == "pool":
        respond_by = deadline(response_days=response_days)
        _demand_move(session, actor, demand, DemandMove.TO_POOL, respond_by=respond_by)
    return demand


def access_demand(session: Session, actor: Actor, demand_id: int) -> Demand:
    """The demand if ``actor`` may see it: its enterprise, the platform, an institution it was
    dispatched to or claimed by, or any institution while it is in the open pool."""
    demand = session.get(Demand, demand_id)
    if demand is None or not _may_see_demand(session, actor, demand):
        raise keyed(NotFound, "error.marketplace.no_demand")
    return demand


def _may_see_demand(session: Session, actor: Actor, demand: Demand) -> bool:
    if actor.role is Role.ENTERPRISE_USER:
        return actor.subject_id == demand.subject_id
    if actor.institution_id is not None:
        return (
            demand.status == DemandStatus.POOL.value
            or actor.institution_id in (demand.tried_institutions or [])
            or actor.institution_id == demand.claimed_institution_id
        )
    return _is_platform(actor)


def list_demands_for_subject(session: Session, actor: Actor) -> list[Demand]:
    subject_id = _subject_of(actor)
    return list(
        session.scalars(
            select(Demand).where(Demand.subject_id == subject_id).order_by(Demand.id.desc())
        )
    )


def list_pool(session: Session, *, limit: int = 100) -> list[Demand]:
    return list(
        session.scalars(
            select(Demand)
            .where(Demand.status == DemandStatus.POOL.value)
            .order_by(Demand.respond_by, Demand.id)
            .limit(limit)
        )
    )


def count_pool(session: Session) -> int:
    """How many demands wait in the open pool."""
    query = select(func.count()).select_from(Demand).where(Demand.status == DemandStatus.POOL.value)
    return session.scalar(query) or 0


def _escalated_for(actor: Actor) -> ColumnElement[bool]:
    # An operator of a division coordinates only its own enterprises' demands (issue 23); the
    # filter runs in the database so a province-wide queue is never loaded to be thrown away.
    return and_(
        Demand.status == DemandStatus.ESCALATED.value,
        subjects_service.subject_in_division(Demand.subject_id, actor.division_code),
    )


def list_escalated(session: Session, actor: Actor) -> list[Demand]:
    """Demands escalated to the platform, oldest first, limited to the operator's division."""
    _require_operator(actor)
    return list(session.scalars(select(Demand).where(_escalated_for(actor)).order_by(Demand.id)))


def count_escalated(session: Session, actor: Actor) -> int:
    """How many demands :func:`list_escalated` would list."""
    _require_operator(actor)
    query = select(func.count()).select_from(Demand).where(_escalated_for(actor))
    return session.scalar(query) or 0


@dataclass(frozen=True)
class Recommendation:
    product: Product
    institution_name: str
    fits: bool
    failed: list[Rule]


def rule_key(rule: Rule) -> str:
    """The message key of why ``rule`` fails: ``error.marketplace.rule.<code>``."""
    return f"error.marketplace.rule.{rule.code}"


RULE_TEXT: Final[dict[Rule, str]] = {rule: translate("zh", rule_key(rule)) for rule in Rule}
"""Why each rule fails, in Chinese (the recommendations' data column)."""


def recommend(
    session: Session, actor: Actor, *, demand_id: int, limit: int = 10
) -> list[Recommendation]:
    """The best products for the demand, fitting ones first, each with the rules it fails."""
    demand = access_demand(session, actor, demand_id)
    return _recommend(session, demand, limit=limit)


def _recommend(session: Session, demand: Demand, *, limit: int) -> list[Recommendation]:
    matrix = published_matrix(session)
    ranked = matrix.rank(applicant_for(session, demand), fitting=limit)
    products = {
        p.id: p
        for p in session.scalars(select(Product).where(Product.id.in_([i for i, _ in ranked])))
    }
    names = consent_service.institution_names(
        session, {p.institution_id for p in products.values()}
    )
    return [
        Recommendation(
            product=products[pid],
            institution_name=names.get(products[pid].institution_id, ""),
            fits=mask == 0,
            failed=domain.rules_of(mask),
        )
        for pid, mask in ranked
        if pid in products
    ]


def _eligible_products(
    session: Session, demand: Demand, *, institution_id: int | None = None
) -> list[Product]:
    """Published products the demand fits, best first (lowest starting rate)."""
    matrix = published_matrix(session)
    mask = matrix.reasons(applicant_for(session, demand))
    fitting = [int(i) for i in matrix.ids[mask == 0]]
    if not fitting:
        return []
    query = select(Product).where(Product.id.in_(fitting))
    if institution_id is not None:
        query = query.where(Product.institution_id == institution_id)
    return list(session.scalars(query.order_by(Product.min_rate_bp, Product.id)))


def dispatch(
    session: Session, actor: Actor, *, demand_id: int, response_days: int = RESPONSE_DAYS
) -> Application | None:
    """精准派单: the demand goes to the best-fitting product of an institution that has not had
    it yet; with none left (or after too many lapses) it goes to the open pool."""
    demand = session.get(Demand, demand_id)
    if demand is None or not (
        _is_platform(actor)
        or (actor.role is Role.ENTERPRISE_USER and actor.subject_id == demand.subject_id)
    ):
        raise keyed(NotFound, "error.marketplace.no_demand")
    return _dispatch_next(session, actor, demand, response_days=response_days)


def _dispatch_next(
    session: Session, actor: Actor, demand: Demand, *, response_days: int
) -> Application | None:
    tried = set(demand.tried_institutions or [])
    candidates = [p for p in _eligible_products(session, demand) if p.institution_id not in tried]
    if not candidates or demand.reassignments >= domain.MAX_REASSIGNMENTS:
        respond_by = deadline(response_days=response_days)
        _demand_move(session, actor, demand, DemandMove.TO_POOL, respond_by=respond_by)
        _notify(
            session,
            "subject",
            demand.subject_id,
            "demand.pooled",
            f"融资需求 #{demand.id} 已进入抢单池，等待机构承接",
            demand,
        )
        return None
    product = candidates[0]
    if demand.status == DemandStatus.DISPATCHED.value:
        demand.reassignments += 1
    return _open_application(
        session, actor, demand, product, channel="dispatch", response_days=response_days
    )


def to_pool(
    session: Session, actor: Actor, *, demand_id: int, response_days: int = RESPONSE_DAYS
) -> Demand:
    demand = session.get(Demand, demand_id)
    if demand is None or not (
        _is_platform(actor)
        or (actor.role is Role.ENTERPRISE_USER and actor.subject_id == demand.subject_id)
    ):
        raise keyed(NotFound, "error.marketplace.no_demand")
    respond_by = deadline(response_days=response_days)
    return _demand_move(session, actor, demand, DemandMove.TO_POOL, respond_by=respond_by)


def grab(
    session: Session,
    actor: Actor,
    *,
    demand_id: int,
    product_id: int | None = None,
    response_days: int = RESPONSE_DAYS,
) -> Application:
    """自由抢单: an institution takes a demand from the open pool. Exactly one of many
    concurrent grabs wins: the claim is one conditional UPDATE (… WHERE status = 'pool'),
    which the database serialises on the row."""
    institution_id = _institution_of(actor)
    demand = session.get(Demand, demand_id)
    if demand is None:
        raise keyed(NotFound, "error.marketplace.no_demand")
    # A loser of the race saw the demand in the pool: it learns the demand is taken, no more.
    if demand.status != DemandStatus.POOL.value:
        raise keyed(DemandTaken, "error.marketplace.not_in_pool")
    products = _eligible_products(session, demand, institution_id=institution_id)
    if product_id is not None:
        products = [p for p in products if p.id == product_id]
    if not products:
        raise keyed(NoEligibleProduct, "error.marketplace.no_eligible_product")
    now = utc_now()
    claimed = session.execute(
        update(Demand)
        .where(Demand.id == demand_id, Demand.status == DemandStatus.POOL.value)
        .values(
            status=DemandStatus.CLAIMED.value,
            assigned_institution_id=institution_id,
            claimed_institution_id=institution_id,
            claimed_at=now,
            status_changed_at=now,
            respond_by=None,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        raise keyed(DemandTaken, "error.marketplace.demand_taken")
    session.refresh(demand)
    audit.record(
        session,
        actor,
        action="market.demand.claim",
        object_type="marketplace_demand",
        object_id=demand.id,
        subject_id=demand.subject_id,
        detail={
            "from": DemandStatus.POOL.value,
            "to": demand.status,
            "institution_id": institution_id,
        },
    )
    app = _open_application(
        session,
        actor,
        demand,
        products[0],
        channel="grab",
        assign=False,
        response_days=response_days,
    )
    _move(session, actor, app, AppMove.ACCEPT)
    return app


def consent_scope(product: Product) -> list[str]:
    """What the application's consent covers: the product's scope plus what reading the score
    needs, so the officer can read both the report and the score under it."""
    scope = product.consent_categories or DEFAULT_CONSENT_CATEGORIES
    return sorted({*scope, *scoring_service.SCORE_CATEGORIES})


def _open_application(
    session: Session,
    actor: Actor,
    demand: Demand,
    product: Product,
    *,
    channel: str,
    amount_fen: int | None = None,
    term_months: int | None = None,
    assign: bool = True,
    response_days: int,
) -> Application:
    """A submitted application to ``product`` for ``demand``, with the consent the enterprise
    gives by applying (or gave when posting for dispatch), and the deadline to answer."""
    respond_by = deadline(response_days=response_days)
    if assign:
        _demand_move(
            session,
            actor,
            demand,
            DemandMove.DISPATCH,
            respond_by=respond_by,
            institution_id=product.institution_id,
        )
    demand.tried_institutions = sorted({*(demand.tried_institutions or []), product.institution_id})
    consent = consent_service.grant(
        session,
        actor if actor.role is Role.ENTERPRISE_USER else SYSTEM,
        subject_id=demand.subject_id,
        institution_id=product.institution_id,
        purpose=Purpose.LOAN_APPLICATION.value,
        categories=consent_scope(product),
        valid_until=utc_now() + timedelta(days=CONSENT_DAYS),
        max_uses=CONSENT_USES,
        note=f"融资需求 #{demand.id} 申请“{product.name}”",
    )
    now = utc_now()
    app = Application(
        demand_id=demand.id,
        subject_id=demand.subject_id,
        product_id=product.id,
        institution_id=product.institution_id,
        consent_id=consent.id,
        amount_fen=amount_fen or demand.amount_fen,
        term_months=term_months or demand.term_months,
        channel=channel,
        status=AppStatus.SUBMITTED.value,
        respond_by=respond_by,
        created_at=now,
        status_changed_at=now,
    )
    session.add(app)
    session.flush()
    audit.record(
        session,
        actor,
        action="market.application.submit",
        object_type="marketplace_application",
        object_id=app.id,
        subject_id=app.subject_id,
        detail={
            "demand_id": demand.id,
            "product_id": product.id,
            "institution_id": product.institution_id,
            "channel": channel,
            "consent_id": consent.id,
            "respond_by": respond_by,
        },
    )
    text = f"融资需求 #{demand.id} 的申请（{product.name}）请于 {respond_by.isoformat()} 前响应"
    _notify(
        session, "institution", product.institution_id, "application.submitted", text, demand, app
    )
    # The deadline is the institution's duty, not the enterprise's: it is told what happened.
    told = f"融资需求 #{demand.id} 已提交申请（{product.name}），等待机构受理"
    _notify(session, "subject", demand.subject_id, "application.submitted", told, demand, app)
    return app


@dataclass(frozen=True)
class PoolRow:
    """A demand of the open pool with what an institution judges it by before grabbing: the
    enterprise's region, industry and grade (the enterprise chose the pool knowing institutions
    see these, see the demand form)."""

    demand: Demand
    uscc: str
    name: str
    division_code: str
    industry_code: str | None
    industry_section: str | None
    grade: str | None


def list_pool_rows(session: Session, actor: Actor, *, limit: int = 500) -> list[PoolRow]:
    """The open pool for an institution (or the platform), earliest deadline first."""
    if not _is_platform(actor):
        _institution_of(actor)
    demands = list_pool(session, limit=limit)
    grades: dict[int, str | None] = {}
    out = []
    for demand in demands:
        subject = subjects_service.get_subject_or_raise(session, demand.subject_id)
        if subject.id not in grades:
            grades[subject.id] = current_grade(session, subject.id)
        out.append(
            PoolRow(
                demand=demand,
                uscc=subject.uscc,
                name=subject.name,
                division_code=subject.division_code,
                industry_code=subject.industry_code,
                industry_section=subject.industry_section,
                grade=grades[subject.id],
            )
        )
    return out


def grab_products(session: Session, actor: Actor, *, demand_id: int) -> list[Product]:
    """The acting institution's published products that fit a pool demand, best first: what
    the grab page offers to choose from."""
    institution_id = _institution_of(actor)
    demand = access_demand(session, actor, demand_id)
    return _eligible_products(session, demand, institution_id=institution_id)
