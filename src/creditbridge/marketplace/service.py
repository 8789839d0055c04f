"""Use cases of the marketplace: products and their review, demands with recommendations,
dispatch (精准派单) and grab (自由抢单) with working-day deadlines, applications, disbursement,
loan reporting, the whitelist, and notifications — all in the caller's transaction (flush, never
commit), every change audited."""

from __future__ import annotations

import csv
import importlib
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from creditbridge.audit import service as audit
from creditbridge.consent import service as consent_service
from creditbridge.consent.domain import Purpose
from creditbridge.core.actors import SYSTEM, Actor, ActorKind, Role
from creditbridge.core.clock import local_today, utc_now
from creditbridge.core.config import get_settings
from creditbridge.core.errors import Forbidden, InvalidTransition, Issue, NotFound, ValidationFailed
from creditbridge.marketplace import domain
from creditbridge.marketplace.domain import (
    Applicant,
    AppMove,
    AppStatus,
    DemandMove,
    DemandStatus,
    Level,
    ProductMatrix,
    ProductRules,
    Rule,
    WhitelistCriteria,
    WhitelistStatus,
)
from creditbridge.marketplace.errors import (
    AboveApproved,
    DemandTaken,
    NoEligibleProduct,
    OutsideProductRange,
)
from creditbridge.marketplace.models import (
    Application,
    Demand,
    Loan,
    Notification,
    Product,
    Repayment,
    WhitelistEntry,
    WhitelistSubscription,
)
from creditbridge.protection import service as protection
from creditbridge.reference import calendar
from creditbridge.reference.errors import CalendarOutOfRange
from creditbridge.subjects import service as subjects_service
from creditbridge.subjects.models import Subject

DEFAULT_CONSENT_CATEGORIES: Final = ("tax", "social_insurance", "housing_fund", "utilities")
CONSENT_DAYS: Final = 90
CONSENT_USES: Final = 20
MAX_AMOUNT_FEN: Final = 100_000 * domain.WAN_FEN  # 10亿元: anything above is a typing error


def count_products(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Product)) or 0


def count_loans(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Loan)) or 0


# --- who is acting ---------------------------------------------------------------------------


def _institution_of(actor: Actor) -> int:
    if actor.institution_id is None or not (
        actor.role is Role.INSTITUTION_OFFICER or actor.kind is ActorKind.API_CLIENT
    ):
        raise Forbidden("只有接入机构可以办理")
    return actor.institution_id


def require_institution(actor: Actor) -> int:
    return _institution_of(actor)


def _subject_of(actor: Actor) -> int:
    if actor.role is not Role.ENTERPRISE_USER or actor.subject_id is None:
        raise Forbidden("只有企业用户可以办理")
    return actor.subject_id


def _is_platform(actor: Actor) -> bool:
    return actor.role is Role.OPERATOR or actor.kind in (ActorKind.CLI, ActorKind.SYSTEM)


def _require_operator(actor: Actor) -> None:
    if not _is_platform(actor):
        raise Forbidden("只有平台运营方可以办理")


def response_days() -> int:
    """Working days an institution has to answer (``CREDITBRIDGE_MARKET_RESPONSE_DAYS``, default 2)."""
    return get_settings().market_response_days


def deadline(today: date | None = None, days: int | None = None) -> date:
    start = today or local_today()
    n = days or response_days()
    try:
        return calendar.add_working_days(start, n)
    except CalendarOutOfRange:
        # Beyond the published holiday data: count weekdays rather than refuse to dispatch.
        day = start
        while n:
            day += timedelta(days=1)
            n -= day.weekday() < 5
        return day


# --- scores (scoring module) -----------------------------------------------------------------


def _scoring() -> Any:
    try:
        return importlib.import_module("creditbridge.scoring.service")
    except (ImportError, SyntaxError):  # scoring is built alongside; until then, no grades
        return None


def scoring_available() -> bool:
    return _scoring() is not None


def current_grade(session: Session, subject_id: int) -> str | None:
    scoring = _scoring()
    if scoring is None or not hasattr(scoring, "get_current_score"):
        return None
    view = scoring.get_current_score(session, subject_id=subject_id)
    if view is None or getattr(view, "insufficient_data", False):
        return None
    grade = getattr(view, "grade", None)
    return str(grade) if grade else None


def read_score_for_application(
    session: Session, actor: Actor, *, application_id: int
) -> Any | None:
    """The score the officer may see under the application's consent (None without scoring)."""
    app = access_application(session, actor, application_id)
    scoring = _scoring()
    if scoring is None or not hasattr(scoring, "read_score"):
        return None
    return scoring.read_score(
        session,
        actor,
        subject_id=app.subject_id,
        consent_id=app.consent_id,
        purpose=Purpose.LOAN_APPLICATION.value,
    )


# --- products --------------------------------------------------------------------------------


@dataclass
class ProductInput:
    code: str
    name: str
    product_type: str
    security_type: str
    min_amount_fen: int
    max_amount_fen: int
    min_rate_bp: int
    max_rate_bp: int
    min_term_months: int
    max_term_months: int
    regions: list[str] = field(default_factory=list)
    industry_sections: list[str] = field(default_factory=list)
    size_classes: list[str] = field(default_factory=list)
    min_years: int = 0
    min_grade: str | None = None
    required_tags: list[str] = field(default_factory=list)
    consent_categories: list[str] = field(default_factory=list)
    description: str = ""


