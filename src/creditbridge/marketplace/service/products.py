"""Products: an institution's submission, the operator's review, the published matrix."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creditbridge.audit import service as audit
from creditbridge.core.actors import Actor
from creditbridge.core.clock import utc_now
from creditbridge.core.errors import InvalidTransition, Issue, NotFound, ValidationFailed
from creditbridge.marketplace import domain
from creditbridge.marketplace.domain import ProductMatrix, ProductRules
from creditbridge.marketplace.models import Product
from creditbridge.marketplace.service._common import (
    DEFAULT_CONSENT_CATEGORIES,
    MAX_AMOUNT_FEN,
    _institution_of,
    _require_operator,
)
from creditbridge.marketplace.service.notifications import _notify


def count_products(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Product)) or 0


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
