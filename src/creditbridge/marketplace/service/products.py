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
from creditbridge.presentation.errors import keyed, keyed_issue


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

    def bad(name: str, key: str) -> None:
        issues.append(keyed_issue("CB-MARKET-PRODUCT", key, field=name))

    if not spec.code.strip() or len(spec.code) > 64:
        bad("code", "error.marketplace.product_code")
    if not spec.name.strip() or len(spec.name) > 200:
        bad("name", "error.marketplace.product_name")
    if spec.product_type not in domain.PRODUCT_TYPES:
        bad("product_type", "error.marketplace.product_type")
    if spec.security_type not in domain.SECURITY_TYPES:
        bad("security_type", "error.marketplace.product_security")
    if not 0 < spec.min_amount_fen <= spec.max_amount_fen <= MAX_AMOUNT_FEN:
        bad("max_amount_fen", "error.marketplace.product_amount")
    if not 0 < spec.min_rate_bp <= spec.max_rate_bp <= 3600:
        bad("max_rate_bp", "error.marketplace.product_rate")
    if not 0 < spec.min_term_months <= spec.max_term_months <= 360:
        bad("max_term_months", "error.marketplace.product_term")
    if any(s not in domain.SIZE_CLASSES for s in spec.size_classes):
        bad("size_classes", "error.marketplace.product_size")
    if any(s not in domain.INDUSTRY_SECTIONS for s in spec.industry_sections):
        bad("industry_sections", "error.marketplace.product_industry")
    if any(not (len(r) == 6 and r.isdigit()) for r in spec.regions):
        bad("regions", "error.marketplace.product_regions")
    if spec.min_grade and spec.min_grade not in domain.GRADES:
        bad("min_grade", "error.marketplace.product_grade")
    if any(t not in domain.TAGS for t in spec.required_tags):
        bad("required_tags", "error.marketplace.product_tags")
    if not 0 <= spec.min_years <= 100:
        bad("min_years", "error.marketplace.product_years")
    return issues


def submit_product(session: Session, actor: Actor, spec: ProductInput) -> Product:
    """An institution submits a product; it is published after the operator's review."""
    institution_id = _institution_of(actor)
    issues = _product_issues(spec)
    if session.scalar(select(Product.id).where(Product.code == spec.code)) is not None:
        issues.append(
            keyed_issue("CB-MARKET-PRODUCT", "error.marketplace.product_code_taken", field="code")
        )
    if issues:
        raise keyed(ValidationFailed, "error.marketplace.product_invalid", issues=issues)
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
        raise keyed(NotFound, "error.marketplace.no_product")
    if product.status != "pending_review":
        raise keyed(InvalidTransition, "error.marketplace.product_not_pending")
    if not approve and not note.strip():
        raise keyed(
            ValidationFailed,
            "error.marketplace.return_reason",
            issues=[keyed_issue("CB-MARKET-REASON", "error.marketplace.reason", field="note")],
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
        raise keyed(NotFound, "error.marketplace.no_product")
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
        tax_grades=domain.tax_grades_for(product.product_type),
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