def _product_issues(spec: ProductInput) -> list[Issue]:
    issues: list[Issue] = []

    def bad(name: str, message: str) -> None:
        issues.append(Issue("CB-MARKET-PRODUCT", message, field=name))

    if not spec.code.strip() or len(spec.code) > 64:
        bad("code", "产品编码不能为空且不超过64字符")
    if not spec.name.strip() or len(spec.name) > 200:
        bad("name", "产品名称不能为空且不超过200字")
    if spec.product_type not in domain.PRODUCT_TYPES:
        bad("product_type", "未知的产品类型")
    if spec.security_type not in domain.SECURITY_TYPES:
        bad("security_type", "担保方式须为信用、保证、抵押或质押")
    if not 0 < spec.min_amount_fen <= spec.max_amount_fen <= MAX_AMOUNT_FEN:
        bad("max_amount_fen", "金额范围有误")
    if not 0 < spec.min_rate_bp <= spec.max_rate_bp <= 3600:
        bad("max_rate_bp", "利率范围有误（基点，不超过36%）")
    if not 0 < spec.min_term_months <= spec.max_term_months <= 360:
        bad("max_term_months", "期限范围有误")
    if any(s not in domain.SIZE_CLASSES for s in spec.size_classes):
        bad("size_classes", "企业规模有误")
    if any(s not in domain.INDUSTRY_SECTIONS for s in spec.industry_sections):
        bad("industry_sections", "行业门类有误")
    if any(not (len(r) == 6 and r.isdigit()) for r in spec.regions):
        bad("regions", "地区须为6位行政区划代码")
    if spec.min_grade and spec.min_grade not in domain.GRADES:
        bad("min_grade", "信用等级有误")
    if any(t not in domain.TAGS for t in spec.required_tags):
        bad("required_tags", "企业标签有误")
    if not 0 <= spec.min_years <= 100:
        bad("min_years", "经营年限有误")
    return issues


def submit_product(session: Session, actor: Actor, spec: ProductInput) -> Product:
    """An institution submits a product; it is published after the operator's review."""
    institution_id = _institution_of(actor)
    issues = _product_issues(spec)
    if session.scalar(select(Product.id).where(Product.code == spec.code)) is not None:
        issues.append(Issue("CB-MARKET-PRODUCT", "产品编码已存在", field="code"))
    if issues:
        raise ValidationFailed("产品信息有误", issues=issues)
    product = Product(
        institution_id=institution_id,
        code=spec.code,
        name=spec.name,
        product_type=spec.product_type,
        security_type=spec.security_type,
        min_amount_fen=spec.min_amount_fen,
        max_amount_fen=spec.max_amount_fen,
        min_rate_bp=spec.min_rate_bp,
        max_rate_bp=spec.max_rate_bp,
        min_term_months=spec.min_term_months,
        max_term_months=spec.max_term_months,
        regions=sorted(set(spec.regions)),
        industry_sections=sorted(set(spec.industry_sections)),
        size_classes=sorted(set(spec.size_classes)),
        min_years=spec.min_years,
        min_grade=spec.min_grade or None,
        required_tags=sorted(set(spec.required_tags)),
        consent_categories=sorted(set(spec.consent_categories or DEFAULT_CONSENT_CATEGORIES)),
        description=spec.description[:1000],
        status="pending_review",
        created_at=utc_now(),
    )
    session.add(product)
    session.flush()
    audit.record(
        session,
        actor,
        action="market.product.submit",
        object_type="marketplace_product",
        object_id=product.id,
        detail={"code": product.code, "name": product.name},
    )
    _notify(session, "operator", None, "product.submitted", f"新产品待审核：{product.name}")
    return product


def review_product(
    session: Session, actor: Actor, *, product_id: int, approve: bool, note: str = ""
) -> Product:
    _require_operator(actor)
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound("产品不存在")
    if product.status != "pending_review":
        raise InvalidTransition("只有待审核的产品可以审核")
    if not approve and not note.strip():
        raise ValidationFailed(
            "退回须说明理由", issues=[Issue("CB-MARKET-REASON", "须填写理由", field="note")]
        )
    product.status = "published" if approve else "rejected"
    product.review_note = note[:500] or None
    product.reviewed_by = actor.name
    product.reviewed_at = utc_now()
    session.flush()
    audit.record(
        session,
        actor,
        action="market.product.review",
        object_type="marketplace_product",
        object_id=product.id,
        detail={"approve": approve, "note": note},
    )
    _notify(
        session,
        "institution",
        product.institution_id,
        "product.reviewed",
        f"产品“{product.name}”审核{'通过，已上架' if approve else '未通过'}",
    )
    _MATRIX.clear()
    return product


def list_products(
    session: Session, *, status: str | None = "published", institution_id: int | None = None
) -> list[Product]:
    query = select(Product)
    if status:
        query = query.where(Product.status == status)
    if institution_id is not None:
        query = query.where(Product.institution_id == institution_id)
    return list(session.scalars(query.order_by(Product.id)))


def get_product_or_raise(session: Session, product_id: int) -> Product:
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound("产品不存在")
    return product


def rules_of(product: Product) -> ProductRules:
    return ProductRules(
        id=product.id,
        security_type=product.security_type,
        min_amount_fen=product.min_amount_fen,
        max_amount_fen=product.max_amount_fen,
        min_rate_bp=product.min_rate_bp,
        max_rate_bp=product.max_rate_bp,
        min_term_months=product.min_term_months,
        max_term_months=product.max_term_months,
        regions=tuple(product.regions or ()),
        industry_sections=tuple(product.industry_sections or ()),
        size_classes=tuple(product.size_classes or ()),
        min_years=product.min_years,
        min_grade=product.min_grade,
        required_tags=tuple(product.required_tags or ()),
    )


_MATRIX: dict[tuple[Any, ...], ProductMatrix] = {}


def published_matrix(session: Session) -> ProductMatrix:
    """The published products as a :class:`ProductMatrix`, rebuilt when the set changes."""
    counts = session.execute(
        select(func.count(), func.max(Product.id), func.max(Product.reviewed_at)).where(
            Product.status == "published"
        )
    ).one()
    key = (*counts, id(session.get_bind().engine))
    matrix = _MATRIX.get(key)
    if matrix is None:
        _MATRIX.clear()
        matrix = ProductMatrix.build([rules_of(p) for p in list_products(session)])
        _MATRIX[key] = matrix
    return matrix


# --- demands ---------------------------------------------------------------------------------


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
    )


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
) -> Demand:
    """An enterprise posts a demand. ``mode``: ``choose`` (it picks a recommended product),
    ``dispatch`` (精准派单 by the rules) or ``pool`` (自由抢单)."""
    subject_id = _subject_of(actor)
    issues: list[Issue] = []
    if not 0 < amount_fen <= MAX_AMOUNT_FEN:
        issues.append(Issue("CB-MARKET-AMOUNT", "金额须大于0且不超过10亿元", field="amount"))
    if not 1 <= term_months <= 360:
        issues.append(Issue("CB-MARKET-TERM", "期限须在1至360个月之间", field="term_months"))
    if not purpose.strip() or len(purpose) > 200:
        issues.append(Issue("CB-MARKET-PURPOSE", "请填写资金用途（200字以内）", field="purpose"))
    kinds = sorted(set(security_types))
    if not kinds or any(k not in domain.SECURITY_TYPES for k in kinds):
        issues.append(Issue("CB-MARKET-SECURITY", "请选择可接受的担保方式", field="security_types"))
    if urgency not in ("normal", "urgent"):
        issues.append(Issue("CB-MARKET-URGENCY", "紧急程度有误", field="urgency"))
    if max_rate_bp is not None and not 0 < max_rate_bp <= 3600:
        issues.append(Issue("CB-MARKET-RATE", "可接受利率有误", field="max_rate_bp"))
    if mode not in ("choose", "dispatch", "pool"):
        issues.append(Issue("CB-MARKET-MODE", "对接方式有误", field="mode"))
    if issues:
        raise ValidationFailed("融资需求有误", issues=issues)
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
        dispatch(session, actor, demand_id=demand.id)
    elif mode == "pool":
        _demand_move(session, actor, demand, DemandMove.TO_POOL, respond_by=deadline())
    return demand


def access_demand(session: Session, actor: Actor, demand_id: int) -> Demand:
    """The demand if ``actor`` may see it: its enterprise, the platform, an institution it was
    dispatched to or claimed by, or any institution while it is in the open pool."""
    demand = session.get(Demand, demand_id)
    if demand is None or not _may_see_demand(session, actor, demand):
        raise NotFound("融资需求不存在")
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


def list_escalated(session: Session, actor: Actor) -> list[Demand]:
    _require_operator(actor)
    return list(
        session.scalars(
            select(Demand).where(Demand.status == DemandStatus.ESCALATED.value).order_by(Demand.id)
        )
    )


@dataclass(frozen=True)
class Recommendation:
    product: Product
    institution_name: str
    fits: bool
    failed: list[Rule]


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


def _demand_move(
    session: Session,
    actor: Actor,
    demand: Demand,
    move: DemandMove,
    *,
    respond_by: date | None = None,
    institution_id: int | None = None,
) -> Demand:
    before = demand.status
    after = domain.demand_transition(before, move)
    demand.status = after.value
    demand.status_changed_at = utc_now()
    demand.respond_by = respond_by
    if move is DemandMove.DISPATCH:
        demand.assigned_institution_id = institution_id
    elif move is DemandMove.TO_POOL:
        demand.assigned_institution_id = None
    session.flush()
    audit.record(
        session,
        actor,
        action=f"market.demand.{move.value}",
        object_type="marketplace_demand",
        object_id=demand.id,
        subject_id=demand.subject_id,
        detail={"from": before, "to": after.value, "institution_id": institution_id},
    )
    return demand


def dispatch(session: Session, actor: Actor, *, demand_id: int) -> Application | None:
    """精准派单: the demand goes to the best-fitting product of an institution that has not had
    it yet; with none left (or after too many lapses) it goes to the open pool."""
    demand = session.get(Demand, demand_id)
    if demand is None or not (
        _is_platform(actor)
        or (actor.role is Role.ENTERPRISE_USER and actor.subject_id == demand.subject_id)
    ):
        raise NotFound("融资需求不存在")
    return _dispatch_next(session, actor, demand)


def _dispatch_next(session: Session, actor: Actor, demand: Demand) -> Application | None:
    tried = set(demand.tried_institutions or [])
    candidates = [p for p in _eligible_products(session, demand) if p.institution_id not in tried]
    if not candidates or demand.reassignments >= domain.MAX_REASSIGNMENTS:
        _demand_move(session, actor, demand, DemandMove.TO_POOL, respond_by=deadline())
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
    return _open_application(session, actor, demand, product, channel="dispatch")


def consent_scope(product: Product) -> list[str]:
    """What the application's consent covers: the product's scope plus what reading the score
    needs, so the officer can read both the report and the score under it."""
    scoring = _scoring()
    extra = tuple(getattr(scoring, "SCORE_CATEGORIES", ())) if scoring is not None else ()
    return sorted({*(product.consent_categories or DEFAULT_CONSENT_CATEGORIES), *extra})


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
) -> Application:
    """A submitted application to ``product`` for ``demand``, with the consent the enterprise
    gives by applying (or gave when posting for dispatch), and the deadline to answer."""
    respond_by = deadline()
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
    _notify(session, "subject", demand.subject_id, "application.submitted", text, demand, app)
    return app


def apply(
    session: Session,
    actor: Actor,
    *,
    demand_id: int,
    product_id: int,
    amount_fen: int | None = None,
    term_months: int | None = None,
) -> Application:
    """The enterprise applies for a product for one of its demands."""
    subject_id = _subject_of(actor)
    demand = session.get(Demand, demand_id)
    if demand is None or demand.subject_id != subject_id:
        raise NotFound("融资需求不存在")
    product = session.get(Product, product_id)
    if product is None or product.status != "published":
        raise NotFound("产品不存在")
    amount = amount_fen or demand.amount_fen
    term = term_months or demand.term_months
    who = applicant_for(session, demand)
    who = replace(who, amount_fen=amount, term_months=term)
    failed = domain.check(rules_of(product), who)
    if failed:
        raise OutsideProductRange(
            "不符合该产品的条件",
            issues=[
                Issue(f"CB-MARKET-RULE-{rule.code.upper()}", RULE_TEXT[rule], field=rule.code)
                for rule in failed
            ],
        )
    if demand.status != DemandStatus.NEW.value:
        raise InvalidTransition("该融资需求已在对接中，不能重复申请")
    return _open_application(
        session, actor, demand, product, channel="apply", amount_fen=amount, term_months=term
    )


RULE_TEXT: Final[dict[Rule, str]] = {
    Rule.AMOUNT_LOW: "金额低于产品下限",
    Rule.AMOUNT_HIGH: "金额高于产品上限",
    Rule.TERM: "期限不在产品范围内",
    Rule.RATE: "产品最低利率高于可接受利率",
    Rule.SECURITY: "担保方式不在可接受范围内",
    Rule.REGION: "不在产品服务地区",
    Rule.INDUSTRY: "行业不在产品支持范围",
    Rule.SIZE: "企业规模不符",
    Rule.YEARS: "经营年限不足",
    Rule.GRADE: "信用等级低于产品要求",
    Rule.NO_GRADE: "暂无信用等级",
    Rule.TAGS: "缺少产品要求的资质标签",
}


def to_pool(session: Session, actor: Actor, *, demand_id: int) -> Demand:
    demand = session.get(Demand, demand_id)
    if demand is None or not (
        _is_platform(actor)
        or (actor.role is Role.ENTERPRISE_USER and actor.subject_id == demand.subject_id)
    ):
        raise NotFound("融资需求不存在")
    return _demand_move(session, actor, demand, DemandMove.TO_POOL, respond_by=deadline())


def grab(
    session: Session, actor: Actor, *, demand_id: int, product_id: int | None = None
) -> Application:
    """自由抢单: an institution takes a demand from the open pool. Exactly one of many
    concurrent grabs wins: the claim is one conditional UPDATE (… WHERE status = 'pool'),
    which the database serialises on the row."""
    institution_id = _institution_of(actor)
    demand = session.get(Demand, demand_id)
    if demand is None:
        raise NotFound("融资需求不存在")
    # A loser of the race saw the demand in the pool: it learns the demand is taken, no more.
    if demand.status != DemandStatus.POOL.value:
        raise DemandTaken("该需求已被承接或不在抢单池中")
    products = _eligible_products(session, demand, institution_id=institution_id)
    if product_id is not None:
        products = [p for p in products if p.id == product_id]
    if not products:
        raise NoEligibleProduct("本机构没有该企业符合条件的产品")
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
        raise DemandTaken("该需求已被其他机构承接")
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
    app = _open_application(session, actor, demand, products[0], channel="grab", assign=False)
    _move(session, actor, app, AppMove.ACCEPT)
    return app


# --- applications ----------------------------------------------------------------------------


def access_application(session: Session, actor: Actor, application_id: int) -> Application:
    """The application if ``actor`` is its enterprise, its institution or the platform;
    NotFound otherwise (an institution guessing another's ids learns nothing)."""
    app = session.get(Application, application_id)
    if app is None or not _party_to(actor, app.subject_id, app.institution_id):
        raise NotFound("申请不存在")
    return app


def _party_to(actor: Actor, subject_id: int, institution_id: int) -> bool:
    """Whether ``actor`` is the enterprise or the institution of an application or loan, or
    the platform itself."""
    if actor.role is Role.ENTERPRISE_USER:
        return actor.subject_id == subject_id
    if actor.institution_id is not None:
        return actor.institution_id == institution_id
    return _is_platform(actor)


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


def _move(
    session: Session,
    actor: Actor,
    app: Application,
    move: AppMove,
    *,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Application:
    before = app.status
    after = domain.transition(before, move)
    if move in domain.REASON_REQUIRED and not (reason or "").strip():
        raise ValidationFailed(
            "须说明理由", issues=[Issue("CB-MARKET-REASON", "请填写理由", field="reason")]
        )
    now = utc_now()
    app.status = after.value
    app.status_changed_at = now
    if reason:
        app.reason = reason[:500]
    if move is AppMove.ACCEPT:
        app.accepted_at = now
    if move in (AppMove.APPROVE, AppMove.REJECT):
        app.decided_at = now
    session.flush()
    audit.record(
        session,
        actor,
        action=f"market.application.{move.value}",
        object_type="marketplace_application",
        object_id=app.id,
        subject_id=app.subject_id,
        detail={"from": before, "to": after.value, "reason": reason, **(detail or {})},
    )
    text = f"申请 #{app.id}：{_STATUS_TEXT.get(after.value, after.value)}"
    if reason:
        text += f"（{reason[:200]}）"
    _notify(session, "subject", app.subject_id, f"application.{move.value}", text, None, app)
    _notify(
        session, "institution", app.institution_id, f"application.{move.value}", text, None, app
    )
    return app


_STATUS_TEXT: Final = {
    "submitted": "已提交",
    "accepted": "机构已受理",
    "under_review": "审查中",
    "approved": "已审批通过",
    "rejected": "已拒绝",
    "disbursed": "已放款",
    "repaid": "已结清",
    "overdue": "已逾期",
    "declined": "机构未受理",
    "expired": "超时未响应",
    "withdrawn": "企业已撤回",
}


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
        raise DemandTaken("该需求已不再派给本机构")
    demand = session.get(Demand, app.demand_id)
    if demand is not None:
        session.refresh(demand)


def decline(session: Session, actor: Actor, *, application_id: int, reason: str) -> Application:
    app = _institution_app(session, actor, application_id)
    _move(session, actor, app, AppMove.DECLINE, reason=reason)
    _after_lapse(session, actor, app)
    return app


def _after_lapse(session: Session, actor: Actor, app: Application) -> None:
    demand = _demand_of(session, app)
    if demand is not None and demand.status == DemandStatus.DISPATCHED.value:
        _dispatch_next(session, actor, demand)


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
        issues.append(Issue("CB-MARKET-AMOUNT-RANGE", "审批金额不在产品范围内", field="amount"))
    if not product.min_rate_bp <= rate_bp <= product.max_rate_bp:
        issues.append(Issue("CB-MARKET-RATE-RANGE", "利率不在产品范围内", field="rate_bp"))
    if not product.min_term_months <= term <= product.max_term_months:
        issues.append(Issue("CB-MARKET-TERM-RANGE", "期限不在产品范围内", field="term_months"))
    if issues:
        raise OutsideProductRange("审批条件超出产品范围", issues=issues)
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


def _demand_of(session: Session, app: Application) -> Demand | None:
    """The demand an application answers; None for an application made without one."""
    return session.get(Demand, app.demand_id) if app.demand_id else None


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
        raise ValidationFailed(
            "放款金额有误", issues=[Issue("CB-MARKET-AMOUNT", "须大于0", field="amount")]
        )
    if amount_fen > approved:
        raise AboveApproved(
            "放款金额超过审批金额",
            issues=[Issue("CB-MARKET-ABOVE-APPROVED", "放款金额超过审批金额", field="amount")],
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


def _new_loan(
    session: Session,
    *,
    subject_id: int,
    institution_id: int,
    product_id: int | None,
    amount_fen: int,
    credit_line_fen: int,
    rate_bp: int,
    term_months: int,
    security_type: str,
    disbursement_date: date,
    via_platform: bool,
    application_id: int | None = None,
) -> Loan:
    subject = subjects_service.get_subject_or_raise(session, subject_id)
    earlier = session.scalars(
        select(Loan.institution_id)
        .where(Loan.subject_id == subject_id, Loan.disbursement_date <= disbursement_date)
        .distinct()
    )
    flags = domain.loan_flags(
        earlier_lenders=earlier,
        institution_id=institution_id,
        credit_line_fen=credit_line_fen,
        size_class=subject.size_class,
    )
    loan = Loan(
        subject_id=subject_id,
        institution_id=institution_id,
        product_id=product_id,
        amount_fen=amount_fen,
        credit_line_fen=credit_line_fen,
        rate_bp=rate_bp,
        term_months=term_months,
        security_type=security_type,
        disbursement_date=disbursement_date,
        maturity_date=domain.add_months(disbursement_date, term_months),
        status="current",
        via_platform=via_platform,
        first_loan_any_bank=flags.first_loan_any_bank,
        first_loan_this_bank=flags.first_loan_this_bank,
        inclusive_micro=flags.inclusive_micro,
        application_id=application_id,
        repaid_fen=0,
        created_at=utc_now(),
    )
    session.add(loan)
    session.flush()
    return loan


# --- the deadline job ------------------------------------------------------------------------


@dataclass
class SweepResult:
    expired: int = 0
    reassigned: int = 0
    pooled: int = 0
    escalated: int = 0


def sweep(session: Session, actor: Actor = SYSTEM, *, today: date | None = None) -> SweepResult:
    """The deadline job: applications unanswered past their working-day deadline expire and
    their demand goes to the next eligible institution (or the pool); pool demands nobody took
    in time are escalated to the operator."""
    day = today or local_today()
    result = SweepResult()
    late = list(
        session.scalars(
            select(Application)
            .where(
                Application.status == AppStatus.SUBMITTED.value,
                Application.respond_by < day,
            )
            .order_by(Application.id)
        )
    )
    for app in late:
        _move(session, actor, app, AppMove.EXPIRE, detail={"respond_by": app.respond_by})
        result.expired += 1
        demand = _demand_of(session, app)
        if demand is not None and demand.status == DemandStatus.DISPATCHED.value:
            if _dispatch_next(session, actor, demand) is None:
                result.pooled += 1
            else:
                result.reassigned += 1
    stale = list(
        session.scalars(
            select(Demand)
            .where(Demand.status == DemandStatus.POOL.value, Demand.respond_by < day)
            .order_by(Demand.id)
        )
    )
    for demand in stale:
        _demand_move(session, actor, demand, DemandMove.ESCALATE)
        _notify(
            session,
            "operator",
            None,
            "demand.escalated",
            f"融资需求 #{demand.id} 超时无机构承接，请协调",
            demand,
        )
        _notify(
            session,
            "subject",
            demand.subject_id,
            "demand.escalated",
            f"融资需求 #{demand.id} 已提交平台协调",
            demand,
        )
        result.escalated += 1
    return result


# --- loans reported by institutions ----------------------------------------------------------


def access_loan(session: Session, actor: Actor, loan_id: int) -> Loan:
    loan = session.get(Loan, loan_id)
    if loan is None or not _party_to(actor, loan.subject_id, loan.institution_id):
        raise NotFound("贷款不存在")
    return loan


def list_loans_for_subject(session: Session, actor: Actor) -> list[Loan]:
    subject_id = _subject_of(actor)
    return list(
        session.scalars(
            select(Loan)
            .where(Loan.subject_id == subject_id)
            .order_by(Loan.disbursement_date.desc(), Loan.id.desc())
        )
    )


LOAN_EVENTS: Final = ("repayment", "overdue", "repaid")


def report_loan_event(
    session: Session,
    actor: Actor,
    *,
    loan_id: int,
    event: str,
    amount_fen: int = 0,
    event_date: date | None = None,
) -> Loan:
    """A lender reports a repayment, an overdue or a full repayment of its own loan."""
    _institution_of(actor)
    loan = access_loan(session, actor, loan_id)
    issues = _event_issues(event, amount_fen)
    if issues:
        raise ValidationFailed("贷款报送有误", issues=issues)
    _apply_event(session, actor, loan, event, amount_fen, event_date or local_today())
    return loan


def _event_issues(event: str, amount_fen: int, row: int | None = None) -> list[Issue]:
    issues = []
    if event not in LOAN_EVENTS:
        issues.append(
            Issue(
                "CB-MARKET-EVENT", "事件须为 repayment、overdue 或 repaid", field="event", row=row
            )
        )
    if event == "repayment" and amount_fen <= 0:
        issues.append(Issue("CB-MARKET-AMOUNT", "还款金额须大于0", field="amount_yuan", row=row))
    if amount_fen < 0:
        issues.append(Issue("CB-MARKET-AMOUNT", "金额不能为负", field="amount_yuan", row=row))
    return issues


def _apply_event(
    session: Session, actor: Actor, loan: Loan, event: str, amount_fen: int, day: date
) -> None:
    before = loan.status
    if loan.status in ("repaid",):
        raise InvalidTransition("贷款已结清")
    if event == "repayment":
        loan.repaid_fen += amount_fen
        if loan.repaid_fen >= loan.amount_fen:
            loan.status = "repaid"
    elif event == "overdue":
        loan.status = "overdue"
    else:
        loan.status = "repaid"
    session.add(
        Repayment(
            loan_id=loan.id,
            event=event,
            amount_fen=amount_fen,
            event_date=day,
            reported_by=actor.name,
            created_at=utc_now(),
        )
    )
    session.flush()
    audit.record(
        session,
        actor,
        action=f"market.loan.{event}",
        object_type="marketplace_loan",
        object_id=loan.id,
        subject_id=loan.subject_id,
        detail={"from": before, "to": loan.status, "amount_fen": amount_fen, "date": day},
    )
    if loan.application_id is not None and loan.status != before:
        app = session.get(Application, loan.application_id)
        move = AppMove.REPAY if loan.status == "repaid" else AppMove.OVERDUE
        if app is not None and (AppStatus(app.status), move) in domain.APP_TRANSITIONS:
            _move(session, actor, app, move)


@dataclass(frozen=True)
class UploadResult:
    rows: int
    loans: list[int]


def upload_loan_events(
    session: Session, actor: Actor, *, filename: str, content: bytes
) -> UploadResult:
    """Repayments and overdue status by file (CSV or XLSX) with the header
    ``loan_id,event,amount_yuan,event_date``; all rows or none, every bad row and field named."""
    _institution_of(actor)
    rows = _read_table(filename, content)
    issues: list[Issue] = []
    parsed: list[tuple[Loan, str, int, date]] = []
    for number, row in enumerate(rows, start=2):
        loan_raw = str(row.get("loan_id") or "").strip()
        event = str(row.get("event") or "").strip()
        amount_raw = str(row.get("amount_yuan") or "0").strip()
        date_raw = str(row.get("event_date") or "").strip()
        loan: Loan | None = None
        if not loan_raw.isdigit():
            issues.append(Issue("CB-MARKET-LOAN", "贷款编号须为数字", field="loan_id", row=number))
        else:
            try:
                loan = access_loan(session, actor, int(loan_raw))
            except NotFound:
                issues.append(Issue("CB-MARKET-LOAN", "贷款不存在", field="loan_id", row=number))
        try:
            amount_fen = _yuan_to_fen(amount_raw)
        except ValueError:
            issues.append(
                Issue(
                    "CB-MARKET-AMOUNT",
                    "金额格式有误",
                    field="amount_yuan",
                    row=number,
                    value=amount_raw[:40],
                )
            )
            amount_fen = 0
        try:
            day = date.fromisoformat(date_raw[:10]) if date_raw else local_today()
        except ValueError:
            issues.append(
                Issue(
                    "CB-MARKET-DATE",
                    "日期须为 YYYY-MM-DD",
                    field="event_date",
                    row=number,
                    value=date_raw[:40],
                )
            )
            day = local_today()
        issues.extend(_event_issues(event, amount_fen, number))
        if loan is not None:
            parsed.append((loan, event, amount_fen, day))
    if not rows:
        issues.append(Issue("CB-MARKET-EMPTY", "文件中没有数据行"))
    if issues:
        raise ValidationFailed("文件有误，未导入任何行", issues=issues)
    for loan, event, amount_fen, day in parsed:
        _apply_event(session, actor, loan, event, amount_fen, day)
    return UploadResult(rows=len(parsed), loans=sorted({loan.id for loan, *_ in parsed}))


def _yuan_to_fen(raw: str) -> int:
    from decimal import Decimal, InvalidOperation

    try:
        value = Decimal(raw.replace(",", ""))
    except InvalidOperation as exc:
        raise ValueError(raw) from exc
    if not value.is_finite() or value != value.quantize(Decimal("0.01")):
        raise ValueError(raw)
    return int(value * 100)


def _read_table(filename: str, content: bytes) -> list[dict[str, Any]]:
    if filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(io.BytesIO(content), read_only=True, data_only=True).active
        except Exception as exc:  # any unreadable workbook is the user's input
            raise ValidationFailed(
                "无法读取Excel文件", issues=[Issue("CB-MARKET-FILE", str(exc)[:200])]
            ) from exc
        if sheet is None:
            return []
        values = list(sheet.iter_rows(values_only=True))
        if not values:
            return []
        header = [str(h or "").strip() for h in values[0]]
        out = []
        for row in values[1:]:
            if all(v is None for v in row):
                continue
            out.append(
                {
                    h: (v.date().isoformat() if isinstance(v, datetime) else v)
                    for h, v in zip(header, row, strict=False)
                }
            )
        return out
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(
            "文件须为UTF-8编码的CSV或XLSX", issues=[Issue("CB-MARKET-FILE", "编码有误")]
        ) from exc
    return list(csv.DictReader(io.StringIO(text)))


def report_external_loan(
    session: Session,
    actor: Actor,
    *,
    uscc: str,
    amount_fen: int,
    credit_line_fen: int | None,
    rate_bp: int,
    term_months: int,
    security_type: str,
    disbursement_date: date,
) -> Loan:
    """A loan made outside the platform, reported so that the platform's share can be computed."""
    institution_id = _institution_of(actor)
    subject = subjects_service.find_subject_by_uscc(session, uscc)
    issues = []
    if subject is None:
        issues.append(Issue("CB-MARKET-SUBJECT", "企业不存在", field="uscc", value=uscc[:18]))
    if not 0 < amount_fen <= MAX_AMOUNT_FEN:
        issues.append(Issue("CB-MARKET-AMOUNT", "金额有误", field="amount_fen"))
    if credit_line_fen is not None and credit_line_fen < amount_fen:
        issues.append(Issue("CB-MARKET-LINE", "授信额度不得小于贷款金额", field="credit_line_fen"))
    if not 0 < rate_bp <= 3600:
        issues.append(Issue("CB-MARKET-RATE", "利率有误", field="rate_bp"))
    if not 1 <= term_months <= 360:
        issues.append(Issue("CB-MARKET-TERM", "期限有误", field="term_months"))
    if security_type not in domain.SECURITY_TYPES:
        issues.append(Issue("CB-MARKET-SECURITY", "担保方式有误", field="security_type"))
    if issues or subject is None:
        raise ValidationFailed("贷款报送有误", issues=issues)
    loan = _new_loan(
        session,
        subject_id=subject.id,
        institution_id=institution_id,
        product_id=None,
        amount_fen=amount_fen,
        credit_line_fen=credit_line_fen or amount_fen,
        rate_bp=rate_bp,
        term_months=term_months,
        security_type=security_type,
        disbursement_date=disbursement_date,
        via_platform=False,
    )
    audit.record(
        session,
        actor,
        action="market.loan.report_external",
        object_type="marketplace_loan",
        object_id=loan.id,
        subject_id=subject.id,
        detail={"amount_fen": amount_fen, "security_type": security_type},
    )
    return loan


# --- whitelist -------------------------------------------------------------------------------


def propose_whitelist(
    session: Session, actor: Actor, *, criteria: WhitelistCriteria | None = None
) -> list[WhitelistEntry]:
    """The rules propose candidates among enterprises with a live demand or in a policy
    industry, graded at or above the threshold, not already on the way or listed."""
    _require_operator(actor)
    rules = criteria or WhitelistCriteria()
    live = set(
        session.scalars(
            select(Demand.subject_id).where(
                Demand.status.in_([s.value for s in domain.LIVE_DEMAND])
            )
        )
    )
    pending = set(
        session.scalars(
            select(WhitelistEntry.subject_id).where(
                WhitelistEntry.status.notin_(
                    [WhitelistStatus.REJECTED.value, WhitelistStatus.REMOVED.value]
                )
            )
        )
    )
    candidates = set(live)
    candidates |= set(
        session.scalars(
            select(Subject.id)
            .where(Subject.industry_section.in_(sorted(rules.policy_sections)))
            .order_by(Subject.id)
            .limit(5000)
        )
    )
    sections = {
        row[0]: row[1]
        for row in session.execute(
            select(Subject.id, Subject.industry_section).where(Subject.id.in_(candidates))
        )
    }
    proposed = []
    now = utc_now()
    for subject_id in sorted(candidates - pending):
        grade = current_grade(session, subject_id)
        reasons = domain.whitelist_reasons(
            rules, grade=grade, live_demand=subject_id in live, section=sections.get(subject_id)
        )
        if reasons is None:
            continue
        entry = WhitelistEntry(
            subject_id=subject_id,
            status=WhitelistStatus.PROPOSED.value,
            grade=grade,
            reasons=reasons,
            proposed_at=now,
            status_changed_at=now,
        )
        session.add(entry)
        proposed.append(entry)
    session.flush()
    for entry in proposed:
        audit.record(
            session,
            actor,
            action="market.whitelist.propose",
            object_type="marketplace_whitelist_entry",
            object_id=entry.id,
            subject_id=entry.subject_id,
            detail={"grade": entry.grade, "reasons": list(entry.reasons)},
        )
    return proposed


def add_whitelist_candidate(
    session: Session, actor: Actor, *, subject_id: int, grade: str | None, reasons: list[str]
) -> WhitelistEntry:
    """A candidate put forward by hand (or by the demo) rather than by the rules."""
    _require_operator(actor)
    now = utc_now()
    entry = WhitelistEntry(
        subject_id=subject_id,
        status=WhitelistStatus.PROPOSED.value,
        grade=grade,
        reasons=reasons,
        proposed_at=now,
        status_changed_at=now,
    )
    session.add(entry)
    session.flush()
    audit.record(
        session,
        actor,
        action="market.whitelist.propose",
        object_type="marketplace_whitelist_entry",
        object_id=entry.id,
        subject_id=subject_id,
        detail={"grade": grade, "reasons": reasons},
    )
    return entry


def review_whitelist(
    session: Session, actor: Actor, *, entry_id: int, level: Level, approve: bool, note: str = ""
) -> WhitelistEntry:
    _require_operator(actor)
    entry = session.get(WhitelistEntry, entry_id)
    if entry is None:
        raise NotFound("白名单记录不存在")
    before = entry.status
    after = domain.review_whitelist(before, level, approve=approve)
    if not approve and not note.strip():
        raise ValidationFailed(
            "不通过须说明理由", issues=[Issue("CB-MARKET-REASON", "请填写理由", field="note")]
        )
    entry.status = after.value
    entry.note = note[:500] or entry.note
    entry.status_changed_at = utc_now()
    session.flush()
    audit.record(
        session,
        actor,
        action=f"market.whitelist.{level.value}_{'pass' if approve else 'reject'}",
        object_type="marketplace_whitelist_entry",
        object_id=entry.id,
        subject_id=entry.subject_id,
        detail={"from": before, "to": after.value, "note": note},
    )
    if after is WhitelistStatus.LISTED:
        _push_whitelist(session, entry, "whitelist.listed", "入选白名单")
    return entry


def remove_from_whitelist(
    session: Session, actor: Actor, *, entry_id: int, reason: str
) -> WhitelistEntry:
    """Removal when risk appears (a new enforcement, a penalty, an overdue loan)."""
    _require_operator(actor)
    entry = session.get(WhitelistEntry, entry_id)
    if entry is None:
        raise NotFound("白名单记录不存在")
    if not reason.strip():
        raise ValidationFailed(
            "移出须说明风险", issues=[Issue("CB-MARKET-REASON", "请填写理由", field="reason")]
        )
    before = entry.status
    entry.status = domain.remove_whitelist(before).value
    entry.note = reason[:500]
    entry.status_changed_at = utc_now()
    session.flush()
    audit.record(
        session,
        actor,
        action="market.whitelist.remove",
        object_type="marketplace_whitelist_entry",
        object_id=entry.id,
        subject_id=entry.subject_id,
        detail={"from": before, "reason": reason},
    )
    _push_whitelist(session, entry, "whitelist.removed", f"移出白名单（{reason[:100]}）")
    return entry


def _push_whitelist(session: Session, entry: WhitelistEntry, event: str, what: str) -> None:
    name = subjects_service.subject_names(session, [entry.subject_id]).get(entry.subject_id)
    label = name[1] if name else f"#{entry.subject_id}"
    for institution_id in session.scalars(select(WhitelistSubscription.institution_id)):
        _notify(session, "institution", institution_id, event, f"{label} {what}")


def subscribe_whitelist(session: Session, actor: Actor) -> WhitelistSubscription:
    institution_id = _institution_of(actor)
    existing = session.scalar(
        select(WhitelistSubscription).where(WhitelistSubscription.institution_id == institution_id)
    )
    if existing is not None:
        return existing
    row = WhitelistSubscription(institution_id=institution_id, created_at=utc_now())
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        action="market.whitelist.subscribe",
        object_type="marketplace_whitelist_subscription",
        object_id=row.id,
    )
    return row


def is_subscribed(session: Session, actor: Actor) -> bool:
    if actor.institution_id is None:
        return False
    return (
        session.scalar(
            select(WhitelistSubscription.id).where(
                WhitelistSubscription.institution_id == actor.institution_id
            )
        )
        is not None
    )


def list_whitelist(
    session: Session, *, statuses: Iterable[str] | None = None
) -> list[WhitelistEntry]:
    query = select(WhitelistEntry)
    if statuses is not None:
        query = query.where(WhitelistEntry.status.in_(list(statuses)))
    return list(session.scalars(query.order_by(WhitelistEntry.id.desc()).limit(500)))


# --- notifications ---------------------------------------------------------------------------


def _notify(
    session: Session,
    kind: str,
    recipient_id: int | None,
    event: str,
    message: str,
    demand: Demand | None = None,
    app: Application | None = None,
) -> None:
    """Every step is notified: a row the recipient's pages list, which doubles as the outbox a
    sender job delivers after commit (``sent_at``)."""
    session.add(
        Notification(
            recipient_kind=kind,
            recipient_id=recipient_id,
            event=event,
            message=message[:500],
            demand_id=demand.id if demand is not None else (app.demand_id if app else None),
            application_id=app.id if app is not None else None,
            created_at=utc_now(),
        )
    )


def list_notifications(session: Session, actor: Actor, *, limit: int = 50) -> list[Notification]:
    where: ColumnElement[bool]
    if actor.role is Role.ENTERPRISE_USER and actor.subject_id is not None:
        where = (Notification.recipient_kind == "subject") & (
            Notification.recipient_id == actor.subject_id
        )
    elif actor.institution_id is not None:
        where = (Notification.recipient_kind == "institution") & (
            Notification.recipient_id == actor.institution_id
        )
    elif _is_platform(actor):
        where = Notification.recipient_kind == "operator"
    else:
        return []
    return list(
        session.scalars(
            select(Notification).where(where).order_by(Notification.id.desc()).limit(limit)
        )
    )


def institution_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    return consent_service.institution_names(session, ids)


def subject_names(session: Session, ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    return subjects_service.subject_names(session, ids)


def institution_name(session: Session, institution_id: int) -> str:
    return institution_names(session, [institution_id]).get(institution_id, "")
